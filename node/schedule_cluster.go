package node

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/heliosdb/heliosdb-lite/fsm"
)

// Scheduled dumps in a cluster. Only the leader acts on [dump] schedule and
// wal_size_threshold, and what it does is propose a cluster dump marker
// (clusterdump.go) carrying the tick it is for: every node then writes the
// same file, so the cluster takes one dump per tick, not one per node.
//
// Leader changes: the marker is in the log, so every node knows the last
// tick that was dumped (lastTick, set when a scheduled marker applies). A
// new leader that finds the most recent due tick newer than that proposes
// it once (a run missed while there was no leader is made up, once). Two
// leaders proposing the same tick (an old one that has not noticed it was
// deposed) cannot double it: a scheduled marker whose tick is not newer
// than the last applied one is ignored on every node alike, because the
// decision depends only on the log.

// scheduleState is the node's view of scheduled cluster dumps.
type scheduleState struct {
	// lastTick is the Unix time of the newest scheduled tick whose marker
	// this node applied (written on raft's FSM goroutine).
	lastTick atomic.Int64
}

// acceptScheduledMark decides, on raft's FSM goroutine, whether a marker
// starts a dump here: unscheduled markers always do; scheduled ones only
// for a tick newer than the last one applied.
func (n *Node) acceptScheduledMark(m fsm.DumpMark) bool {
	if m.ScheduledTick == 0 {
		return true
	}
	for {
		last := n.sched.lastTick.Load()
		if m.ScheduledTick <= last {
			n.log.Info("duplicate scheduled dump marker ignored", "dump_id", m.ID, "tick", time.Unix(m.ScheduledTick, 0).UTC())
			return false
		}
		if n.sched.lastTick.CompareAndSwap(last, m.ScheduledTick) {
			return true
		}
	}
}

// dueTick returns the most recent tick of spec at or before now (zero if
// none in the last two days, which bounds the search).
func dueTick(spec *cronSpec, now time.Time) time.Time {
	var due time.Time
	t := now.Add(-48 * time.Hour)
	for i := 0; i < 48*60+1; i++ {
		nx := spec.next(t)
		if nx.IsZero() || nx.After(now) {
			break
		}
		due, t = nx, nx
	}
	return due
}

// clusterScheduledDump proposes the marker for tick (Unix seconds; for a
// threshold-triggered dump, the current second) as the leader.
func (n *Node) clusterScheduledDump(ctx context.Context, tick int64, reason string) error {
	dc := n.cfg.Dump
	o := ClusterDumpOptions{Compression: dc.Compression, Level: dc.CompressionLevel, Wait: time.Minute, ScheduledTick: tick}
	res, err := n.ClusterDump(ctx, o)
	if err != nil {
		return err
	}
	n.log.Info("scheduled cluster dump", "reason", reason, "dump_id", res.ID, "lsn", res.LSN, "nodes_agree", res.Agree)
	for _, r := range res.Records {
		if r.Status == "failed" {
			n.log.Error("scheduled cluster dump failed on a node", "node", r.Node, "err", r.Error)
		}
	}
	return nil
}

// clusterScheduleTick runs on every node at each schedule check: the
// leader makes up a due tick that no applied marker covers yet; every node
// prunes its own backup_dir.
func (n *Node) clusterScheduleTick(spec *cronSpec, now time.Time) {
	n.pruneDumps(now)
	if spec == nil || !n.repl.IsLeader() {
		return
	}
	due := dueTick(spec, now)
	if due.IsZero() || due.Unix() <= n.sched.lastTick.Load() {
		return
	}
	// The leader must have applied everything committed before judging
	// lastTick, or it would re-propose a tick an old leader already did.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := n.repl.LinearizableRead(ctx); err != nil || due.Unix() <= n.sched.lastTick.Load() {
		return
	}
	if err := n.clusterScheduledDump(context.Background(), due.Unix(), "schedule"); err != nil {
		n.notifyDumpFailure("schedule", err)
	}
}
