package replication

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	base := DefaultConfig()
	base.NodeID = "n1"
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		want string // substring of the message; "" = valid
	}{
		{"default ok", func(*Config) {}, ""},
		{"no id", func(c *Config) { c.NodeID = "" }, "NodeID is empty"},
		{"bind empty", func(c *Config) { c.RaftBind = "" }, "RaftBind is empty"},
		{"bind unspecified needs advertise", func(c *Config) { c.RaftBind = "0.0.0.0:7000" }, "not routable"},
		{"bind unspecified with advertise", func(c *Config) { c.RaftBind = "0.0.0.0:7000"; c.RaftAdvertise = "10.0.0.1:7000" }, ""},
		{"advertise unspecified", func(c *Config) { c.RaftAdvertise = "[::]:7000" }, "not routable"},
		{"advertise port 0", func(c *Config) { c.RaftAdvertise = "10.0.0.1:0" }, "port 0"},
		{"bad hostport", func(c *Config) { c.RaftBind = "localhost" }, "want host:port"},
		{"election < heartbeat", func(c *Config) { c.ElectionTimeout = c.HeartbeatTimeout / 2 }, "ElectionTimeout"},
		{"lease > heartbeat", func(c *Config) { c.LeaderLeaseTimeout = 2 * c.HeartbeatTimeout }, "LeaderLeaseTimeout"},
		{"retain 0", func(c *Config) { c.SnapshotRetain = 0 }, "SnapshotRetain"},
		{"threshold 0", func(c *Config) { c.SnapshotThreshold = 0 }, "SnapshotThreshold"},
		{"join without gossip", func(c *Config) { c.Join = []string{"a:1"} }, "need GossipBind"},
		{"cluster without admin", func(c *Config) { c.GossipBind = "127.0.0.1:7946" }, "AdminAddr is empty"},
		{"gossip unspecified", func(c *Config) { c.GossipBind = "0.0.0.0:7946"; c.AdminAddr = "127.0.0.1:8080" }, "GossipAdvertise"},
		{"expect too big", func(c *Config) {
			c.GossipBind, c.AdminAddr, c.BootstrapExpect = "127.0.0.1:7946", "127.0.0.1:8080", 9
		}, "BootstrapExpect"},
		{"cluster ok", func(c *Config) {
			c.GossipBind, c.AdminAddr, c.BootstrapExpect, c.Join = "127.0.0.1:7946", "127.0.0.1:8080", 3, []string{"10.0.0.2:7946"}
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			tc.mod(&c)
			err := c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want ErrInvalidConfig containing %q", err, tc.want)
			}
		})
	}
}

func TestSingleNodeInMemory(t *testing.T) {
	cfg := testConfig(t, "solo")
	fsm := newKV()
	n, err := Open(ctxT(t, 5*time.Second), cfg, fsm)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown()
	if _, _, err := n.WaitForLeader(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if !n.IsLeader() {
		t.Fatal("single node is not leader")
	}
	ctx := ctxT(t, 5*time.Second)
	resp, idx1, err := n.Apply(ctx, []byte("set a 1"))
	if err != nil || resp != nil {
		t.Fatalf("first set: resp=%v err=%v", resp, err)
	}
	resp, idx2, err := n.Apply(ctx, []byte("set a 2"))
	if err != nil || string(resp.([]byte)) != "1" || idx2 != idx1+1 {
		t.Fatalf("second set: resp=%v idx=%d/%d err=%v", resp, idx1, idx2, err)
	}
	// An FSM error comes back as err, with its category and the index.
	_, idx3, err := n.Apply(ctx, []byte("fail 23505 duplicate key"))
	if err == nil || SQLState(err) != "23505" || idx3 != idx2+1 || IsRetryable(err) {
		t.Fatalf("fsm error: idx=%d err=%v state=%s", idx3, err, SQLState(err))
	}
	if err := n.LinearizableRead(ctx); err != nil {
		t.Fatal(err)
	}
	if n.AppliedIndex() < idx3 {
		t.Fatalf("applied %d < %d after linearizable read", n.AppliedIndex(), idx3)
	}
	if err := n.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	if err := n.Snapshot(); err != nil {
		t.Fatal(err)
	}
	if err := n.Snapshot(); err != nil { // nothing new: not an error
		t.Fatal(err)
	}
	st := n.Stats()
	if st["node_id"] != "solo" || st["state"] != "Leader" || st["in_memory"] != "true" {
		t.Fatalf("stats: %v", st)
	}
	if err := n.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if err := n.Shutdown(); err != nil {
		t.Fatal("second shutdown:", err)
	}
	if _, _, err := n.Apply(ctx, []byte("set b 1")); !errors.Is(err, ErrShutdown) || !IsRetryable(err) || SQLState(err) != SQLStateAdminShutdown {
		t.Fatalf("apply after shutdown: %v", err)
	}
}

func TestSingleNodeRestartFromDataDir(t *testing.T) {
	cfg := testConfig(t, "solo")
	cfg.DataDir = t.TempDir()
	cfg.TrailingLogs = 10 // compact hard so restart needs snapshot + log
	open := func() (*Node, *kvFSM) {
		f := newKV()
		n, err := Open(ctxT(t, 5*time.Second), cfg, f)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := n.WaitForLeader(ctxT(t, 5*time.Second)); err != nil {
			t.Fatal(err)
		}
		return n, f
	}
	n, f := open()
	for i := range 100 {
		mustApply(t, n, fmt.Sprintf("set k%03d v%d", i, i))
		if i == 60 {
			if err := n.Snapshot(); err != nil {
				t.Fatal(err)
			}
		}
	}
	want, last := f.dump(), n.LastIndex()
	if err := n.Shutdown(); err != nil {
		t.Fatal(err)
	}

	n, f = open()
	defer n.Shutdown()
	if !n.hadState {
		t.Fatal("reopened node reports no existing state")
	}
	if err := n.LinearizableRead(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := f.dump(); got != want {
		t.Fatalf("state after restart differs:\n got %s\nwant %s", got, want)
	}
	if n.AppliedIndex() < last {
		t.Fatalf("applied %d < last index before restart %d", n.AppliedIndex(), last)
	}
	mustApply(t, n, "set after restart")
	if v, _ := f.get("after"); v != "restart" {
		t.Fatal("write after restart not applied")
	}
}

func TestErrorCategories(t *testing.T) {
	for _, tc := range []struct {
		err       error
		retryable bool
		state     string
	}{
		{ErrNotLeader, true, SQLStateSerializationFailure},
		{fmt.Errorf("x: %w", ErrLeadershipLost), true, SQLStateCompletionUnknown},
		{ErrShutdown, true, SQLStateAdminShutdown},
		{ErrNoLeader, true, SQLStateCannotConnectNow},
		{ErrForward, false, SQLStateConnectionFailure},
		{&sqlErr{"23505", "dup"}, false, "23505"},
		{errors.New("boom"), false, SQLStateInternalError},
		{toRemote(fmt.Errorf("wrapped: %w", ErrNotLeader)), true, SQLStateSerializationFailure},
		{toRemote(&sqlErr{"40001", "conflict"}), true, "40001"},
	} {
		if got := IsRetryable(tc.err); got != tc.retryable {
			t.Errorf("IsRetryable(%v) = %v", tc.err, got)
		}
		if got := SQLState(tc.err); got != tc.state {
			t.Errorf("SQLState(%v) = %s, want %s", tc.err, got, tc.state)
		}
	}
	re := toRemote(fmt.Errorf("wrapped: %w", ErrShutdown))
	if !errors.Is(re, ErrShutdown) {
		t.Error("remote error lost its sentinel")
	}
}
