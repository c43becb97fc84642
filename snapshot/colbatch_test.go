package snapshot

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/heliosdb/heliosdb-lite/engine"
)

// colRaw builds raw row entries (key, row, lsn) as the writer does.
func colRaw(t testing.TB, keys [][]byte, rows []engine.Row, lsns []uint64) []byte {
	t.Helper()
	var raw []byte
	for i := range keys {
		enc, err := engine.EncodeRow(nil, rows[i])
		if err != nil {
			t.Fatal(err)
		}
		raw = binary.AppendUvarint(raw, uint64(len(keys[i])))
		raw = append(raw, keys[i]...)
		raw = binary.AppendUvarint(raw, uint64(len(enc)))
		raw = append(raw, enc...)
		raw = binary.AppendUvarint(raw, lsns[i])
	}
	return raw
}

// colCase is a batch exercising every branch of the column layout: keys
// that are literal, differences (also wrapping and negative), shorter than
// 8 bytes, with a shared and a different prefix; rows of every value type,
// NULLs, extreme integers next to each other, row lengths needing 1, 2 and
// 3 length bytes, rows with fewer columns than others; LSNs going down.
func colCase(t testing.TB) ([]byte, int) {
	be := func(prefix string, x uint64) []byte { return binary.BigEndian.AppendUint64([]byte(prefix), x) }
	keys := [][]byte{
		be("\x10", 1), be("\x10", 2), be("\x10", math.MaxUint64), be("\x10", 0), be("\x10", 1<<63),
		[]byte("ab"), []byte(""), be("\x14a\x00\x01", 5), be("\x14a\x00\x01", 3), be("\x14b\x00\x01", 4),
		be("\x10", 7), be("\x10", 8), be("\x10", 9),
	}
	rows := []engine.Row{
		{int64(1), int64(math.MinInt64), "a", engine.Timestamp(math.MaxInt64)},
		{int64(2), int64(math.MaxInt64), "b", engine.Timestamp(math.MinInt64)},
		{int64(3), nil, nil, nil},
		{nil, nil, nil, nil, nil, nil, nil, nil, nil},
		{math.Copysign(0, -1), math.NaN(), true, false, engine.Numeric("-1.5"), []byte{0, 0xff}, engine.Date(-3), engine.UUID{1, 2}, "ünï"},
		{int64(4)},
		{strings.Repeat("x", 200)},
		{strings.Repeat("y", 20000), int64(5)},
		{int64(-7), int64(0), "", engine.Timestamp(0)},
		{engine.Date(math.MaxInt32), engine.Date(math.MinInt32)},
		{int64(1 << 40), nil, "c", engine.Timestamp(1_700_000_000_000_000)},
		{int64(1<<40 + 1), int64(3), "c", engine.Timestamp(1_700_000_001_000_000)},
		{int64(1<<40 + 2), int64(2), "d", engine.Timestamp(1_700_000_002_500_000)},
	}
	lsns := []uint64{5, 5, 4, 100, 0, math.MaxUint64, 1, 2, 2, 3, 9, 9, 10}
	return colRaw(t, keys, rows, lsns), len(keys)
}

func TestColumnLayoutRoundTrip(t *testing.T) {
	raw, n := colCase(t)
	var e colEncoder
	var d colDecoder
	var h rowHasher
	cols, got, rows := columnRoundTrip(t, &e, &d, &h, raw, n)
	// The encoder's buffers are reused: a second, different batch.
	raw2 := colRaw(t, [][]byte{[]byte("k")}, []engine.Row{{int64(9)}}, []uint64{1})
	cols2, err := e.encode(nil, raw2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got, _, err := d.decode(got, cols2, make([]Row, 1), len(raw2), &h); err != nil || !bytes.Equal(got, raw2) {
		t.Fatalf("second batch: %v", err)
	}
	// Wrong claims are refused, never a panic or a longer result.
	for _, c := range []struct{ count, rawLen int }{{n - 1, len(raw)}, {n + 1, len(raw)}, {n, len(raw) - 1}, {n, len(raw) + 1}, {n, 0}} {
		if out, _, err := d.decode(nil, cols, make([]Row, c.count), c.rawLen, &h); err == nil {
			t.Fatalf("count %d raw %d accepted (%d bytes)", c.count, c.rawLen, len(out))
		}
	}
	for cut := 0; cut < len(cols); cut++ {
		if _, _, err := d.decode(nil, cols[:cut], rows, len(raw), &h); err == nil {
			t.Fatalf("column layout cut at %d of %d accepted", cut, len(cols))
		}
	}
	// A row the layout does not understand: the encoder refuses it (the
	// writer then stores a ROW_BATCH).
	bad := append(binary.AppendUvarint(nil, 1), 'k', 3, 1, 0, 0x7f, 1)
	if _, err := e.encode(nil, bad, 1); err == nil {
		t.Fatal("unknown value tag encoded")
	}
}

// Compressed rows go into ROW_COLUMNS sections, RowBatches keeps the row
// layout; both restore the same state and the footers count the same
// logical bytes.
func TestColumnsAndRowBatches(t *testing.T) {
	d, _ := edgeDB(t)
	src := d.snap()
	for _, c := range []Compression{CompressLZ4, CompressZstd} {
		var raws []uint64
		for _, rowBatches := range []bool{false, true} {
			o := fixedOpts(c)
			o.RowBatches = rowBatches
			var buf bytes.Buffer
			sum, err := WriteFull(context.Background(), &buf, src, o)
			if err != nil {
				t.Fatal(err)
			}
			raws = append(raws, sum.RawBytes)
			types := sectionTypes(t, buf.Bytes())
			if rowBatches != (types[secRowColumns] == 0) || rowBatches != (types[secRowBatch] > 0) {
				t.Fatalf("%v rowBatches=%v: sections %v", c, rowBatches, types)
			}
			res, err := Load(context.Background(), bytes.NewReader(buf.Bytes()), nil)
			if err != nil {
				t.Fatalf("%v rowBatches=%v: %v", c, rowBatches, err)
			}
			sameState(t, src, res.State)
		}
		if raws[0] != raws[1] {
			t.Fatalf("%v: raw bytes %d (columns) != %d (rows)", c, raws[0], raws[1])
		}
	}
}

func sectionTypes(t testing.TB, b []byte) map[byte]int {
	t.Helper()
	rd := NewReaderWith(bytes.NewReader(b), ReaderOptions{ChecksumsOnly: true})
	defer rd.Close()
	types := map[byte]int{}
	for {
		it, err := rd.Next()
		if err == io.EOF {
			return types
		}
		if err != nil {
			t.Fatal(err)
		}
		types[it.Type]++
	}
}

// Files written by format 1.0 (row layout only; testdata/format-1.0, made
// by the writer before ROW_COLUMNS existed) still verify and restore to
// the states they were made from.
func TestFormat10FilesRead(t *testing.T) {
	dir := filepath.Join("testdata", "format-1.0")
	_, chain, _ := smallChain(t, CompressZstd)
	edge, _ := edgeDB(t)
	want := map[string]*engine.Snapshot{
		"chain-lz4.heliodump": chain[2], "chain-zstd.heliodump": chain[2], "edge-zstd.heliodump": edge.snap(),
	}
	for name, snap := range want {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if minor := binary.LittleEndian.Uint16(b[10:]); minor != 0 {
			t.Fatalf("%s: format minor %d, want a 1.0 file", name, minor)
		}
		if types := sectionTypes(t, b); types[secRowColumns] != 0 || types[secRowBatch] == 0 {
			t.Fatalf("%s: sections %v", name, types)
		}
		if rep, err := Verify(bytes.NewReader(b)); err != nil || !rep.Passed() {
			t.Fatalf("%s: verify: %v", name, err)
		}
		res, err := Load(context.Background(), bytes.NewReader(b), nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		sameState(t, snap, res.State)
	}
}

// FuzzColumns feeds arbitrary column layouts to the decoder: it must
// return an error or exactly rawLen bytes, never panic.
func FuzzColumns(f *testing.F) {
	raw, n := colCase(f)
	var e colEncoder
	cols, err := e.encode(nil, raw, n)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(cols, n, len(raw))
	rng := rand.New(rand.NewPCG(1, 2))
	rows := make([]engine.Row, 50)
	keys := make([][]byte, 50)
	lsns := make([]uint64, 50)
	for i := range rows {
		rows[i] = benchRow(rng, int64(i))
		keys[i] = engine.EncodeKey(nil, int64(i))
		lsns[i] = uint64(i / 10)
	}
	raw = colRaw(f, keys, rows, lsns)
	cols, _ = e.encode(nil, raw, len(rows))
	f.Add(cols, len(rows), len(raw))
	f.Fuzz(func(t *testing.T, src []byte, count, rawLen int) {
		if count < 0 || rawLen < 0 || rawLen > 1<<20 || count > rawLen || count > 1<<16 {
			return
		}
		var d colDecoder
		var h rowHasher
		h.reset("t")
		rows := make([]Row, count)
		out, sum, err := d.decode(nil, src, rows, rawLen, &h)
		if err == nil && len(out) != rawLen {
			t.Fatalf("%d bytes, want %d", len(out), rawLen)
		}
		// The one-shape rebuild of uniform batches and the row by
		// row one agree on every input.
		g := colDecoder{rowByRow: true}
		rows2 := make([]Row, count)
		out2, sum2, err2 := g.decode(nil, src, rows2, rawLen, &h)
		if (err == nil) != (err2 == nil) {
			t.Fatalf("column rebuild: %v, row by row: %v", err, err2)
		}
		if err == nil {
			if !bytes.Equal(out, out2) || sum != sum2 {
				t.Fatalf("rebuilds differ:\n%x\n%x", out, out2)
			}
			for i := range rows {
				if !bytes.Equal(rows[i].Key, rows2[i].Key) || !bytes.Equal(rows[i].Enc, rows2[i].Enc) || rows[i].LSN != rows2[i].LSN || rows[i].Hash != rows2[i].Hash {
					t.Fatalf("row %d: %+v, row by row %+v", i, rows[i], rows2[i])
				}
			}
		}
	})
}

// A row encoding the engine would refuse (here a bool of 2), in a file
// whose checksums and row hashes are all correct, is refused by Load's
// decode workers in both layouts, naming the row.
func TestLoadRefusesInvalidRow(t *testing.T) {
	def := &engine.TableDef{Name: "t", PrimaryKey: []int{0}, Columns: []engine.ColumnDef{
		{Name: "id", Type: engine.TypeInt8, NotNull: true}, {Name: "b", Type: engine.TypeBool}}}
	for _, c := range []Compression{CompressNone, CompressZstd} {
		var buf bytes.Buffer
		w, err := NewWriter(&buf, fixedOpts(c))
		if err != nil {
			t.Fatal(err)
		}
		if err := w.BeginSegment(SegmentHeader{Mode: ModeFull, LastLSN: 5}, []TableSchema{{Def: def, Full: true}}); err != nil {
			t.Fatal(err)
		}
		var sum uint64
		for i := int64(0); i < 3; i++ {
			key := string(engine.EncodeKey(nil, i))
			enc, _ := engine.EncodeRow(nil, engine.Row{i, true})
			if i == 1 {
				enc[len(enc)-1] = 2
			}
			h := engine.RowHash("t", key, string(enc))
			sum += h
			if err := w.WriteRow(0, key, string(enc), 5, h); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := w.EndSegment([]TableTotal{{Rows: 3, HashSum: sum}}); err != nil {
			t.Fatal(err)
		}
		_ = w.Close()
		if types := sectionTypes(t, buf.Bytes()); (c == CompressZstd) != (types[secRowColumns] == 1) {
			t.Fatalf("%v: sections %v", c, types)
		}
		_, err = Load(context.Background(), bytes.NewReader(buf.Bytes()), nil)
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "row 1") {
			t.Fatalf("%v: %v", c, err)
		}
	}
}

// varintAt agrees with binary.Varint on every length, also where fewer
// than eight bytes follow, and refuses what it refuses.
func TestVarintAt(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 20000; i++ {
		x := int64(rng.Uint64() >> rng.IntN(64))
		if i%2 == 1 {
			x = -x
		}
		b := binary.AppendVarint(nil, x)
		for pad := 0; pad < 10; pad++ {
			buf := append(append([]byte{0xff}, b...), make([]byte, pad)...)
			for j := 1 + len(b); j < len(buf); j++ {
				buf[j] = byte(rng.Uint32())
			}
			got, n := varintAt(buf, 1)
			if got != x || n != len(b) {
				t.Fatalf("%d (%x, pad %d): got %d, %d", x, b, pad, got, n)
			}
		}
	}
	for _, bad := range [][]byte{{}, {0x80}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}} {
		if _, n := varintAt(bad, 0); n > 0 {
			t.Fatalf("%x accepted", bad)
		}
	}
}

// groupsAdd gives the groups of the sum's zig-zag varint, and says ok
// exactly when the difference takes at most eight bytes and the sum is >= 0
// with a varint of at most eight bytes, around every boundary.
func TestGroupsAdd(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	groups := func(x int64) uint64 { v, _ := uvarint8(uint64(x) << 1); return v &^ varHigh }
	edges := []int64{0, 1, 63, 64, 8191, 8192, 1<<55 - 1, 1 << 55, 1<<55 + 1, 1<<62 - 1}
	for i := 0; i < 200000; i++ {
		var x, d int64
		if i < len(edges)*len(edges)*4 {
			j := i / 4
			x, d = edges[j%len(edges)], edges[j/len(edges)%len(edges)]
			x = min(x, 1<<55-1)
			if i%2 == 1 {
				d = -d
			}
			if i%4 >= 2 {
				d -= x // around -x: sums near zero
			}
		} else {
			x = int64(rng.Uint64()>>9) >> rng.IntN(55)
			d = int64(rng.Uint64()) >> rng.IntN(64)
		}
		w := binary.AppendVarint(nil, d)
		dn := len(w)
		for len(w) < 8 {
			w = append(w, byte(rng.Uint32()))
		}
		sum, n, ok := groupsAdd(groups(x), binary.LittleEndian.Uint64(w))
		y := x + d
		want := dn <= 8 && y >= 0 && uint64(y)<<1 < 1<<56 && (d >= 0 || y <= x)
		if ok != want {
			t.Fatalf("x %d d %d: ok %v, want %v", x, d, ok, want)
		}
		if ok && (sum != groups(y) || n != dn) {
			t.Fatalf("x %d d %d: %x %d, want %x %d", x, d, sum, n, groups(y), dn)
		}
	}
}

// appendVarint writes what binary.AppendVarint writes, with and without
// room to spare.
func TestAppendVarint(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for i := 0; i < 20000; i++ {
		x := int64(rng.Uint64() >> rng.IntN(64))
		if i%2 == 1 {
			x = -x
		}
		want := binary.AppendVarint([]byte{9}, x)
		for _, room := range []int{0, 3, 8, 16} {
			dst := make([]byte, 1, 1+room)
			dst[0] = 9
			if got := appendVarint(dst, x); !bytes.Equal(got, want) {
				t.Fatalf("%d room %d: %x, want %x", x, room, got, want)
			}
		}
	}
}

// Batches whose rows share one shape take the one-shape rebuild, across
// hash groups and with literal keys among key differences; it rebuilds
// the rows exactly, agrees with the row-by-row rebuild and refuses wrong
// claims and cut layouts.
func TestColumnRebuildUniform(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	n := 3*64 + 7 // three hash groups and a part
	rows := make([]engine.Row, n)
	keys := make([][]byte, n)
	lsns := make([]uint64, n)
	for i := range rows {
		rows[i] = benchRow(rng, int64(i))
		keys[i] = engine.EncodeKey(nil, int64(i))
		if i%97 == 0 {
			keys[i] = engine.EncodeKey(nil, "k"+strconv.Itoa(i)) // a literal key
		}
		lsns[i] = uint64(i/10) + 1<<60*uint64(i/5%2) // runs of one LSN (from 0), 9-byte LSNs too
	}
	raw := colRaw(t, keys, rows, lsns)
	var e colEncoder
	var d colDecoder
	var h rowHasher
	cols, _, got := columnRoundTrip(t, &e, &d, &h, raw, n)
	if len(d.prog) != 4 {
		t.Fatalf("column rebuild not taken (%d values per row)", len(d.prog))
	}
	for _, c := range []struct{ count, rawLen int }{{n - 1, len(raw)}, {n + 1, len(raw)}, {n, len(raw) - 1}, {n, len(raw) + 1}, {n, 0}} {
		if _, _, err := d.decode(nil, cols, make([]Row, c.count), c.rawLen, &h); err == nil {
			t.Fatalf("count %d raw %d accepted", c.count, c.rawLen)
		}
	}
	for cut := 0; cut < len(cols); cut += 7 {
		if _, _, err := d.decode(nil, cols[:cut], got, len(raw), &h); err == nil {
			t.Fatalf("column layout cut at %d of %d accepted", cut, len(cols))
		}
	}
}

// The one-shape rebuild and the row-by-row one agree on uniform batches of
// every value type, keys short, long and composite, rows of 128 bytes and
// more, 9-byte LSNs, and on every single-byte change of such a batch.
func TestColumnRebuildShapeAgrees(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, keyKind := range []string{"int", "short", "composite", "long"} {
		n := 60
		rows := make([]engine.Row, n)
		keys := make([][]byte, n)
		lsns := make([]uint64, n)
		for i := range rows {
			s := strings.Repeat("s", rng.IntN(2)*100+rng.IntN(20))
			rows[i] = engine.Row{int64(i * 3), rng.Float64(), i%2 == 0, engine.Numeric(strconv.Itoa(i) + ".5"),
				[]byte{byte(i), 1}, engine.Date(i), engine.UUID{byte(i)}, s, engine.Timestamp(int64(i) * -1_000_007)}
			switch keyKind {
			case "int":
				keys[i] = engine.EncodeKey(nil, int64(i*i))
			case "short":
				keys[i] = []byte{byte(i % 7), byte(i)}[:1+i%2]
			case "composite":
				keys[i] = binary.BigEndian.AppendUint64([]byte("\x14abc\x00\x01"), uint64(i)*1000)
			default:
				keys[i] = binary.BigEndian.AppendUint64([]byte(strings.Repeat("p", 130)), uint64(i))
			}
			lsns[i] = uint64(i) + 1<<63*uint64(i%3/2)
		}
		raw := colRaw(t, keys, rows, lsns)
		var e colEncoder
		cols, err := e.encode(nil, raw, n)
		if err != nil {
			t.Fatal(err)
		}
		var h rowHasher
		h.reset("t")
		check := func(src []byte) {
			t.Helper()
			var d, g colDecoder
			g.rowByRow = true
			r1, r2 := make([]Row, n), make([]Row, n)
			o1, s1, err1 := d.decode(nil, src, r1, len(raw), &h)
			o2, s2, err2 := g.decode(nil, src, r2, len(raw), &h)
			if (err1 == nil) != (err2 == nil) {
				if len(src) == len(cols) {
					for i := range src {
						if src[i] != cols[i] {
							t.Logf("changed byte %d: %x -> %x", i, cols[i], src[i])
						}
					}
				}
				t.Fatalf("%s: one shape: %v, row by row: %v", keyKind, err1, err2)
			}
			if err1 != nil {
				return
			}
			if !bytes.Equal(o1, o2) || s1 != s2 {
				t.Fatalf("%s: rebuilds differ", keyKind)
			}
			for i := range r1 {
				if !bytes.Equal(r1[i].Key, r2[i].Key) || !bytes.Equal(r1[i].Enc, r2[i].Enc) || r1[i].LSN != r2[i].LSN || r1[i].Hash != r2[i].Hash {
					t.Fatalf("%s row %d: %+v, row by row %+v", keyKind, i, r1[i], r2[i])
				}
			}
		}
		var d colDecoder
		out, _, err := d.decode(nil, cols, make([]Row, n), len(raw), &h)
		if err != nil || !bytes.Equal(out, raw) {
			t.Fatalf("%s: rebuilt rows differ (%v)", keyKind, err)
		}
		check(cols)
		m := bytes.Clone(cols)
		for i := range m {
			for _, x := range []byte{1, 0x80, 0xff} {
				m[i] ^= x
				check(m)
				m[i] ^= x
			}
		}
	}
}

// columnRoundTrip encodes the raw row batch raw (n rows) into the column
// layout and decodes it back, failing unless the rebuilt bytes are raw and
// the rows and hashes are those of the row layout's decoder (and of
// engine.RowHash). It returns the column layout, the rebuilt bytes and the
// rows.
func columnRoundTrip(t *testing.T, e *colEncoder, d *colDecoder, h *rowHasher, raw []byte, n int) (cols, out []byte, got []Row) {
	t.Helper()
	cols, err := e.encode(nil, raw, n)
	if err != nil {
		t.Fatal(err)
	}
	h.reset("t")
	got = make([]Row, n)
	out, sum, err := d.decode(nil, cols, got, len(raw), h)
	if err != nil || !bytes.Equal(out, raw) {
		t.Fatalf("rebuilt rows differ (%v):\n%x\n%x", err, out, raw)
	}
	want := make([]Row, n)
	if wsum, _, err := decodeRows(h, raw, want); err != nil || wsum != sum {
		t.Fatalf("hash sum %x, row layout %x (%v)", sum, wsum, err)
	}
	for i := range got {
		w, g := want[i], got[i]
		if !bytes.Equal(w.Key, g.Key) || !bytes.Equal(w.Enc, g.Enc) || w.LSN != g.LSN || w.Hash != g.Hash || w.Hash != engine.RowHash("t", string(w.Key), string(w.Enc)) {
			t.Fatalf("row %d: %+v, want %+v", i, g, w)
		}
	}
	return cols, out, got
}

// With CheckRows, a one-shape batch is proved from its first row only
// when its tags allow it (engine.CheckRowShape): a boolean of 2 in a
// later row and a stray NULL-bitmap bit shared by all rows are refused,
// good batches of both kinds accepted.
func TestCheckRowsOneShape(t *testing.T) {
	build := func(n int, enc func(i int) []byte) []byte {
		var raw []byte
		for i := range n {
			raw = appendBytesU(raw, engine.EncodeKey(nil, int64(i)))
			raw = appendBytesU(raw, enc(i))
			raw = appendUvarint(raw, uint64(i))
		}
		return raw
	}
	const n = 100
	for _, c := range []struct {
		name string
		enc  func(i int) []byte
		bad  bool
	}{
		{"bools", func(i int) []byte { return []byte{2, 0, tagInt, byte(2 * (i % 60)), tagBool, byte(i % 2)} }, false},
		{"bool of 2", func(i int) []byte { return []byte{2, 0, tagInt, byte(2 * (i % 60)), tagBool, byte(i % 2 * (1 + i/70))} }, true},
		{"ints and strings", func(i int) []byte { return []byte{2, 0, tagInt, byte(2 * (i % 60)), tagString, 1, 'a' + byte(i%26)} }, false},
		{"stray bitmap bit", func(i int) []byte { return []byte{2, 0x04, tagInt, byte(2 * (i % 60)), tagString, 1, 'a' + byte(i%26)} }, true},
	} {
		raw := build(n, c.enc)
		var e colEncoder
		var d colDecoder
		var h rowHasher
		cols, err := e.encode(nil, raw, n)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		h.reset("t")
		rows := make([]Row, n)
		if _, _, err := d.decode(nil, cols, rows, len(raw), &h); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if len(d.tags) != 2 {
			t.Fatalf("%s: one-shape rebuild not taken (tags %v)", c.name, d.tags)
		}
		err = checkRows(&pending{checkRows: true}, &Batch{Rows: rows}, d.tags)
		if (err != nil) != c.bad {
			t.Fatalf("%s: checkRows says %v", c.name, err)
		}
	}
}
