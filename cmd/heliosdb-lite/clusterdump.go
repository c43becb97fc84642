package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/heliosdb/heliosdb-lite/snapshot"
)

// runClusterDump asks the cluster (through any node) for a cluster-wide
// dump and prints the per-node report. With --output FILE the same dump is
// also copied to this machine; with --append, FILE names the cluster dump
// in each node's backup_dir that gets the incremental segment.
func runClusterDump(ctx context.Context, f *dumpFlags) error {
	if _, err := snapshot.ParseCompression(f.compress); err != nil {
		return withCode(exitUsage, fmt.Errorf("dump: --compress %q: want none, lz4 or zstd", f.compress))
	}
	if f.dryRun {
		return withCode(exitUsage, errors.New("dump: --dry-run is not available with --cluster"))
	}
	appendTo := ""
	if f.append {
		if f.output == "" || f.output == "-" {
			return withCode(exitUsage, errors.New("dump --cluster --append: --output must name the cluster dump file (in each node's backup_dir) to extend"))
		}
		appendTo = filepath.Base(f.output)
	}
	level := ""
	if f.level != 0 {
		level = strconv.Itoa(f.level)
	}
	if f.wait < time.Second {
		return withCode(exitUsage, fmt.Errorf("dump --cluster: --wait %s: want at least 1s", f.wait))
	}
	wait := strconv.Itoa(int(f.wait / time.Second))
	conn, err := f.conn.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var report bytes.Buffer
	sql := "COPY heliosdb.cluster_dump TO STDOUT" + copyOptions("compress", f.compress, "level", level, "tables", f.tables, "append_to", appendTo, "wait_seconds", wait)
	_, cerr := conn.CopyTo(ctx, io.MultiWriter(&report, os.Stdout), sql)
	if cerr != nil {
		return fmt.Errorf("cluster dump via %s: %s", f.conn.addr(), pgErrorText(cerr))
	}
	verdict := clusterDumpVerdict(report.String())
	if f.append || f.output == "" {
		return verdict
	}
	// Copy the dump this node wrote to the operator's machine.
	first, _, _ := strings.Cut(report.String(), "\n")
	fields := strings.Fields(first) // Cluster dump NAME (dump_id ID) at LSN N
	if len(fields) < 3 {
		return fmt.Errorf("cluster dump: unexpected report %q", first)
	}
	name := fields[2] + ".heliodump"
	fetch := "COPY heliosdb.backup_file TO STDOUT" + copyOptions("name", name)
	if f.output == "-" {
		return withCode(exitUsage, errors.New("dump --cluster: --output - is not supported (the report goes to standard output)"))
	}
	err = snapshot.WriteFileAtomic(f.output, func(w io.Writer) error {
		_, err := conn.CopyTo(ctx, w, fetch)
		return err
	})
	if err != nil {
		return fmt.Errorf("cluster dump: copy %s to %s: %s", name, f.output, pgErrorText(err))
	}
	fmt.Fprintf(os.Stderr, "copied %s to %s\n", name, f.output)
	return verdict
}

// clusterDumpVerdict turns the server's report into the exit status: an
// error (exit 1) when the nodes' checksums differ or a node failed to
// write its file (disk full, no backup_dir...); nodes still catching up
// ("missing") write it later and are not a failure.
func clusterDumpVerdict(report string) error {
	if strings.Contains(report, "\nALARM: ") {
		return errors.New("cluster dump: the nodes' checksums differ (see the report above)")
	}
	var failed []string
	for _, line := range strings.Split(report, "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[1] == "failed" {
			failed = append(failed, f[0])
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("cluster dump: %d node(s) could not write the dump: %s (see the report above)", len(failed), strings.Join(failed, ", "))
	}
	return nil
}
