package node

import (
	"bytes"
	"context"
	"runtime"
	"testing"
	"time"
)

// BenchmarkRestoreAlloc restores one dump (COPY heliosdb.restore FROM
// STDIN, the clean user-restore path) into an in-process node again and
// again and reports, per restore, the bytes the process allocated and the
// garbage collections it ran besides the CPU time: a restore's share of
// collections follows what it allocates, and the wall-clock spread of
// restores on a loaded machine follows whether a collection fell into
// them. Rows: HELIOSDB_BENCH_ROWS (default 400000).
//
//	go test ./node -run '^$' -bench RestoreAlloc -benchtime 8x
func BenchmarkRestoreAlloc(b *testing.B) {
	_, dst, sc := benchPair(b, "create table bench(id bigint primary key, n int, s text, at timestamptz)",
		"g, g % 1000, 'word-' || (g % 997), now() + g * interval '1 second'")
	ctx := context.Background()
	dc := benchConn(b, dst)
	for _, c := range []string{"none", "lz4"} {
		b.Run(c, func(b *testing.B) {
			var file bytes.Buffer
			if _, err := sc.CopyTo(ctx, &file, "COPY heliosdb.dump TO STDOUT WITH (compress '"+c+"')"); err != nil {
				b.Fatal(err)
			}
			// One restore first, so that every timed one replaces a state
			// of the same size (as in the wire benchmark).
			if _, err := dc.CopyFrom(ctx, bytes.NewReader(file.Bytes()), "COPY heliosdb.restore FROM STDIN"); err != nil {
				b.Fatal(err)
			}
			var m0, m1 runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&m0)
			b.ResetTimer()
			start, cpu := time.Now(), cpuTime()
			for i := 0; i < b.N; i++ {
				if _, err := dc.CopyFrom(ctx, bytes.NewReader(file.Bytes()), "COPY heliosdb.restore FROM STDIN"); err != nil {
					b.Fatal(err)
				}
			}
			wall, used := time.Since(start), cpuTime()-cpu
			b.StopTimer()
			runtime.ReadMemStats(&m1)
			n := float64(b.N)
			b.ReportMetric(float64(file.Len())/1e6*n/wall.Seconds(), "file-MB/s")
			b.ReportMetric(float64(file.Len())/1e6*n/used.Seconds(), "file-MB/cpu-s")
			b.ReportMetric(float64(m1.TotalAlloc-m0.TotalAlloc)/1e6/n, "alloc-MB/op")
			b.ReportMetric(float64(m1.NumGC-m0.NumGC)/n, "gc/op")
		})
	}
}
