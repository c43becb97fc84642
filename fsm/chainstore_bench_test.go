package fsm

import (
	"context"
	"io"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/heliosdb/heliosdb-lite/engine"
	"github.com/heliosdb/heliosdb-lite/snapshot"
)

// BenchmarkSnapshotFullVsIncremental persists a full snapshot of
// HELIOS_SNAP_ROWS rows (default 500k), changes 1% of them, and persists
// again: the second one is an incremental segment. It reports both times
// and sizes and their ratios (issue 7's target: < 5% of the full time),
// and the logical size of the table (the dump's uncompressed batch bytes;
// HELIOS_SNAP_ROWS=17000000 is about 1 GB):
//
//	HELIOS_SNAP_ROWS=17000000 go test -run '^$' -bench SnapshotFullVsIncremental -benchtime 1x ./fsm/
func BenchmarkSnapshotFullVsIncremental(b *testing.B) {
	n := 500_000
	if v, err := strconv.Atoi(os.Getenv("HELIOS_SNAP_ROWS")); err == nil && v > 0 {
		n = v
	}
	for i := 0; i < b.N; i++ {
		store, err := OpenChainStore(b.TempDir(), 2)
		if err != nil {
			b.Fatal(err)
		}
		f := New(engine.New(), Options{})
		f.SetChain(store)
		te := &testEngine{t: b, f: f}
		def := &engine.TableDef{Name: "t", Columns: []engine.ColumnDef{{Name: "id", Type: engine.TypeInt8, NotNull: true}, {Name: "v", Type: engine.TypeText}}, PrimaryKey: []int{0}}
		te.apply(&engine.ChangeSet{Ops: []engine.Op{{Kind: engine.OpCreateTable, Table: "t", Def: def}}})
		for s := 0; s < n; s += 10_000 {
			writeRows(te, def, s, min(s+10_000, n), "payload-of-a-typical-row-0123456789")
		}
		b.StopTimer()
		sum, err := snapshot.WriteFull(context.Background(), io.Discard, f.eng.Snapshot(), snapshot.WriterOptions{Compression: snapshot.CompressNone})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		t0 := time.Now()
		te.persist(store)
		full := time.Since(t0)
		tip1, _ := store.Tip()
		for s := 0; s < n; s += 100 { // 1% of rows, spread over the table
			writeRows(te, def, s, s+1, "changed")
		}
		t1 := time.Now()
		te.persist(store)
		inc := time.Since(t1)
		tip2, _ := store.Tip()
		b.ReportMetric(float64(sum.RawBytes)/1e6, "logical-MB")
		b.ReportMetric(full.Seconds(), "full-s")
		b.ReportMetric(inc.Seconds(), "inc-s")
		b.ReportMetric(float64(tip1.Length)/1e6, "full-MB")
		b.ReportMetric(float64(tip2.Length-tip1.Length)/1e6, "inc-MB")
		b.ReportMetric(100*inc.Seconds()/full.Seconds(), "inc-time-%")
	}
}
