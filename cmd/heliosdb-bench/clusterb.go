package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heliosdb/heliosdb-lite/engine"
	"github.com/heliosdb/heliosdb-lite/snapshot"
)

// Cluster B's own flags (registered here so that main's flag.Parse sees
// them): its dataset size is independent of -size, and -only clusterb
// runs nothing else (no in-process rows, no PostgreSQL, no cluster A).
var (
	clusterSizeMB = flag.Int("cluster-size", 128, "logical size in MB of the dataset cluster B holds (anti-entropy, cluster dump, rejoin rows); 0: the same as -size")
	onlyPart      = flag.String("only", "", "run only one part of the benchmark: clusterb (cluster B's rows), rejoin (cluster B's rejoin rows alone), inproc, wire or pgbench (pgbench on PostgreSQL, our single node and cluster A); writes a file only if -out is given")
	dumpRate      = flag.Int64("dump-rate", 0, "cluster B's [dump] max_bytes_per_sec (0: the product default; negative: unpaced)")
	dumpBaseline  = flag.Duration("dump-baseline", 3*time.Second, "length of the no-dump write window the cluster dump's p99 is compared with (at large sizes make it long enough to contain what the dump window contains, e.g. raft snapshots)")
	perfDir       = flag.String("perf", "", "directory to write perf record -g CPU profiles into: cluster B's leader during each cluster dump and the run without one before it, and each rejoining node (perf must be installed)")
)

// applyOnly adjusts cfg for -only: a partial table must not replace
// docs/benchmarks.md unless -out names a file explicitly.
func applyOnly(cfg *config) {
	if *onlyPart == "" {
		return
	}
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "out" })
	if !explicit {
		cfg.Out = ""
	}
}

// runOnly runs the part -only names, in place of the whole run.
func runOnly(ctx context.Context, cfg config, rep *report, l *lab, logf func(string, ...any)) (*report, error) {
	if *onlyPart == "pgbench" {
		return runPGBenchOnly(ctx, cfg, rep, l, logf) // pgbench.go
	}
	if *onlyPart != "clusterb" && *onlyPart != "rejoin" {
		return rep, fmt.Errorf("-only %q: the parts that run alone are clusterb, rejoin, inproc, wire and pgbench", *onlyPart)
	}
	logf("building heliosdb-lite (product and heliosdb_debug builds)")
	bins, err := l.build(ctx)
	if err != nil {
		return rep, err
	}
	clusterBRows(ctx, cfg, rep, l, bins.debug, bigDB{}, logf)
	rep.Elapsed = time.Since(rep.Started)
	rep.Env = append(rep.Env, fmt.Sprintf("cluster B only (-only %s, -cluster-size %d): elapsed %s", *onlyPart, *clusterSizeMB, rep.Elapsed.Round(time.Second)))
	return rep, ctx.Err()
}

// clusterBDB is the dataset cluster B holds: -cluster-size MB of the
// generated rows (db itself when the size is the in-process one, or in
// smoke mode). The logical size is the row count times the logical bytes
// per row of db, or of a 50k-row sample when db is empty (-only).
func clusterBDB(cfg config, db bigDB) (bigDB, error) {
	mb := *clusterSizeMB
	if mb <= 0 || cfg.Smoke {
		mb = cfg.SizeMB
	}
	if db.rows > 0 && mb == cfg.SizeMB {
		return db, nil
	}
	rows := rowsFor(config{SizeMB: mb, rowsOverride: cfg.rowsOverride})
	if db.rows == 0 {
		const sample = 50_000
		e, err := buildEngine(sample, 1)
		if err != nil {
			return db, err
		}
		sum, err := snapshot.WriteFull(context.Background(), &countWriter{}, e.Snapshot(), snapshot.WriterOptions{Compression: snapshot.CompressNone})
		if err != nil {
			return db, err
		}
		db = bigDB{rows: sample, raw: int64(sum.RawBytes)}
	}
	return bigDB{rows: rows, raw: db.raw * int64(rows) / int64(db.rows)}, nil
}

// bigConfig is cluster B's config: snapshots taken often and the log
// trimmed short, so that a wiped node must receive a snapshot
// (InstallSnapshot) and a restarted one finds a snapshot plus a log
// tail; anti-entropy rounds only on demand and not throttled, so that a
// round's time is its work.
const bigConfig = `[raft]
snapshot_threshold = 1024
snapshot_interval = "2s"
trailing_logs = 512

[antientropy]
disabled = true
max_bytes_per_sec = -1
`

// bigDB describes the database restored into cluster B.
type bigDB struct {
	rows int
	raw  int64 // logical bytes
}

// clusterBRows starts cluster B (heliosdb_debug build), restores the
// generated database into it, and measures anti-entropy rounds, a
// cluster-wide dump under concurrent writes, and rejoins.
func clusterBRows(ctx context.Context, cfg config, rep *report, l *lab, bin string, db bigDB, logf func(string, ...any)) {
	db, err := clusterBDB(cfg, db)
	aeNames := []string{"anti-entropy round, 0 differing", "anti-entropy round, 100 differing"}
	dumpNames := []string{"cluster dump under 8 writers", "write p99 during a cluster dump"}
	rejoinNames := []string{"rejoin: restart from snapshot + log", "rejoin: rebuilt by snapshot install"}
	if *onlyPart == "rejoin" {
		aeNames, dumpNames = nil, nil
	}
	failAll := func(names []string, err error) {
		for _, n := range names {
			rep.fail(n, err)
		}
	}
	if err != nil {
		failAll(append(append(aeNames, dumpNames...), rejoinNames...), err)
		return
	}
	logf("starting cluster B (heliosdb_debug build) for anti-entropy, cluster dump and rejoin")
	conf := bigConfig
	if *dumpRate != 0 {
		conf += fmt.Sprintf("\n[dump]\nmax_bytes_per_sec = %d\n", *dumpRate)
	}
	c, err := l.startCluster(ctx, bin, "b", conf)
	if err != nil {
		failAll(append(append(aeNames, dumpNames...), rejoinNames...), err)
		return
	}
	defer c.stop()
	leader, err := c.leader(ctx, 30*time.Second)
	if err == nil {
		logf("loading %d rows (%.0f MB logical) into cluster B", db.rows, float64(db.raw)/1e6)
		t0 := time.Now()
		err = loadInto(ctx, leader, db.rows)
		logf("load took %v", time.Since(t0).Round(time.Millisecond))
	}
	if err == nil {
		err = leader.exec(ctx, "create table w (id bigint primary key, v text)")
	}
	if err != nil {
		failAll(append(append(aeNames, dumpNames...), rejoinNames...), err)
		return
	}
	if *onlyPart != "rejoin" { // -only rejoin: the rejoin rows alone
		if err := aeRows(ctx, cfg, rep, c, db, logf); err != nil {
			failAll(aeNames, err)
		}
		if err := dumpRows(ctx, cfg, rep, c, db, logf); err != nil {
			failAll(dumpNames, err)
		}
	}
	err = snapshotEverywhere(ctx, c, logf)
	if err == nil {
		err = rejoinRows(ctx, cfg, rep, c, db, logf)
	}
	if err != nil {
		failAll(rejoinNames, err)
	}
}

// snapshotEverywhere writes small transactions through the leader until
// every node has persisted a raft snapshot of the loaded data (bigConfig
// snapshots after 1024 entries), so that a restarted node has one to
// restore instead of replaying the whole log (with -only rejoin nothing
// else has written those entries yet).
func snapshotEverywhere(ctx context.Context, c *hcluster, logf func(string, ...any)) error {
	return waitFor(ctx, 10*time.Minute, "a raft snapshot on every node", func() error {
		for _, n := range c.nodes {
			m, err := n.metrics(ctx)
			if err != nil {
				return err
			}
			if m["heliosdb_snapshot_last_bytes"] == 0 {
				logf("%s has no raft snapshot yet: writing for 2s", n.id)
				leader, err := c.leader(ctx, 30*time.Second)
				if err != nil {
					return err
				}
				if _, err := runLoad(ctx, 8, 2*time.Second, nil, pgxClient(leader.dsn(), insertW)); err != nil {
					return err
				}
				return fmt.Errorf("%s has no raft snapshot", n.id)
			}
		}
		return nil
	}, c.exited)
}

// loadInto creates the bench table through n and COPYs the generated rows
// (the same rows as the in-process dataset) in chunks of chunkRows. Not
// `heliosdb-lite restore`: a restore is one raft entry as large as the
// dump, which our cluster fails to commit at the default size on this
// machine (docs/benchmarks.md).
func loadInto(ctx context.Context, n *hnode, rows int) error {
	conn, err := pgx.Connect(ctx, n.dsn())
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "create table bench (id bigint primary key, qty integer, label text, at timestamptz)"); err != nil {
		return err
	}
	g := newGen(1)
	var buf []byte
	for lo := 0; lo < rows; lo += chunkRows {
		hi := min(lo+chunkRows, rows)
		buf = buf[:0]
		for i := lo; i < hi; i++ {
			r := g.row(int64(i))
			ts := time.UnixMicro(int64(r[3].(engine.Timestamp))).UTC().Format("2006-01-02 15:04:05.999999+00")
			buf = fmt.Appendf(buf, "%d\t%d\t%s\t%s\n", r[0], r[1], r[2], ts)
		}
		if err := copyChunkOnce(ctx, conn, buf, lo); err != nil {
			return fmt.Errorf("COPY bench rows %d-%d: %w", lo, hi, err)
		}
	}
	return nil
}

// copyChunkOnce COPYs one chunk (one transaction) whose first id is lo.
// An error may leave the outcome unknown (40001: leadership lost while
// committing; a lost connection): the chunk is then looked up by its first
// id before it is sent again, so it is committed exactly once.
func copyChunkOnce(ctx context.Context, conn *pgx.Conn, chunk []byte, lo int) error {
	var err error
	for try := 0; try < 5; try++ {
		if try > 0 {
			time.Sleep(time.Second)
			var n int
			if qerr := conn.QueryRow(ctx, "select count(*) from bench where id = $1", lo).Scan(&n); qerr != nil {
				return fmt.Errorf("%w (then, looking the chunk up: %v)", err, qerr)
			}
			if n == 1 {
				return nil // the failed attempt committed
			}
		}
		if _, err = conn.PgConn().CopyFrom(ctx, bytes.NewReader(chunk), "COPY bench (id, qty, label, at) FROM STDIN"); err == nil ||
			!strings.Contains(err.Error(), "40001") && !strings.Contains(err.Error(), "40003") {
			return err
		}
	}
	return err
}

// aeReport is the part of POST /antientropy/run's report the rows read.
type aeReport struct {
	Duration string `json:"duration"`
	Nodes    []struct {
		ID     string `json:"id"`
		Status string `json:"status"`
		Bytes  int64  `json:"bytes"`
	} `json:"nodes"`
	Differences []struct {
		Key string `json:"key"`
	} `json:"differences"`
	Repaired  int    `json:"repaired"`
	Truncated bool   `json:"truncated"`
	Error     string `json:"error"`
}

// dumpRows: a cluster-wide dump (COPY heliosdb.cluster_dump, what
// `heliosdb-lite dump --cluster` runs) of the restored database while 8
// clients insert through the leader; write p99 during the dump vs a run
// without one just before it.
func dumpRows(ctx context.Context, cfg config, rep *report, c *hcluster, db bigDB, logf func(string, ...any)) error {
	leader, err := c.leader(ctx, 30*time.Second)
	if err != nil {
		return err
	}
	base := *dumpBaseline
	if cfg.Smoke {
		base = time.Second
	}
	var wall, p99d, p99b, during []float64
	var agree string
	for i := 0; i < cfg.Runs; i++ {
		logf("cluster dump under writes (run %d)", i+1)
		stopPerf, err := perfRecord(leader, fmt.Sprintf("nodump-%d", i+1))
		if err != nil {
			return err
		}
		b, err := runLoad(ctx, 8, base, nil, pgxClient(leader.dsn(), insertW))
		stopPerf()
		if err != nil {
			return err
		}
		stop := make(chan struct{})
		type res struct {
			lr  loadResult
			err error
		}
		done := make(chan res, 1)
		loadStart := time.Now()
		go func() {
			lr, err := runLoad(ctx, 8, 10*time.Minute, stop, pgxClient(leader.dsn(), insertW))
			done <- res{lr, err}
		}()
		time.Sleep(500 * time.Millisecond)
		stopPerf, err = perfRecord(leader, fmt.Sprintf("dump-%d", i+1))
		if err != nil {
			close(stop)
			<-done
			return err
		}
		t0 := time.Now()
		report, derr := clusterDump(ctx, leader)
		t1 := time.Now()
		stopPerf()
		time.Sleep(200 * time.Millisecond)
		close(stop)
		r := <-done
		if derr != nil {
			return derr
		}
		if r.err != nil {
			return r.err
		}
		if !strings.Contains(report, "checksums agree") || strings.Contains(report, "ALARM") {
			return fmt.Errorf("cluster dump: checksums do not agree:\n%s", report)
		}
		agree = strings.TrimSpace(report[strings.LastIndex(strings.TrimSpace(report), "\n")+1:])
		// Writes that started while the dump ran (the load's clock starts
		// after its connections are open, a few ms after loadStart).
		var win []time.Duration
		from, to := t0.Sub(loadStart)-50*time.Millisecond, t1.Sub(loadStart)
		for j, s := range r.lr.starts {
			if s >= from && s <= to {
				win = append(win, r.lr.lat[j])
			}
		}
		if len(win) == 0 {
			return fmt.Errorf("no write acknowledged during the dump (%v)", t1.Sub(t0))
		}
		wall = append(wall, t1.Sub(t0).Seconds())
		p99d, p99b = append(p99d, ms(percentile(win, 0.99))), append(p99b, ms(b.p99))
		during = append(during, float64(len(win))/t1.Sub(t0).Seconds()/b.perSec)
		// Keep the lab small: the dumps are not needed afterwards.
		for _, n := range c.nodes {
			_ = os.RemoveAll(n.backupDir)
			_ = os.MkdirAll(n.backupDir, 0o755)
		}
	}
	w := newStat(wall)
	rep.add(row{Name: fmt.Sprintf("cluster dump under 8 writers, %.0f MB logical, 3 nodes: wall time", float64(db.raw)/1e6), Unit: "s", Ours: w,
		Note: fmt.Sprintf("COPY heliosdb.cluster_dump (dump --cluster, zstd); %.0f MB/s of logical data; %s", float64(db.raw)/1e6/w.Med, agree)})
	dd, bb := newStat(p99d), newStat(p99b)
	rep.add(row{Name: "write p99 during a cluster dump vs without (8 clients via leader)", Unit: "ms", Ours: dd, AnchorName: "same load, no dump", Anchor: bb,
		Target: "≤2.00×", Met: met(dd.Med <= 2*bb.Med),
		Note: fmt.Sprintf("write throughput during the dump: %.2f× of without (median)", newStat(during).Med)})
	return nil
}

// clusterDump runs a cluster-wide dump through n and returns its report.
func clusterDump(ctx context.Context, n *hnode) (string, error) {
	conn, err := pgx.Connect(ctx, n.dsn())
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	var out bytes.Buffer
	if _, err := conn.PgConn().CopyTo(ctx, &out, "COPY heliosdb.cluster_dump TO STDOUT"); err != nil {
		return out.String(), fmt.Errorf("cluster dump: %w", err)
	}
	return out.String(), nil
}

// rejoinRows: a follower SIGKILLed and restarted with its data dir
// (newest snapshot plus log, then catch-up), and a follower whose data dir
// is wiped (it must receive the leader's snapshot): seconds from start to
// holding every row and serving linearizable reads.
func rejoinRows(ctx context.Context, cfg config, rep *report, c *hcluster, db bigDB, logf func(string, ...any)) error {
	runs := min(cfg.Runs, 3)
	var restart, install []rejoinRun
	for i := 0; i < runs; i++ {
		for _, wipe := range []bool{false, true} {
			r, err := rejoinOnce(ctx, c, wipe, logf)
			if err != nil {
				return err
			}
			if wipe {
				install = append(install, r)
			} else {
				restart = append(restart, r)
			}
		}
	}
	mb := float64(db.raw) / 1e6
	split := func(rs []rejoinRun) (total []float64, note string) {
		var rate, load, recv, fileMB, cpu, disk []float64
		for _, r := range rs {
			total = append(total, r.total.Seconds())
			rate = append(rate, mb/r.total.Seconds())
			if r.restored {
				load = append(load, r.load)
				recv = append(recv, r.receive)
				fileMB = append(fileMB, r.bytes/1e6)
			}
			if r.cpu > 0 {
				cpu = append(cpu, r.cpu)
			}
			if r.disk > 0 {
				disk = append(disk, r.disk)
			}
		}
		note = "MB/s of logical data: " + newStat(rate).String()
		switch {
		case len(load) == 0:
			return total, note + "; no snapshot restored (the log held every entry)"
		case len(load) < len(rs):
			note += fmt.Sprintf("; %d of %d runs restored a snapshot", len(load), len(rs))
		}
		note += fmt.Sprintf("; of the time, snapshot load (decode, verify, build; the node's /metrics): %s s of a %s MB file",
			newStat(load), newStat(fileMB))
		if slices.Max(recv) > 0 {
			note += fmt.Sprintf(", received from the leader in %s s (the load runs while it arrives)", newStat(recv))
		}
		if len(cpu) > 0 {
			note += fmt.Sprintf("; CPU of the rejoining process until caught up (start, load, catch-up): %s s", newStat(cpu))
		}
		if len(disk) > 0 {
			note += fmt.Sprintf("; the disk reads that file at %s MB/s (dd iflag=direct, bs=4M)", newStat(disk))
		}
		return total, note
	}
	tr, nr := split(restart)
	ti, ni := split(install)
	rep.add(row{Name: fmt.Sprintf("rejoin: restart from snapshot + log, %.0f MB logical", mb), Unit: "s", Ours: newStat(tr),
		Note: nr + "; SIGKILL, restart with the same data dir, until /ready and every row applied"})
	rep.add(row{Name: fmt.Sprintf("rejoin: rebuilt by snapshot install, %.0f MB logical", mb), Unit: "s", Ours: newStat(ti),
		Note: ni + "; SIGKILL, data dir wiped, restart with --join, until /ready and every row applied"})
	return nil
}

// rejoinRun is one rejoin: its wall time and the rejoining node's own
// account of the snapshot it restored.
type rejoinRun struct {
	total         time.Duration
	restored      bool    // the node restored a snapshot (else it replayed the log only)
	load, receive float64 // seconds
	bytes         float64
	cpu           float64 // CPU seconds the rejoining process used until caught up (0: unknown)
	disk          float64 // MB/s dd read the node's snapshot file with direct I/O before the restart (0: not measured)
}

func rejoinOnce(ctx context.Context, c *hcluster, wipe bool, logf func(string, ...any)) (rejoinRun, error) {
	if err := c.waitReady(ctx, 120*time.Second); err != nil {
		return rejoinRun{}, err
	}
	leader, f, err := c.follower(ctx)
	if err != nil {
		return rejoinRun{}, err
	}
	// A log tail past the newest snapshot: writes the restarted node
	// replays (or, wiped, must get from the snapshot and the log).
	if _, err := runLoad(ctx, 4, 500*time.Millisecond, nil, pgxClient(leader.dsn(), insertW)); err != nil {
		return rejoinRun{}, err
	}
	f.kill()
	st, err := leader.status(ctx)
	if err != nil {
		return rejoinRun{}, err
	}
	if wipe {
		if err := os.RemoveAll(f.dataDir); err != nil {
			return rejoinRun{}, err
		}
		f.args = withoutFlag(f.args, "--bootstrap-expect")
	}
	var disk float64
	if !wipe {
		disk = diskReadMBps(ctx, f.dataDir)
	}
	logf("rejoin: %s restarted (wiped: %v), leader holds %d rows at index %d", f.id, wipe, st.Rows, st.CommitIndex)
	t0 := time.Now()
	if err := f.start(); err != nil {
		return rejoinRun{}, err
	}
	stopPerf, err := perfRecord(f, fmt.Sprintf("rejoin-%s-wiped-%v", f.id, wipe))
	if err != nil {
		return rejoinRun{}, err
	}
	defer stopPerf()
	err = waitFor(ctx, 10*time.Minute, f.id+" caught up", func() error {
		s, err := f.status(ctx)
		if err != nil {
			return err
		}
		if s.Rows < st.Rows || s.RaftApplied < st.CommitIndex {
			return fmt.Errorf("%s: %d rows, applied %d", f.id, s.Rows, s.RaftApplied)
		}
		return f.getJSON(ctx, "/ready", nil)
	}, f.exited)
	r := rejoinRun{total: time.Since(t0), disk: disk}
	if err != nil {
		return r, err
	}
	if cmd, _ := f.state(); cmd != nil {
		r.cpu = procCPU(cmd.Process.Pid)
	}
	m, err := f.metrics(ctx)
	if err != nil {
		return r, err
	}
	if m["heliosdb_snapshot_restores_total"] < 1 {
		return r, nil // the log held every entry (small datasets)
	}
	r.restored = true
	r.load, r.receive, r.bytes = m["heliosdb_snapshot_restore_last_load_seconds"], m["heliosdb_snapshot_restore_last_receive_seconds"], m["heliosdb_snapshot_restore_last_bytes"]
	return r, nil
}

// procCPU is the CPU seconds (user and system, every thread) the process
// pid has used, from /proc (Linux; USER_HZ 100), or 0 if unknown.
func procCPU(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which may hold spaces) in parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return (ut + st) / 100
}

// diskReadMBps reads the newest snapshot chain file under dataDir with
// direct I/O (dd iflag=direct, 4 MiB blocks: the disk, not the page cache)
// and returns MB/s, or 0 if there is none or dd fails.
func diskReadMBps(ctx context.Context, dataDir string) float64 {
	files, _ := filepath.Glob(filepath.Join(dataDir, "snapshots", "chains", "*.heliodump"))
	var newest string
	var newestT time.Time
	var size int64
	for _, f := range files {
		if st, err := os.Stat(f); err == nil && st.ModTime().After(newestT) {
			newest, newestT, size = f, st.ModTime(), st.Size()
		}
	}
	if newest == "" || size == 0 {
		return 0
	}
	t0 := time.Now()
	if err := exec.CommandContext(ctx, "dd", "if="+newest, "of=/dev/null", "bs=4M", "iflag=direct").Run(); err != nil {
		return 0
	}
	return float64(size) / 1e6 / time.Since(t0).Seconds()
}

// perfRecord samples n's process with `perf record -g` (499 Hz) into
// -perf's directory, in a file named after what, until the returned
// function is called. Without -perf it does nothing.
func perfRecord(n *hnode, what string) (func(), error) {
	if *perfDir == "" {
		return func() {}, nil
	}
	cmd, _ := n.state()
	if err := os.MkdirAll(*perfDir, 0o755); err != nil {
		return nil, err
	}
	out := filepath.Join(*perfDir, fmt.Sprintf("%s-%d.perf.data", what, time.Now().UnixNano()))
	p := exec.Command("perf", "record", "-q", "-F", "499", "-g", "-p", fmt.Sprint(cmd.Process.Pid), "-o", out)
	if err := p.Start(); err != nil {
		return nil, fmt.Errorf("-rejoin-perf: %w", err)
	}
	return func() {
		_ = p.Process.Signal(syscall.SIGINT)
		done := make(chan struct{})
		go func() { _ = p.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = p.Process.Kill()
			<-done
		}
	}, nil
}

// withoutFlag drops "--name value" from args.
func withoutFlag(args []string, name string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		if args[i] == name {
			i++
			continue
		}
		out = append(out, args[i])
	}
	return out
}
