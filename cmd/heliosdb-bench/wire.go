package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"time"

	"github.com/heliosdb/heliosdb-lite/engine"
	"github.com/heliosdb/heliosdb-lite/snapshot"
)

// runWireOnly (-only wire) runs the in-process rows, the over-the-wire
// rows and the PostgreSQL dump/restore anchors: the dump and restore part
// of the table alone, for quick measurement.
func runWireOnly(ctx context.Context, cfg config, rep *report, l *lab, logf func(string, ...any)) (*report, error) {
	ours := map[string]stat{}
	e, raw, err := inProcess(ctx, cfg, rep, ours, logf)
	if err != nil {
		return rep, err
	}
	wireRows(ctx, cfg, rep, l, e.Snapshot(), raw, ours, logf)
	e = nil
	runtime.GC()
	skipPGBenchAnchor = true
	pgRows(ctx, cfg, rep, raw, ours, logf)
	rep.Elapsed = time.Since(rep.Started)
	rep.Env = append(rep.Env, fmt.Sprintf("dump and restore rows only (-only wire): elapsed %s", rep.Elapsed.Round(time.Second)))
	return rep, ctx.Err()
}

// wireRows measures the real thing end to end: the heliosdb-lite restore
// and dump CLIs against a single-node server process (with a data
// directory: raft log and snapshots on disk) holding the generated
// dataset, per compression, in MB/s of logical data (the dump's raw batch
// bytes, as every other row). The restore of file F (written in process
// from the generated state) is timed first; the dump then reads the
// restored database back into a new file. Each run's clock covers the CLI
// process from start to exit: connection, local checks, transfer, the
// server's work and the file written (fsync and rename for dump).
//
// It records ours["wire dump C"] and ours["wire restore C"] for the
// "ours vs PostgreSQL" rows (pg.go).
func wireRows(ctx context.Context, cfg config, rep *report, l *lab, snap *engine.Snapshot, raw int64, ours map[string]stat, logf func(string, ...any)) {
	names := func(c string) (dump, restore string) {
		return "dump " + c + " over the wire (heliosdb-lite dump CLI → file)", "restore " + c + " over the wire (heliosdb-lite restore CLI)"
	}
	failAll := func(err error) {
		for _, cc := range codecs {
			d, r := names(cc.name)
			rep.fail(d, err)
			rep.fail(r, err)
		}
	}
	logf("building heliosdb-lite for the over-the-wire rows")
	bins, err := l.build(ctx)
	if err != nil {
		failAll(err)
		return
	}
	n, err := l.startSingle(ctx, bins.normal, "wire")
	if err != nil {
		failAll(err)
		return
	}
	defer n.kill()
	for _, cc := range codecs {
		d, r := names(cc.name)
		in := l.path("wire-in-" + cc.name + ".heliodump")
		out := l.path("wire-out-" + cc.name + ".heliodump")
		if err := writeDumpFile(ctx, in, snap, cc.c); err != nil {
			rep.fail(r, err)
			rep.fail(d, err)
			continue
		}
		conn := []string{"--host", "127.0.0.1", "--port", strconv.Itoa(n.pg)}
		logf("heliosdb-lite restore %s (over the wire)", cc.name)
		rs, err := timeRuns(ctx, cfg.Runs, func() error {
			return runCLI(ctx, bins.normal, append([]string{"restore", "--input", in}, conn...)...)
		})
		if err != nil {
			rep.fail(r, err)
		} else {
			ours["wire restore "+cc.name] = rates(raw, rs)
			rep.add(row{Name: r, Unit: "MB/s", Ours: ours["wire restore "+cc.name], AnchorName: "in-process Load", Anchor: ours["load "+cc.name],
				Target: "≥300", Met: met(ours["wire restore "+cc.name].Med >= 300), HigherBetter: true,
				Note: "clean restore of the whole database: the CLI streams the file over COPY; the server loads and verifies it (every checksum, row and row-hash sum) while receiving and hands it to raft as the snapshot"})
		}
		logf("heliosdb-lite dump %s (over the wire)", cc.name)
		// Each run writes a new file: replacing the previous run's output
		// would add the file system's freeing of its blocks to the rename
		// (ext4 mounted with discard: ~10 ms per 70 MB here), a cost of
		// the destination's history, not of the dump.
		var outs []string
		ds, err := timeRuns(ctx, cfg.Runs, func() error {
			o := fmt.Sprintf("%s.%d", out, len(outs))
			outs = append(outs, o)
			return runCLI(ctx, bins.normal, append([]string{"dump", "--output", o, "--compress", cc.name}, conn...)...)
		})
		for _, o := range outs {
			_ = os.Remove(o)
		}
		if err != nil {
			rep.fail(d, err)
			continue
		}
		ours["wire dump "+cc.name] = rates(raw, ds)
		target, ok := "≥800", ours["wire dump "+cc.name].Med >= 800
		var verdict *bool
		if cc.name == "none" {
			verdict = met(ok)
		} else {
			target = "≥0.80× raw " + cc.name + " two cores (codec rows)"
			if raw, ok := ours["raw comp "+cc.name]; ok && raw.Med > 0 {
				target = fmt.Sprintf("≥0.80× raw %s two cores (%.0f MB/s)", cc.name, raw.Med)
				verdict = met(ours["wire dump "+cc.name].Med >= 0.8*raw.Med)
			}
		}
		rep.add(row{Name: d, Unit: "MB/s", Ours: ours["wire dump "+cc.name], AnchorName: "in-process encode", Anchor: ours["enc "+cc.name],
			Target: target, Met: verdict, HigherBetter: true})
		_ = os.Remove(in)
	}
}

// writeDumpFile writes a full dump of snap to path with codec c (its
// default level, as the CLI's).
func writeDumpFile(ctx context.Context, path string, snap *engine.Snapshot, c snapshot.Compression) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	o := snapshot.DefaultWriterOptions()
	o.Compression, o.Level = c, 0
	_, err = snapshot.WriteFull(ctx, f, snap, o)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// runCLI runs the heliosdb-lite binary with args (bounded by 30 minutes).
func runCLI(ctx context.Context, bin string, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("heliosdb-lite %s: exit %d: %s", args[0], ee.ExitCode(), lastLines(out))
		}
		return fmt.Errorf("heliosdb-lite %s: %v", args[0], err)
	}
	return nil
}
