package replication

import (
	"errors"
	"syscall"
	"time"

	"github.com/hashicorp/raft"
)

// A follower that comes back is caught up at once.
//
// raft's leader replicates to each follower on its own goroutine; after a
// failed AppendEntries it sleeps before the next try, doubling the sleep
// with every failure up to 10.24 s (hashicorp/raft replication.go:
// backoff(10ms, failures, 12)), and nothing wakes it early. A follower
// that was down for ten seconds therefore waited up to 5 s after its
// restart for the leader's next try, one down for a minute up to 10 s
// (measured on loopback: 1.2 s after 10 s down, 1.8 s after 30 s down,
// 0.3 s after 1-3 s down).
//
// waitingTransport keeps raft's failure count from growing while the
// follower's process is simply not there: an AppendEntries whose
// connection is refused is retried every waitPoll for as long as this
// node leads and the follower is in the configuration, and returns as
// soon as the follower accepts it. To raft this looks like one slow RPC.
// Heartbeats are not held (they have their own capped backoff, and their
// failures are what tells the leader a follower is gone, hbwatch.go), nor
// are errors other than a refused connection (a timeout already took its
// time; anything else is raft's to handle as before).
type waitingTransport struct {
	*raft.NetworkTransport
	// wanted reports whether replicating to id is still this node's job.
	wanted func(id raft.ServerID) bool
	stop   <-chan struct{}
	poll   time.Duration
}

// waitPoll is how often a refused AppendEntries is tried again.
const waitPoll = 20 * time.Millisecond

func (t *waitingTransport) AppendEntries(id raft.ServerID, target raft.ServerAddress, args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) error {
	err := t.NetworkTransport.AppendEntries(id, target, args, resp)
	if err == nil || isHeartbeat(args) || !errors.Is(err, syscall.ECONNREFUSED) {
		return err
	}
	tick := time.NewTicker(t.poll)
	defer tick.Stop()
	for t.wanted(id) {
		select {
		case <-t.stop:
			return err
		case <-tick.C:
		}
		err = t.NetworkTransport.AppendEntries(id, target, args, resp)
		if err == nil || !errors.Is(err, syscall.ECONNREFUSED) {
			return err
		}
	}
	return err
}

// isHeartbeat: raft's heartbeat request carries only the term and the
// leader (no previous entry, no commit index, no entries).
func isHeartbeat(args *raft.AppendEntriesRequest) bool {
	return len(args.Entries) == 0 && args.PrevLogEntry == 0 && args.PrevLogTerm == 0 && args.LeaderCommitIndex == 0
}

// replicatingTo reports whether this node leads and id is in its
// configuration: whether a held AppendEntries to id should go on waiting.
func (n *Node) replicatingTo(id raft.ServerID) bool {
	r := n.raftRef.Load() // set once NewRaft returned; raft's goroutines call this
	if r == nil || r.State() != raft.Leader {
		return false
	}
	for _, s := range r.GetConfiguration().Configuration().Servers {
		if s.ID == id {
			return true
		}
	}
	return false
}
