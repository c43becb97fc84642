package clustertests

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/heliosdb/heliosdb-lite/antientropy"
	"github.com/heliosdb/heliosdb-lite/engine"
	"github.com/heliosdb/heliosdb-lite/internal/proctest"
)

// debugBinary builds heliosdb-lite with the heliosdb_debug tag (the
// /debug/ae/corrupt endpoint) and makes the harness start it.
func debugBinary(t *testing.T) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "heliosdb-lite-debug")
	cmd := exec.Command("go", "build", "-tags", "heliosdb_debug", "-o", bin, "./cmd/heliosdb-lite")
	cmd.Dir = proctest.RepoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build -tags heliosdb_debug: %v\n%s", err, out)
	}
	t.Setenv("HELIOSDB_BIN", bin)
}

// memberAddrs is the part of /members this test compares.
type memberAddrs struct {
	NodeID    string `json:"node_id"`
	Voter     bool   `json:"voter"`
	PGAddr    string `json:"pg_addr"`
	RaftAddr  string `json:"raft_addr"`
	AdminAddr string `json:"admin_addr"`
}

func (c *Cluster) memberOf(id string) (memberAddrs, error) {
	var ms []memberAddrs
	if err := c.Leader(30*time.Second).getJSON("/members", &ms); err != nil {
		return memberAddrs{}, err
	}
	for _, m := range ms {
		if m.NodeID == id {
			return m, nil
		}
	}
	return memberAddrs{}, fmt.Errorf("%s is not a member", id)
}

// localCount reads count(*) of table on nd without asking the leader
// (read consistency local): what the node itself would serve.
func localCount(ctx context.Context, nd *Node, table string) (int64, error) {
	conn, err := pgx.Connect(ctx, nd.DSN())
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "set heliosdb.read_consistency = 'local'"); err != nil {
		return 0, err
	}
	var n int64
	err = conn.QueryRow(ctx, "select count(*) from "+table).Scan(&n)
	return n, err
}

// A follower that differs from the majority in at least
// [antientropy] reinstall_threshold keys is reinstalled: it leaves raft,
// moves its raft state aside, restarts its own process empty (same id,
// same addresses), is re-added as a non-voter, receives a snapshot and is
// promoted; it serves no read before it has caught up, and the cluster
// ends with identical replicas and no acknowledged write lost.
func TestAntiEntropyReinstallsLargeDifference(t *testing.T) {
	skipShort(t)
	debugBinary(t)
	// Frequent snapshots and a short log tail: the re-added node gets a
	// snapshot, not the whole log.
	c := NewCluster(t, 3, Options{SnapshotThreshold: 64, SnapshotInterval: time.Second, TrailingLogs: 16})
	// The threshold comes from the config file: restart every node with it.
	for _, nd := range c.Nodes {
		f, err := os.OpenFile(nd.ConfigPath, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.WriteString("[antientropy]\nreinstall_threshold = 50\n")
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		nd.Stop()
		nd.launch()
		c.WaitReady(60 * time.Second)
	}
	const rows = 300
	mustExec(t, c.Nodes[0], ackedDDL)
	mustExec(t, c.Nodes[0], "create table kv (id bigint primary key, v text not null)")
	mustExec(t, c.Nodes[0], fmt.Sprintf("insert into kv select g, 'v' || g from generate_series(0, %d) g", rows-1))
	c.WaitForApplied(30 * time.Second)

	leader := c.Leader(10 * time.Second)
	x := c.others(leader)[0]
	before, err := c.memberOf(x.ID)
	if err != nil {
		t.Fatal(err)
	}
	startsBefore := strings.Count(x.log(), "node started")
	w := c.startWriters(4, c.Nodes, 0)
	if !w.waitMore(50, 30*time.Second) {
		t.Fatal("writers make no progress")
	}
	// Once the leader has a snapshot its log no longer starts at 1, so a
	// node that rejoins empty needs the snapshot.
	eventually(t, 90*time.Second, leader.ID+" took a raft snapshot", func() error {
		if m, _ := filepath.Glob(filepath.Join(leader.DataDir, "snapshots", "metas", "*")); len(m) == 0 {
			return errors.New("none yet")
		}
		return nil
	})

	// Behind raft's back: x loses 200 of the 300 rows (an old dump).
	for id := int64(0); id < 200; id++ {
		q := url.Values{"table": {"kv"}, "key": {hex.EncodeToString(engine.EncodeKey(nil, id))}, "op": {"delete"}}
		resp, err := http.Post("http://"+x.HTTPAddr()+"/debug/ae/corrupt?"+q.Encode(), "", nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("corrupt on %s: %s: %s", x.ID, resp.Status, b)
		}
	}
	if n, err := localCount(context.Background(), x, "kv"); err != nil || n != rows-200 {
		t.Fatalf("%s after the corruption: %d rows, %v", x.ID, n, err)
	}

	// One round on the leader: x is reinstalled, nothing is repaired.
	resp, err := (&http.Client{Timeout: 2 * time.Minute}).Post("http://"+leader.HTTPAddr()+"/antientropy/run", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("antientropy run: %s: %s", resp.Status, b)
	}
	var rep antientropy.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	rep.WriteText(&text)
	t.Logf("round report:\n%s", text.String())
	if !slices.Equal(rep.Reinstalled, []string{x.ID}) || rep.Repaired != 0 || len(rep.Differences) != 200 {
		t.Fatalf("report: reinstalled %v, repaired %d, differences %d; want [%s], 0, 200", rep.Reinstalled, rep.Repaired, len(rep.Differences), x.ID)
	}
	if !strings.Contains(text.String(), "reinstalled: "+x.ID) {
		t.Fatalf("text report does not name %s as reinstalled", x.ID)
	}

	// Until it is back, x serves no read that lacks rows: every read it
	// answers sees all of kv (it is fenced, then restarting, then fenced
	// until a round finds it equal).
	var mu sync.Mutex
	refused, served := 0, 0
	stopReads := make(chan struct{})
	readsDone := make(chan struct{})
	go func() {
		defer close(readsDone)
		for {
			select {
			case <-stopReads:
				return
			case <-time.After(50 * time.Millisecond):
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			n, err := localCount(ctx, x, "kv")
			cancel()
			mu.Lock()
			switch {
			case err != nil:
				refused++
			case n != rows:
				mu.Unlock()
				t.Errorf("%s served a read of %d rows of kv before it caught up (want %d)", x.ID, n, rows)
				return
			default:
				served++
			}
			mu.Unlock()
		}
	}()
	var pgErr *pgconn.PgError
	eventually(t, 20*time.Second, x.ID+" fenced or restarting", func() error {
		_, err := localCount(context.Background(), x, "kv")
		if err == nil {
			return errors.New("still serves reads")
		}
		if errors.As(err, &pgErr) && pgErr.Code != "XX001" {
			return fmt.Errorf("unexpected error %v", err)
		}
		return nil
	})

	// x comes back by itself: same process (exec), same id and addresses,
	// a voter again, serving reads once a round found it equal.
	c.WaitMembers(90*time.Second, x.ID+" voter again", func([]memberView) error {
		m, err := c.memberOf(x.ID)
		if err != nil {
			return err
		}
		if !m.Voter {
			return fmt.Errorf("%s not a voter yet", x.ID)
		}
		return nil
	})
	eventually(t, 90*time.Second, x.ID+" serves reads again", func() error {
		n, err := localCount(context.Background(), x, "kv")
		if err != nil {
			return err
		}
		if n != rows {
			return fmt.Errorf("%d rows", n)
		}
		return nil
	})
	close(stopReads)
	<-readsDone
	mu.Lock()
	t.Logf("reads on %s during the reinstall: %d refused, %d served (all complete)", x.ID, refused, served)
	mu.Unlock()
	if !x.Running() {
		t.Fatalf("%s exited instead of restarting in place", x.ID)
	}
	st, err := x.Status()
	if err != nil || st.NodeID != x.ID {
		t.Fatalf("%s status after the reinstall: %+v, %v", x.ID, st, err)
	}
	after, err := c.memberOf(x.ID)
	if err != nil {
		t.Fatal(err)
	}
	after.Voter = before.Voter
	if after != before {
		t.Fatalf("%s addresses changed: before %+v, after %+v", x.ID, before, after)
	}
	log := x.log()
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "reinstall") || strings.Contains(line, "Installed remote snapshot") || strings.Contains(line, "node started") {
			t.Logf("%s: %s", x.ID, tail(line, 300))
		}
	}
	if strings.Count(log, "node started") != startsBefore+1 || strings.Count(log, "restarted by a reinstall") != 1 {
		t.Fatalf("%s log does not show one restart by a reinstall:\n%s", x.ID, tail(log, 4000))
	}
	if restarted := log[strings.LastIndex(log, "restarted by a reinstall"):]; !strings.Contains(restarted, "Installed remote snapshot") {
		t.Fatalf("%s did not receive a snapshot after its restart:\n%s", x.ID, tail(restarted, 4000))
	}
	if !strings.Contains(log, "raft_state_dropped=true") {
		t.Fatalf("%s did not drop its raft state:\n%s", x.ID, tail(log, 4000))
	}
	eventually(t, 20*time.Second, "raft state moved aside deleted", func() error {
		left, _ := filepath.Glob(filepath.Join(x.DataDir, "*.reinstall-*"))
		if len(left) > 0 {
			return fmt.Errorf("left: %v", left)
		}
		return nil
	})

	if !w.waitMore(50, 30*time.Second) {
		t.Fatal("writers make no progress after the reinstall")
	}
	acked, errs := w.stop()
	t.Logf("%d writes acknowledged, %d attempts failed", len(acked), errs)
	c.EnsureSame()
	if lost := c.EnsureAcked("acked", acked); lost != 0 {
		t.Fatalf("%d acknowledged writes lost", lost)
	}
	c.EnsureNoDivergence()
	var metrics strings.Builder
	resp, err = http.Get("http://" + c.Leader(10*time.Second).HTTPAddr() + "/metrics")
	if err == nil {
		_, _ = io.Copy(&metrics, resp.Body)
		resp.Body.Close()
	}
	if l := c.Leader(10 * time.Second); l == leader && !strings.Contains(metrics.String(), "heliosdb_antientropy_reinstalled_total 1\n") {
		t.Fatalf("leader metrics do not count the reinstall:\n%s", metrics.String())
	}
}
