package sql

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/heliosdb/heliosdb-lite/engine"
)

// Row locks.
//
// Optimistic concurrency alone starves on a hot row: every transaction of
// a TPC-B-like workload updates the one branch row, so by the time it
// commits somebody else has usually changed it, and the commit replay
// fails whenever the client saw a value that moved. As in PostgreSQL, a
// write therefore locks the rows (and table sequences) it changes on the
// node that evaluates it, until the transaction ends. A writer that had to
// wait, or finds that a row it locked changed since its snapshot, rebases:
// the statements so far are re-executed on a fresh snapshot and must give
// the client the same answers (else 40001), so the block continues as if
// it had started after the previous holder committed. Locks are a local
// scheduling aid only: preconditions checked in Apply still decide, so
// writers on other nodes, followers reading a stale local state and lost
// wake-ups can cost a retry, never correctness.

// lockKey names a row (table, encoded primary key) or, with isSeq, the
// sequence of column seq of a table (-1: the row id).
type lockKey struct {
	table string
	key   string
	seq   int
	isSeq bool
}

// lockOwner is one session's side of the lock table.
type lockOwner struct {
	// held and waiting are guarded by lockTable.mu.
	held    map[lockKey]struct{}
	waiting *rowLock
}

// rowLock is a held lock and its FIFO queue: a release hands it to the
// first waiter directly, so waiters cannot be overtaken forever.
type rowLock struct {
	owner *lockOwner
	queue []*lockWaiter
	// lsn is the LSN of the last commit of a previous owner (0: none
	// known): a state at least that new shows what the new owner waited for.
	lsn uint64
}

type lockWaiter struct {
	owner   *lockOwner
	granted chan struct{} // closed when owner becomes the lock's owner
}

// maxLockWait bounds one lock wait when the statement has no deadline; a
// wait that long is reported as a deadlock the detector could not see.
const maxLockWait = 30 * time.Second

// maxDeadlockWalk bounds the wait-for walk of the deadlock detector.
const maxDeadlockWalk = 10000

const codeDeadlock = "40P01"

func isDeadlock(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == codeDeadlock
}

// lockTable is the node's lock table, shared by all sessions of a DB.
type lockTable struct {
	mu struct {
		sync.Mutex // guards locks and every lockOwner's held and waiting
		locks      map[lockKey]*rowLock
	}
}

func newLockTable() *lockTable {
	lt := &lockTable{}
	lt.mu.locks = map[lockKey]*rowLock{}
	return lt
}

// acquire locks keys for o in order, waiting for other owners. It
// reports whether any lock had to be waited for, and the newest commit LSN
// the previous owners of the waited-for locks reported. On error the
// locks already taken stay held (they are released with the rest at the
// end of the transaction).
func (lt *lockTable) acquire(ctx context.Context, o *lockOwner, keys []lockKey) (waited bool, lsn uint64, err error) {
	for _, k := range keys {
		w, l, err := lt.acquireOne(ctx, o, k)
		if err != nil {
			return waited, lsn, err
		}
		waited = waited || w
		lsn = max(lsn, l)
	}
	return waited, lsn, nil
}

func (lt *lockTable) acquireOne(ctx context.Context, o *lockOwner, k lockKey) (bool, uint64, error) {
	lt.mu.Lock()
	l := lt.mu.locks[k]
	if l == nil {
		lt.mu.locks[k] = &rowLock{owner: o}
		lt.holdLocked(o, k)
		lt.mu.Unlock()
		return false, 0, nil
	}
	if l.owner == o {
		lt.mu.Unlock()
		return false, 0, nil
	}
	if lt.wouldDeadlockLocked(o, l) {
		lt.mu.Unlock()
		return false, 0, errorf(codeDeadlock, "deadlock detected")
	}
	w := &lockWaiter{owner: o, granted: make(chan struct{})}
	l.queue = append(l.queue, w)
	o.waiting = l
	lt.mu.Unlock()

	t := time.NewTimer(maxLockWait)
	defer t.Stop()
	var err error
	select {
	case <-w.granted:
	case <-ctx.Done():
		err = ctx.Err()
	case <-t.C:
		err = errorf(codeDeadlock, "deadlock detected (lock wait exceeded %v)", maxLockWait)
	}
	lt.mu.Lock()
	defer lt.mu.Unlock()
	o.waiting = nil
	if err == nil {
		return true, l.lsn, nil
	}
	select {
	case <-w.granted:
		// Granted while giving up: o owns it now and releases it with
		// the rest.
	default:
		for i, q := range l.queue {
			if q == w {
				l.queue = append(l.queue[:i], l.queue[i+1:]...)
				break
			}
		}
	}
	return false, 0, err
}

// wouldDeadlockLocked reports whether o waiting for l closes a cycle in
// the wait-for graph (o waits for l's owner, who waits for ... o).
func (lt *lockTable) wouldDeadlockLocked(o *lockOwner, l *rowLock) bool {
	cur := l.owner
	for range maxDeadlockWalk {
		if cur == o {
			return true
		}
		if cur == nil || cur.waiting == nil {
			return false
		}
		cur = cur.waiting.owner
	}
	// A cycle that does not pass through o is not o's to break.
	return false
}

func (lt *lockTable) holdLocked(o *lockOwner, k lockKey) {
	if o.held == nil {
		o.held = map[lockKey]struct{}{}
	}
	o.held[k] = struct{}{}
}

// releaseAll releases every lock o holds, handing each to its first
// waiter; lsn is the LSN o's writes committed at (0 if none).
func (lt *lockTable) releaseAll(o *lockOwner, lsn uint64) {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	for k := range o.held {
		l := lt.mu.locks[k]
		if l == nil || l.owner != o {
			continue
		}
		if len(l.queue) == 0 {
			delete(lt.mu.locks, k)
			continue
		}
		l.lsn = max(l.lsn, lsn)
		w := l.queue[0]
		l.queue[0] = nil
		l.queue = l.queue[1:]
		l.owner = w.owner
		w.owner.waiting = nil
		lt.holdLocked(w.owner, k)
		close(w.granted)
	}
	clear(o.held)
}

// writeKeys lists the rows and sequences (but not row-id sequences) a
// change set writes, sequences first: the row keys an insert gets depend on the sequence, so taking
// the sequence first keeps two inserters from each holding what the
// other needs.
func writeKeys(cs *engine.ChangeSet) []lockKey {
	var out []lockKey
	for _, op := range cs.Ops {
		switch op.Kind {
		case engine.OpInsert, engine.OpUpdate, engine.OpDelete, engine.OpUpsert:
			out = append(out, lockKey{table: op.Table, key: op.Key})
		case engine.OpSetSequence:
			if op.Seq < 0 {
				// Hidden row ids are not asserted, so not locked
				// (rowid.go).
				continue
			}
			out = append(out, lockKey{table: op.Table, seq: op.Seq, isSeq: true})
		}
	}
	slices.SortStableFunc(out, func(a, b lockKey) int {
		switch {
		case a.isSeq == b.isSeq:
			return 0
		case a.isSeq:
			return -1
		}
		return 1
	})
	return out
}

// changedSince reports whether any of keys differs between the states
// old and cur (row LSN or presence, sequence value).
func changedSince(old, cur *engine.State, keys []lockKey) bool {
	for _, k := range keys {
		ot, ook := old.Table(k.table)
		ct, cok := cur.Table(k.table)
		if ook != cok {
			return true
		}
		if !ook {
			continue
		}
		if k.isSeq {
			if ot.Sequence(k.seq) != ct.Sequence(k.seq) {
				return true
			}
			continue
		}
		or, of := ot.Get(k.key)
		cr, cf := ct.Get(k.key)
		if of != cf || (of && or.LSN != cr.LSN) {
			return true
		}
	}
	return false
}
