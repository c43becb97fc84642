package replication

import (
	"context"
	"errors"

	"github.com/hashicorp/raft"
)

// ApplyFuture is a proposal made by ApplyAsync. Wait is called by one
// goroutine; it may be called again and returns the same outcome.
type ApplyFuture struct {
	n *Node
	f raft.ApplyFuture // nil when the outcome is already known

	done  bool
	resp  any
	index uint64
	err   error
}

// ApplyAsync proposes payload without waiting for it to commit, so a
// caller can keep several entries in flight (restore streams a dump as
// many entries). On the leader, entries proposed by one goroutine enter
// the log, and so are applied, in call order. Elsewhere (a follower of a
// cluster forwards to the leader, a node without leadership fails) it
// does what Apply does, synchronously, and returns a finished future, so
// the order still holds. Outcomes are those of Apply, reported by Wait.
func (n *Node) ApplyAsync(ctx context.Context, payload []byte) *ApplyFuture {
	if n.closed() {
		return &ApplyFuture{done: true, err: ErrShutdown}
	}
	if n.IsLeader() {
		return &ApplyFuture{n: n, f: n.raft.Apply(payload, n.enqueueTimeout(ctx))}
	}
	resp, index, err := n.Apply(ctx, payload)
	return &ApplyFuture{done: true, resp: resp, index: index, err: err}
}

// Wait blocks until the entry is applied (or fails) and returns what
// Apply would have: the FSM's response, the log index and the error (an
// FSM error value comes back as err, with the index). If ctx ends first,
// err matches ErrOutcomeUnknown and a later Wait may still learn the
// outcome.
func (a *ApplyFuture) Wait(ctx context.Context) (resp any, index uint64, err error) {
	if a.done {
		return a.resp, a.index, a.err
	}
	if err := a.n.waitFuture(ctx, a.f); err != nil {
		if errors.Is(err, ErrOutcomeUnknown) {
			return nil, 0, err
		}
		a.done, a.err = true, err
		return nil, 0, err
	}
	a.done, a.index = true, a.f.Index()
	if e, ok := a.f.Response().(error); ok {
		a.err = e
	} else {
		a.resp = a.f.Response()
	}
	return a.resp, a.index, a.err
}
