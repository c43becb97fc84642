package node

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/heliosdb/heliosdb-lite/snapshot"
)

// BenchmarkDumpRestorePG measures dump (COPY heliosdb.dump TO STDOUT) and
// restore (COPY heliosdb.restore FROM STDIN) through an in-process node
// and a pgconn client, without the CLI processes or the disk, so that a
// CPU profile (-cpuprofile) shows the server and the client together.
// Rows: HELIOSDB_BENCH_ROWS (default 400000, about 48 MB of table data).
//
//	go test ./node -run '^$' -bench DumpRestorePG -benchtime 3x -cpuprofile cpu.prof
func BenchmarkDumpRestorePG(b *testing.B) {
	_, dst, sc := benchPair(b, "create table bench(id int primary key, payload text, grp int, cat text)",
		"g, md5(g::text) || md5((g+1)::text) || md5((g+2)::text), g % 1000, 'category-' || (g % 37)")
	ctx := context.Background()
	res := sc.ExecParams(ctx, "select pg_total_relation_size('bench')", nil, nil, nil, nil).Read()
	if res.Err != nil {
		b.Fatal(res.Err)
	}
	size, _ := strconv.ParseFloat(string(res.Rows[0][0]), 64)
	mb := size / 1e6
	dc := benchConn(b, dst)
	for _, c := range []string{"none", "lz4", "zstd"} {
		b.Run(c, func(b *testing.B) {
			var dumpT, restT, loadT, dumpCPU, restCPU time.Duration
			var file bytes.Buffer
			for i := 0; i < b.N; i++ {
				file.Reset()
				start, cpu := time.Now(), cpuTime()
				if _, err := sc.CopyTo(ctx, &file, "COPY heliosdb.dump TO STDOUT WITH (compress '"+c+"')"); err != nil {
					b.Fatal(err)
				}
				dumpT += time.Since(start)
				dumpCPU += cpuTime() - cpu
				start, cpu = time.Now(), cpuTime()
				if _, err := dc.CopyFrom(ctx, bytes.NewReader(file.Bytes()), "COPY heliosdb.restore FROM STDIN"); err != nil {
					b.Fatal(err)
				}
				restT += time.Since(start)
				restCPU += cpuTime() - cpu
				// The same file loaded in process (snapshot.Load, no wire,
				// no raft): what the restore adds is the difference.
				start = time.Now()
				if _, err := snapshot.Load(ctx, bytes.NewReader(file.Bytes()), nil); err != nil {
					b.Fatal(err)
				}
				loadT += time.Since(start)
			}
			b.ReportMetric(mb*float64(b.N)/dumpT.Seconds(), "dump-MB/s")
			b.ReportMetric(mb*float64(b.N)/restT.Seconds(), "restore-MB/s")
			b.ReportMetric(mb*float64(b.N)/loadT.Seconds(), "inproc-load-MB/s")
			// Per CPU-second of the whole process (server and client): what
			// a shared, loaded machine cannot distort much.
			b.ReportMetric(mb*float64(b.N)/dumpCPU.Seconds(), "dump-MB/cpu-s")
			b.ReportMetric(mb*float64(b.N)/restCPU.Seconds(), "restore-MB/cpu-s")
			b.ReportMetric(float64(file.Len())/1e6, "file-MB")
			b.ReportMetric(mb, "data-MB")
		})
	}
	// The staged path (a --tables restore: every batch a raft entry into a
	// hidden table, then the swap), for comparison with the clean path.
	b.Run("restore-staged/none", func(b *testing.B) {
		var file bytes.Buffer
		if _, err := sc.CopyTo(ctx, &file, "COPY heliosdb.dump TO STDOUT WITH (compress 'none')"); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		start, cpu := time.Now(), cpuTime()
		for i := 0; i < b.N; i++ {
			if _, err := dc.CopyFrom(ctx, bytes.NewReader(file.Bytes()), "COPY heliosdb.restore FROM STDIN WITH (tables 'bench')"); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(mb*float64(b.N)/time.Since(start).Seconds(), "restore-MB/s")
		b.ReportMetric(mb*float64(b.N)/(cpuTime()-cpu).Seconds(), "restore-MB/cpu-s")
	})
	// The dump streams to io.Discard here: what the server can produce.
	for _, c := range []string{"none", "lz4", "zstd"} {
		b.Run("dump-discard/"+c, func(b *testing.B) {
			start, cpu := time.Now(), cpuTime()
			for i := 0; i < b.N; i++ {
				if _, err := sc.CopyTo(ctx, io.Discard, "COPY heliosdb.dump TO STDOUT WITH (compress '"+c+"')"); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(mb*float64(b.N)/time.Since(start).Seconds(), "dump-MB/s")
			b.ReportMetric(mb*float64(b.N)/(cpuTime()-cpu).Seconds(), "dump-MB/cpu-s")
		})
	}
}

// cpuTime is the process's user+system CPU time so far.
// benchPair starts a source and a destination node and fills the source's
// table bench (made by ddl) with HELIOSDB_BENCH_ROWS rows (default
// 400000) of "select <cols> from generate_series" in 100k-row statements.
func benchPair(b *testing.B, ddl, cols string) (src, dst *Node, sc *pgconn.PgConn) {
	rows := 400000
	if v, err := strconv.Atoi(os.Getenv("HELIOSDB_BENCH_ROWS")); err == nil && v > 0 {
		rows = v
	}
	src, dst = benchNode(b), benchNode(b)
	sc = benchConn(b, src)
	benchExec(b, sc, ddl)
	for i := 0; i < rows; i += 100000 {
		benchExec(b, sc, "insert into bench select "+cols+" from generate_series("+
			strconv.Itoa(i+1)+", "+strconv.Itoa(min(i+100000, rows))+") g")
	}
	return src, dst, sc
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchNode(b *testing.B) *Node {
	b.Helper()
	c := DefaultConfig()
	c.Server.Port = 0
	c.Server.Memory = true
	n, err := Start(context.Background(), c, slog.New(slog.NewTextHandler(benchLogOut(), nil)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = n.Close() })
	for deadline := time.Now().Add(10 * time.Second); !n.repl.IsLeader(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatal("no leader after 10s")
		}
	}
	return n
}

func benchConn(b *testing.B, n *Node) *pgconn.PgConn {
	b.Helper()
	c, err := pgconn.Connect(context.Background(), "postgres://postgres@"+n.PGAddr()+"/postgres?sslmode=disable")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

func benchExec(b *testing.B, c *pgconn.PgConn, sql string) {
	b.Helper()
	if _, err := c.Exec(context.Background(), sql).ReadAll(); err != nil {
		b.Fatal(err)
	}
}

// TestDumpCodecDefaultLevel: a dump asked for lz4 without a level uses
// lz4's default (1, the fast compressor), not zstd's default 3, which for
// lz4 means LZ4-HC and was ten times slower.
func TestDumpCodecDefaultLevel(t *testing.T) {
	c := DefaultConfig()
	c.Server.Port = 0
	c.Server.Memory = true
	n := startNode(t, c)
	waitFor(t, 10*time.Second, "leader", n.repl.IsLeader)
	conn, err := pgconn.Connect(context.Background(), "postgres://postgres@"+n.PGAddr()+"/postgres?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), "create table t(id int primary key, v text); insert into t values (1, 'a')").ReadAll(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ opts, want string }{
		{"compress 'lz4'", "lz4 1"}, {"compress 'zstd'", "zstd 3"}, {"compress 'lz4', level '5'", "lz4 5"}, {"", "zstd 3"},
	} {
		var buf bytes.Buffer
		q := "COPY heliosdb.dump TO STDOUT"
		if tc.opts != "" {
			q += " WITH (" + tc.opts + ")"
		}
		if _, err := conn.CopyTo(context.Background(), &buf, q); err != nil {
			t.Fatal(err)
		}
		rd := snapshot.NewReader(&buf)
		it, err := rd.Next()
		rd.Close()
		if err != nil {
			t.Fatal(err)
		}
		if got := it.Segment.Compression.String() + " " + strconv.Itoa(it.Segment.Level); got != tc.want {
			t.Errorf("%s: segment says %s, want %s", q, got, tc.want)
		}
	}
}

// benchLogOut is where the benchmark nodes log: nowhere, unless
// HELIOSDB_BENCH_LOG=1 (to see the phases of a restore).
func benchLogOut() io.Writer {
	if os.Getenv("HELIOSDB_BENCH_LOG") == "1" {
		return os.Stderr
	}
	return io.Discard
}
