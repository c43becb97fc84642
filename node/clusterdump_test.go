package node

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heliosdb/heliosdb-lite/internal/proctest"
	"github.com/heliosdb/heliosdb-lite/snapshot"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(proctest.FreePort(t)))
}

// testLogWriter collects a node's log and prints it only if the test
// fails. It never calls t.Log from the node's goroutines, some of which
// (memberlist's) may still log a line after the test has finished.
type testLogWriter struct {
	mu  *sync.Mutex
	buf *strings.Builder
}

func newTestLogWriter(t *testing.T) testLogWriter {
	w := testLogWriter{mu: &sync.Mutex{}, buf: &strings.Builder{}}
	t.Cleanup(func() {
		if t.Failed() {
			w.mu.Lock()
			t.Log(w.buf.String())
			w.mu.Unlock()
		}
	})
	return w
}

func (w testLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.buf.Len() < 4<<20 {
		w.buf.Write(p)
	}
	return len(p), nil
}

// startCluster starts n in-process nodes over real TCP on loopback, each
// with its own data dir and backup dir, and waits until they form.
func startCluster(t *testing.T, count int, adjust ...func(*Config)) ([]*Node, []Config) {
	t.Helper()
	cfgs := make([]Config, count)
	var gossip []string
	for i := range cfgs {
		c := DefaultConfig()
		c.Server.NodeID = fmt.Sprintf("n%d", i+1)
		c.Server.Port = 0
		c.Server.DataDir = t.TempDir()
		c.Cluster.RaftAddr = freeAddr(t)
		c.Cluster.GossipAddr = freeAddr(t)
		c.Cluster.HTTPAddr = freeAddr(t)
		c.Cluster.BootstrapExpect = count
		c.Dump.BackupDir = t.TempDir()
		for _, a := range adjust {
			a(&c)
		}
		gossip = append(gossip, c.Cluster.GossipAddr)
		cfgs[i] = c
	}
	for i := range cfgs {
		cfgs[i].Cluster.Join = gossip
	}
	nodes := make([]*Node, count)
	for i := range cfgs {
		nodes[i] = startNode(t, cfgs[i])
	}
	waitFor(t, 30*time.Second, "cluster formed", func() bool {
		for _, n := range nodes {
			if ms, err := n.repl.Members(); err != nil || len(ms) != count {
				return false
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return nodes[0].repl.LinearizableRead(ctx) == nil
	})
	return nodes, cfgs
}

func startNode(t *testing.T, c Config) *Node {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(newTestLogWriter(t), &slog.HandlerOptions{Level: slog.LevelWarn}))
	n, err := Start(context.Background(), c, logger.With("node", c.Server.NodeID))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	return n
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func connect(t *testing.T, n *Node) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), "postgres://postgres@"+n.PGAddr()+"/postgres?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// TestClusterDump: under concurrent writes, a cluster-wide dump makes every
// node write a byte-identical file at the same LSN; each file loads and
// passes its own row-hash check; a node that is down during the dump writes
// the same file when it comes back and replays the marker.
func TestClusterDump(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	nodes, cfgs := startCluster(t, 3)
	ctx := context.Background()
	c := connect(t, nodes[0])
	if _, err := c.Exec(ctx, "create table acct (id bigint primary key, balance bigint not null)"); err != nil {
		t.Fatal(err)
	}
	// Under -race on a loaded machine the insert may come back with
	// "completion unknown" (40003) after it committed: look before trying
	// again (a blind retry failed on a duplicate key).
	for attempt := 1; ; attempt++ {
		_, err := c.Exec(ctx, "insert into acct select g, 100 from generate_series(1, 500) g")
		if err == nil {
			break
		}
		var n int64
		if cerr := c.QueryRow(ctx, "select count(*) from acct").Scan(&n); cerr == nil && n == 500 {
			break // it had committed
		} else if attempt == 3 || cerr != nil || n != 0 {
			t.Fatalf("filling acct: %v (then %d rows, %v)", err, n, cerr)
		}
	}
	// Writers keep going through a follower during the dump.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var writes atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		wc := connect(t, nodes[1])
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := wc.Exec(ctx, "update acct set balance = balance + 1 where id = $1", 1+i%500); err == nil {
				writes.Add(1)
			}
		}
	}()
	waitFor(t, 10*time.Second, "writes in flight", func() bool { return writes.Load() > 20 })
	res, err := nodes[2].ClusterDump(ctx, ClusterDumpOptions{Compression: "zstd", Wait: time.Minute})
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	var report strings.Builder
	res.WriteReport(&report)
	t.Log(report.String())
	if !res.Agree || len(res.Records) != 3 {
		t.Fatalf("records: %+v", res.Records)
	}
	for _, r := range res.Records {
		if r.Status != "done" || r.Checksum != res.Records[0].Checksum || r.LSN != res.LSN {
			t.Fatalf("node %s: %+v", r.Node, r)
		}
		// The reported size and checksum (taken while writing) are the file's.
		if size, sum, err := fileChecksum(r.Path); err != nil || size != r.Size || sum != r.Checksum {
			t.Fatalf("node %s: file %d bytes, checksum %s (%v); reported %d, %s", r.Node, size, sum, err, r.Size, r.Checksum)
		}
		f, err := os.Open(r.Path)
		if err != nil {
			t.Fatal(err)
		}
		lr, err := snapshot.Load(ctx, f, nil)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", r.Path, err)
		}
		if lr.State.LSN() > res.LSN {
			t.Fatalf("dump holds LSN %d beyond its marker %d", lr.State.LSN(), res.LSN)
		}
		if tb, ok := lr.State.Table("acct"); !ok || tb.Len() != 500 {
			t.Fatalf("dump content wrong")
		}
	}

	// An appended incremental cluster dump chains on every node alike.
	if _, err := c.Exec(ctx, "update acct set balance = 0 where id <= 10"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, "delete from acct where id > 490"); err != nil {
		t.Fatal(err)
	}
	inc, err := nodes[1].ClusterDump(ctx, ClusterDumpOptions{Compression: "zstd", AppendTo: res.Name + ".heliodump", Wait: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if !inc.Agree {
		t.Fatalf("appended dump checksums differ: %+v", inc.Records)
	}
	for _, r := range inc.Records {
		if r.Status != "done" || r.Checksum != inc.Records[0].Checksum {
			t.Fatalf("append on %s: %+v", r.Node, r)
		}
		f, err := os.Open(r.Path)
		if err != nil {
			t.Fatal(err)
		}
		lr, err := snapshot.Load(ctx, f, nil)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", r.Path, err)
		}
		tb, _ := lr.State.Table("acct")
		if len(lr.Segments) != 2 || tb.Len() != 490 || lr.State.LSN() > inc.LSN {
			t.Fatalf("%s: %d segments, %d rows, LSN %d (marker %d)", r.Path, len(lr.Segments), tb.Len(), lr.State.LSN(), inc.LSN)
		}
	}

	// Node 3 down during a dump: reported missing, then writes the same
	// file once it is back.
	_ = nodes[2].Close()
	waitFor(t, 20*time.Second, "n3 seen as down", func() bool {
		ms, _ := nodes[0].repl.Members()
		for _, m := range ms {
			if m.ID == "n3" && !m.Healthy {
				return true
			}
		}
		return false
	})
	res2, err := nodes[0].ClusterDump(ctx, ClusterDumpOptions{Compression: "lz4", Wait: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res2.Name == res.Name {
		t.Fatalf("two cluster dumps got one name %s: the second replaces the first's files", res.Name)
	}
	var missing, done int
	var sum string
	for _, r := range res2.Records {
		switch {
		case r.Node == "n3" && r.Status == "missing":
			missing++
		case r.Status == "done":
			done++
			sum = r.Checksum
		}
	}
	if missing != 1 || done != 2 {
		t.Fatalf("with n3 down: %+v", res2.Records)
	}
	n3 := startNode(t, cfgs[2])
	path := filepath.Join(cfgs[2].Dump.BackupDir, res2.Name+".heliodump")
	waitFor(t, 30*time.Second, "n3 writes the dump after catching up", func() bool {
		r, ok, _ := n3.dumps.get(res2.ID)
		return ok && r.Status == "done"
	})
	_, got, err := fileChecksum(path)
	if err != nil || got != sum {
		t.Fatalf("n3's late file: checksum %s (%v), others %s", got, err, sum)
	}

	// The catalog lists both dumps on all three nodes, verified.
	for _, n := range []*Node{nodes[0], nodes[1], n3} {
		n.verifyBackups()
	}
	waitFor(t, 20*time.Second, "n3 healthy again", func() bool {
		ms, _ := nodes[0].repl.Members()
		healthy := 0
		for _, m := range ms {
			if m.Healthy {
				healthy++
			}
		}
		return healthy == 3
	})
	entries, problems := nodes[0].ClusterBackups(ctx)
	if len(problems) > 0 || len(entries) != 2 {
		t.Fatalf("catalog: %+v %v", entries, problems)
	}
	for _, e := range entries {
		if len(e.Nodes) != 3 || (e.Kind != "full" && e.Kind != "full+1 inc") || !strings.HasPrefix(e.Verified, "ok ") {
			t.Fatalf("catalog entry: %+v", e)
		}
	}
	// Bit rot in one node's copy is caught by the next verification.
	raw, _ := os.ReadFile(path)
	raw[len(raw)/2] ^= 0xFF
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	n3.verifyBackups()
	entries, _ = n3.LocalBackups()
	var failed bool
	for _, e := range entries {
		if e.File == filepath.Base(path) && strings.HasPrefix(e.Verified, "FAILED") {
			failed = true
		}
	}
	if !failed {
		t.Fatalf("corrupted dump not reported: %+v", entries)
	}
}

// fakeClock drives a pacedWriter without real sleeping.
type fakeClock struct {
	t     time.Time
	slept time.Duration
}

func (c *fakeClock) now() time.Time { return c.t }
func (c *fakeClock) sleep(d time.Duration) {
	c.slept += d
	c.t = c.t.Add(d)
}

func TestPacedWriterPacesOnlyWhileBusy(t *testing.T) {
	const rate = 1 << 20
	data := make([]byte, 4<<20+123)
	for i := range data {
		data[i] = byte(i * 7)
	}
	for _, tc := range []struct {
		name string
		busy bool
	}{{"busy", true}, {"idle", false}} {
		t.Run(tc.name, func(t *testing.T) {
			clk := &fakeClock{t: time.Unix(1000, 0)}
			var idx uint64
			applied := func() uint64 {
				if tc.busy {
					idx++ // a write applied between any two calls
				}
				return idx
			}
			var out strings.Builder
			p := newPacedWriter(&out, rate, applied)
			p.now, p.sleep = clk.now, clk.sleep
			// Start idle long enough for the idle case to count as idle.
			clk.t = clk.t.Add(time.Second)
			for off := 0; off < len(data); off += 300_001 {
				n, err := p.Write(data[off:min(off+300_001, len(data))])
				if err != nil || n != min(300_001, len(data)-off) {
					t.Fatalf("Write: %d, %v", n, err)
				}
			}
			if out.String() != string(data) {
				t.Fatal("paced output differs from the input")
			}
			if !tc.busy {
				if clk.slept != 0 {
					t.Fatalf("idle node: slept %v, want no pacing", clk.slept)
				}
				return
			}
			// A full bucket (one chunk) goes at once; the rest at rate.
			want := time.Duration(float64(len(data)-pacedChunk) / rate * float64(time.Second))
			if d := clk.slept - want; d < -time.Millisecond || d > time.Millisecond {
				t.Fatalf("busy node: slept %v, want %v", clk.slept, want)
			}
		})
	}
}
