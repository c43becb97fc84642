package engine

import (
	"errors"
	"sync/atomic"
)

// Debug hooks change a replica's data behind the log's back, to test that
// anti-entropy finds and repairs what raft cannot see (memory corruption, a
// bad restore, a manual edit). They are off unless EnableDebugHooks was
// called; production code never calls it (the admin endpoint that does is
// only compiled with the heliosdb_debug build tag).

// ErrDebugDisabled: a debug hook was called without EnableDebugHooks.
var ErrDebugDisabled = errors.New("engine: debug hooks are disabled (test builds only)")

var debugHooks atomic.Bool

// EnableDebugHooks turns the Debug* methods on for the whole process.
func EnableDebugHooks() { debugHooks.Store(true) }

// DebugPutRow stores enc at key in table without a log entry and without
// touching the LSN. With keepHash the stored row hash and the leaves are
// left as they were (bit rot: only a rebuild of the leaves from the rows
// notices); otherwise they follow the new bytes (a buggy write).
func (e *Engine) DebugPutRow(table, key string, enc []byte, keepHash bool) error {
	return e.debugEdit(table, func(t *tableState) {
		old, exists := t.rows.Get(key)
		var lsn uint64
		if exists {
			lsn = old.r.lsn()
		}
		it := rowItem{r: newRec(key, string(enc), lsn), hash: RowHash(table, key, string(enc))}
		if keepHash && exists {
			it.hash = old.hash
		}
		if exists {
			_, oldEnc, _ := old.r.fields()
			t.hashSum -= old.hash
			t.leaves.add(LeafOf(key), -old.hash)
			t.bytes -= int64(len(oldEnc))
		}
		t.rows.Set(it)
		t.log.reset(e.cur.Load().lsn) // the row changed behind the log's back
		t.hashSum += it.hash
		t.leaves.add(LeafOf(key), it.hash)
		t.bytes += int64(len(enc))
	})
}

// DebugDeleteRow removes the row at key without a log entry or tombstone.
// Secondary indexes are not maintained by the debug hooks: they are for
// tables the tests scan by primary key.
func (e *Engine) DebugDeleteRow(table, key string) error {
	return e.debugEdit(table, func(t *tableState) {
		old, ok := t.rows.Delete(key)
		if !ok {
			return
		}
		t.log.reset(e.cur.Load().lsn) // the row vanished behind the log's back
		_, oldEnc, _ := old.r.fields()
		t.hashSum -= old.hash
		t.leaves.add(LeafOf(key), -old.hash)
		t.bytes -= int64(len(oldEnc))
	})
}

// DebugRestoreRows replaces every table's rows with those of old (a state
// this engine had earlier) while keeping the current LSN: a node "restored
// from an old dump" behind raft's back. Tables absent from old keep their
// rows.
func (e *Engine) DebugRestoreRows(old *State) error {
	if !debugHooks.Load() {
		return ErrDebugDisabled
	}
	e.applyMu.Lock()
	defer e.applyMu.Unlock()
	cur := e.cur.Load()
	next := *cur
	next.tables = make(map[string]*tableState, len(cur.tables))
	for name, t := range cur.tables {
		if o, ok := old.tables[name]; ok && o.def.Name == t.def.Name {
			c := t.clone()
			c.rows, c.hashSum, c.leaves, c.bytes = o.rows.Copy(), o.hashSum, o.leaves.clone(), o.bytes
			c.log.reset(cur.lsn) // rows moved behind the log's back
			c.idx = make([]*btreeIdx, len(o.idx))
			for i, ix := range o.idx {
				c.idx[i] = ix.Copy()
			}
			t = c
		}
		next.tables[name] = t
	}
	e.cur.Store(&next)
	return nil
}

func (e *Engine) debugEdit(table string, edit func(t *tableState)) error {
	if !debugHooks.Load() {
		return ErrDebugDisabled
	}
	e.applyMu.Lock()
	defer e.applyMu.Unlock()
	cur := e.cur.Load()
	t, ok := cur.tables[table]
	if !ok {
		return newErrorf(CodeUndefinedTable, "relation %q does not exist", table)
	}
	next := *cur
	next.tables = make(map[string]*tableState, len(cur.tables))
	for k, v := range cur.tables {
		next.tables[k] = v
	}
	c := t.clone()
	edit(c)
	next.tables[table] = c
	e.cur.Store(&next)
	return nil
}
