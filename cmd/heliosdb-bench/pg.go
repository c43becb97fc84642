package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

const pgDir = "/usr/lib/postgresql/15/bin"

func pgBin(name string) string { return filepath.Join(pgDir, name) }

// ensureTool installs a Debian package when its binary is missing (as
// root, unless disabled) and reports why it is unavailable otherwise.
func ensureTool(cfg config, bin, pkg string, logf func(string, ...any)) error {
	if _, err := os.Stat(bin); err == nil {
		return nil
	}
	if cfg.NoInstall {
		return fmt.Errorf("%s not installed (apt-get install -y %s)", bin, pkg)
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("%s not installed and not root to apt-get install %s", bin, pkg)
	}
	logf("installing %s", pkg)
	cmd := exec.Command("apt-get", "install", "-y", "-q", pkg)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("apt-get install %s: %v: %s", pkg, err, lastLines(out))
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("%s still missing after installing %s", bin, pkg)
	}
	return nil
}

func lastLines(b []byte) string {
	if len(b) > 400 {
		b = b[len(b)-400:]
	}
	return string(b)
}

// pgServer is a throwaway PostgreSQL 15 cluster in a temporary directory,
// listening on a Unix socket there and a free loopback port, run as the
// postgres user (initdb refuses root).
type pgServer struct {
	dir  string
	port int
	cred *syscall.Credential
	proc *exec.Cmd
}

func startPG(ctx context.Context, logf func(string, ...any)) (*pgServer, error) {
	s := &pgServer{}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("no postgres user to run the server as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	dir, err := os.MkdirTemp("", "heliosdb-bench-pg-")
	if err != nil {
		return nil, err
	}
	s.dir = dir
	if s.cred != nil {
		if err := os.Chown(dir, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			s.stop()
			return nil, err
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		s.stop()
		return nil, err
	}
	s.port = l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	data := filepath.Join(dir, "data")
	if out, err := s.asPG(ctx, pgBin("initdb"), "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-locale").CombinedOutput(); err != nil {
		s.stop()
		return nil, fmt.Errorf("initdb: %v: %s", err, lastLines(out))
	}
	s.proc = s.asPG(context.Background(), pgBin("postgres"), "-D", data, "-p", strconv.Itoa(s.port), "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=on", "-c", "shared_buffers=256MB", "-c", "max_connections=100")
	if lf, err := os.Create(filepath.Join(dir, "postgres.log")); err == nil {
		s.proc.Stdout, s.proc.Stderr = lf, lf
		defer lf.Close()
	}
	if err := s.proc.Start(); err != nil {
		s.proc = nil
		s.stop()
		return nil, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := s.psql(ctx, "select 1"); err == nil {
			return s, nil
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, errors.New("postgres did not accept connections within 30s")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (s *pgServer) asPG(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: s.cred}
	cmd.Dir = os.TempDir()
	return cmd
}

// connArgs are the libpq options for the client tools.
func (s *pgServer) connArgs(db string) []string {
	return []string{"-h", s.dir, "-p", strconv.Itoa(s.port), "-U", "postgres", "-d", db}
}

func (s *pgServer) psql(ctx context.Context, sql string) error {
	args := append(s.connArgs("postgres"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql)
	out, err := exec.CommandContext(ctx, pgBin("psql"), args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("psql %q: %v: %s", sql, err, lastLines(out))
	}
	return nil
}

// shell runs a pipeline with the connection in PG* variables.
func (s *pgServer) shell(ctx context.Context, script string, stdin io.Reader) error {
	cmd := exec.CommandContext(ctx, "sh", "-c", script)
	cmd.Env = append(os.Environ(), "PGHOST="+s.dir, "PGPORT="+strconv.Itoa(s.port), "PGUSER=postgres", "PGDATABASE=postgres")
	cmd.Stdin = stdin
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", script, err, lastLines(out))
	}
	return nil
}

// stop shuts the server down (fast shutdown, then SIGKILL after 20s) and
// removes its directory. Safe to call twice.
func (s *pgServer) stop() {
	if s.proc != nil && s.proc.Process != nil {
		_ = s.proc.Process.Signal(syscall.SIGINT)
		done := make(chan struct{})
		go func() { _ = s.proc.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = syscall.Kill(-s.proc.Process.Pid, syscall.SIGKILL)
			<-done
		}
		s.proc = nil
	}
	if s.dir != "" {
		_ = os.RemoveAll(s.dir)
		s.dir = ""
	}
}

// pgRows measures pg_dump and restores on the same rows as ours.
//
// It returns the pgbench anchor (TPC-B-like and select-only runs on
// PostgreSQL), or why there is none.
func pgRows(ctx context.Context, cfg config, rep *report, raw int64, ours map[string]stat, logf func(string, ...any)) (pgbench map[string][]pgbenchResult, pgbenchErr string) {
	names := []string{"dump none", "dump lz4", "dump zstd", "restore none", "restore lz4", "restore zstd"}
	skipAll := func(reason string) {
		for _, n := range names {
			rep.skip(n+" vs PostgreSQL 15", reason)
		}
		pgbenchErr = reason
	}
	if err := ensureTool(cfg, pgBin("postgres"), "postgresql", logf); err != nil {
		skipAll(err.Error())
		return nil, pgbenchErr
	}
	for _, t := range []string{"zstd", "lz4"} {
		if _, err := exec.LookPath(t); err != nil {
			if err := ensureTool(cfg, "/usr/bin/"+t, t, logf); err != nil {
				skipAll(err.Error())
				return nil, pgbenchErr
			}
		}
	}
	logf("starting PostgreSQL 15")
	pg, err := startPG(ctx, logf)
	if err != nil {
		skipAll(err.Error())
		return nil, pgbenchErr
	}
	defer pg.stop()
	n := rowsFor(cfg)
	if err := pg.psql(ctx, "CREATE TABLE bench (id bigint PRIMARY KEY, qty integer, label text, at timestamptz)"); err != nil {
		skipAll(err.Error())
		return nil, pgbenchErr
	}
	logf("loading %d rows into PostgreSQL", n)
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeCSV(pw, n, 1)) }()
	if err := pg.shell(ctx, `psql -X -q -v ON_ERROR_STOP=1 -c "\copy bench FROM STDIN WITH (FORMAT csv)" && psql -X -q -c "VACUUM ANALYZE bench"`, pr); err != nil {
		skipAll(err.Error())
		return nil, pgbenchErr
	}
	work, err := os.MkdirTemp("", "heliosdb-bench-dumps-")
	if err != nil {
		skipAll(err.Error())
		return nil, pgbenchErr
	}
	defer os.RemoveAll(work)
	files := map[string]string{"none": filepath.Join(work, "d.dump"), "lz4": filepath.Join(work, "d.sql.lz4"), "zstd": filepath.Join(work, "d.sql.zst")}
	dumps := map[string]string{
		"none": "pg_dump -Fc -Z0 -t bench -f " + files["none"],
		"lz4":  "pg_dump -Fp -t bench | lz4 -1 -q -c > " + files["lz4"],
		"zstd": "pg_dump -Fp -t bench | zstd -3 -T0 -q -c > " + files["zstd"],
	}
	restores := map[string]string{
		"none": "pg_restore -d r " + files["none"],
		"lz4":  "lz4 -dc " + files["lz4"] + " | psql -X -q -d r -v ON_ERROR_STOP=1",
		"zstd": "zstd -dc " + files["zstd"] + " | psql -X -q -d r -v ON_ERROR_STOP=1",
	}
	guideDump := map[string]float64{"none": 66, "lz4": 45, "zstd": 28}
	for _, c := range []string{"none", "lz4", "zstd"} {
		logf("pg_dump %s", c)
		ds, err := timeRuns(ctx, cfg.Runs, func() error { return pg.shell(ctx, dumps[c], nil) })
		if err != nil {
			rep.skip("dump "+c+" vs PostgreSQL 15", err.Error())
			continue
		}
		r := rates(raw, ds)
		o, how := oursFor(ours, "wire dump ", "enc ", c)
		rep.add(row{Name: "dump " + c + ": ours (" + how + ") vs " + firstWord(dumps[c], c), Unit: "MB/s", Ours: o, AnchorName: dumpAnchorName(c), Anchor: r,
			Target: "> anchor", Met: met(o.N > 0 && o.Med > r.Med), HigherBetter: true,
			Note: fmt.Sprintf("guide %v MB/s; PostgreSQL figures are MB/s of the same logical data", guideDump[c])})
	}
	runs := min(cfg.Runs, 3)
	for _, c := range []string{"none", "lz4", "zstd"} {
		logf("restore %s into PostgreSQL", c)
		var ds []time.Duration
		var rerr error
		for i := 0; i < runs && rerr == nil; i++ {
			if rerr = pg.psql(ctx, "DROP DATABASE IF EXISTS r"); rerr != nil {
				break
			}
			if rerr = pg.psql(ctx, "CREATE DATABASE r"); rerr != nil {
				break
			}
			t0 := time.Now()
			if rerr = pg.shell(ctx, restores[c], nil); rerr == nil {
				ds = append(ds, time.Since(t0))
			}
		}
		if rerr != nil {
			rep.skip("restore "+c+" vs PostgreSQL 15", rerr.Error())
			continue
		}
		o, how := oursFor(ours, "wire restore ", "load ", c)
		a := rates(raw, ds)
		rep.add(row{Name: "restore " + c + ": ours (" + how + ") vs PostgreSQL", Unit: "MB/s", Ours: o, AnchorName: restoreAnchorName(c), Anchor: a,
			Target: "≥300 and ≥5× anchor", Met: met(o.Med >= 300 && o.Med >= 5*a.Med), HigherBetter: true})
	}
	// pgbench anchor: the rows are added beside our server's figures
	// (pgbenchOurs), in the same run.
	if skipPGBenchAnchor {
		return nil, "not measured (-only wire)"
	}
	logf("pgbench on PostgreSQL")
	env := []string{"PGHOST=" + pg.dir, "PGPORT=" + strconv.Itoa(pg.port), "PGUSER=postgres"}
	res, err := pgbenchSeries(ctx, cfg, env, "postgres", "")
	if err != nil {
		return nil, err.Error()
	}
	return res, ""
}

// skipPGBenchAnchor leaves the pgbench anchor out (-only wire, wire.go).
var skipPGBenchAnchor bool

func firstWord(s, c string) string {
	if c == "none" {
		return "pg_dump -Fc -Z0"
	}
	return "pg_dump -Fp | " + c
}

func dumpAnchorName(c string) string {
	switch c {
	case "lz4":
		return "pg_dump -Fp | lz4 -1"
	case "zstd":
		return "pg_dump -Fp | zstd -3 -T0"
	}
	return "pg_dump -Fc -Z0"
}

func restoreAnchorName(c string) string {
	switch c {
	case "lz4":
		return "lz4 -dc | psql"
	case "zstd":
		return "zstd -dc | psql"
	}
	return "pg_restore"
}

// oursFor picks our figure for an "ours vs PostgreSQL" row: the
// over-the-wire CLI run (wire.go) when it was measured, else the
// in-process one.
func oursFor(ours map[string]stat, wire, inproc, c string) (stat, string) {
	if s, ok := ours[wire+c]; ok && s.N > 0 {
		return s, "over the wire"
	}
	return ours[inproc+c], "in-process"
}
