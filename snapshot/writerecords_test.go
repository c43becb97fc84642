package snapshot

import (
	"bytes"
	"context"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/heliosdb/heliosdb-lite/engine"
)

// writeFullRowByRow is the full-segment writer as it was before
// ScanRecords: one RowRef and one WriteRow per row. TestWriteRecordsSameBytes
// holds the record-copying path to its output.
func writeFullRowByRow(t *testing.T, snap *engine.Snapshot, o WriterOptions) []byte {
	t.Helper()
	var buf bytes.Buffer
	wr, err := NewWriter(&buf, o)
	if err != nil {
		t.Fatal(err)
	}
	defer wr.Close()
	names := snap.TableNames()
	schemas := make([]TableSchema, len(names))
	totals := make([]TableTotal, len(names))
	tables := make([]engine.Table, len(names))
	for i, n := range names {
		tb, _ := snap.Table(n)
		tables[i] = tb
		schemas[i] = TableSchema{Def: tb.Def(), Meta: tb.Meta(), Full: true}
		totals[i] = tableTotal(tb)
	}
	if err := wr.BeginSegment(SegmentHeader{Mode: ModeFull, LastLSN: snap.LSN(), Horizon: snap.TombstoneHorizon()}, schemas); err != nil {
		t.Fatal(err)
	}
	for i, tb := range tables {
		tb.Scan(func(r engine.RowRef) bool {
			err = wr.WriteRow(i, r.Key, r.Enc, r.LSN, r.Hash)
			return err == nil
		})
		if err == nil {
			tb.Tombstones(func(key string, lsn uint64) bool {
				err = wr.WriteTombstone(i, key, lsn)
				return err == nil
			})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := wr.EndSegment(totals); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestWriteRecordsSameBytes: WriteFull, which copies engine records a
// B-tree leaf at a time, writes exactly the bytes that WriteRow row by row
// writes, for every compression, with batch boundaries falling inside
// leaves, rows larger than a batch, long keys (multi-byte lengths), large
// LSNs, several tables (one empty) and tombstones.
func TestWriteRecordsSameBytes(t *testing.T) {
	rng := rand.New(rand.NewPCG(testSeed(t), 3))
	d := newDB(t)
	d.lsn = 1 << 40 // LSNs that take six varint bytes
	all := allTypesDef("all")
	d.create(all)
	d.insert(all, edgeRows()...)
	gen := genDef("gen")
	d.create(gen)
	fill(d, gen, rng, 0, 20_000)
	for i := 0; i < 500; i++ {
		d.del(gen, genRow(rng, int64(rng.IntN(20_000))))
	}
	d.create(genDef("empty"))
	long := &engine.TableDef{Name: "long", PKName: "long_pkey", PrimaryKey: []int{0}, Columns: []engine.ColumnDef{
		{Name: "k", Type: engine.TypeText, NotNull: true}, {Name: "v", Type: engine.TypeText}}}
	d.create(long)
	for i := 0; i < 300; i++ {
		d.insert(long, engine.Row{strings.Repeat("k", 100+rng.IntN(300)) + string(rune('a'+i%26)) + strings.Repeat("z", i), strings.Repeat("v", rng.IntN(5000))})
	}
	snap := d.snap()
	for _, c := range []Compression{CompressNone, CompressLZ4, CompressZstd} {
		o := fixedOpts(c)
		want := writeFullRowByRow(t, snap, o)
		got := dumpFull(t, snap, o)
		if !bytes.Equal(got, want) {
			t.Fatalf("%v: WriteFull wrote %d bytes, row by row %d; they differ", c, len(got), len(want))
		}
		if _, err := Verify(bytes.NewReader(got)); err != nil {
			t.Fatalf("%v: %v", c, err)
		}
	}
	// A canceled context stops the scan.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var buf bytes.Buffer
	if _, err := WriteFull(ctx, &buf, snap, fixedOpts(CompressNone)); err == nil {
		t.Fatal("WriteFull with a canceled context succeeded")
	}
}
