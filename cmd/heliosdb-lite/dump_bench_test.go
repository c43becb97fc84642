package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/heliosdb/heliosdb-lite/internal/proctest"
)

// BenchmarkDumpRestoreWire measures end-to-end dump and restore over the
// PostgreSQL wire (CLI process -> server process) per compression, in MB/s
// of table data (pg_total_relation_size), and the dump CLI's MB per CPU
// second. Rows: HELIOSDB_BENCH_ROWS
// (default 400000, about 100 MB).
//
//	go test ./cmd/heliosdb-lite -run '^$' -bench DumpRestoreWire -benchtime 1x
func BenchmarkDumpRestoreWire(b *testing.B) {
	rows := 400000
	if v, err := strconv.Atoi(os.Getenv("HELIOSDB_BENCH_ROWS")); err == nil && v > 0 {
		rows = v
	}
	src := proctest.Start(b, "src", "--memory")
	dst := proctest.Start(b, "dst", "--memory")
	for i := 0; i < rows; i += 100000 {
		runPsqlB(b, src, "insert into bench select g, md5(g::text) || md5((g+1)::text) || md5((g+2)::text), g % 1000, 'category-' || (g % 37) from generate_series("+strconv.Itoa(i+1)+", "+strconv.Itoa(min(i+100000, rows))+") g", i == 0)
	}
	var size float64
	out := runPsqlB(b, src, "select pg_total_relation_size('bench')", false)
	size, _ = strconv.ParseFloat(out, 64)
	mb := size / 1e6
	dir := b.TempDir()
	for _, c := range []string{"none", "lz4", "zstd"} {
		b.Run(c, func(b *testing.B) {
			f := filepath.Join(dir, c+".heliodump")
			var dumpT, restT, dumpCPU time.Duration
			for i := 0; i < b.N; i++ {
				start := time.Now()
				cmd := exec.Command(proctest.Binary(b), "dump", "--output", f, "--compress", c, "--host", "127.0.0.1", "--port", strconv.Itoa(src.Port))
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("dump: %v\n%s", err, out)
				}
				dumpT += time.Since(start)
				dumpCPU += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
				start = time.Now()
				if _, se, code := proctest.Run(b, "restore", "--input", f, "--host", "127.0.0.1", "--port", strconv.Itoa(dst.Port)); code != 0 {
					b.Fatal(se)
				}
				restT += time.Since(start)
			}
			fi, _ := os.Stat(f)
			b.ReportMetric(mb*float64(b.N)/dumpT.Seconds(), "dump-MB/s")
			if dumpCPU > 0 {
				// The CLI's own CPU (receiving and writing the file), which
				// a busy shared machine disturbs less than the wall clock.
				b.ReportMetric(mb*float64(b.N)/dumpCPU.Seconds(), "dump-cli-MB/cpu-s")
			}
			b.ReportMetric(mb*float64(b.N)/restT.Seconds(), "restore-MB/s")
			b.ReportMetric(float64(fi.Size())/1e6, "file-MB")
			b.ReportMetric(mb, "data-MB")
		})
	}
}

func runPsqlB(b *testing.B, n *proctest.Node, sql string, create bool) string {
	b.Helper()
	if create {
		sql = "create table bench(id int primary key, payload text, grp int, cat text); " + sql
	}
	out, err := execPsql(n.Port, sql)
	if err != nil {
		b.Fatalf("psql: %v\n%s", err, out)
	}
	return out
}
