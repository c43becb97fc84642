// Command heliosdb-bench runs the performance comparisons of HeliosDB-Lite
// against the tools users would pick instead, side by side in one run on
// this machine, and prints one table (also written to docs/benchmarks.md).
//
// Every figure is the median of several runs, shown with its min and max;
// comparisons are ratios taken in the same run because the machine is
// shared and noisy. Rows whose anchor tool is missing (PostgreSQL server,
// etcd) are printed with the reason instead of a figure; a measurement
// that fails is printed as FAILED. Nothing is left running: every process
// started (PostgreSQL, etcd members, heliosdb-lite nodes built from this
// checkout) is killed and its directory removed before main returns.
//
// The rows that need servers run real processes on loopback: pgbench
// against one node with --data-dir and through the leader of a 3-node
// cluster (cluster A, product build), beside PostgreSQL 15; replicated
// single-row writes and leader failover on cluster A beside a 3-member
// etcd cluster (puts over its JSON gateway); and on cluster B (the
// heliosdb_debug build, for the anti-entropy corruption endpoint) the
// generated dataset restored, anti-entropy rounds, a cluster-wide dump
// under writes, and rejoins after a restart and after a wiped data dir.
//
//	go run ./cmd/heliosdb-bench [-size MB] [-cluster-size MB] [-runs N] [-smoke] [-only clusterb] [-out docs/benchmarks.md]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	var cfg config
	flag.IntVar(&cfg.SizeMB, "size", 64, "logical size of the generated dataset in MB")
	flag.IntVar(&cfg.Runs, "runs", 3, "runs per figure (median, min, max)")
	flag.BoolVar(&cfg.Smoke, "smoke", false, "tiny sizes: check that every row is produced, not how fast")
	flag.StringVar(&cfg.Out, "out", "docs/benchmarks.md", "markdown file to write the table to (empty: none)")
	flag.BoolVar(&cfg.NoInstall, "no-install", false, "do not apt-get install missing anchors")
	flag.Parse()
	applyOnly(&cfg) // clusterb.go: -only, -cluster-size
	if cfg.Smoke {
		cfg.smokeDefaults()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := run(ctx, cfg, os.Stderr)
	if rep != nil {
		fmt.Print(rep.Text())
		if cfg.Out != "" && !cfg.Smoke {
			if werr := os.WriteFile(cfg.Out, []byte(rep.Markdown()), 0o644); werr != nil {
				fmt.Fprintln(os.Stderr, "heliosdb-bench:", werr)
				os.Exit(1)
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "heliosdb-bench:", err)
		os.Exit(1)
	}
}

type config struct {
	SizeMB    int
	Runs      int
	Smoke     bool
	Out       string
	NoInstall bool
	// rowsOverride sets the row count directly (smoke mode).
	rowsOverride int
}

func (c *config) smokeDefaults() {
	c.Smoke = true
	c.SizeMB = 1
	c.Runs = 1
	c.NoInstall = true
	c.rowsOverride = 20000
}
