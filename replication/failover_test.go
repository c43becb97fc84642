package replication

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

func followers(c *tcluster, l *tnode) []*tnode {
	var out []*tnode
	for _, tn := range c.running() {
		if tn != l {
			out = append(out, tn)
		}
	}
	return out
}

// Leader dies while followers write through forwarding: a new leader takes
// over, writes continue, and every acknowledged write is on every survivor.
func TestClusterLeaderFailoverKeepsAcknowledgedWrites(t *testing.T) {
	c := newCluster(t, 3, true)
	c.startAll()
	old := c.leader()
	c.waitVoters("n1", "n2", "n3")
	fs := followers(c, old)

	var mu sync.Mutex // guards acked
	acked := map[string]string{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	var afterKill sync.WaitGroup
	var killed sync.Once
	killedCh := make(chan struct{})
	for w, tn := range fs {
		wg.Add(1)
		afterKill.Add(1)
		go func() {
			defer wg.Done()
			succeededAfterKill := false
			for i := 0; ctx.Err() == nil; i++ {
				k, v := fmt.Sprintf("w%d-%d", w, i), strconv.Itoa(i)
				actx, acancel := context.WithTimeout(ctx, 3*time.Second)
				_, _, err := tn.n.Apply(actx, []byte("set "+k+" "+v))
				acancel()
				if err == nil {
					mu.Lock()
					acked[k] = v
					mu.Unlock()
					select {
					case <-killedCh:
						if !succeededAfterKill {
							succeededAfterKill = true
							afterKill.Done()
						}
					default:
					}
				} else if ctx.Err() == nil {
					t.Logf("%s: write %s: %v (retryable=%v)", tn.id, k, err, IsRetryable(err))
					time.Sleep(10 * time.Millisecond)
				}
			}
			if !succeededAfterKill {
				afterKill.Done()
			}
		}()
	}
	eventually(t, 10*time.Second, "some writes before the kill", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) >= 50
	})
	killAt := time.Now()
	killed.Do(func() { close(killedCh) })
	c.stop(old)
	nl := c.leader()
	t.Logf("failover: %s -> %s; new leader known after %v", old.id, nl.id, time.Since(killAt))
	waitDone := make(chan struct{})
	go func() { afterKill.Wait(); close(waitDone) }()
	select {
	case <-waitDone:
		t.Logf("first acknowledged write on every survivor %v after the kill", time.Since(killAt))
	case <-time.After(15 * time.Second):
		t.Fatal("writes did not resume after failover")
	}
	cancel()
	wg.Wait()

	idx := mustApply(t, nl.n, "set final write")
	c.ensureSame(idx)
	mu.Lock()
	defer mu.Unlock()
	for _, tn := range c.running() {
		for k, v := range acked {
			if got, ok := tn.fsm.get(k); !ok || got != v {
				t.Fatalf("%s lost acknowledged write %s=%s (got %q)", tn.id, k, v, got)
			}
		}
	}
	t.Logf("%d acknowledged writes present on all survivors", len(acked))

	// The old leader comes back with its data and catches up.
	c.start(old)
	c.waitVoters("n1", "n2", "n3")
	c.ensureSame(mustApply(t, old.n, "set back again"))
}

// A follower stops and restarts: it replays its own log plus what it missed
// (no snapshot needed), and serves no linearizable read before catching up.
func TestClusterFollowerRestartReplaysLog(t *testing.T) {
	c := newCluster(t, 3, true)
	c.startAll()
	l := c.leader()
	c.waitVoters("n1", "n2", "n3")
	f := followers(c, l)[0]
	for i := range 30 {
		mustApply(t, f.n, fmt.Sprintf("set a%d %d", i, i))
	}
	c.stop(f)
	var idx uint64
	for i := range 30 {
		idx = mustApply(t, l.n, fmt.Sprintf("set b%d %d", i, i))
	}
	c.start(f)
	mustRead(t, f.n, 10*time.Second)
	if f.n.AppliedIndex() < idx {
		t.Fatalf("linearizable read returned at applied %d < %d", f.n.AppliedIndex(), idx)
	}
	if v, _ := f.fsm.get("b29"); v != "29" {
		t.Fatal("restarted follower misses writes after its linearizable read")
	}
	if s := f.n.Stats()["last_snapshot_index"]; s != "0" {
		t.Fatalf("follower received a snapshot (last_snapshot_index=%s); expected log replay", s)
	}
	c.ensureSame(idx)
}

// A follower is down while the leader snapshots and compacts its log past
// what the follower has: on restart it receives InstallSnapshot.
func TestClusterLaggingFollowerGetsSnapshot(t *testing.T) {
	c := newCluster(t, 3, true)
	for _, tn := range c.nodes {
		tn.cfg.TrailingLogs = 5
	}
	c.startAll()
	l := c.leader()
	c.waitVoters("n1", "n2", "n3")
	f := followers(c, l)[0]
	mustApply(t, l.n, "set before down")
	c.stop(f)
	var idx uint64
	for i := range 60 {
		idx = mustApply(t, l.n, fmt.Sprintf("set s%d %d", i, i))
	}
	// Leadership may move under load, also after the compaction: compact
	// every running node, so whichever leads when f returns must send a
	// snapshot.
	c.ensureSame(idx)
	for _, tn := range c.running() {
		if err := tn.n.Snapshot(); err != nil {
			t.Fatal(err)
		}
		if first, _ := tn.n.st.logs.FirstIndex(); first <= 10 {
			t.Fatalf("%s: log not compacted: first index %d", tn.n.ID(), first)
		}
	}
	c.start(f)
	c.ensureSame(idx)
	// The FSM reports the restored index before raft records the
	// installed snapshot in its stats: wait for both.
	eventually(t, 5*time.Second, "follower records the installed snapshot", func() bool {
		snap, _ := strconv.ParseUint(f.n.Stats()["last_snapshot_index"], 10, 64)
		return snap != 0
	})
	mustRead(t, f.n, 5*time.Second)
	c.ensureSame(mustApply(t, f.n, "set after install"))
}

// A follower dead longer than DeadServerGrace is removed; started again with
// its old data it is re-added (non-voter, then voter). A graceful leave
// removes at once.
func TestClusterRemoveDeadAndReadd(t *testing.T) {
	c := newCluster(t, 3, true)
	for _, tn := range c.nodes {
		tn.cfg.DeadServerGrace = 500 * time.Millisecond
	}
	c.startAll()
	l := c.leader()
	c.waitVoters("n1", "n2", "n3")
	f := followers(c, l)[0]
	mustApply(t, f.n, "set x 1")
	c.stop(f)
	// The leader sees its heartbeats to f fail (before it removes f, which
	// clears them: poll closely).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, failing := l.n.hb.failingSince(raft.ServerID(f.id)); failing {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the leader never recorded %s's failed heartbeats", f.id)
		}
	}
	rest := []string{}
	for _, tn := range c.running() {
		rest = append(rest, tn.id)
	}
	c.waitVoters(rest...)
	mustApply(t, l.n, "set y 2")

	c.start(f)
	c.waitVoters("n1", "n2", "n3")
	c.ensureSame(mustApply(t, f.n, "set z 3"))
	// Its heartbeats failed before the removal; the re-added follower is
	// healthy again in the leader's view (it stayed unhealthy for good
	// when only a "resumed" heartbeat cleared the failure).
	eventually(t, 20*time.Second, f.id+" healthy after re-add", func() bool {
		ms, err := c.leader().n.Members()
		if err != nil {
			return false
		}
		for _, m := range ms {
			if m.ID == f.id {
				return m.Healthy
			}
		}
		return false
	})

	// Graceful leave of another follower.
	g := followers(c, c.leader())[0]
	if g == f {
		g = followers(c, c.leader())[1]
	}
	if err := g.n.Leave(ctxT(t, 10*time.Second)); err != nil {
		t.Fatalf("leave: %v", err)
	}
	c.mu.Lock()
	g.srv.Close()
	g.n, g.srv = nil, nil
	c.mu.Unlock()
	rest = rest[:0]
	for _, tn := range c.running() {
		rest = append(rest, tn.id)
	}
	c.waitVoters(rest...)
	ms, _ := c.leader().n.Members()
	for _, m := range ms {
		if m.ID == g.id && m.Role != RoleNone {
			t.Fatalf("left node still has role %s", m.Role)
		}
	}
	c.ensureSame(mustApply(t, c.leader().n, "set after leave"))
}

// Two of three servers are lost for good: the survivor cannot write; after
// peers.json recovery it runs as a one-node cluster with its data, and a
// lost server that comes back with old data is re-added.
func TestClusterQuorumLossRecovery(t *testing.T) {
	c := newCluster(t, 3, true)
	c.startAll()
	l := c.leader()
	c.waitVoters("n1", "n2", "n3")
	idx := mustApply(t, l.n, "set kept 1")
	want := c.ensureSame(idx)
	fs := followers(c, l)
	survivor := fs[0]
	c.stop(l)
	c.stop(fs[1])

	actx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	_, _, err := survivor.n.Apply(actx, []byte("set lost 1"))
	cancel()
	if err == nil {
		t.Fatal("write succeeded without quorum")
	}
	t.Logf("write without quorum: %v (retryable=%v, sqlstate=%s)", err, IsRetryable(err), SQLState(err))
	c.stop(survivor)

	if err := WritePeersJSON(survivor.cfg.DataDir, []Peer{{ID: survivor.id, Address: survivor.cfg.raftAdvertise()}}); err != nil {
		t.Fatal(err)
	}
	c.start(survivor)
	c.waitVoters(survivor.id)
	mustRead(t, survivor.n, 5*time.Second)
	if got := survivor.fsm.dump(); got != want {
		t.Fatalf("recovered state %s, want %s", got, want)
	}
	mustApply(t, survivor.n, "set recovered 1")

	// A lost server returns with its old data and is re-added.
	c.start(fs[1])
	c.waitVoters(survivor.id, fs[1].id)
	c.ensureSame(mustApply(t, fs[1].n, "set rejoined 1"))
}

func TestRecoverClusterOffline(t *testing.T) {
	cfg := testConfig(t, "solo")
	cfg.DataDir = t.TempDir()
	f := newKV()
	n, err := Open(ctxT(t, 5*time.Second), cfg, f)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := n.WaitForLeader(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		mustApply(t, n, fmt.Sprintf("set k%d %d", i, i))
	}
	want := f.dump()
	n.Shutdown()

	// The node moves: recover it under a new raft address.
	oldAddr := cfg.RaftBind
	cfg.RaftBind = freeAddr(t)
	if err := RecoverCluster(cfg, newKV(), []Peer{{ID: "solo", Address: cfg.RaftBind}}); err != nil {
		t.Fatal(err)
	}
	if err := RecoverCluster(cfg, newKV(), nil); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("empty peers: %v", err)
	}
	f = newKV()
	n, err = Open(ctxT(t, 5*time.Second), cfg, f)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown()
	if _, _, err := n.WaitForLeader(ctxT(t, 5*time.Second)); err != nil {
		t.Fatalf("no leader after recovery from %s to %s: %v", oldAddr, cfg.RaftBind, err)
	}
	if err := n.LinearizableRead(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := f.dump(); got != want {
		t.Fatalf("state after recovery %s, want %s", got, want)
	}
}
