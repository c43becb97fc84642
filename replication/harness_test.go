package replication

import (
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// tnode is one in-process server of a test cluster over real TCP.
type tnode struct {
	id  string
	cfg Config
	fsm *kvFSM
	n   *Node
	srv *http.Server
}

type tcluster struct {
	t     testing.TB
	mu    sync.Mutex // guards nodes' n/fsm/srv swaps during restarts
	nodes []*tnode
}

// fastGossip makes failure detection take a few hundred ms on loopback.
func fastGossip(c *memberlist.Config) {
	c.ProbeInterval = 100 * time.Millisecond
	c.ProbeTimeout = 50 * time.Millisecond
	c.SuspicionMult = 2
	c.GossipInterval = 20 * time.Millisecond
	c.PushPullInterval = time.Second
	c.TCPTimeout = time.Second
	c.GossipToTheDeadTime = time.Second
}

// newCluster configures n nodes (ids n1..nN) that discover each other by
// gossip and bootstrap through bootstrap-expect = n; it does not start them.
func newCluster(t testing.TB, size int, onDisk bool) *tcluster {
	c := &tcluster{t: t}
	var gossip []string
	for i := range size {
		id := "n" + string(rune('1'+i))
		cfg := testConfig(t, id)
		cfg.GossipBind = freeAddr(t)
		cfg.AdminAddr = freeAddr(t)
		cfg.PGAddr = "127.0.0.1:5432"
		cfg.BootstrapExpect = size
		cfg.ReconcileInterval = 100 * time.Millisecond
		cfg.MetaRefreshInterval = 100 * time.Millisecond
		cfg.DeadServerGrace = time.Minute // tests that want removal lower it
		cfg.Gossip = fastGossip
		cfg.RPCToken = "secret"
		if onDisk {
			cfg.DataDir = t.TempDir()
		}
		gossip = append(gossip, cfg.GossipBind)
		c.nodes = append(c.nodes, &tnode{id: id, cfg: cfg})
	}
	for _, tn := range c.nodes {
		tn.cfg.Join = slices.DeleteFunc(slices.Clone(gossip), func(a string) bool { return a == tn.cfg.GossipBind })
	}
	t.Cleanup(c.stopAll)
	return c
}

// start opens the node with a fresh FSM (state comes back from its data dir
// and the leader) and serves its internal RPCs on its admin address.
func (c *tcluster) start(tn *tnode) {
	c.t.Helper()
	fsm := newKV()
	var ln net.Listener
	var err error
	deadline := time.Now().Add(5 * time.Second)
	for { // the port was ours a moment ago; a lingering socket may hold it briefly
		if ln, err = net.Listen("tcp", tn.cfg.AdminAddr); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		c.t.Fatalf("%s: admin listen: %v", tn.id, err)
	}
	n, err := Open(ctxT(c.t, 10*time.Second), tn.cfg, fsm)
	if err != nil {
		ln.Close()
		c.t.Fatalf("%s: open: %v", tn.id, err)
	}
	mux := http.NewServeMux()
	mux.Handle(RPCPathPrefix, n.RPCHandler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	c.mu.Lock()
	tn.n, tn.fsm, tn.srv = n, fsm, srv
	c.mu.Unlock()
}

func (c *tcluster) startAll() {
	for _, tn := range c.nodes {
		c.start(tn)
	}
}

// stop shuts a node down as a crash would look to its peers (no leave).
func (c *tcluster) stop(tn *tnode) {
	c.mu.Lock()
	n, srv := tn.n, tn.srv
	tn.n, tn.srv = nil, nil
	c.mu.Unlock()
	if n == nil {
		return
	}
	srv.Close()
	if err := n.Shutdown(); err != nil {
		c.t.Logf("%s: shutdown: %v", tn.id, err)
	}
}

func (c *tcluster) stopAll() {
	var wg sync.WaitGroup
	for _, tn := range c.nodes {
		wg.Add(1)
		go func() { defer wg.Done(); c.stop(tn) }()
	}
	wg.Wait()
}

func (c *tcluster) running() []*tnode {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*tnode
	for _, tn := range c.nodes {
		if tn.n != nil {
			out = append(out, tn)
		}
	}
	return out
}

// leader waits until exactly one running node is leader and every running
// node agrees on it.
func (c *tcluster) leader() *tnode {
	c.t.Helper()
	var l *tnode
	eventually(c.t, 10*time.Second, "a leader all running nodes agree on", func() bool {
		l = nil
		run := c.running()
		for _, tn := range run {
			if tn.n.IsLeader() {
				if l != nil {
					return false
				}
				l = tn
			}
		}
		if l == nil {
			return false
		}
		for _, tn := range run {
			if _, id := tn.n.LeaderAddr(); id != l.id {
				return false
			}
		}
		return true
	})
	return l
}

// waitVoters waits until the leader's configuration has exactly these voters.
func (c *tcluster) waitVoters(ids ...string) {
	c.t.Helper()
	want := slices.Clone(ids)
	slices.Sort(want)
	eventually(c.t, 15*time.Second, "voters "+join(want), func() bool {
		l := c.leaderNow()
		if l == nil {
			return false
		}
		ms, err := l.n.Members()
		if err != nil {
			return false
		}
		var got []string
		for _, m := range ms {
			if m.Voter {
				got = append(got, m.ID)
			}
		}
		return slices.Equal(got, want)
	})
}

func (c *tcluster) leaderNow() *tnode {
	for _, tn := range c.running() {
		if tn.n.IsLeader() {
			return tn
		}
	}
	return nil
}

// ensureSame waits until every running node has applied at least idx and
// holds the same data (canonical dump bytes).
func (c *tcluster) ensureSame(idx uint64) string {
	c.t.Helper()
	var want string
	eventually(c.t, 15*time.Second, "identical state on all running nodes", func() bool {
		want = ""
		for i, tn := range c.running() {
			if tn.n.AppliedIndex() < idx {
				return false
			}
			if d := tn.fsm.dump(); i == 0 {
				want = d
			} else if d != want {
				return false
			}
		}
		return true
	})
	return want
}

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ","
		}
		out += x
	}
	return out
}
