package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgbenchResult is one pgbench run.
type pgbenchResult struct {
	tps     float64
	failed  int64 // "number of failed transactions" (serialization/deadlock failures, not retried)
	aborted bool  // a client hit another error and stopped (pgbench exit 2)
}

// pgbenchModes: TPC-B-like (the default script) and select-only (-S).
var pgbenchModes = []struct{ name, flag string }{{"TPC-B-like", ""}, {"select-only", "-S"}}

// pgbenchShape is the scale, clients and seconds per run.
func pgbenchShape(cfg config) (scale, clients, secs int) {
	if cfg.Smoke {
		return 1, 8, 1
	}
	return 10, 8, 10
}

// runPgbench runs pgbench with env (PGHOST, PGPORT, PGUSER) and parses its
// report. A run where some clients aborted still reports the TPS of the
// transactions that completed, marked aborted.
func runPgbench(ctx context.Context, env []string, args ...string) (pgbenchResult, error) {
	cmd := exec.CommandContext(ctx, "pgbench", args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	var r pgbenchResult
	found := false
	for _, l := range strings.Split(string(out), "\n") {
		l = strings.TrimSpace(l)
		if _, e := fmt.Sscanf(l, "tps = %f", &r.tps); e == nil {
			found = true
		}
		if rest, ok := strings.CutPrefix(l, "number of failed transactions:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				r.failed, _ = strconv.ParseInt(f[0], 10, 64)
			}
		}
	}
	if err != nil {
		if !found {
			return r, fmt.Errorf("pgbench %s: %v: %s", strings.Join(args, " "), err, lastLines(out))
		}
		r.aborted = true
	}
	if !found {
		return r, fmt.Errorf("pgbench %s: no tps in output: %s", strings.Join(args, " "), lastLines(out))
	}
	return r, nil
}

// pgbenchSeries initialises scale and runs every mode runs times against
// env; results by mode name.
//
// With dsn set (our server), the tables are created by pgbench (-I dt),
// filled by COPY in chunks of chunkRows, and given their primary keys by
// pgbench (-I p): the same data as `pgbench -i`, but not as one
// transaction of scale*100k rows (one raft entry of ~100 MB, which our
// cluster cannot commit on this machine: see docs/benchmarks.md).
func pgbenchSeries(ctx context.Context, cfg config, env []string, db, dsn string) (map[string][]pgbenchResult, error) {
	scale, clients, secs := pgbenchShape(cfg)
	steps := [][]string{{"-i", "-q", "-s", strconv.Itoa(scale), db}}
	if dsn != "" {
		steps = [][]string{{"-i", "-I", "dt", "-s", strconv.Itoa(scale), db}, nil, {"-i", "-I", "p", "-s", strconv.Itoa(scale), db}}
	}
	for _, st := range steps {
		var err error
		if st == nil {
			err = pgbenchFill(ctx, dsn, scale)
		} else if _, err = runPgbench(ctx, env, st...); err != nil && strings.Contains(err.Error(), "no tps") {
			err = nil // -i prints no tps; only a failure matters
		}
		if err != nil {
			return nil, err
		}
	}
	out := map[string][]pgbenchResult{}
	for _, m := range pgbenchModes {
		for i := 0; i < min(cfg.Runs, 3); i++ {
			args := []string{"-n", "-c", strconv.Itoa(clients), "-j", "2", "-T", strconv.Itoa(secs)}
			if m.flag != "" {
				args = append(args, m.flag)
			}
			r, err := runPgbench(ctx, env, append(args, db)...)
			if err != nil {
				return out, err
			}
			out[m.name] = append(out[m.name], r)
		}
	}
	return out, nil
}

func tpsStat(rs []pgbenchResult) stat {
	var xs []float64
	for _, r := range rs {
		xs = append(xs, r.tps)
	}
	return newStat(xs)
}

// failedText sums failed transactions over the runs.
func failedText(rs []pgbenchResult) string {
	var f int64
	ab := 0
	for _, r := range rs {
		f += r.failed
		if r.aborted {
			ab++
		}
	}
	s := fmt.Sprintf("%d failed transactions in %d runs", f, len(rs))
	if ab > 0 {
		s += fmt.Sprintf(", %d runs with aborted clients", ab)
	}
	return s
}

// pgbenchOurs runs pgbench against our single node and through one node
// (the leader) of a 3-node cluster, beside the PostgreSQL anchor measured
// earlier in the same run.
func pgbenchOurs(ctx context.Context, cfg config, rep *report, l *lab, bin string, anchor map[string][]pgbenchResult, anchorErr string, logf func(string, ...any)) *hcluster {
	scale, clients, _ := pgbenchShape(cfg)
	rowName := func(mode, target string) string {
		return fmt.Sprintf("pgbench %s %d clients, scale %d: %s", mode, clients, scale, target)
	}
	add := func(target string, ours map[string][]pgbenchResult, err error) {
		for _, m := range pgbenchModes {
			name := rowName(m.name, target)
			if err != nil {
				rep.fail(name, err)
				continue
			}
			r := row{Name: name, Unit: "TPS", Ours: tpsStat(ours[m.name]), HigherBetter: true,
				Note: "ours: " + failedText(ours[m.name])}
			if anchorErr != "" {
				r.AnchorName = "PostgreSQL 15: " + anchorErr
			} else {
				r.AnchorName, r.Anchor = "PostgreSQL 15 (fsync on)", tpsStat(anchor[m.name])
				r.Note += "; PostgreSQL: " + failedText(anchor[m.name])
			}
			rep.add(r)
		}
	}
	env := func(n *hnode) []string {
		return []string{"PGHOST=127.0.0.1", "PGPORT=" + strconv.Itoa(n.pg), "PGUSER=postgres", "PGCONNECT_TIMEOUT=5"}
	}

	logf("pgbench on our single node (--data-dir)")
	single, err := l.startSingle(ctx, bin, "single")
	var res map[string][]pgbenchResult
	if err == nil {
		res, err = pgbenchSeries(ctx, cfg, env(single), "postgres", single.dsn())
		single.kill()
	}
	add("ours single node", res, err)

	logf("starting our 3-node cluster")
	c, err := l.startCluster(ctx, bin, "a", "")
	if err != nil {
		add("ours 3-node cluster via the leader", nil, err)
		return nil
	}
	leader, err := c.leader(ctx, 30*time.Second)
	if err == nil {
		logf("pgbench through the leader %s", leader.id)
		res, err = pgbenchSeries(ctx, cfg, env(leader), "postgres", leader.dsn())
	}
	add("ours 3-node cluster via the leader", res, err)
	return c
}

// chunkRows is the rows per COPY (one transaction, one raft entry) when
// filling tables on our server.
const chunkRows = 50_000

// pgbenchFill writes pgbench's initial rows (as its client-side
// generation does) in chunks.
func pgbenchFill(ctx context.Context, dsn string, scale int) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if err := copyChunks(ctx, conn, "pgbench_branches (bid, bbalance)", scale, func(b []byte, i int) []byte { return fmt.Appendf(b, "%d\t0\n", i+1) }); err != nil {
		return err
	}
	if err := copyChunks(ctx, conn, "pgbench_tellers (tid, bid, tbalance)", scale*10, func(b []byte, i int) []byte { return fmt.Appendf(b, "%d\t%d\t0\n", i+1, i/10+1) }); err != nil {
		return err
	}
	return copyChunks(ctx, conn, "pgbench_accounts (aid, bid, abalance, filler)", scale*100_000, func(b []byte, i int) []byte {
		return fmt.Appendf(b, "%d\t%d\t0\t\n", i+1, i/100_000+1)
	})
}

// copyChunks COPYs (text format) n rows appended by line into target
// ("table (columns)"), chunkRows per COPY.
func copyChunks(ctx context.Context, conn *pgx.Conn, target string, n int, line func(b []byte, i int) []byte) error {
	var buf []byte
	for lo := 0; lo < n; lo += chunkRows {
		hi := min(lo+chunkRows, n)
		buf = buf[:0]
		for i := lo; i < hi; i++ {
			buf = line(buf, i)
		}
		// 40001: not committed, try again. 40003 (leadership lost while
		// committing): the chunk may have committed; look its first row
		// up before trying again, as a careful client would.
		var err error
		for try := 0; try < 5; try++ {
			if try > 0 {
				time.Sleep(time.Second)
				if chunkCommitted(ctx, conn, target, lo+1) {
					err = nil
					break
				}
			}
			if _, err = conn.PgConn().CopyFrom(ctx, bytes.NewReader(buf), "COPY "+target+" FROM STDIN"); err == nil ||
				!strings.Contains(err.Error(), "40001") && !strings.Contains(err.Error(), "40003") {
				break
			}
		}
		if err != nil {
			return fmt.Errorf("COPY %s rows %d-%d: %w", target, lo, hi, err)
		}
	}
	return nil
}

// runPGBenchOnly is -only pgbench: the pgbench rows alone, PostgreSQL's
// and ours (single node and cluster A) in the same run.
func runPGBenchOnly(ctx context.Context, cfg config, rep *report, l *lab, logf func(string, ...any)) (*report, error) {
	var anchor map[string][]pgbenchResult
	anchorErr := ""
	if err := ensureTool(cfg, pgBin("postgres"), "postgresql", logf); err != nil {
		anchorErr = err.Error()
	} else if pg, err := startPG(ctx, logf); err != nil {
		anchorErr = err.Error()
	} else {
		logf("pgbench on PostgreSQL")
		env := []string{"PGHOST=" + pg.dir, "PGPORT=" + strconv.Itoa(pg.port), "PGUSER=postgres"}
		if anchor, err = pgbenchSeries(ctx, cfg, env, "postgres", ""); err != nil {
			anchorErr = err.Error()
		}
		pg.stop()
	}
	logf("building heliosdb-lite")
	bins, err := l.build(ctx)
	if err != nil {
		return rep, err
	}
	if a := pgbenchOurs(ctx, cfg, rep, l, bins.normal, anchor, anchorErr, logf); a != nil {
		a.stop()
	}
	rep.Elapsed = time.Since(rep.Started)
	rep.Env = append(rep.Env, fmt.Sprintf("pgbench only (-only pgbench): elapsed %s", rep.Elapsed.Round(time.Second)))
	return rep, ctx.Err()
}

// chunkCommitted reports whether the row whose first column (the key of
// target, "table (key, ...)") is key exists.
func chunkCommitted(ctx context.Context, conn *pgx.Conn, target string, key int) bool {
	table, cols, _ := strings.Cut(target, " (")
	col, _, _ := strings.Cut(cols, ",")
	var n int
	err := conn.QueryRow(ctx, "select count(*) from "+table+" where "+col+" = $1", key).Scan(&n)
	return err == nil && n == 1
}
