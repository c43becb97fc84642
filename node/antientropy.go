package node

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/heliosdb/heliosdb-lite/antientropy"
	"github.com/heliosdb/heliosdb-lite/engine"
	"github.com/heliosdb/heliosdb-lite/fsm"
)

// AntiEntropyConfig is the [antientropy] section.
type AntiEntropyConfig struct {
	// Disabled turns scheduled rounds off (on-demand rounds still work).
	Disabled bool `toml:"disabled"`
	// Interval between rounds (default 10m).
	Interval Duration `toml:"interval"`
	// MaxBytesPerSec bounds what a round exchanges with replicas (default
	// 4 MiB/s; negative: unlimited).
	MaxBytesPerSec int64 `toml:"max_bytes_per_sec"`
	// RebuildEvery: every Nth round recomputes row hashes from the stored
	// rows (default 6; negative: never).
	RebuildEvery int `toml:"rebuild_every"`
	// RebuildRowsPerSec bounds the CPU of those rebuilds on every node: the
	// rescan of the stored rows visits at most this many rows per second
	// (default 1,000,000, about a tenth of a core; negative: unpaced).
	RebuildRowsPerSec int64 `toml:"rebuild_rows_per_sec"`
	// ReinstallThreshold: a follower differing from the majority in at
	// least this many keys reinstalls itself (leaves raft, drops its raft
	// state, restarts and receives a snapshot; reinstall.go) instead of
	// being repaired row by row. DefaultConfig sets 10,000; 0 disables.
	ReinstallThreshold int `toml:"reinstall_threshold"`
}

// defaultRebuildRowsPerSec paces rebuild rescans (see RebuildRowsPerSec).
const defaultRebuildRowsPerSec = 1_000_000

// errFenced is what reads get on a fenced node (SQLSTATE 57P01-like
// "admin shutdown" would be wrong: the node is up; XX001 data_corrupted
// says why, and clients retry on another node).
type fencedErr struct{ reason string }

func (e *fencedErr) Error() string {
	return "this replica is fenced by anti-entropy and serves no reads (" + e.reason + "); connect to another node"
}
func (e *fencedErr) SQLState() string { return engine.CodeDataCorrupted }

// aeWiring is the node's anti-entropy parts; nil fields in single-node
// mode, where there is no other replica to compare with.
type aeWiring struct {
	replica *antientropy.Replica
	runner  *antientropy.Runner
	// reinstalling is set once this node accepted a reinstall.
	reinstalling atomic.Bool
}

// startAntiEntropy creates the replica side (always, so the read fence and
// internal API exist) and, in cluster mode, the scheduled runner.
func (n *Node) startAntiEntropy() error {
	c := n.cfg.AntiEntropy
	n.ae.replica = antientropy.NewReplica(func(round uint64) (uint64, *engine.Snapshot, bool) {
		r, ok := n.fsm.AERound(round)
		return r.LSN, r.Snap, ok
	}, n.repl.AppliedIndex, n.cfg.Cluster.RPCToken, n.log.With("component", "antientropy"))
	switch {
	case c.RebuildRowsPerSec > 0:
		n.ae.replica.SetRebuildRate(c.RebuildRowsPerSec)
	case c.RebuildRowsPerSec == 0:
		n.ae.replica.SetRebuildRate(defaultRebuildRowsPerSec)
	}
	n.goFunc(n.removeReinstallLeftovers)
	reason, reinstalled := os.LookupEnv(reinstallEnv)
	if reinstalled {
		_ = os.Unsetenv(reinstallEnv)
	}
	if !n.cfg.Clustered() {
		return nil
	}
	n.ae.replica.SetReinstaller(n.requestReinstall)
	if reinstalled {
		n.ae.replica.SetFence(true, "reinstalled by anti-entropy ("+reason+"); catching up")
		n.goFunc(func() { n.afterReinstall(reason) })
	}
	ac := antientropy.DefaultConfig()
	if c.Interval.Duration > 0 {
		ac.Interval = c.Interval.Duration
	}
	if c.Disabled {
		ac.Interval = 0
	}
	switch {
	case c.MaxBytesPerSec > 0:
		ac.MaxBytesPerSec = c.MaxBytesPerSec
	case c.MaxBytesPerSec < 0:
		ac.MaxBytesPerSec = 0
	}
	switch {
	case c.RebuildEvery > 0:
		ac.RebuildEvery = c.RebuildEvery
	case c.RebuildEvery < 0:
		ac.RebuildEvery = 0
	}
	if c.ReinstallThreshold < 0 {
		return configErr("[antientropy] reinstall_threshold = %d: want 0 (disabled) or more", c.ReinstallThreshold)
	}
	ac.ReinstallThreshold = c.ReinstallThreshold
	ac.Token = n.cfg.Cluster.RPCToken
	ac.Marker, ac.Repair = fsm.EncodeAEMark, fsm.EncodeAERepair
	ac.Logger = n.log.With("component", "antientropy")
	r, err := antientropy.NewRunner(ac, antientropy.FromReplication(n.repl), n.ae.replica)
	if err != nil {
		return configErr("[antientropy] %v", err)
	}
	n.ae.runner = r
	r.Start()
	return nil
}

// stopAntiEntropy ends the runner (before raft shuts down).
func (n *Node) stopAntiEntropy() {
	if n.ae.runner != nil {
		n.ae.runner.Close()
	}
}

// readFence fails reads on a fenced node.
func (n *Node) readFence() error {
	if n.ae.replica == nil {
		return nil
	}
	if on, reason := n.ae.replica.Fenced(); on {
		return &fencedErr{reason: reason}
	}
	return nil
}

// mountAntiEntropy adds the internal API and the operator endpoints:
//
//	GET  /antientropy       the last round's report (JSON)
//	POST /antientropy/run   run a round now (on the leader; a follower
//	                        forwards nothing: the CLI asks the leader)
func (n *Node) mountAntiEntropy(mux *http.ServeMux) {
	if n.ae.replica != nil {
		mux.Handle(antientropy.PathPrefix, n.ae.replica.Handler())
	}
	mux.HandleFunc("GET /antientropy", n.handleAELast)
	mux.HandleFunc("POST /antientropy/run", n.handleAERun)
	n.mountAEDebug(mux)
}

func (n *Node) handleAELast(w http.ResponseWriter, _ *http.Request) {
	if n.ae.runner == nil {
		http.Error(w, "anti-entropy runs only in cluster mode", http.StatusNotFound)
		return
	}
	rep := n.ae.runner.Last()
	if rep == nil {
		http.Error(w, "no anti-entropy round has run on this node yet (rounds run on the leader; try POST /antientropy/run there)", http.StatusNotFound)
		return
	}
	writeJSON(w, rep)
}

func (n *Node) handleAERun(w http.ResponseWriter, r *http.Request) {
	if n.ae.runner == nil {
		http.Error(w, "anti-entropy runs only in cluster mode", http.StatusNotFound)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Minute)
	defer cancel()
	run := n.ae.runner.RunNow
	if r.URL.Query().Get("rebuild") == "1" {
		run = n.ae.runner.RunRebuild
	}
	rep, err := run(ctx)
	if errors.Is(err, antientropy.ErrNotLeader) {
		_, leader := n.repl.LeaderAddr()
		http.Error(w, "not the leader; run it on "+leader, http.StatusMisdirectedRequest)
		return
	}
	if rep == nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	writeJSON(w, rep)
}

// writeAntiEntropyMetrics appends the anti-entropy metrics.
func (n *Node) writeAntiEntropyMetrics(w io.Writer) {
	if n.ae.runner != nil {
		n.ae.runner.WriteMetrics(w)
	}
}
