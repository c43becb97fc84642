package replication

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/heliosdb/heliosdb-lite/internal/proctest"
)

// kvFSM is a tiny key/value FSM. Commands: "set k v" (response: previous
// value or nil), "fail code msg" (response: an error carrying an SQLSTATE).
type kvFSM struct {
	mu sync.Mutex // guards m
	m  map[string]string
}

func newKV() *kvFSM { return &kvFSM{m: map[string]string{}} }

type sqlErr struct{ code, msg string }

func (e *sqlErr) Error() string    { return e.msg }
func (e *sqlErr) SQLState() string { return e.code }

func (f *kvFSM) Apply(l *raft.Log) any {
	parts := strings.SplitN(string(l.Data), " ", 3)
	if len(parts) != 3 {
		return &sqlErr{"42601", "bad command " + string(l.Data)}
	}
	switch parts[0] {
	case "set":
		f.mu.Lock()
		defer f.mu.Unlock()
		prev, ok := f.m[parts[1]]
		f.m[parts[1]] = parts[2]
		if !ok {
			return nil
		}
		return []byte(prev)
	case "fail":
		return &sqlErr{parts[1], parts[2]}
	}
	return &sqlErr{"42601", "unknown command " + parts[0]}
}

func (f *kvFSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := make(map[string]string, len(f.m))
	for k, v := range f.m {
		c[k] = v
	}
	return kvSnap(c), nil
}

func (f *kvFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	m := map[string]string{}
	if err := json.NewDecoder(rc).Decode(&m); err != nil {
		return err
	}
	f.mu.Lock()
	f.m = m
	f.mu.Unlock()
	return nil
}

func (f *kvFSM) get(k string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.m[k]
	return v, ok
}

func (f *kvFSM) dump() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, _ := json.Marshal(f.m) // map keys are sorted: canonical bytes
	return string(b)
}

type kvSnap map[string]string

func (s kvSnap) Persist(sink raft.SnapshotSink) error {
	if err := json.NewEncoder(sink).Encode(map[string]string(s)); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}
func (kvSnap) Release() {}

// testLogger routes slog to t.Log until the test ends (late log lines from
// goroutines that outlive the test are dropped, not a panic).
func testLogger(t testing.TB) *slog.Logger {
	w := &tWriter{t: t}
	t.Cleanup(func() { w.mu.Lock(); w.done = true; w.mu.Unlock() })
	level := slog.LevelWarn
	if os.Getenv("REPLICATION_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
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

func freeAddr(t testing.TB) string {
	t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(proctest.FreePort(t)))
}

// testConfig derives from DefaultConfig with short timers for loopback.
func testConfig(t testing.TB, id string) Config {
	c := DefaultConfig()
	c.NodeID = id
	c.RaftBind = freeAddr(t)
	c.Logger = testLogger(t)
	// Short enough for fast failover tests, long enough that a leader
	// starved of CPU on a loaded 2-core machine rarely loses its lease.
	c.HeartbeatTimeout = 400 * time.Millisecond
	c.ElectionTimeout = 400 * time.Millisecond
	c.LeaderLeaseTimeout = 300 * time.Millisecond
	c.CommitTimeout = 10 * time.Millisecond
	c.SnapshotInterval = time.Hour // snapshots only when a test asks
	c.ForwardTimeout = 5 * time.Second
	c.LeaderWait = 5 * time.Second
	return c
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls cond until it holds or the deadline passes.
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

// mustRead waits for a linearizable read, retrying retryable failures (a
// leader that lost its lease on this loaded machine) until d passes.
func mustRead(t testing.TB, n *Node, d time.Duration) {
	t.Helper()
	ctx := ctxT(t, d)
	for {
		err := n.LinearizableRead(ctx)
		if err == nil {
			return
		}
		if !IsRetryable(err) || ctx.Err() != nil {
			t.Fatalf("%s: linearizable read: %v", n.ID(), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// mustApply applies cmd, retrying what a real client would retry: on this
// shared 2-core machine the tests' short raft timers can make a starved
// leader lose its lease mid-commit (ErrLeadershipLost, retryable). The
// test commands are idempotent "set" commands, so a retry of a write that
// did commit is harmless.
func mustApply(t testing.TB, n *Node, cmd string) uint64 {
	t.Helper()
	ctx := ctxT(t, 20*time.Second)
	for {
		_, idx, err := n.Apply(ctx, []byte(cmd))
		if err == nil {
			return idx
		}
		if !IsRetryable(err) || ctx.Err() != nil {
			t.Fatalf("%s: apply %q: %v", n.ID(), cmd, err)
		}
		t.Logf("%s: apply %q: %v; retrying", n.ID(), cmd, err)
		time.Sleep(50 * time.Millisecond)
	}
}
