package replication

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestClusterFormationAndForwarding(t *testing.T) {
	c := newCluster(t, 3, false)
	c.startAll()
	l := c.leader()
	c.waitVoters("n1", "n2", "n3")
	t.Logf("leader after bootstrap-expect: %s", l.id)
	// Writes through every node; followers forward to the leader.
	var last uint64
	for i, tn := range c.nodes {
		resp, idx, err := tn.n.Apply(ctxT(t, 5*time.Second), []byte(fmt.Sprintf("set k%d v%d", i, i)))
		if err != nil || resp != nil {
			t.Fatalf("%s apply: %v %v", tn.id, resp, err)
		}
		last = max(last, idx)
		// Responses survive forwarding.
		resp, _, err = tn.n.Apply(ctxT(t, 5*time.Second), []byte(fmt.Sprintf("set k%d w%d", i, i)))
		if err != nil || string(resp.([]byte)) != fmt.Sprintf("v%d", i) {
			t.Fatalf("%s second apply: %v %v", tn.id, resp, err)
		}
		// FSM errors keep their SQLSTATE across the hop.
		for attempt := 0; attempt < 20; attempt++ {
			_, _, err = tn.n.Apply(ctxT(t, 5*time.Second), []byte("fail 23505 duplicate key value"))
			if !IsRetryable(err) {
				break // a starved leader may lose its lease: retry as a client would
			}
			time.Sleep(50 * time.Millisecond)
		}
		if SQLState(err) != "23505" || err.Error() != "duplicate key value" {
			t.Fatalf("%s: fsm error came back as %v (%s)", tn.id, err, SQLState(err))
		}
		if tn != l {
			var re *RemoteError
			if !errors.As(err, &re) {
				t.Fatalf("%s: forwarded fsm error is %T, want *RemoteError", tn.id, err)
			}
		}
	}
	// Linearizable reads on every node see every acknowledged write.
	for _, tn := range c.nodes {
		if err := tn.n.LinearizableRead(ctxT(t, 5*time.Second)); err != nil {
			t.Fatalf("%s read: %v", tn.id, err)
		}
		for i := range c.nodes {
			if v, _ := tn.fsm.get(fmt.Sprintf("k%d", i)); v != fmt.Sprintf("w%d", i) {
				t.Fatalf("%s: linearizable read of k%d = %q", tn.id, i, v)
			}
		}
		if err := tn.n.Barrier(ctxT(t, 5*time.Second)); err != nil {
			t.Fatalf("%s barrier: %v", tn.id, err)
		}
	}
	c.ensureSame(last)

	ms, err := c.nodes[1].n.Members()
	if err != nil || len(ms) != 3 {
		t.Fatalf("members: %v %v", ms, err)
	}
	leaders := 0
	for _, m := range ms {
		if m.Role == RoleLeader {
			leaders++
		}
		if !m.Voter || m.AdminAddr == "" || m.PGAddr == "" || m.RaftAddr == "" || m.GossipAddr == "" {
			t.Errorf("member %+v incomplete", m)
		}
	}
	if leaders != 1 {
		t.Fatalf("members report %d leaders: %+v", leaders, ms)
	}
	eventually(t, 5*time.Second, "all members healthy", func() bool {
		ms, _ := c.nodes[1].n.Members()
		for _, m := range ms {
			if !m.Healthy || m.GossipState != "alive" {
				return false
			}
		}
		return true
	})
}
