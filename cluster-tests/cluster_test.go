package clustertests

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/heliosdb/heliosdb-lite/internal/proctest"
)

func skipShort(t *testing.T) {
	if testing.Short() {
		t.Skip("real multi-process cluster: skipped with -short")
	}
}

func mustExec(t *testing.T, nd *Node, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := nd.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %s: %v", nd.ID, sql, err)
	}
}

// Formation from scratch, writes through every node (forwarded from
// followers with the leader's results and errors), linearizable reads
// everywhere, local reads and replication lag, the members view and CLI.
func TestFormationWritesThroughEveryNode(t *testing.T) {
	skipShort(t)
	c := NewCluster(t, 3, Options{})
	leader := c.Leader(10 * time.Second)
	t.Logf("leader %s", leader.ID)
	mustExec(t, c.Nodes[0], "create table kv (k int primary key, v text)")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, nd := range c.Nodes {
		mustExec(t, nd, "insert into kv values ($1, $2)", i, nd.ID)
		// A read on every node right after the write sees it
		// (linearizable by default).
		for _, r := range c.Nodes {
			n, err := countOn(ctx, r, "kv")
			if err != nil || n != int64(i+1) {
				t.Fatalf("after write %d through %s: count on %s = %d, %v", i, nd.ID, r.ID, n, err)
			}
		}
	}
	// Errors are the leader's errors, also through a follower.
	for _, nd := range c.Nodes {
		err := nd.Exec(ctx, "insert into kv values (0, 'dup')")
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "23505" {
			t.Fatalf("duplicate key through %s: %v, want SQLSTATE 23505", nd.ID, err)
		}
	}
	// Command tags and RETURNING come back unchanged through a follower.
	follower := c.others(leader)[0]
	conn, err := follower.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := conn.Exec(ctx, "update kv set v = v || '!' where k >= 0")
	if err != nil || tag.String() != "UPDATE 3" {
		t.Fatalf("update through follower: %q %v", tag, err)
	}
	var v string
	if err := conn.QueryRow(ctx, "insert into kv values (10, 'ret') returning v").Scan(&v); err != nil || v != "ret" {
		t.Fatalf("returning through follower: %q %v", v, err)
	}
	// Local reads and lag.
	if _, err := conn.Exec(ctx, "set heliosdb.read_consistency = 'local'"); err != nil {
		t.Fatal(err)
	}
	var lag string
	if err := conn.QueryRow(ctx, "show heliosdb.replication_lag").Scan(&lag); err != nil || !strings.Contains(lag, "entries") {
		t.Fatalf("show heliosdb.replication_lag: %q %v", lag, err)
	}
	t.Logf("replication_lag on %s: %s", follower.ID, lag)
	// heliosdb.members on a follower.
	rows, err := conn.Query(ctx, "select node_id, role, voter, healthy from heliosdb.members order by node_id")
	if err != nil {
		t.Fatal(err)
	}
	type mrow struct {
		ID, Role       string
		Voter, Healthy bool
	}
	ms, err := pgx.CollectRows(rows, pgx.RowToStructByPos[mrow])
	if err != nil {
		t.Fatal(err)
	}
	leaders := 0
	for _, m := range ms {
		if m.Role == "leader" {
			leaders++
		}
		if !m.Voter {
			t.Errorf("member %s not a voter: %+v", m.ID, m)
		}
	}
	if len(ms) != 3 || leaders != 1 {
		t.Fatalf("heliosdb.members = %+v", ms)
	}
	// The CLI.
	out, errOut, code := proctest.Run(t, "members", "--http-addr", follower.HTTPAddr())
	if code != 0 || !strings.Contains(out, "leader") || strings.Count(out, "\n") != 4 {
		t.Fatalf("members: code %d\n%s%s", code, out, errOut)
	}
	t.Logf("heliosdb-lite members:\n%s", out)
	out, errOut, code = proctest.Run(t, "status", "--http-addr", follower.HTTPAddr())
	if code != 0 || !strings.Contains(out, "role:") || !strings.Contains(out, "follower") {
		t.Fatalf("status: code %d\n%s%s", code, out, errOut)
	}
	if _, _, code = proctest.Run(t, "health", "--ready", "--http-addr", leader.HTTPAddr()); code != 0 {
		t.Fatalf("health --ready on leader: exit %d", code)
	}
	if _, _, code = proctest.Run(t, "health", "--http-addr", freeLoopbackAddr(t), "--timeout", "1s"); code != 1 {
		t.Fatalf("health on a closed port: exit %d, want 1", code)
	}
	c.EnsureSame()
}

// Leader SIGKILL with writes in flight through every node: writes resume
// on the survivors, sessions on survivors continue, clients of the dead
// node get an error, and every acknowledged row is on every node after
// the old leader comes back.
func TestLeaderKillWithWritesInFlight(t *testing.T) {
	skipShort(t)
	c := NewCluster(t, 3, Options{})
	mustExec(t, c.Nodes[0], ackedDDL)
	leader := c.Leader(10 * time.Second)
	survivors := c.others(leader)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	deadConn, err := leader.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w := c.startWriters(6, c.Nodes, 0)
	if !w.waitMore(100, 20*time.Second) {
		t.Fatal("writers made no progress before the kill")
	}
	// A session on a survivor, open across the failover.
	live, err := survivors[0].Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	leader.Kill()
	if _, err := deadConn.Exec(ctx, "select 1"); err == nil {
		t.Fatal("a client of the killed node got no error")
	}
	newLeader := c.Leader(20 * time.Second)
	if !w.waitMore(50, 20*time.Second) {
		t.Fatal("no writes acknowledged after the leader was killed")
	}
	t.Logf("killed leader %s; new leader %s; writes flowing again %v after the kill", leader.ID, newLeader.ID, time.Since(killed).Round(time.Millisecond))
	// The surviving session goes on (a retryable error is allowed while the
	// election runs).
	eventually(t, 10*time.Second, "survivor session serves a write", func() error {
		_, err := live.Exec(ctx, "insert into acked values ($1, 'live')", int64(1)<<40)
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23505" {
			return nil // an earlier attempt committed
		}
		return err
	})
	leader.Restart()
	c.WaitReady(30 * time.Second)
	acked, errs := w.stop()
	t.Logf("%d writes acknowledged, %d failed attempts", len(acked), errs)
	c.EnsureSame()
	if lost := c.EnsureAcked("acked", acked); lost > 0 {
		t.Fatalf("%d acknowledged writes lost", lost)
	}
}

// A follower killed and restarted catches up by replaying the log (no
// snapshot installed: trailing logs default).
func TestFollowerRestartReplaysLog(t *testing.T) {
	skipShort(t)
	c := NewCluster(t, 3, Options{})
	mustExec(t, c.Nodes[0], ackedDDL)
	leader := c.Leader(10 * time.Second)
	f := c.others(leader)[0]
	w := c.startWriters(4, []*Node{leader}, 0)
	w.waitMore(50, 20*time.Second)
	f.Kill()
	w.waitMore(300, 30*time.Second)
	acked, _ := w.stop()
	f.Restart()
	c.WaitReady(30 * time.Second)
	c.EnsureSame()
	if lost := c.EnsureAcked("acked", acked); lost > 0 {
		t.Fatalf("%d acknowledged writes lost", lost)
	}
	// raft logs "copied to local snapshot" when it receives InstallSnapshot.
	if strings.Contains(f.log(), "copied to local snapshot") {
		t.Errorf("%s installed the leader's snapshot; expected log replay", f.ID)
	}
}

// metrics reads the node's /metrics: the value of each sample without
// labels.
func (nd *Node) metrics(t *testing.T) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + nd.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatalf("%s /metrics: %v", nd.ID, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s /metrics: %v", nd.ID, err)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		name, val, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(line, "#") || strings.Contains(name, "{") {
			continue
		}
		if v, err := strconv.ParseFloat(val, 64); err == nil {
			out[name] = v
		}
	}
	return out
}

func (nd *Node) log() string {
	b, _ := os.ReadFile(nd.LogPath)
	return string(b)
}

// A follower down while the leader compacts its log past the follower's
// last index gets the leader's snapshot (InstallSnapshot).
func TestFollowerBehindCompactedLogGetsSnapshot(t *testing.T) {
	skipShort(t)
	c := NewCluster(t, 3, Options{SnapshotThreshold: 64, SnapshotInterval: 200 * time.Millisecond, TrailingLogs: 16})
	mustExec(t, c.Nodes[0], ackedDDL)
	leader := c.Leader(10 * time.Second)
	f := c.others(leader)[0]
	f.Kill()
	w := c.startWriters(4, []*Node{leader}, 0)
	w.waitMore(600, 60*time.Second)
	acked, _ := w.stop()
	// Wait for the leader to have snapshotted past what f has.
	eventually(t, 30*time.Second, "leader snapshot", func() error {
		if !strings.Contains(leader.log(), "snapshot complete") {
			return errors.New("no snapshot yet")
		}
		return nil
	})
	f.Restart()
	c.WaitReady(30 * time.Second)
	c.EnsureSame()
	if lost := c.EnsureAcked("acked", acked); lost > 0 {
		t.Fatalf("%d acknowledged writes lost", lost)
	}
	if !strings.Contains(f.log(), "copied to local snapshot") {
		t.Errorf("%s caught up without InstallSnapshot (no \"copied to local snapshot\" in its log)", f.ID)
	}
	// The snapshot was loaded while it arrived and Restore installed that
	// state (fsm/receiveload.go), not a second load of the file.
	if !strings.Contains(f.log(), "restored snapshot (loaded while received)") {
		t.Errorf("%s did not install the snapshot it loaded while receiving it", f.ID)
	}
	// /metrics splits the rejoin: bytes received, receive and load time.
	m := f.metrics(t)
	for _, name := range []string{"heliosdb_snapshot_restores_total", "heliosdb_snapshot_restore_last_bytes",
		"heliosdb_snapshot_restore_last_rows", "heliosdb_snapshot_restore_last_load_seconds",
		"heliosdb_snapshot_restore_last_receive_seconds"} {
		if v, ok := m[name]; !ok || v <= 0 {
			t.Errorf("%s: %s = %v (present: %v) after a snapshot install", f.ID, name, v, ok)
		}
	}
}

// A node dead past the grace period is removed from raft; it comes back
// with its old data and is re-added (non-voter, then voter).
func TestRemoveAndReAdd(t *testing.T) {
	skipShort(t)
	c := NewCluster(t, 3, Options{DeadServerGrace: 2 * time.Second})
	mustExec(t, c.Nodes[0], ackedDDL)
	leader := c.Leader(10 * time.Second)
	f := c.others(leader)[0]
	mustExec(t, leader, "insert into acked values (1, 'before')")
	f.Kill()
	c.WaitMembers(60*time.Second, f.ID+" removed", func(ms []memberView) error {
		for _, m := range ms {
			if m.NodeID == f.ID && (m.Role == "follower" || m.Role == "nonvoter" || m.Voter) {
				return fmt.Errorf("%s still %s", f.ID, m.Role)
			}
		}
		return nil
	})
	mustExec(t, leader, "insert into acked values (2, 'while removed')")
	f.Restart()
	c.WaitMembers(60*time.Second, f.ID+" re-added as voter", func(ms []memberView) error {
		for _, m := range ms {
			if m.NodeID == f.ID && m.Voter {
				return nil
			}
		}
		return fmt.Errorf("%s not a voter: %+v", f.ID, ms)
	})
	c.WaitReady(30 * time.Second)
	mustExec(t, f, "insert into acked values (3, 'after')")
	c.EnsureSame()
}

// `heliosdb-lite leave` removes a node at once and stops it; the
// remaining two keep serving; a new node joins as non-voter and becomes a
// voter.
func TestGracefulLeaveAndJoin(t *testing.T) {
	skipShort(t)
	c := NewCluster(t, 3, Options{})
	mustExec(t, c.Nodes[0], ackedDDL)
	leader := c.Leader(10 * time.Second)
	f := c.others(leader)[0]
	out, errOut, code := proctest.Run(t, "leave", "--http-addr", f.HTTPAddr())
	if code != 0 {
		t.Fatalf("leave: exit %d: %s%s", code, out, errOut)
	}
	if !f.Wait(20 * time.Second) {
		t.Fatalf("%s still running after leave", f.ID)
	}
	c.WaitMembers(20*time.Second, f.ID+" gone", func(ms []memberView) error {
		for _, m := range ms {
			if m.NodeID == f.ID && (m.Voter || m.Role != "none") {
				return fmt.Errorf("%s still %s", f.ID, m.Role)
			}
		}
		return nil
	})
	mustExec(t, leader, "insert into acked values (1, 'two voters')")
	n4 := c.AddNode("n4")
	c.WaitMembers(60*time.Second, "n4 voter", func(ms []memberView) error {
		for _, m := range ms {
			if m.NodeID == "n4" && m.Voter {
				return nil
			}
		}
		return fmt.Errorf("n4 not a voter yet: %+v", ms)
	})
	c.WaitReady(30 * time.Second)
	mustExec(t, n4, "insert into acked values (2, 'through n4')")
	c.EnsureSame()
}

// Two of three nodes lost for good: the survivor is stopped, `recover`
// writes peers.json with itself only, and it comes back as a one-node
// cluster with its data; then a fresh node joins it.
func TestQuorumLossRecovery(t *testing.T) {
	skipShort(t)
	c := NewCluster(t, 3, Options{})
	mustExec(t, c.Nodes[0], ackedDDL)
	leader := c.Leader(10 * time.Second)
	for i := 1; i <= 20; i++ {
		mustExec(t, leader, "insert into acked values ($1, 'before')", i)
	}
	c.WaitForApplied(20 * time.Second)
	survivor := c.others(leader)[0]
	for _, nd := range c.Nodes {
		if nd != survivor {
			nd.Kill()
		}
	}
	// Without quorum writes fail (after the forwarding timeout).
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	if err := survivor.Exec(ctx, "insert into acked values (100, 'no quorum')"); err == nil {
		t.Fatal("write without quorum succeeded")
	}
	cancel()
	// recover refuses a running node: it would apply the peers at some
	// later restart.
	if out, errOut, code := proctest.Run(t, "recover", "--data-dir", survivor.DataDir, "--peers", survivor.ID+"="+survivor.RaftAddr()); code != 1 || !strings.Contains(errOut, "running") {
		t.Fatalf("recover on a running node: exit %d: %s%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(survivor.DataDir, "peers.json")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("recover on a running node wrote peers.json: %v", err)
	}
	survivor.Stop()
	out, errOut, code := proctest.Run(t, "recover", "--data-dir", survivor.DataDir, "--peers", survivor.ID+"="+survivor.RaftAddr())
	if code != 0 {
		t.Fatalf("recover: exit %d: %s%s", code, out, errOut)
	}
	t.Logf("recover: %s", strings.TrimSpace(out))
	survivor.launch()
	c.WaitReady(30 * time.Second)
	mustExec(t, survivor, "insert into acked values (21, 'after recovery')")
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if n, err := countOn(ctx, survivor, "acked"); err != nil || n != 21 {
		t.Fatalf("after recovery: %d rows, %v; want 21", n, err)
	}
	if _, err := os.Stat(filepath.Join(survivor.DataDir, "peers.json.applied")); err != nil {
		t.Errorf("peers.json not applied: %v", err)
	}
	// Usage errors exit 2.
	if _, _, code := proctest.Run(t, "recover", "--data-dir", survivor.DataDir); code != 2 {
		t.Errorf("recover without --peers: exit %d, want 2", code)
	}
	// The lost servers' replacement joins the one-node cluster.
	n4 := c.AddNode("n4")
	c.WaitMembers(60*time.Second, "n4 voter", func(ms []memberView) error {
		for _, m := range ms {
			if m.NodeID == "n4" && m.Voter {
				return nil
			}
		}
		return fmt.Errorf("n4 not a voter yet: %+v", ms)
	})
	c.WaitReady(30 * time.Second)
	mustExec(t, n4, "insert into acked values (22, 'n4')")
	c.EnsureSame()
}

// A transaction block of more than 8 MiB, sent to a follower, commits on
// every node in bounded raft entries (its rows staged, then promoted by
// one small entry): every row on every node, identical data, no staging
// table left.
func TestLargeTransactionStaged(t *testing.T) {
	skipShort(t)
	c := NewCluster(t, 3, Options{})
	mustExec(t, c.Nodes[0], "create table bulk (id bigint primary key, v text)")
	leader := c.Leader(10 * time.Second)
	f := c.others(leader)[0]
	before := leader.metrics(t)["heliosdb_raft_last_index"]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, f.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	const rows = 150_000 // ~11 MB of encoded inserts
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n, err := tx.CopyFrom(ctx, pgx.Identifier{"bulk"}, []string{"id", "v"}, pgx.CopyFromFunc(func() func() ([]any, error) {
		i := int64(0)
		return func() ([]any, error) {
			if i == rows {
				return nil, nil
			}
			i++
			return []any{i, fmt.Sprintf("row %d %s", i, strings.Repeat("p", 48))}, nil
		}
	}()))
	if err != nil || n != rows {
		t.Fatalf("COPY in the block: %d rows, %v", n, err)
	}
	if _, err := tx.Exec(ctx, "insert into bulk values (0, 'by insert')"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatalf("COMMIT of a large block through a follower: %v", err)
	}
	if entries := leader.metrics(t)["heliosdb_raft_last_index"] - before; entries < 3 {
		t.Errorf("the block took %v raft entries: not staged", entries)
	}
	for _, nd := range c.Nodes {
		eventually(t, 30*time.Second, nd.ID+" holds the block", func() error {
			got, err := localCount(ctx, nd, "bulk")
			if err != nil {
				return err
			}
			if got != rows+1 {
				return fmt.Errorf("%d rows", got)
			}
			return nil
		})
	}
	c.EnsureSame()
}
