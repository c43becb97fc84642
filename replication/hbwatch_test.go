package replication

import (
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// A follower that dies is unhealthy in the leader's Members as soon as
// the leader's heartbeats to it fail, before gossip (here memberlist's
// default, seconds-long failure detection) calls it dead; it is healthy
// again once it is back.
func TestMembersUnhealthyOnFailedHeartbeats(t *testing.T) {
	c := newCluster(t, 3, true)
	for _, tn := range c.nodes {
		tn.cfg.Gossip = func(mc *memberlist.Config) {
			mc.ProbeInterval, mc.ProbeTimeout, mc.SuspicionMult = 2*time.Second, time.Second, 6
		}
	}
	c.startAll()
	l := c.leader()
	c.waitVoters("n1", "n2", "n3")
	f := followers(c, l)[0]
	c.stop(f)
	stopped := time.Now()
	var gossip string
	eventually(t, 20*time.Second, f.id+" unhealthy in the leader's members", func() bool {
		ms, err := l.n.Members()
		if err != nil {
			return false
		}
		for _, m := range ms {
			if m.ID == f.id {
				gossip = m.GossipState
				return !m.Healthy
			}
		}
		return false
	})
	t.Logf("%s unhealthy %v after it stopped; gossip state then: %s", f.id, time.Since(stopped).Round(time.Millisecond), gossip)
	if gossip != "alive" {
		t.Fatalf("%s was reported unhealthy only once gossip saw it %s: heartbeats were not used", f.id, gossip)
	}
	c.start(f)
	eventually(t, 30*time.Second, f.id+" healthy again", func() bool {
		ms, err := l.n.Members()
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
}
