package replication

import (
	"context"
	"fmt"
	"sync"
)

// Read-index batching.
//
// Every linearizable read needs the leader to confirm, with a quorum, that
// it still leads (raft's VerifyLeader: a heartbeat round). Done per read it
// costs a round trip through raft's leader loop each, so concurrent reads
// share one: a read joins the next round that has not started yet (never
// one already in flight, whose commit index may predate the read), and
// one runReadRounds goroutine runs rounds back to back while reads wait —
// the read-index batching of etcd's linearizableReadLoop. In single-node
// mode this node is the only voter: no other leader can exist and every
// acknowledged write has already been applied here, so no round is needed
// at all (readIndex).

// readRound is one VerifyLeader shared by the reads that joined it. idx and
// err are written before done is closed.
type readRound struct {
	done chan struct{}
	idx  uint64
	err  error
}

// readRounds is the batcher's state.
type readRounds struct {
	mu      sync.Mutex // guards next and running
	next    *readRound // round that new reads join; nil when none is waiting
	running bool       // runReadRounds is active
}

// verifiedCommitIndex returns the commit index as of a VerifyLeader round
// that started after the call.
func (n *Node) verifiedCommitIndex(ctx context.Context) (uint64, error) {
	r := &n.reads
	r.mu.Lock()
	if n.closed() {
		r.mu.Unlock()
		return 0, ErrShutdown
	}
	round := r.next
	if round == nil {
		round = &readRound{done: make(chan struct{})}
		r.next = round
	}
	if !r.running {
		r.running = true
		n.goFunc(n.runReadRounds)
	}
	r.mu.Unlock()
	select {
	case <-round.done:
		return round.idx, round.err
	case <-ctx.Done():
		return 0, fmt.Errorf("replication: confirming leadership for a read: %w", ctx.Err())
	case <-n.shutdownCh:
		return 0, ErrShutdown
	}
}

// runReadRounds runs VerifyLeader rounds while reads are waiting and
// returns when none is. raft answers every VerifyLeader, at the latest
// with ErrRaftShutdown, so each round ends.
func (n *Node) runReadRounds() {
	r := &n.reads
	for {
		r.mu.Lock()
		round := r.next
		r.next = nil
		if round == nil {
			r.running = false
			r.mu.Unlock()
			return
		}
		r.mu.Unlock()
		round.idx = n.raft.CommitIndex()
		round.err = mapRaftErr(n.raft.VerifyLeader().Error())
		close(round.done)
	}
}
