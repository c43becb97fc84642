package antientropy

import (
	"context"
	"fmt"
	"slices"

	"github.com/heliosdb/heliosdb-lite/engine"
)

// resolve decides, key by key, what the majority holds and acts:
//   - the coordinator holds a minority image: hand leadership to a
//     majority member, which repairs in its own round (a leader must never
//     propose its own wrong rows as the truth);
//   - a follower differing in at least ReinstallThreshold keys is asked to
//     reinstall itself (reinstall) and its keys are not repaired;
//   - otherwise propose the majority images as repair entries;
//   - no majority: fence the replicas that disagree with the coordinator
//     and raise the alarm.
func (rd *round) resolve(ctx context.Context, cl Cluster, diffs []diffKey) error {
	voters := len(rd.peers)
	// First the verdicts: who holds the majority image of each key, and
	// how many keys each replica holds a minority image of.
	type verdict struct {
		v       string
		holders []int
		ok      bool
	}
	verdicts := make([]verdict, len(diffs))
	minorityCount := map[int]int{}
	leaderOdd := false
	majorityVotes := map[int]int{} // peer -> keys on which it holds the majority
	for k, d := range diffs {
		v, holders, ok := majority(d.vals, voters)
		verdicts[k] = verdict{v, holders, ok}
		if !ok {
			continue
		}
		for _, h := range holders {
			majorityVotes[h]++
		}
		for i, x := range d.vals {
			if x != "-" && x != v {
				minorityCount[i]++
			}
		}
		if !slices.Contains(holders, rd.self) {
			leaderOdd = true
		}
	}
	// A follower with a large difference is reinstalled rather than
	// repaired row by row (never while this leader is itself in the
	// minority: the majority member it hands leadership to decides).
	reinstalled := -1
	if !leaderOdd {
		reinstalled = rd.reinstall(ctx, cl, minorityCount)
	}
	var ops []repairOp
	fence := map[int]string{}
	for k, d := range diffs {
		diff := Difference{Table: d.table, Key: hexKey([]byte(d.key)), Values: map[string]string{}}
		for i, v := range d.vals {
			diff.Values[rd.peers[i].peer.ID] = valueName(v)
		}
		v, holders, ok := verdicts[k].v, verdicts[k].holders, verdicts[k].ok
		if !ok {
			diff.Action = "no majority: replicas that differ from the coordinator fenced"
			for i, x := range d.vals {
				if x != "-" && x != d.vals[rd.self] {
					fence[i] = fmt.Sprintf("no majority for key %s of %s at LSN %d", diff.Key, d.table, rd.lsn)
				}
			}
			rd.r.metrics.noMajority.Add(1)
			rd.r.log.Error("anti-entropy: ALARM no majority for a key; fencing the replicas that differ from the leader",
				"table", d.table, "key", diff.Key, "round", rd.id, "lsn", rd.lsn, "values", diff.Values)
			rd.addDiff(diff)
			continue
		}
		diff.Majority = valueName(v)
		if !slices.Contains(holders, rd.self) {
			diff.Action = "coordinator in the minority: leadership handed to a majority member"
			rd.addDiff(diff)
			continue
		}
		if reinstalled >= 0 && onlyOdd(d.vals, v, reinstalled) {
			diff.Action = "node " + rd.peers[reinstalled].peer.ID + " reinstalled (receives a fresh snapshot)"
			rd.addDiff(diff)
			continue
		}
		diff.Action = "repaired"
		ops = append(ops, repairOp{table: d.table, key: d.key, absent: v == "", source: rd.self})
		rd.addDiff(diff)
	}
	for i, n := range minorityCount {
		if n > rd.r.cfg.LargeDiff && i != reinstalled {
			fence[i] = fmt.Sprintf("%d rows differ from the majority at LSN %d; repairing through the log", n, rd.lsn)
		}
	}
	for i, reason := range fence {
		if i == rd.self || i == reinstalled {
			continue
		}
		if err := rd.peers[i].do(ctx, "POST", pathFence, fenceRequest{On: true, Reason: reason}, nil); err != nil {
			rd.r.log.Error("anti-entropy: could not fence replica", "node", rd.peers[i].peer.ID, "err", err)
			continue
		}
		rd.rep.Fenced = append(rd.rep.Fenced, rd.peers[i].peer.ID)
		rd.r.metrics.fenced.Add(1)
	}
	slices.Sort(rd.rep.Fenced)
	if leaderOdd {
		best := -1
		for _, i := range rd.answered() {
			if i != rd.self && (best < 0 || majorityVotes[i] > majorityVotes[best]) {
				best = i
			}
		}
		if best >= 0 {
			target := rd.peers[best]
			rd.r.log.Warn("anti-entropy: this leader holds minority images; transferring leadership", "to", target.peer.ID, "round", rd.id)
			if err := cl.TransferLeadership(ctx, target.peer.ID); err != nil {
				return fmt.Errorf("antientropy: transfer leadership to %s: %w", target.peer.ID, err)
			}
			rd.rep.TransferredTo = target.peer.ID
			rd.r.metrics.transfers.Add(1)
			// The new leader runs a round of its own now rather than at its
			// next interval (best effort: its schedule catches up anyway).
			_ = target.do(ctx, "POST", pathTrigger, struct{}{}, nil)
			return nil
		}
	}
	return rd.repair(ctx, cl, ops)
}

// onlyOdd reports whether peer odd is the only replica whose value of a
// key differs from the majority value v.
func onlyOdd(vals []string, v string, odd int) bool {
	for i, x := range vals {
		if x != "-" && x != v && i != odd {
			return false
		}
	}
	return true
}

// reinstall picks the follower holding the most minority images, if that
// is at least ReinstallThreshold, and asks it to reinstall itself: it
// fences itself, leaves raft gracefully, moves its raft state aside and
// restarts empty; reconcile re-adds it as a non-voter, it receives a
// snapshot (or the whole log) and is promoted once caught up. One node per
// round, and only when the voters left after its removal still hold a
// majority of answering voters among them (removing it must not cost the
// cluster its quorum). It returns the node's index, or -1 when no node is
// reinstalled (the caller then repairs its rows through the log).
func (rd *round) reinstall(ctx context.Context, cl Cluster, minorityCount map[int]int) int {
	threshold := rd.r.cfg.ReinstallThreshold
	if threshold <= 0 {
		return -1
	}
	best := -1
	for i, n := range minorityCount {
		if i == rd.self || !rd.ok[i] || n < threshold {
			continue
		}
		if best < 0 || n > minorityCount[best] || (n == minorityCount[best] && i < best) {
			best = i
		}
	}
	if best < 0 {
		return -1
	}
	p, n := rd.peers[best], minorityCount[best]
	if left := len(rd.answered()) - 1; left <= (len(rd.peers)-1)/2 {
		rd.r.log.Warn("anti-entropy: not reinstalling a divergent node: too few other voters reached the cut to keep a quorum without it; repairing through the log",
			"node", p.peer.ID, "rows", n, "answered_others", left, "voters", len(rd.peers))
		return -1
	}
	req := ReinstallRequest{Round: rd.id, LSN: rd.lsn, Leader: cl.ID(), Rows: n,
		Reason: fmt.Sprintf("%d rows differ from the majority at LSN %d; reinstalling from a fresh snapshot", n, rd.lsn)}
	if err := p.do(ctx, "POST", pathReinstall, req, nil); err != nil {
		rd.r.log.Error("anti-entropy: divergent node refused to reinstall; repairing its rows through the log",
			"node", p.peer.ID, "rows", n, "err", err)
		return -1
	}
	rd.r.log.Warn("anti-entropy: reinstalling a divergent node: it leaves raft and rejoins empty to receive a snapshot",
		"node", p.peer.ID, "rows", n, "round", rd.id, "lsn", rd.lsn)
	rd.rep.Reinstalled = append(rd.rep.Reinstalled, p.peer.ID)
	rd.rep.Fenced = append(rd.rep.Fenced, p.peer.ID) // it fenced itself on accepting
	rd.r.metrics.reinstalled.Add(1)
	rd.r.metrics.fenced.Add(1)
	return best
}

func (rd *round) addDiff(d Difference) {
	if len(rd.rep.Differences) >= rd.r.cfg.MaxReportedDiffs {
		rd.rep.Truncated = true
		return
	}
	rd.rep.Differences = append(rd.rep.Differences, d)
}

// repair fetches the majority's images from the coordinator's own frozen
// view (it is in the majority for every key here) and proposes them in
// bounded batches. Each batch is applied by every node with the marker's
// rule: keys written since the cut are left alone.
func (rd *round) repair(ctx context.Context, cl Cluster, ops []repairOp) error {
	if len(ops) == 0 {
		return nil
	}
	if rd.r.beforeRepair != nil {
		rd.r.beforeRepair(rd.id)
	}
	src := rd.peers[rd.self]
	batch := rd.r.cfg.RepairBatch
	for start := 0; start < len(ops); start += batch {
		end := min(start+batch, len(ops))
		chunk := ops[start:end]
		// Fetch present images, grouped by table.
		images := map[string]map[string][]byte{}
		byTable := map[string][][]byte{}
		for _, op := range chunk {
			if !op.absent {
				byTable[op.table] = append(byTable[op.table], []byte(op.key))
			}
		}
		tables := make([]string, 0, len(byTable))
		for t := range byTable {
			tables = append(tables, t)
		}
		slices.Sort(tables)
		for _, t := range tables {
			var rr rowsReply
			if err := src.do(ctx, "POST", pathRows, rowsRequest{cut: cut{Round: rd.id, Table: t}, Keys: byTable[t]}, &rr); err != nil {
				return err
			}
			images[t] = map[string][]byte{}
			for _, img := range rr.Rows {
				if img.Present {
					images[t][string(img.Key)] = img.Enc
				}
			}
		}
		cs := &engine.ChangeSet{}
		for _, op := range chunk {
			if op.absent {
				cs.Ops = append(cs.Ops, engine.Op{Kind: engine.OpDelete, Table: op.table, Key: op.key})
				continue
			}
			enc, ok := images[op.table][op.key]
			if !ok {
				continue // vanished from the frozen view: cannot happen, skip
			}
			cs.Ops = append(cs.Ops, engine.Op{Kind: engine.OpUpsert, Table: op.table, Key: op.key, Row: enc})
		}
		if _, _, err := cl.Apply(ctx, rd.r.cfg.Repair(rd.id, cs)); err != nil {
			return fmt.Errorf("antientropy: propose repair: %w", err)
		}
		rd.rep.Repaired += len(cs.Ops)
		rd.rep.RepairEntries++
		rd.r.metrics.repaired.Add(uint64(len(cs.Ops)))
	}
	rd.r.log.Warn("anti-entropy: repaired divergent rows through the log", "round", rd.id, "lsn", rd.lsn, "rows", rd.rep.Repaired)
	return nil
}

// unfence lifts fences once every voter agrees at a cut.
func (rd *round) unfence(ctx context.Context) {
	for i, rr := range rd.roots {
		if rr == nil || !rr.Fenced {
			continue
		}
		if err := rd.peers[i].do(ctx, "POST", pathFence, fenceRequest{On: false}, nil); err == nil {
			rd.rep.Unfenced = append(rd.rep.Unfenced, rd.peers[i].peer.ID)
		}
	}
}
