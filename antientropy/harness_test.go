package antientropy_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/heliosdb/heliosdb-lite/antientropy"
	"github.com/heliosdb/heliosdb-lite/engine"
	"github.com/heliosdb/heliosdb-lite/fsm"
	"github.com/heliosdb/heliosdb-lite/internal/proctest"
	"github.com/heliosdb/heliosdb-lite/replication"
)

// tnode is one in-process server over real TCP: engine, FSM, raft, and an
// admin HTTP server with replication's and anti-entropy's internal APIs.
type tnode struct {
	id      string
	eng     *engine.Engine
	fsm     *fsm.FSM
	n       *replication.Node
	replica *antientropy.Replica
	runner  *antientropy.Runner
	srv     *http.Server
}

type tcluster struct {
	t     testing.TB
	nodes []*tnode
	// tune, when set, adjusts every node's configurations.
	tune func(*replication.Config, *antientropy.Config)
}

func freeAddr(t testing.TB) string {
	t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(proctest.FreePort(t)))
}

type tWriter struct {
	mu   sync.Mutex // guards done
	t    testing.TB
	done bool
}

func (w *tWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func testLogger(t testing.TB) *slog.Logger {
	w := &tWriter{t: t}
	t.Cleanup(func() { w.mu.Lock(); w.done = true; w.mu.Unlock() })
	level := slog.LevelError
	if os.Getenv("AE_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// newCluster starts size nodes that find each other by gossip and waits
// until all are voters.
func newCluster(t testing.TB, size int) *tcluster {
	return newClusterWith(t, size, nil)
}

// newClusterWith is newCluster with every node's raft and anti-entropy
// configurations adjusted by tune (may be nil); the anti-entropy one is
// tuned when the node starts.
func newClusterWith(t testing.TB, size int, tune func(*replication.Config, *antientropy.Config)) *tcluster {
	engine.EnableDebugHooks()
	c := &tcluster{t: t, tune: tune}
	var cfgs []replication.Config
	var gossip []string
	for i := range size {
		cfg := replication.DefaultConfig()
		cfg.NodeID = fmt.Sprintf("n%d", i+1)
		cfg.RaftBind = freeAddr(t)
		cfg.Logger = testLogger(t).With("node", cfg.NodeID)
		cfg.CommitTimeout = 5 * time.Millisecond
		// Lenient leadership timers: these tests check repairs, not
		// failover, and under -race on a loaded 2-core machine a leader
		// that missed its quorum for the default 400 ms lease stepped
		// down in the middle of a round (TestPacedRebuildUnderWrites:
		// "leadership lost while committing").
		cfg.HeartbeatTimeout, cfg.ElectionTimeout, cfg.LeaderLeaseTimeout = time.Second, time.Second, time.Second
		cfg.SnapshotInterval = time.Hour
		cfg.GossipBind = freeAddr(t)
		cfg.AdminAddr = freeAddr(t)
		cfg.PGAddr = "127.0.0.1:5432"
		cfg.BootstrapExpect = size
		cfg.ReconcileInterval = 100 * time.Millisecond
		cfg.MetaRefreshInterval = 100 * time.Millisecond
		cfg.DeadServerGrace = time.Minute
		cfg.RPCToken = "secret"
		cfg.Gossip = func(m *memberlist.Config) {
			m.ProbeInterval = 100 * time.Millisecond
			m.ProbeTimeout = 50 * time.Millisecond
			m.GossipInterval = 20 * time.Millisecond
			m.PushPullInterval = time.Second
		}
		if tune != nil {
			tune(&cfg, nil)
		}
		gossip = append(gossip, cfg.GossipBind)
		cfgs = append(cfgs, cfg)
	}
	for i := range cfgs {
		cfgs[i].Join = slices.DeleteFunc(slices.Clone(gossip), func(a string) bool { return a == cfgs[i].GossipBind })
	}
	t.Cleanup(c.stopAll)
	for _, cfg := range cfgs {
		c.nodes = append(c.nodes, c.start(cfg))
	}
	eventually(t, 20*time.Second, "all nodes voters with admin addresses", func() bool {
		l := c.leaderNow()
		if l == nil {
			return false
		}
		ms, err := l.n.Members()
		if err != nil {
			return false
		}
		voters := 0
		for _, m := range ms {
			if m.Voter && m.AdminAddr != "" {
				voters++
			}
		}
		return voters == size
	})
	return c
}

func (c *tcluster) start(cfg replication.Config) *tnode {
	t := c.t
	tn := &tnode{id: cfg.NodeID, eng: engine.New()}
	tn.fsm = fsm.New(tn.eng, fsm.Options{Logger: cfg.Logger})
	ln, err := net.Listen("tcp", cfg.AdminAddr)
	if err != nil {
		t.Fatal(err)
	}
	tn.n, err = replication.Open(ctxT(t, 10*time.Second), cfg, tn.fsm)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	tn.replica = antientropy.NewReplica(func(round uint64) (uint64, *engine.Snapshot, bool) {
		r, ok := tn.fsm.AERound(round)
		return r.LSN, r.Snap, ok
	}, tn.n.AppliedIndex, cfg.RPCToken, cfg.Logger)
	ac := antientropy.DefaultConfig()
	ac.Interval = 0
	ac.MaxBytesPerSec = 0
	ac.RebuildEvery = 0
	ac.Token = cfg.RPCToken
	ac.Marker, ac.Repair = fsm.EncodeAEMark, fsm.EncodeAERepair
	ac.Logger = cfg.Logger
	if c.tune != nil {
		c.tune(nil, &ac)
	}
	tn.runner, err = antientropy.NewRunner(ac, antientropy.FromReplication(tn.n), tn.replica)
	if err != nil {
		t.Fatal(err)
	}
	tn.runner.Start()
	mux := http.NewServeMux()
	mux.Handle(replication.RPCPathPrefix, tn.n.RPCHandler())
	mux.Handle(antientropy.PathPrefix, tn.replica.Handler())
	tn.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go tn.srv.Serve(ln)
	return tn
}

func (c *tcluster) stopAll() {
	var wg sync.WaitGroup
	for _, tn := range c.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tn.runner.Close()
			tn.srv.Close()
			_ = tn.n.Shutdown()
		}()
	}
	wg.Wait()
}

func (c *tcluster) leaderNow() *tnode {
	for _, tn := range c.nodes {
		if tn.n.IsLeader() {
			return tn
		}
	}
	return nil
}

func (c *tcluster) leader() *tnode {
	c.t.Helper()
	var l *tnode
	eventually(c.t, 10*time.Second, "a leader", func() bool { l = c.leaderNow(); return l != nil })
	return l
}

func (c *tcluster) follower() *tnode {
	l := c.leader()
	for _, tn := range c.nodes {
		if tn != l {
			return tn
		}
	}
	return nil
}

// apply proposes cs through via (followers forward), retrying while the
// cluster changes leader.
func (c *tcluster) apply(via *tnode, cs *engine.ChangeSet) (uint64, error) {
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, idx, err := via.n.Apply(context.Background(), fsm.EncodeChangeSet(cs))
		if err == nil || !replication.IsRetryable(err) || time.Now().After(deadline) {
			return idx, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ensureSame makes one last write, waits for every node to apply it and
// compares the canonical dumps and the per-table roots.
func (c *tcluster) ensureSame() {
	c.t.Helper()
	l := c.leader()
	idx, err := c.apply(l, &engine.ChangeSet{Ops: []engine.Op{upsert(c.t, 1<<40, "final")}})
	if err != nil {
		c.t.Fatalf("final write: %v", err)
	}
	eventually(c.t, 15*time.Second, "every node applied the final write", func() bool {
		for _, tn := range c.nodes {
			if tn.eng.LSN() < idx {
				return false
			}
		}
		return true
	})
	want := engine.Canonical(c.nodes[0].eng.Snapshot())
	for _, tn := range c.nodes[1:] {
		if got := engine.Canonical(tn.eng.Snapshot()); !bytes.Equal(got, want) {
			c.t.Fatalf("%s: canonical state differs from %s", tn.id, c.nodes[0].id)
		}
	}
}

var kvDef = &engine.TableDef{
	Name:       "kv",
	Columns:    []engine.ColumnDef{{Name: "id", Type: engine.TypeInt8, NotNull: true}, {Name: "v", Type: engine.TypeText}},
	PrimaryKey: []int{0},
	PKName:     "kv_pkey",
}

func kvKey(id int64) string { return string(engine.EncodeKey(nil, id)) }

func kvRow(t testing.TB, id int64, v string) []byte {
	b, err := engine.EncodeRow(nil, engine.Row{id, v})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func upsert(t testing.TB, id int64, v string) engine.Op {
	return engine.Op{Kind: engine.OpUpsert, Table: "kv", Key: kvKey(id), Row: kvRow(t, id, v)}
}

// load creates kv and inserts rows 0..n-1 in batches.
func (c *tcluster) load(n int) {
	c.t.Helper()
	l := c.leader()
	if _, err := c.apply(l, &engine.ChangeSet{Ops: []engine.Op{{Kind: engine.OpCreateTable, Table: "kv", Def: kvDef}}}); err != nil {
		c.t.Fatal(err)
	}
	for start := 0; start < n; start += 500 {
		cs := &engine.ChangeSet{}
		for i := start; i < min(start+500, n); i++ {
			cs.Ops = append(cs.Ops, upsert(c.t, int64(i), fmt.Sprintf("v%d", i)))
		}
		if _, err := c.apply(l, cs); err != nil {
			c.t.Fatal(err)
		}
	}
	c.caughtUp()
}

// caughtUp waits until every node has applied what the leader has.
func (c *tcluster) caughtUp() {
	c.t.Helper()
	want := c.leader().eng.LSN()
	eventually(c.t, 15*time.Second, "every node caught up", func() bool {
		for _, tn := range c.nodes {
			if tn.eng.LSN() < want {
				return false
			}
		}
		return true
	})
}

func hexKeys(ids ...int64) []string {
	var out []string
	for _, id := range ids {
		out = append(out, fmt.Sprintf("kv/%x", kvKey(id)))
	}
	slices.Sort(out)
	return out
}
