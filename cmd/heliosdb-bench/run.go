package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/heliosdb/heliosdb-lite/engine"
	"github.com/heliosdb/heliosdb-lite/snapshot"
)

// run measures every row and returns the report (partial on error).
func run(ctx context.Context, cfg config, log io.Writer) (*report, error) {
	if cfg.Runs < 1 {
		cfg.Runs = 1
	}
	start := time.Now()
	rep := &report{Started: start, Config: cfg, Env: environment(cfg, start)}
	logf := func(format string, args ...any) {
		fmt.Fprintf(log, "[%5.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}
	l, err := newLab(logf)
	if err != nil {
		return rep, err
	}
	defer l.close()
	if *onlyPart == "inproc" {
		return runInProcessOnly(ctx, cfg, rep, logf) // inproc.go
	}
	if *onlyPart == "wire" {
		return runWireOnly(ctx, cfg, rep, l, logf) // wire.go
	}
	if *onlyPart != "" {
		return runOnly(ctx, cfg, rep, l, logf) // clusterb.go
	}
	ours := map[string]stat{}
	e, raw, err := inProcess(ctx, cfg, rep, ours, logf)
	if err != nil {
		return rep, err
	}
	db := bigDBOf(e, raw)
	wireRows(ctx, cfg, rep, l, e.Snapshot(), raw, ours, logf) // wire.go
	pgAnchor, pgErr := pgRows(ctx, cfg, rep, raw, ours, logf)
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	logf("engine rows")
	if err := engineRows(ctx, cfg, rep, e); err != nil {
		return rep, err
	}
	e = nil
	runtime.GC()
	clusterRows(ctx, cfg, rep, l, pgAnchor, pgErr, db, logf)
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	rep.Elapsed = time.Since(start)
	rep.Env = append(rep.Env, fmt.Sprintf("elapsed: %s", rep.Elapsed.Round(time.Second)))
	return rep, nil
}

// bigDBOf describes the generated dataset loaded into cluster B.
func bigDBOf(e *engine.Engine, raw int64) bigDB {
	tb, _ := e.Snapshot().Table(tableName)
	return bigDB{rows: tb.Len(), raw: raw}
}

// clusterRows runs everything that needs server processes: pgbench on
// our single node and 3-node cluster (A), replicated writes and failover
// against etcd, then cluster B (anti-entropy, cluster dump, rejoin).
func clusterRows(ctx context.Context, cfg config, rep *report, l *lab, pgAnchor map[string][]pgbenchResult, pgErr string, db bigDB, logf func(string, ...any)) {
	logf("building heliosdb-lite (product and heliosdb_debug builds)")
	bins, err := l.build(ctx)
	if err != nil {
		for _, n := range []string{"pgbench", "replicated writes", "failover", "anti-entropy", "cluster dump", "rejoin"} {
			rep.fail(n, err)
		}
		return
	}
	a := pgbenchOurs(ctx, cfg, rep, l, bins.normal, pgAnchor, pgErr, logf)
	var ours replicated
	if a != nil {
		ours = oursReplicated(ctx, cfg, a, logf)
		a.stop()
	} else {
		ours.err = errors.New("cluster A did not start (see the pgbench row)")
	}
	var et replicated
	etcdMissing := ""
	if err := ensureTool(cfg, etcdBin, "etcd-server", logf); err != nil {
		etcdMissing = err.Error()
	} else {
		et = etcdReplicated(ctx, cfg, l, logf)
	}
	replicatedRows(rep, cfg, ours, et, etcdMissing)
	clusterBRows(ctx, cfg, rep, l, bins.debug, db, logf)
}

// engineRows: apply throughput, Snapshot(), snapshots full vs incremental
// (1% of rows changed) and memory per raw byte.
func engineRows(ctx context.Context, cfg config, rep *report, e *engine.Engine) error {
	def := benchDef()
	snap := e.Snapshot()
	tb, _ := snap.Table(tableName)
	n := tb.Len()

	// Apply: update 1000-row change sets on the loaded table.
	var xs []float64
	g := newGen(2)
	lsn := snap.LSN()
	for r := 0; r < cfg.Runs; r++ {
		var sets []*engine.ChangeSet
		for s := 0; s < min(n, 200_000); s += 1000 {
			cs := &engine.ChangeSet{}
			for i := s; i < min(s+1000, n); i++ {
				op, err := insertOp(def, g.row(int64(i)))
				if err != nil {
					return err
				}
				op.Kind = engine.OpUpdate
				cs.Ops = append(cs.Ops, op)
			}
			sets = append(sets, cs)
		}
		t0 := time.Now()
		rows := 0
		for _, cs := range sets {
			lsn++
			if err := e.Apply(cs, lsn); err != nil {
				return err
			}
			rows += len(cs.Ops)
		}
		xs = append(xs, float64(rows)/time.Since(t0).Seconds()/1000)
	}
	a := newStat(xs)
	rep.add(row{Name: "engine Apply, single-row updates in 1000-row change sets", Unit: "k rows/s", Ours: a, Target: "≥500", Met: met(a.Med >= 500)})

	// Snapshot(): one atomic load.
	const k = 1_000_000
	t0 := time.Now()
	var s *engine.Snapshot
	for i := 0; i < k; i++ {
		s = e.Snapshot()
	}
	ns := float64(time.Since(t0).Nanoseconds()) / k
	runtime.KeepAlive(s)
	rep.add(row{Name: fmt.Sprintf("engine Snapshot() at %d rows", n), Unit: "µs", Ours: newStat([]float64{ns / 1000}), Target: "<10", Met: met(ns/1000 < 10)})

	// Snapshots: full vs incremental after 1% of rows changed.
	base := e.Snapshot()
	cs := &engine.ChangeSet{}
	for i := 0; i < n; i += 100 {
		op, err := insertOp(def, g.row(int64(i)))
		if err != nil {
			return err
		}
		op.Kind = engine.OpUpdate
		cs.Ops = append(cs.Ops, op)
	}
	lsn++
	if err := e.Apply(cs, lsn); err != nil {
		return err
	}
	cur := e.Snapshot()
	o := snapshot.DefaultWriterOptions()
	var fullBytes, incBytes int64
	full, err := timeRuns(ctx, cfg.Runs, func() error {
		var w countWriter
		_, err := snapshot.WriteFull(ctx, &w, cur, o)
		fullBytes = w.n
		return err
	})
	if err != nil {
		return err
	}
	inc, err := timeRuns(ctx, cfg.Runs, func() error {
		var w countWriter
		_, err := snapshot.WriteIncremental(ctx, &w, cur, base.LSN(), o)
		incBytes = w.n
		return err
	})
	if err != nil {
		return err
	}
	ms := func(ds []time.Duration) stat {
		var xs []float64
		for _, d := range ds {
			xs = append(xs, float64(d.Microseconds())/1000)
		}
		return newStat(xs)
	}
	rep.add(row{Name: "snapshot (zstd 3): incremental (1% changed) vs full, time", Unit: "ms", Ours: ms(inc), AnchorName: "full", Anchor: ms(full),
		Note: fmt.Sprintf("bytes: incremental %d, full %d (%.1f%%)", incBytes, fullBytes, 100*float64(incBytes)/float64(max(fullBytes, 1)))})

	// Memory per raw byte: heap of a freshly restored state (what a
	// replica holds) and of the Apply-built engine.
	var buf bytes.Buffer
	if _, err := snapshot.WriteFull(ctx, &buf, cur, snapshot.WriterOptions{Compression: snapshot.CompressLZ4}); err != nil {
		return err
	}
	rawVals := int64(0)
	tc, _ := cur.Table(tableName)
	tc.Scan(func(r engine.RowRef) bool {
		row, _ := r.Decode()
		rawVals += 8 + 8 + int64(len(row[2].(string))) + 8
		return true
	})
	e, cur, base, snap = nil, nil, nil, nil
	dump := buf.Bytes()
	buf = bytes.Buffer{}
	// Resident memory: freed pages are handed back to the OS before each
	// reading, so the RSS difference is what the restored state occupies
	// (live data plus fragmentation), not GC headroom.
	debug.FreeOSMemory()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	rss0 := residentBytes()
	res, err := snapshot.Load(ctx, bytes.NewReader(dump), nil)
	if err != nil {
		return err
	}
	dump = nil
	// The readers' shared buffers are kept for a next load (30 s); they
	// are not the state's.
	snapshot.DropIdlePools()
	debug.FreeOSMemory()
	runtime.ReadMemStats(&m1)
	rss1 := residentBytes()
	heap := float64(int64(m1.HeapAlloc)-int64(m0.HeapAlloc)) / float64(rawVals)
	runtime.KeepAlive(res)
	if rss0 > 0 && rss1 > 0 {
		per := float64(rss1-rss0) / float64(rawVals)
		rep.add(row{Name: fmt.Sprintf("memory: resident bytes per raw byte, %d restored rows", n), Unit: "B/B", Ours: newStat([]float64{per}), Target: "<2", Met: met(per < 2),
			Note: fmt.Sprintf("RSS growth of this process across the restore, freed pages returned to the OS first (debug.FreeOSMemory) and the readers' buffer pools (kept 30 s for a next load) dropped; heap (live objects only): %.2f B/B; raw = 8 bytes per integer/timestamp plus string lengths, as engine BenchmarkMemory", heap)})
		return nil
	}
	rep.add(row{Name: fmt.Sprintf("memory: heap bytes per raw byte, %d restored rows", n), Unit: "B/B", Ours: newStat([]float64{heap}), Target: "<2", Met: met(heap < 2),
		Note: "no /proc/self/status here, so heap only; raw = 8 bytes per integer/timestamp plus string lengths, as engine BenchmarkMemory"})
	return nil
}

// residentBytes is this process's resident set size (VmRSS), or 0 when
// /proc is not available.
func residentBytes() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int64
			if _, err := fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), &kb); err == nil {
				return kb << 10
			}
		}
	}
	return 0
}
