package snapshot

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heliosdb/heliosdb-lite/engine"
)

// keyLeaf agrees with engine.LeafOf for keys of every length around the
// XXH64 steps (4- and 8-byte rounds, the 32-byte stripe).
func TestKeyLeaf(t *testing.T) {
	rng := rand.New(rand.NewPCG(testSeed(t), 7))
	for n := 0; n <= 80; n++ {
		for range 50 {
			k := make([]byte, n)
			for i := range k {
				k[i] = byte(rng.Uint32())
			}
			if got, want := keyLeaf(k), engine.LeafOf(string(k)); got != want {
				t.Fatalf("key %x: leaf %d, engine.LeafOf %d", k, got, want)
			}
		}
	}
}

// The leaf sums the decode workers compute (ReaderOptions.LeafSums) are
// those of engine.LeafOf for every batch, in both layouts and every codec,
// and a Load (which hands them to the engine) builds tables whose leaf
// sums are the dumped tables': short keys, keys of 32 bytes and more, and
// a table in many batches.
func TestLoadLeafSums(t *testing.T) {
	rng := rand.New(rand.NewPCG(testSeed(t), 8))
	d := newDB(t)
	gen := genDef("g")
	d.create(gen)
	fill(d, gen, rng, 0, 6000)
	long := &engine.TableDef{Name: "long", PKName: "long_pkey", PrimaryKey: []int{0}, Columns: []engine.ColumnDef{
		{Name: "k", Type: engine.TypeText, NotNull: true}, {Name: "v", Type: engine.TypeInt8}}}
	d.create(long)
	var rows []engine.Row
	for i := range 500 {
		rows = append(rows, engine.Row{strings.Repeat("k", i%70) + strconv.Itoa(i), int64(i)})
	}
	d.insert(long, rows...)
	at := allTypesDef("at")
	d.create(at)
	d.insert(at, edgeRows()...)
	src := d.snap()
	for _, c := range []Compression{CompressNone, CompressLZ4, CompressZstd} {
		for _, rowBatches := range []bool{false, true} {
			o := fixedOpts(c)
			o.RowBatches = rowBatches
			file := dumpFull(t, src, o)
			rd := NewReaderWith(bytes.NewReader(file), ReaderOptions{CheckRows: true, LeafSums: true})
			batches := 0
			for {
				it, err := rd.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if it.Kind != ItemRows {
					continue
				}
				batches++
				if it.Batch.Leaves == nil {
					t.Fatalf("codec %v rows %v: batch %d of %s has no leaf sums", c, rowBatches, it.Batch.Index, it.Batch.Table)
				}
				var want engine.LeafSums
				for _, r := range it.Batch.Rows {
					want[engine.LeafOf(string(r.Key))] += r.Hash
				}
				if *it.Batch.Leaves != want {
					t.Fatalf("codec %v rows %v: batch %d of %s: leaf sums differ", c, rowBatches, it.Batch.Index, it.Batch.Table)
				}
			}
			rd.Close()
			if batches < 4 {
				t.Fatalf("only %d row batches: the test wants several", batches)
			}
			res, err := Load(context.Background(), bytes.NewReader(file), nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range src.TableNames() {
				a, _ := src.Table(name)
				b, _ := res.State.Table(name)
				if !slices.Equal(a.Leaves(), b.Leaves()) || a.HashSum() != b.HashSum() {
					t.Fatalf("codec %v rows %v: table %s: leaf or hash sums differ after Load", c, rowBatches, name)
				}
			}
		}
	}
}

// The decode workers check row encodings group by group as they hash
// them (rowPost): a row refused past the first group is named by its
// ordinal in the table, and the rows after it do not hide it.
func TestLoadRefusesInvalidRowLaterGroup(t *testing.T) {
	def := &engine.TableDef{Name: "t", PrimaryKey: []int{0}, Columns: []engine.ColumnDef{
		{Name: "id", Type: engine.TypeInt8, NotNull: true}, {Name: "b", Type: engine.TypeBool}}}
	for _, bad := range []int64{63, 64, 150, 199} {
		var buf bytes.Buffer
		w, err := NewWriter(&buf, fixedOpts(CompressNone))
		if err != nil {
			t.Fatal(err)
		}
		if err := w.BeginSegment(SegmentHeader{Mode: ModeFull, LastLSN: 5}, []TableSchema{{Def: def, Full: true}}); err != nil {
			t.Fatal(err)
		}
		var sum uint64
		for i := int64(0); i < 200; i++ {
			key := string(engine.EncodeKey(nil, i))
			enc, _ := engine.EncodeRow(nil, engine.Row{i, true})
			if i == bad || i == bad+1 {
				enc[len(enc)-1] = 2
			}
			h := engine.RowHash("t", key, string(enc))
			sum += h
			if err := w.WriteRow(0, key, string(enc), 5, h); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := w.EndSegment([]TableTotal{{Rows: 200, HashSum: sum}}); err != nil {
			t.Fatal(err)
		}
		_ = w.Close()
		_, err = Load(context.Background(), bytes.NewReader(buf.Bytes()), nil)
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "row "+strconv.FormatInt(bad, 10)+":") {
			t.Fatalf("row %d refused: %v", bad, err)
		}
	}
}

// Readers share their pools (readerKeep): a Load leaves buffers and row
// slices in them for the next, which takes the same pools; once no Reader
// has run for readerKeepFor, the pools are dropped, and a Reader open
// when the time runs out keeps them.
func TestReaderPoolsKeptThenDropped(t *testing.T) {
	defer func(d time.Duration) { readerKeepFor = d }(readerKeepFor)
	readerKeepFor = 50 * time.Millisecond
	rng := rand.New(rand.NewPCG(testSeed(t), 9))
	d := newDB(t)
	gen := genDef("g")
	d.create(gen)
	fill(d, gen, rng, 0, 3000)
	file := dumpFull(t, d.snap(), fixedOpts(CompressNone))
	pools := func() (rowsFree, int, int) {
		readerKeep.mu.Lock()
		defer readerKeep.mu.Unlock()
		return readerKeep.rows, readerKeep.users, len(readerKeep.rows)
	}
	if _, err := Load(context.Background(), bytes.NewReader(file), nil); err != nil {
		t.Fatal(err)
	}
	rows, users, kept := pools()
	if rows == nil || users != 0 || kept == 0 {
		t.Fatalf("after a Load: pools %v, %d users, %d row slices kept", rows != nil, users, kept)
	}
	rd := NewReader(bytes.NewReader(file))
	if rd.rows != rows {
		t.Fatal("a new Reader did not take the kept pools")
	}
	time.Sleep(3 * readerKeepFor)
	if r, _, _ := pools(); r != rows {
		t.Fatal("pools dropped while a Reader was open")
	}
	rd.Close()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if r, _, _ := pools(); r == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("pools still kept 10 s after the last Reader closed")
		}
	}
}

// DropIdlePools drops the kept pools at once, but never from under an
// open Reader.
func TestDropIdlePools(t *testing.T) {
	rng := rand.New(rand.NewPCG(testSeed(t), 10))
	d := newDB(t)
	gen := genDef("g")
	d.create(gen)
	fill(d, gen, rng, 0, 1000)
	file := dumpFull(t, d.snap(), fixedOpts(CompressNone))
	kept := func() bool {
		readerKeep.mu.Lock()
		defer readerKeep.mu.Unlock()
		return readerKeep.rows != nil
	}
	rd := NewReader(bytes.NewReader(file))
	DropIdlePools()
	if !kept() {
		t.Fatal("pools dropped while a Reader was open")
	}
	rd.Close()
	if !kept() {
		t.Fatal("pools dropped at once when the last Reader closed (they are kept for the next)")
	}
	DropIdlePools()
	if kept() {
		t.Fatal("DropIdlePools left the pools of an idle process")
	}
	if _, err := Load(context.Background(), bytes.NewReader(file), nil); err != nil {
		t.Fatal(err)
	}
}
