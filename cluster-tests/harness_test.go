package clustertests

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heliosdb/heliosdb-lite/internal/proctest"
)

// Options shape a test cluster. Zero values are the product defaults.
type Options struct {
	// SnapshotThreshold, SnapshotInterval and TrailingLogs go into the
	// nodes' config file ([raft]).
	SnapshotThreshold int
	SnapshotInterval  time.Duration
	TrailingLogs      int
	// DeadServerGrace is --dead-server-grace (default 30s: no removals
	// during a test unless asked for).
	DeadServerGrace time.Duration
}

// Cluster is a set of server processes on loopback, each behind a raft
// proxy (see proxy.go).
type Cluster struct {
	t     testing.TB
	opts  Options
	Nodes []*Node
	net   *network
	dir   string
	Seed  uint64
	Rand  *rand.Rand
}

// Node is one server process.
type Node struct {
	c                                      *Cluster
	ID                                     string
	PGPort, RaftPort, GossipPort, HTTPPort int
	DataDir, LogPath, ConfigPath           string
	proxy                                  *proxy
	join                                   []string
	expect                                 int

	mu   sync.Mutex // guards cmd and done
	cmd  *exec.Cmd
	done chan struct{}
}

// seed returns HELIOSDB_SEED or a fresh one, printed so a run can be
// replayed.
func seed(t testing.TB) uint64 {
	if v := os.Getenv("HELIOSDB_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("HELIOSDB_SEED=%q: %v", v, err)
		}
		return s
	}
	return uint64(time.Now().UnixNano())
}

// NewCluster starts n nodes with --bootstrap-expect n and waits until
// they have elected a leader and every node is ready.
func NewCluster(t testing.TB, n int, opts Options) *Cluster {
	t.Helper()
	s := seed(t)
	t.Logf("seed %d (replay with HELIOSDB_SEED=%d)", s, s)
	c := &Cluster{t: t, opts: opts, net: newNetwork(), dir: t.TempDir(), Seed: s, Rand: rand.New(rand.NewPCG(s, s^0x9e3779b97f4a7c15))}
	proctest.Binary(t) // build before any timing starts
	var gossip []string
	for i := 1; i <= n; i++ {
		nd := c.newNode(fmt.Sprintf("n%d", i))
		gossip = append(gossip, fmt.Sprintf("127.0.0.1:%d", nd.GossipPort))
	}
	for _, nd := range c.Nodes {
		nd.join, nd.expect = gossip, n
		nd.launch()
	}
	t.Cleanup(c.shutdown)
	c.waitStarted(60 * time.Second)
	c.WaitReady(60 * time.Second)
	return c
}

// waitStarted waits until every node answers on its admin API. A node
// that exited because one of its ports was taken meanwhile (free ports are
// only free a moment; other tests run on this machine) is given new ports
// and started again; any other exit fails the test with the node's log.
func (c *Cluster) waitStarted(timeout time.Duration) {
	c.t.Helper()
	eventually(c.t, timeout, "all nodes started", func() error {
		for _, nd := range c.Nodes {
			if !nd.Running() {
				log := nd.log()
				if !strings.Contains(log, "address already in use") {
					c.t.Fatalf("%s exited during startup:\n%s", nd.ID, tail(log, 4000))
				}
				c.t.Logf("%s: port taken, retrying with new ports", nd.ID)
				nd.PGPort, nd.HTTPPort = proctest.FreePort(c.t), proctest.FreePort(c.t)
				nd.RaftPort, nd.GossipPort = proctest.FreePort(c.t), proctest.FreePort(c.t)
				nd.proxy.setTarget(fmt.Sprintf("127.0.0.1:%d", nd.RaftPort))
				_ = os.WriteFile(nd.LogPath, nil, 0o644)
				nd.launch()
				return fmt.Errorf("%s restarted", nd.ID)
			}
			if err := nd.getJSON("/health", nil); err != nil {
				return err
			}
		}
		return nil
	})
}

func (c *Cluster) newNode(id string) *Node {
	t := c.t
	nd := &Node{c: c, ID: id, PGPort: proctest.FreePort(t), RaftPort: proctest.FreePort(t),
		GossipPort: proctest.FreePort(t), HTTPPort: proctest.FreePort(t)}
	nd.DataDir = filepath.Join(c.dir, id)
	nd.LogPath = filepath.Join(c.dir, id+".log")
	nd.ConfigPath = filepath.Join(c.dir, id+".toml")
	var cfg strings.Builder
	cfg.WriteString("[raft]\n")
	if c.opts.SnapshotThreshold > 0 {
		fmt.Fprintf(&cfg, "snapshot_threshold = %d\n", c.opts.SnapshotThreshold)
	}
	if c.opts.SnapshotInterval > 0 {
		fmt.Fprintf(&cfg, "snapshot_interval = %q\n", c.opts.SnapshotInterval.String())
	}
	if c.opts.TrailingLogs > 0 {
		fmt.Fprintf(&cfg, "trailing_logs = %d\n", c.opts.TrailingLogs)
	}
	if err := os.WriteFile(nd.ConfigPath, []byte(cfg.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := startProxy(c.net, id, fmt.Sprintf("127.0.0.1:%d", nd.RaftPort))
	if err != nil {
		t.Fatal(err)
	}
	nd.proxy = p
	c.Nodes = append(c.Nodes, nd)
	return nd
}

// AddNode starts a new node that joins the running cluster (it is added
// as a non-voter, then promoted).
func (c *Cluster) AddNode(id string) *Node {
	c.t.Helper()
	var join []string
	for _, nd := range c.Nodes {
		join = append(join, fmt.Sprintf("127.0.0.1:%d", nd.GossipPort))
	}
	nd := c.newNode(id)
	nd.join = join
	nd.launch()
	return nd
}

func (c *Cluster) shutdown() {
	for _, nd := range c.Nodes {
		nd.Kill()
	}
	for _, nd := range c.Nodes {
		nd.proxy.close()
	}
	if c.t.Failed() {
		for _, nd := range c.Nodes {
			b, _ := os.ReadFile(nd.LogPath)
			c.t.Logf("--- log of %s (tail) ---\n%s", nd.ID, tail(string(b), 6000))
		}
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// Args are the node's `start` arguments.
func (nd *Node) Args() []string {
	grace := nd.c.opts.DeadServerGrace
	if grace == 0 {
		grace = 30 * time.Second
	}
	args := []string{"start", "--config", nd.ConfigPath, "--node-id", nd.ID,
		"--listen", "127.0.0.1", "--port", strconv.Itoa(nd.PGPort),
		"--raft-addr", fmt.Sprintf("127.0.0.1:%d", nd.RaftPort), "--raft-advertise", nd.proxy.addr(),
		"--gossip-addr", fmt.Sprintf("127.0.0.1:%d", nd.GossipPort),
		"--http-addr", fmt.Sprintf("127.0.0.1:%d", nd.HTTPPort),
		"--join", strings.Join(nd.join, ","), "--bootstrap-expect", strconv.Itoa(nd.expect),
		"--data-dir", nd.DataDir, "--backup-dir", filepath.Join(nd.DataDir, "..", nd.ID+"-backups"),
		"--dead-server-grace", grace.String(), "--log-level", "info"}
	return args
}

func (nd *Node) launch() {
	t := nd.c.t
	lf, err := os.OpenFile(nd.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	fmt.Fprintf(lf, "=== %s launch %s\n", time.Now().Format(time.RFC3339Nano), strings.Join(nd.Args(), " "))
	cmd := exec.Command(proctest.Binary(t), nd.Args()...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	nd.mu.Lock()
	nd.cmd, nd.done = cmd, done
	nd.mu.Unlock()
}

func (nd *Node) proc() (*exec.Cmd, chan struct{}) {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	return nd.cmd, nd.done
}

// Running reports whether the process is alive.
func (nd *Node) Running() bool {
	cmd, done := nd.proc()
	if cmd == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// Kill sends SIGKILL and waits for the exit; Stop sends SIGTERM (orderly
// shutdown). Both are no-ops on a stopped node.
func (nd *Node) Kill() { nd.signal(syscall.SIGKILL) }
func (nd *Node) Stop() { nd.signal(syscall.SIGTERM) }

// Pause and Resume send SIGSTOP and SIGCONT.
func (nd *Node) Pause() {
	if cmd, _ := nd.proc(); cmd != nil {
		_ = cmd.Process.Signal(syscall.SIGSTOP)
	}
}
func (nd *Node) Resume() {
	if cmd, _ := nd.proc(); cmd != nil {
		_ = cmd.Process.Signal(syscall.SIGCONT)
	}
}

func (nd *Node) signal(sig syscall.Signal) {
	cmd, done := nd.proc()
	if cmd == nil || !nd.Running() {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGCONT)
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// Restart starts a stopped node again with the same ports and data.
func (nd *Node) Restart() {
	nd.Kill()
	nd.launch()
}

// Wait waits for the process to exit by itself (after leave).
func (nd *Node) Wait(timeout time.Duration) bool {
	_, done := nd.proc()
	select {
	case <-done:
		return true
	case <-time.After(timeout):
		return false
	}
}

// DSN is the node's PostgreSQL connection string.
func (nd *Node) DSN() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=3", nd.PGPort)
}

// HTTPAddr is the admin API address.
func (nd *Node) HTTPAddr() string { return fmt.Sprintf("127.0.0.1:%d", nd.HTTPPort) }

// RaftAddr is the advertised (proxied) raft address.
func (nd *Node) RaftAddr() string { return nd.proxy.addr() }

// Connect opens a connection closed at the end of the test.
func (nd *Node) Connect(ctx context.Context) (*pgx.Conn, error) {
	c, err := pgx.Connect(ctx, nd.DSN())
	if err != nil {
		return nil, err
	}
	nd.c.t.Cleanup(func() { c.Close(context.Background()) })
	return c, nil
}

// Exec runs one statement on a fresh connection.
func (nd *Node) Exec(ctx context.Context, sql string, args ...any) error {
	c, err := pgx.Connect(ctx, nd.DSN())
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	_, err = c.Exec(ctx, sql, args...)
	return err
}

// nodeStatus is the part of /status the harness reads.
type nodeStatus struct {
	NodeID      string `json:"node_id"`
	Role        string `json:"role"`
	LeaderID    string `json:"leader_id"`
	RaftApplied uint64 `json:"raft_applied_index"`
	CommitIndex uint64 `json:"commit_index"`
	Voters      int    `json:"voters"`
}

type memberView struct {
	NodeID  string `json:"node_id"`
	Role    string `json:"role"`
	Voter   bool   `json:"voter"`
	Healthy bool   `json:"healthy"`
}

var httpClient = &http.Client{Timeout: 2 * time.Second}

func (nd *Node) getJSON(path string, v any) error {
	resp, err := httpClient.Get("http://" + nd.HTTPAddr() + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s%s: %s: %s", nd.ID, path, resp.Status, b)
	}
	if v == nil {
		return nil
	}
	return json.Unmarshal(b, v)
}

// Status fetches /status.
func (nd *Node) Status() (nodeStatus, error) {
	var st nodeStatus
	err := nd.getJSON("/status", &st)
	return st, err
}

// Members fetches /members.
func (nd *Node) Members() ([]memberView, error) {
	var ms []memberView
	err := nd.getJSON("/members", &ms)
	return ms, err
}

// Ready reports whether /ready answers 200.
func (nd *Node) Ready() bool { return nd.getJSON("/ready", nil) == nil }

// Running nodes.
func (c *Cluster) Running() []*Node {
	var out []*Node
	for _, nd := range c.Nodes {
		if nd.Running() {
			out = append(out, nd)
		}
	}
	return out
}

// Node by id.
func (c *Cluster) Node(id string) *Node {
	for _, nd := range c.Nodes {
		if nd.ID == id {
			return nd
		}
	}
	c.t.Fatalf("no node %s", id)
	return nil
}

// eventually polls cond every 50ms until it returns nil or timeout.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for {
		if err = cond(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %v: %v", what, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Leader waits until the running nodes agree on a leader among them and
// returns it.
func (c *Cluster) Leader(timeout time.Duration) *Node {
	c.t.Helper()
	var leader *Node
	eventually(c.t, timeout, "agreed leader", func() error {
		leader = nil
		ids := map[string]bool{}
		for _, nd := range c.Running() {
			st, err := nd.Status()
			if err != nil {
				return err
			}
			ids[st.LeaderID] = true
			if st.Role == "Leader" {
				leader = nd
			}
		}
		if leader == nil || len(ids) != 1 {
			return fmt.Errorf("leaders seen: %v", ids)
		}
		return nil
	})
	return leader
}

// WaitReady waits for a leader and for every running node to be ready
// (caught up, linearizable reads possible).
func (c *Cluster) WaitReady(timeout time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	c.Leader(timeout)
	eventually(c.t, time.Until(deadline)+time.Second, "all nodes ready", func() error {
		for _, nd := range c.Running() {
			if !nd.Ready() {
				return fmt.Errorf("%s not ready", nd.ID)
			}
		}
		return nil
	})
}

// WaitForApplied waits until every running node has applied the leader's
// commit index (taken once, now).
func (c *Cluster) WaitForApplied(timeout time.Duration) uint64 {
	c.t.Helper()
	leader := c.Leader(timeout)
	st, err := leader.Status()
	if err != nil {
		c.t.Fatal(err)
	}
	target := st.CommitIndex
	eventually(c.t, timeout, fmt.Sprintf("every node applied index %d", target), func() error {
		for _, nd := range c.Running() {
			s, err := nd.Status()
			if err != nil {
				return err
			}
			if s.RaftApplied < target {
				return fmt.Errorf("%s applied %d", nd.ID, s.RaftApplied)
			}
		}
		return nil
	})
	return target
}

// WaitMembers waits until the leader's /members satisfies ok.
func (c *Cluster) WaitMembers(timeout time.Duration, what string, ok func([]memberView) error) {
	c.t.Helper()
	eventually(c.t, timeout, what, func() error {
		var leader *Node
		for _, nd := range c.Running() {
			if st, err := nd.Status(); err == nil && st.Role == "Leader" {
				leader = nd
			}
		}
		if leader == nil {
			return fmt.Errorf("no leader")
		}
		ms, err := leader.Members()
		if err != nil {
			return err
		}
		return ok(ms)
	})
}

// Partition cuts every link between the groups (both directions). Nodes
// not named keep all their links.
func (c *Cluster) Partition(groups ...[]*Node) {
	var links [][2]string
	for i, g := range groups {
		for j, h := range groups {
			if i == j {
				continue
			}
			for _, a := range g {
				for _, b := range h {
					links = append(links, [2]string{a.ID, b.ID})
				}
			}
		}
	}
	c.net.setCut(links)
}

// CutOneWay cuts only the links from -> to.
func (c *Cluster) CutOneWay(from, to []*Node) {
	var links [][2]string
	for _, a := range from {
		for _, b := range to {
			links = append(links, [2]string{a.ID, b.ID})
		}
	}
	c.net.setCut(links)
}

// Isolate cuts nd's raft links to and from everyone else.
func (c *Cluster) Isolate(nd *Node) {
	var rest []*Node
	for _, o := range c.Nodes {
		if o != nd {
			rest = append(rest, o)
		}
	}
	c.Partition([]*Node{nd}, rest)
}

// SlowLinks delays every proxied chunk by d (0 restores).
func (c *Cluster) SlowLinks(d time.Duration) {
	c.net.mu.Lock()
	c.net.delay = d
	c.net.mu.Unlock()
}

// Heal restores every link.
func (c *Cluster) Heal() {
	c.net.setCut(nil)
	c.SlowLinks(0)
}

// others returns the running nodes except nd.
func (c *Cluster) others(nd *Node) []*Node {
	var out []*Node
	for _, o := range c.Running() {
		if o != nd {
			out = append(out, o)
		}
	}
	return out
}

// freeLoopbackAddr returns a free 127.0.0.1:port.
func freeLoopbackAddr(t testing.TB) string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(proctest.FreePort(t)))
}
