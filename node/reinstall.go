package node

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/heliosdb/heliosdb-lite/antientropy"
)

// Reinstall: a follower whose rows differ from the majority in many keys
// (a node restored from an old dump behind the cluster's back) is not
// repaired row by row. The leader's anti-entropy round asks it to
// reinstall itself (POST /internal/ae/reinstall, antientropy.Replica), and
// it then:
//
//  1. fences itself (serves no reads);
//  2. leaves gracefully, exactly as POST /leave does (repl.Leave: gossip
//     leave, the leader removes it from raft's configuration, raft shuts
//     down) — a voter must never forget its log or its votes, so nothing
//     is dropped unless the leader confirmed the removal;
//  3. closes the node (clients, admin API, anti-entropy) and moves its raft
//     state aside (raft.db and snapshots/ renamed *.reinstall-<time>,
//     deleted by the next start; nothing to do in memory mode);
//  4. replaces its process with a fresh start of the same binary and
//     arguments (syscall.Exec), so it comes back with the same node id and
//     addresses, and its sockets are released and bound again.
//
// The new process has no raft state, so bootstrap-expect does not fire
// (other members have state); the leader's reconciler adds it as a
// non-voter, it receives a snapshot (or the whole log) and is promoted
// once caught up: the same path as a node that left and joins again. It
// starts fenced (told by reinstallEnv) and asks the leader for a round once
// it is a voter and caught up; that round finds every voter equal and
// lifts the fence. Until then it serves no reads, whatever the session's
// read consistency.

// reinstallEnv carries the reason into the restarted process (set only
// by the exec of a reinstall; removed from the environment at start).
const reinstallEnv = "HELIOSDB_AE_REINSTALLED"

// reinstallSuffix marks raft state moved aside by a reinstall.
const reinstallSuffix = ".reinstall-"

// reinstallLeaveTimeout bounds the graceful leave of a reinstall.
const reinstallLeaveTimeout = 60 * time.Second

// raftStateNames are the raft state inside the data dir: the log and
// stable store (replication) and the snapshot chains (fsm.ChainStore).
var raftStateNames = []string{"raft.db", "snapshots"}

// requestReinstall is the antientropy.Replica reinstaller: it checks the
// request and starts the reinstall in the background.
func (n *Node) requestReinstall(q antientropy.ReinstallRequest) error {
	if !n.cfg.Clustered() {
		return errors.New("not in cluster mode")
	}
	if n.repl.IsLeader() {
		return errors.New("this node leads; a leader is never reinstalled (it hands leadership over first)")
	}
	if _, lid := n.repl.LeaderAddr(); q.Leader == "" || lid != q.Leader {
		return fmt.Errorf("request from %q, but this node's leader is %q", q.Leader, lid)
	}
	if !n.ae.reinstalling.CompareAndSwap(false, true) {
		return errors.New("a reinstall is already under way")
	}
	n.ae.replica.SetFence(true, q.Reason)
	n.log.Error("anti-entropy: this node differs from the majority and reinstalls itself: leaving the cluster, dropping its raft state, restarting empty",
		"rows", q.Rows, "round", q.Round, "lsn", q.LSN, "leader", q.Leader)
	// Not a goFunc: it ends in Close's place (closeOnce), which waits for those.
	go n.runReinstall(q.Reason)
	return nil
}

// runReinstall leaves, closes the node, moves the raft state aside and
// restarts the process. It only returns if the restart failed.
func (n *Node) runReinstall(reason string) {
	ctx, cancel := context.WithTimeout(context.Background(), reinstallLeaveTimeout)
	err := n.repl.Leave(ctx)
	cancel()
	// Only a removal the leader confirmed makes dropping the log safe.
	wipe := err == nil
	if err != nil {
		n.log.Error("anti-entropy reinstall: removal from raft not confirmed; restarting with the raft state kept (the next round retries)", "err", err)
	}
	n.closeOnce.Do(func() {
		// In Close's place: the start command waits on Done and then calls
		// Close, which blocks here until the exec replaces the process.
		_ = n.closeSteps()
		if wipe {
			if err := n.moveRaftStateAside(time.Now()); err != nil {
				n.log.Error("anti-entropy reinstall: moving the raft state aside failed; restarting with it", "err", err)
			}
		}
		exe, err := os.Executable()
		if err == nil {
			n.log.Warn("anti-entropy reinstall: restarting the process", "exe", exe, "raft_state_dropped", wipe)
			env := append(os.Environ(), reinstallEnv+"="+reason)
			err = execSelf(exe, os.Args, env)
		}
		n.log.Error("anti-entropy reinstall: could not restart the process; it exits and must be started again", "err", err)
		n.closeErr = fmt.Errorf("reinstall: restart failed: %w", err)
	})
}

// moveRaftStateAside renames the raft state in the data dir to
// <name>.reinstall-<time> (nothing in memory mode).
func (n *Node) moveRaftStateAside(now time.Time) error {
	dir := n.cfg.Server.DataDir
	if dir == "" || n.cfg.Server.Memory {
		return nil
	}
	stamp := now.UTC().Format("20060102T150405.000000000Z")
	for _, name := range raftStateNames {
		from := filepath.Join(dir, name)
		if _, err := os.Lstat(from); errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err := os.Rename(from, from+reinstallSuffix+stamp); err != nil {
			return err
		}
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// removeReinstallLeftovers deletes raft state a reinstall moved aside
// (called once the node has started again).
func (n *Node) removeReinstallLeftovers() {
	dir := n.cfg.Server.DataDir
	if dir == "" || n.cfg.Server.Memory {
		return
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if !strings.Contains(e.Name(), reinstallSuffix) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if err := os.RemoveAll(p); err != nil {
			n.log.Warn("removing raft state left by a reinstall", "path", p, "err", err)
			continue
		}
		n.log.Info("removed raft state left by a reinstall", "path", p)
	}
}

// afterReinstall runs in the restarted process: it keeps the node fenced
// and, once the node is a voter again and caught up with the leader, asks
// the leader for a round, whose finding every voter equal lifts the fence.
// Asked again every 10 s while fenced, for at most 30 minutes (scheduled
// rounds lift it later otherwise).
func (n *Node) afterReinstall(reason string) {
	n.log.Warn("anti-entropy: restarted by a reinstall; fenced until a round finds this node equal to the others", "reason", reason)
	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	deadline := time.Now().Add(30 * time.Minute)
	var asked time.Time
	for {
		select {
		case <-n.shutdown:
			return
		case <-t.C:
		}
		if on, _ := n.ae.replica.Fenced(); !on {
			n.log.Info("anti-entropy: reinstalled node serves reads again")
			return
		}
		if time.Now().After(deadline) || time.Since(asked) < 10*time.Second {
			continue
		}
		leaderAdmin, ok := n.rejoinedVoter()
		if !ok {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := n.repl.LinearizableRead(ctx) // applied what the leader had committed
		if err == nil {
			err = antientropy.RequestRound(ctx, client, leaderAdmin, n.cfg.Cluster.RPCToken)
		}
		cancel()
		if err != nil {
			n.log.Debug("anti-entropy: reinstalled node: asking for a round", "err", err)
			continue
		}
		asked = time.Now()
	}
}

// rejoinedVoter reports whether this node is a voter again, with the
// leader's admin address.
func (n *Node) rejoinedVoter() (string, bool) {
	ms, err := n.repl.Members()
	if err != nil {
		return "", false
	}
	_, lid := n.repl.LeaderAddr()
	voter, leaderAdmin := false, ""
	for _, m := range ms {
		if m.ID == n.cfg.Server.NodeID {
			voter = m.Voter
		}
		if m.ID == lid && lid != n.cfg.Server.NodeID {
			leaderAdmin = m.AdminAddr
		}
	}
	return leaderAdmin, voter && leaderAdmin != ""
}
