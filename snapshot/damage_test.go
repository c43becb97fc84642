package snapshot

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/heliosdb/heliosdb-lite/engine"
)

// smallChain returns a small file of three segments (full + 2 appended
// incrementals), the states after each, and the segment end offsets.
func smallChain(t testing.TB, c Compression) ([]byte, []*engine.Snapshot, []int64) {
	d := newDB(t)
	g := genDef("g")
	d.create(g)
	rng := rand.New(rand.NewPCG(3, 4))
	fill(d, g, rng, 0, 40)
	d.create(&engine.TableDef{Name: "h", Columns: []engine.ColumnDef{{Name: "a", Type: engine.TypeText}}})
	o := fixedOpts(c)
	path := t.TempDir() + "/s.heliodump"
	s0 := d.snap()
	if err := WriteFileAtomic(path, func(w io.Writer) error { _, err := WriteFull(context.Background(), w, s0, o); return err }); err != nil {
		t.Fatal(err)
	}
	states := []*engine.Snapshot{s0}
	for i := 0; i < 2; i++ {
		fill(d, g, rng, 30+i*5, 10)
		d.del(g, engine.Row{int64(i)})
		s := d.snap()
		if _, err := AppendIncremental(context.Background(), path, s, o); err != nil {
			t.Fatal(err)
		}
		states = append(states, s)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	scan, err := ScanSegments(bytes.NewReader(b), int64(len(b)))
	if err != nil || len(scan.Segments) != 3 {
		t.Fatalf("scan: %v", err)
	}
	var ends []int64
	for _, s := range scan.Segments {
		ends = append(ends, s.End)
	}
	return b, states, ends
}

func TestVerifyCleanFile(t *testing.T) {
	b, states, _ := smallChain(t, CompressZstd)
	rep, err := Verify(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	crep, err := VerifyChecksums(bytes.NewReader(b))
	if err != nil || crep.Checksum != rep.Checksum || len(crep.Segments) != len(rep.Segments) {
		t.Fatalf("VerifyChecksums: %v, checksum 0x%08x vs 0x%08x", err, crep.Checksum, rep.Checksum)
	}
	for i := range rep.Segments {
		if crep.Segments[i].Rows != rep.Segments[i].Rows {
			t.Fatalf("segment %d: VerifyChecksums counts %d rows, Verify %d", i+1, crep.Segments[i].Rows, rep.Segments[i].Rows)
		}
	}
	rep.Name = "backup.heliodump"
	var out strings.Builder
	_ = rep.WriteText(&out)
	t.Log("\n" + out.String())
	for _, want := range []string{"Verifying backup.heliodump...\nMagic: OK\nVersion: 3.1.0 (compatible)\nMetadata checksum: OK\nData checksum: OK (CRC32: 0x", "\nVerification: PASSED\n"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("missing %q", want)
		}
	}
	res, err := Load(context.Background(), bytes.NewReader(b), nil)
	if err != nil {
		t.Fatal(err)
	}
	sameState(t, states[2], res.State)

	insp, err := Inspect(bytes.NewReader(b), int64(len(b)), "g")
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	_ = insp.WriteText(&out)
	t.Log("\n" + out.String())
	tb, _ := states[2].Table("g")
	found := false
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.Contains(line, "Row count") {
			f := strings.Fields(line)
			if len(f) < 3 || f[2] != strconv.Itoa(tb.Len()) {
				t.Fatalf("awk '{print $3}' of %q != %d", line, tb.Len())
			}
			found = true
		}
	}
	if !found {
		t.Fatal("no Row count line")
	}
	dr, err := DryRun(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	dr.Name = "backup.heliodump"
	_ = dr.WriteText(&out)
	t.Log("\n" + out.String())
	if !strings.HasPrefix(out.String(), "Dump file: backup.heliodump\nVersion: 3.1.0 (compatible)\nCreated: 2025-12-08 10:00:00\nTables: g, h\nTotal rows: ") || !strings.HasSuffix(out.String(), "Validation: PASSED\n") {
		t.Fatal("dry-run shape")
	}
}

// Every single-byte change anywhere in the file is detected by Verify.
func TestByteFlipDetected(t *testing.T) {
	for _, c := range []Compression{CompressNone, CompressLZ4, CompressZstd} {
		b, _, _ := smallChain(t, c)
		mut := make([]byte, len(b))
		for off := range b {
			copy(mut, b)
			mut[off] ^= 0x5A
			rep, err := Verify(bytes.NewReader(mut))
			if err == nil || rep.Passed() {
				t.Fatalf("%v: flip at offset %d of %d not detected", c, off, len(b))
			}
			// The client's pre-send check covers every byte by CRC too.
			if crep, cerr := VerifyChecksums(bytes.NewReader(mut)); cerr == nil || crep.Passed() {
				t.Fatalf("%v: flip at offset %d of %d not detected by VerifyChecksums", c, off, len(b))
			}
			if off == 4000 {
				var out strings.Builder
				_ = rep.WriteText(&out)
				t.Log("\n" + out.String())
			}
		}
		t.Logf("%v: all %d offsets detected", c, len(b))
	}
}

// Cutting the file at any offset leaves every complete segment loadable
// and reports the torn tail.
func TestTruncationEveryOffset(t *testing.T) {
	b, states, ends := smallChain(t, CompressLZ4)
	for cut := 0; cut < len(b); cut++ {
		complete := 0
		for _, e := range ends {
			if int64(cut) >= e {
				complete++
			}
		}
		res, err := Load(context.Background(), bytes.NewReader(b[:cut]), nil)
		if complete == 0 {
			if err == nil {
				t.Fatalf("cut %d: loaded without a complete segment", cut)
			}
			continue
		}
		atBoundary := int64(cut) == ends[complete-1]
		if atBoundary {
			if err != nil {
				t.Fatalf("cut %d at segment boundary: %v", cut, err)
			}
		} else if !errors.Is(err, ErrTornTail) || res == nil {
			t.Fatalf("cut %d: want torn tail with %d segments, got %v", cut, complete, err)
		}
		if len(res.Segments) != complete {
			t.Fatalf("cut %d: %d segments, want %d", cut, len(res.Segments), complete)
		}
		if cut%97 == 0 || (!atBoundary && cut == int(ends[0])+1) {
			sameState(t, states[complete-1], res.State)
		}
		if cut == int(ends[1])+20 {
			t.Log(err)
		}
	}
}

// A crash in the middle of an append leaves the earlier segments readable;
// the next append cuts the torn tail off.
func TestTornAppend(t *testing.T) {
	b, states, ends := smallChain(t, CompressZstd)
	torn := b[:ends[1]+(ends[2]-ends[1])/2]
	path := writeTemp(t, torn)
	res, err := Load(context.Background(), bytes.NewReader(torn), nil)
	if !errors.Is(err, ErrTornTail) || len(res.Segments) != 2 {
		t.Fatalf("%v", err)
	}
	if !strings.Contains(err.Error(), "torn tail at offset") {
		t.Fatalf("message: %v", err)
	}
	sameState(t, states[1], res.State)
	rep, _ := Verify(bytes.NewReader(torn))
	var out strings.Builder
	_ = rep.WriteText(&out)
	t.Log("\n" + out.String())
	if !strings.Contains(out.String(), "Torn tail at offset") || !strings.Contains(out.String(), "Verification: FAILED") ||
		!strings.Contains(out.String(), "Data checksum: INCOMPLETE") || strings.Contains(out.String(), "Data checksum: OK") {
		t.Fatal("verify report")
	}
	ar, err := AppendIncremental(context.Background(), path, states[2], fixedOpts(CompressZstd))
	if err != nil {
		t.Fatal(err)
	}
	if ar.TruncatedTail == 0 || ar.BaseLSN != states[1].LSN() {
		t.Fatalf("%+v", ar)
	}
	lr, err := LoadChain(context.Background(), []string{path})
	if err != nil {
		t.Fatal(err)
	}
	sameState(t, states[2], lr.State)
}

// Unknown non-critical sections are skipped (and still covered by the
// segment checksum); unknown critical ones are refused.
func TestUnknownSectionSkipped(t *testing.T) {
	d, _ := edgeDB(t)
	var buf bytes.Buffer
	wr, err := NewWriter(&buf, fixedOpts(CompressLZ4))
	if err != nil {
		t.Fatal(err)
	}
	s := d.snap()
	names := s.TableNames()
	var schemas []TableSchema
	var totals []TableTotal
	for _, n := range names {
		tb, _ := s.Table(n)
		schemas = append(schemas, TableSchema{Def: tb.Def(), Meta: tb.Meta(), Full: true})
		totals = append(totals, tableTotal(tb))
	}
	if err := wr.BeginSegment(SegmentHeader{Mode: ModeFull, LastLSN: s.LSN()}, schemas); err != nil {
		t.Fatal(err)
	}
	if err := wr.writeSectionFlags(0x40, 0, []byte("a future minor version's extra section")); err != nil {
		t.Fatal(err)
	}
	for i, n := range names {
		tb, _ := s.Table(n)
		tb.Scan(func(r engine.RowRef) bool { return wr.WriteRow(i, r.Key, r.Enc, r.LSN, r.Hash) == nil })
	}
	if _, err := wr.EndSegment(totals); err != nil {
		t.Fatal(err)
	}
	_ = wr.Close()
	res, err := Load(context.Background(), bytes.NewReader(buf.Bytes()), nil)
	if err != nil {
		t.Fatal(err)
	}
	sameState(t, s, res.State)
	if _, err := Verify(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	// Mark it critical (fix its header CRC): refused with ErrVersion.
	b := bytes.Clone(buf.Bytes())
	i := bytes.Index(b, []byte("a future minor")) - frameHeaderLen
	b[i+1] = flagCritical
	binary.LittleEndian.PutUint32(b[i+8:], crc(b[i:i+8]))
	_, err = Load(context.Background(), bytes.NewReader(b), nil)
	if !errors.Is(err, ErrVersion) {
		t.Fatalf("critical unknown section: %v", err)
	}
	t.Log(err)
}

func TestNewerMajorRefused(t *testing.T) {
	d, _ := edgeDB(t)
	b := dumpFull(t, d.snap(), fixedOpts(CompressNone))
	binary.LittleEndian.PutUint16(b[8:], FormatMajor+1)
	copy(b[12:28], append([]byte("4.0.0"), make([]byte, 11)...))
	binary.LittleEndian.PutUint32(b[28:], crc(b[:28]))
	_, err := Load(context.Background(), bytes.NewReader(b), nil)
	if !errors.Is(err, ErrVersion) {
		t.Fatalf("%v", err)
	}
	msg := err.Error()
	for _, want := range []string{fmt.Sprintf("%d.%d", FormatMajor+1, FormatMinor), "4.0.0", "1.x", ProductVersion, "restore it with HeliosDB-Lite 4.0.0 or newer"} {
		if !strings.Contains(msg, want) {
			t.Fatalf("message %q lacks %q", msg, want)
		}
	}
	t.Log(msg)
	rep, err := Verify(bytes.NewReader(b))
	if err == nil {
		t.Fatal("verify passed")
	}
	var out strings.Builder
	_ = rep.WriteText(&out)
	t.Log("\n" + out.String())
	if !strings.Contains(out.String(), "Version: 4.0.0 (incompatible") {
		t.Fatal("verify version line")
	}
	// Not a dump at all.
	if _, err := Load(context.Background(), strings.NewReader("PGDMP and more bytes than a header is long"), nil); !errors.Is(err, ErrNotDump) {
		t.Fatalf("%v", err)
	}
}

func TestSalvage(t *testing.T) {
	d := newDB(t)
	g := genDef("g")
	d.create(g)
	seed := testSeed(t)
	fill(d, g, rand.New(rand.NewPCG(seed, 6)), 0, 20000)
	o := fixedOpts(CompressLZ4)
	b := dumpFull(t, d.snap(), o)
	scan, _ := ScanSegments(bytes.NewReader(b), int64(len(b)))
	tbl := scan.Segments[0].Footer.Tables[0]
	if tbl.Batches < 4 {
		t.Fatalf("%d batches", tbl.Batches)
	}
	// Damage the middle of the second batch's payload.
	rd := NewReader(bytes.NewReader(b))
	var off, size int64
	for {
		it, err := rd.Next()
		if err != nil {
			t.Fatal(err)
		}
		if it.Kind == ItemRows && it.Batch.Index == 1 {
			off, size = it.Offset, it.Size
			break
		}
	}
	rd.Close()
	mut := bytes.Clone(b)
	mut[off+size/2] ^= 1
	bl := engine.NewBuilder(0)
	rep, err := Salvage(bytes.NewReader(mut), bl)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	_ = rep.WriteText(&out)
	t.Log("\n" + out.String())
	if len(rep.Lost) != 1 || rep.Lost[0].Batch != 1 || rep.Lost[0].Table != "g" || rep.Lost[0].Offset != off {
		t.Fatalf("lost %+v", rep.Lost)
	}
	l := rep.Lost[0]
	st := bl.Finish()
	tb, _ := st.Table("g")
	if uint64(tb.Len()) != 20000-(l.EndRow-l.FirstRow) || l.EndRow <= l.FirstRow {
		t.Fatalf("recovered %d rows, lost range %d..%d", tb.Len(), l.FirstRow, l.EndRow)
	}
	// Exactly the rows in the reported key range are missing.
	src, _ := d.snap().Table("g")
	missing := 0
	src.Scan(func(r engine.RowRef) bool {
		if _, ok := tb.Get(r.Key); !ok {
			missing++
			if r.Key <= string(l.AfterKey) || r.Key >= string(l.BeforeKey) {
				t.Fatalf("missing key %x outside the reported range", r.Key)
			}
		}
		return true
	})
	if uint64(missing) != l.EndRow-l.FirstRow {
		t.Fatalf("%d missing, report says %d", missing, l.EndRow-l.FirstRow)
	}
}

// Damage in the middle of a file is not mistaken for a torn tail by append.
func TestAppendRefusesMiddleDamage(t *testing.T) {
	b, states, ends := smallChain(t, CompressNone)
	mut := bytes.Clone(b)
	mut[ends[0]+3] ^= 0xFF // segment 2's first section header
	path := writeTemp(t, mut)
	if _, err := AppendIncremental(context.Background(), path, states[2], fixedOpts(CompressNone)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("%v", err)
	}
	got, _ := os.ReadFile(path)
	if !bytes.Equal(got, mut) {
		t.Fatal("file changed")
	}
}
