package replication

import (
	"io"
	"sync"

	"github.com/hashicorp/raft"
)

// AppliedIndexer may be implemented by the caller's FSM to report the last
// log index it has applied (or restored from a snapshot). When present it is
// the authority for Node.AppliedIndex; otherwise trackingFSM keeps count.
type AppliedIndexer interface {
	AppliedIndex() uint64
}

// trackingFSM wraps the caller's FSM to know which index the FSM has really
// consumed: raft.Raft.AppliedIndex only says what was handed to the FSM's
// goroutine, which may be ahead of the FSM's state, and a linearizable read
// must wait for the state itself.
//
// Apply, ApplyBatch, Snapshot and Restore are called by raft's FSM goroutine
// only (never concurrently with each other); waiters read through mu.
type trackingFSM struct {
	inner raft.FSM
	// snapIndex returns the index of the newest snapshot in the store; used
	// after Restore, whose interface does not say which index it restored.
	snapIndex func() uint64

	mu struct {
		sync.Mutex               // guards the fields below
		applied    uint64        // last index applied or restored
		changed    chan struct{} // closed and replaced whenever applied moves
	}
}

func newTrackingFSM(inner raft.FSM) *trackingFSM {
	f := &trackingFSM{inner: inner}
	f.mu.changed = make(chan struct{})
	return f
}

func (f *trackingFSM) setApplied(idx uint64, force bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if idx > f.mu.applied || (force && idx != f.mu.applied) {
		f.mu.applied = idx
		close(f.mu.changed)
		f.mu.changed = make(chan struct{})
	}
}

// applied returns the FSM's applied index and a channel closed when it
// changes.
func (f *trackingFSM) applied() (uint64, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	idx := f.mu.applied
	if ai, ok := f.inner.(AppliedIndexer); ok {
		idx = ai.AppliedIndex()
	}
	return idx, f.mu.changed
}

func (f *trackingFSM) Apply(l *raft.Log) any {
	r := f.inner.Apply(l)
	f.setApplied(l.Index, false)
	return r
}

// ApplyBatch keeps batching if the inner FSM supports it.
func (f *trackingFSM) ApplyBatch(logs []*raft.Log) []any {
	if len(logs) == 0 {
		return nil
	}
	var out []any
	if b, ok := f.inner.(raft.BatchingFSM); ok {
		out = b.ApplyBatch(logs)
	} else {
		out = make([]any, len(logs))
		for i, l := range logs {
			if l.Type == raft.LogCommand {
				out[i] = f.inner.Apply(l)
			}
		}
	}
	f.setApplied(logs[len(logs)-1].Index, false)
	return out
}

func (f *trackingFSM) Snapshot() (raft.FSMSnapshot, error) { return f.inner.Snapshot() }

// Restore replaces the FSM state; the applied index becomes the index of the
// snapshot being restored, which raft has already put in the snapshot store
// (install, user restore) or picked as the newest (start-up).
func (f *trackingFSM) Restore(rc io.ReadCloser) error {
	if err := f.inner.Restore(rc); err != nil {
		return err
	}
	if f.snapIndex != nil {
		f.setApplied(f.snapIndex(), true)
	}
	return nil
}
