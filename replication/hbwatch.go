package replication

import (
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// Heartbeat health, as the leader sees it.
//
// Gossip takes seconds to call a killed server suspect, then dead
// (memberlist's probe and suspicion timeouts), so `members` and
// heliosdb.members went on showing a SIGKILLed follower as healthy for
// about five seconds. The leader knows much sooner: it heartbeats every
// follower every HeartbeatTimeout/10 and raft reports the first failed
// heartbeat (FailedHeartbeatObservation) and the first one that gets
// through again (ResumedHeartbeatObservation). On the leader, a follower
// whose heartbeats fail is not healthy whatever gossip says.

// hbHealth holds the followers whose heartbeats fail, with the time of
// their last contact.
type hbHealth struct {
	mu      sync.Mutex
	failing map[raft.ServerID]time.Time
}

// failingSince returns the last contact of a follower whose heartbeats
// fail now, and false if they do not (or this node is not the leader).
func (h *hbHealth) failingSince(id raft.ServerID) (time.Time, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t, ok := h.failing[id]
	return t, ok
}

func (n *Node) runHeartbeatWatch() {
	ch := make(chan raft.Observation, 64)
	obs := raft.NewObserver(ch, false, func(o *raft.Observation) bool {
		switch o.Data.(type) {
		case raft.FailedHeartbeatObservation, raft.ResumedHeartbeatObservation, raft.LeaderObservation, raft.PeerObservation:
			return true
		}
		return false
	})
	n.raft.RegisterObserver(obs)
	defer n.raft.DeregisterObserver(obs)
	for {
		select {
		case <-n.shutdownCh:
			return
		case o := <-ch:
			n.hb.mu.Lock()
			switch d := o.Data.(type) {
			case raft.FailedHeartbeatObservation:
				if n.hb.failing == nil {
					n.hb.failing = map[raft.ServerID]time.Time{}
				}
				if _, already := n.hb.failing[d.PeerID]; !already {
					n.hb.failing[d.PeerID] = d.LastContact
				}
			case raft.ResumedHeartbeatObservation:
				delete(n.hb.failing, d.PeerID)
			case raft.LeaderObservation:
				clear(n.hb.failing) // a new term: the new leader's heartbeats decide
			case raft.PeerObservation:
				// Removed, or (re-)added: the heartbeats that failed were
				// those of a replication stream that no longer runs. A new
				// stream reports its own failures but never a "resumed"
				// for the old one's, so without this a removed follower
				// that came back stayed unhealthy for good.
				delete(n.hb.failing, d.Peer.ID)
			}
			n.hb.mu.Unlock()
		}
	}
}
