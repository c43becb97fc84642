package engine

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"
)

func benchDef(nidx int) *TableDef {
	def := &TableDef{Name: "b", Columns: []ColumnDef{
		{Name: "id", Type: TypeInt8, NotNull: true}, {Name: "a", Type: TypeInt8}, {Name: "s", Type: TypeText}, {Name: "ts", Type: TypeTimestamp},
	}, PrimaryKey: []int{0}}
	for i := 0; i < nidx; i++ {
		def.Indexes = append(def.Indexes, IndexDef{Name: fmt.Sprint("b_i", i), Columns: []int{1 + i%3}})
	}
	return def
}

func benchRow(i int64) Row {
	return Row{i, i * 7 % 1000, "name-" + strconv.FormatInt(i, 36), Timestamp(1_700_000_000_000_000 + i)}
}

const benchBatch = 1000

// BenchmarkApply measures rows applied per second in batches of 1000 rows
// per change set (one raft entry), with 0, 1 and 3 secondary indexes.
func BenchmarkApply(b *testing.B) {
	for _, nidx := range []int{0, 1, 3} {
		for _, kind := range []string{"insert", "update", "delete"} {
			b.Run(fmt.Sprintf("%s/idx=%d", kind, nidx), func(b *testing.B) {
				def := benchDef(nidx)
				e := New()
				lsn := uint64(1)
				if err := e.Apply(create(def), lsn); err != nil {
					b.Fatal(err)
				}
				mk := func(start int64, k OpKind) *ChangeSet {
					cs := &ChangeSet{Ops: make([]Op, 0, benchBatch)}
					for i := start; i < start+benchBatch; i++ {
						r := benchRow(i)
						if k == OpUpdate {
							r[2] = "updated"
						}
						op := insertOp(b, def, r)
						op.Kind = k
						if k == OpDelete {
							op.Row = nil
						}
						cs.Ops = append(cs.Ops, op)
					}
					return cs
				}
				n := int64(b.N)
				if kind != "insert" {
					for s := int64(0); s < n; s += benchBatch {
						lsn++
						_ = e.Apply(mk(s, OpInsert), lsn)
					}
				}
				op := map[string]OpKind{"insert": OpInsert, "update": OpUpdate, "delete": OpDelete}[kind]
				sets := make([]*ChangeSet, 0, n/benchBatch+1)
				for s := int64(0); s < n; s += benchBatch {
					sets = append(sets, mk(s, op))
				}
				b.ResetTimer()
				cpu0 := processCPU()
				for _, cs := range sets {
					lsn++
					if err := e.Apply(cs, lsn); err != nil {
						b.Fatal(err)
					}
				}
				reportRows(b, len(sets)*benchBatch, processCPU()-cpu0)
			})
		}
	}
}

// reportRows reports rows per wall second and per CPU second (all threads,
// garbage collection included: what the work costs on a shared machine).
func reportRows(b *testing.B, rows int, cpu time.Duration) {
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
	if cpu > 0 {
		b.ReportMetric(float64(rows)/cpu.Seconds(), "rows/cpu-s")
	}
}

// reportCPU reports the process CPU time per operation since cpu0.
func reportCPU(b *testing.B, cpu0 time.Duration) {
	if cpu := processCPU() - cpu0; cpu > 0 && cpu0 > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

func loadRows(b testing.TB, n int, nidx int) (*Engine, *TableDef) {
	b.Helper()
	def := benchDef(nidx)
	e := New()
	lsn := uint64(1)
	_ = e.Apply(create(def), lsn)
	for s := 0; s < n; s += benchBatch {
		cs := &ChangeSet{}
		for i := s; i < s+benchBatch && i < n; i++ {
			cs.Ops = append(cs.Ops, insertOp(b, def, benchRow(int64(i))))
		}
		lsn++
		if err := e.Apply(cs, lsn); err != nil {
			b.Fatal(err)
		}
	}
	return e, def
}

func benchRows() int {
	if v, err := strconv.Atoi(os.Getenv("HELIOS_BENCH_ROWS")); err == nil && v > 0 {
		return v
	}
	return 1_000_000
}

// BenchmarkReads: point lookup by primary key and a 100-row range scan.
func BenchmarkReads(b *testing.B) {
	n := benchRows() / 10
	e, _ := loadRows(b, n, 1)
	tb, _ := e.Snapshot().Table("b")
	b.Run("point", func(b *testing.B) {
		defer reportCPU(b, processCPU())
		for i := 0; i < b.N; i++ {
			r, ok := tb.Get(key(int64(i % n)))
			if !ok {
				b.Fatal("missing")
			}
			if _, err := r.Decode(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("range100", func(b *testing.B) {
		defer reportCPU(b, processCPU())
		for i := 0; i < b.N; i++ {
			c := 0
			tb.ScanRange(EncodeKey(nil, int64(i%(n-100))), nil, func(RowRef) bool { c++; return c < 100 })
		}
		b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "rows/s")
	})
}

// BenchmarkSnapshot measures Snapshot() on a database of HELIOS_BENCH_ROWS
// rows (default 1M): it must not depend on the size.
func BenchmarkSnapshot(b *testing.B) {
	e, _ := loadRows(b, benchRows(), 0)
	b.ResetTimer()
	var s *Snapshot
	for i := 0; i < b.N; i++ {
		s = e.Snapshot()
	}
	_ = s
}

// BenchmarkMemory reports live heap bytes (and resident bytes) per byte of raw row data
// (the sum of the rows' value sizes: 8 per integer/timestamp, string
// lengths) at HELIOS_BENCH_ROWS rows.
func BenchmarkMemory(b *testing.B) {
	for i := 0; i < b.N; i++ {
		runtime.GC()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		rss0 := residentBytes()
		n := benchRows()
		e, _ := loadRows(b, n, 0)
		runtime.GC()
		runtime.ReadMemStats(&m1)
		rss1 := residentBytes()
		var raw int64
		for i := 0; i < n; i++ {
			raw += 8 + 8 + 8 + int64(len(benchRow(int64(i))[2].(string)))
		}
		b.ReportMetric(float64(m1.HeapAlloc-m0.HeapAlloc)/float64(raw), "heap-bytes/raw-byte")
		b.ReportMetric(float64(raw)/float64(n), "raw-bytes/row")
		if rss0 > 0 {
			// Resident memory includes the runtime's free pages it has not
			// yet returned and the heap's fragmentation.
			b.ReportMetric(float64(rss1-rss0)/float64(raw), "rss-bytes/raw-byte")
		}
		runtime.KeepAlive(e)
	}
}

// BenchmarkChangesSince: what an incremental dump asks of a table of
// HELIOS_BENCH_ROWS rows (default 1M) of which 1% were updated since the
// base LSN, through the change log ("log") and by the full-table scan it
// replaces ("scan").
func BenchmarkChangesSince(b *testing.B) {
	n := benchRows()
	e, def := loadRows(b, n, 0)
	base := e.Snapshot().LSN()
	lsn := base
	changed := n / 100
	for s := 0; s < changed; s += benchBatch {
		cs := &ChangeSet{}
		for i := s; i < s+benchBatch && i < changed; i++ {
			r := benchRow(int64(i * 97 % n)) // spread over the table
			r[2] = "changed"
			op := insertOp(b, def, r)
			op.Kind = OpUpdate
			cs.Ops = append(cs.Ops, op)
		}
		lsn++
		if err := e.Apply(cs, lsn); err != nil {
			b.Fatal(err)
		}
	}
	s := e.Snapshot()
	b.Run("log", func(b *testing.B) {
		defer reportCPU(b, processCPU())
		for i := 0; i < b.N; i++ {
			tc, err := s.ChangesSince(base)
			if err != nil || len(tc[0].Rows) != changed {
				b.Fatalf("%v: %d rows", err, len(tc[0].Rows))
			}
		}
	})
	b.Run("scan", func(b *testing.B) {
		defer reportCPU(b, processCPU())
		for i := 0; i < b.N; i++ {
			var tc TableChanges
			s.tables["b"].changesByScan(base, &tc)
			if len(tc.Rows) != changed {
				b.Fatalf("%d rows", len(tc.Rows))
			}
		}
	})
}
