package engine

import (
	"sync"
	"sync/atomic"
)

// State is one immutable version of the whole database: what a Snapshot
// returns and what Apply publishes. Readers may hold a State for as long as
// they like; it never changes underneath them.
type State struct {
	lsn     uint64
	tables  map[string]*tableState
	names   []string // sorted table names; the only way the apply path iterates tables
	horizon uint64   // tombstones with LSN <= horizon may have been pruned
	written int64    // cumulative bytes written, including dropped tables
}

// Snapshot is a consistent, immutable view of the database at one LSN.
type Snapshot = State

// LSN is the LSN of the last change set applied in this state.
func (s *State) LSN() uint64 { return s.lsn }

// TableNames returns the names of the tables clients see, sorted. Hidden
// tables (restore staging, see staging.go) are left out; AllTableNames
// has them.
func (s *State) TableNames() []string { return visibleNames(s.names) }

// Table returns a view of the named table.
func (s *State) Table(name string) (Table, bool) {
	t, ok := s.tables[name]
	return Table{t}, ok
}

// TombstoneHorizon is the LSN up to which tombstones may have been pruned:
// ChangesSince refuses LSNs below it.
func (s *State) TombstoneHorizon() uint64 { return s.horizon }

// Engine holds the current State and applies change sets to it. Apply calls
// are serialized by the engine; Snapshot is lock-free.
type Engine struct {
	cur atomic.Pointer[State]

	// applyMu serializes writers (Apply, Install, PruneTombstones) so each
	// builds on the state the previous one published.
	applyMu sync.Mutex

	// dirty guards the dump baseline used for dirty-byte accounting. It is
	// node-local bookkeeping, not replicated state.
	dirty struct {
		sync.Mutex
		total  int64
		tables map[string]int64
	}
}

// New returns an empty engine at LSN 0.
func New() *Engine {
	e := &Engine{}
	e.cur.Store(&State{tables: map[string]*tableState{}})
	return e
}

// Snapshot returns the current state. O(1): it is one atomic load.
func (e *Engine) Snapshot() *Snapshot { return e.cur.Load() }

// LSN returns the LSN of the last applied change.
func (e *Engine) LSN() uint64 { return e.cur.Load().lsn }

// Install replaces the whole state (restore of a snapshot or dump). The
// dump baseline is reset to the installed state: what was loaded from a
// dump is by definition not dirty.
func (e *Engine) Install(s *State) {
	e.applyMu.Lock()
	defer e.applyMu.Unlock()
	e.cur.Store(s)
	e.MarkDumped(s)
}

// AdvanceLSN records that log position lsn was consumed without changing
// data (a log entry that is not a change set, or one that failed). It keeps
// the engine's LSN equal to the last applied log index.
func (e *Engine) AdvanceLSN(lsn uint64) {
	e.applyMu.Lock()
	defer e.applyMu.Unlock()
	cur := e.cur.Load()
	if lsn <= cur.lsn {
		return
	}
	next := *cur
	next.lsn = lsn
	e.cur.Store(&next)
}

// Apply installs cs atomically with the given LSN. It checks every
// precondition first, then applies operations in order; any failure leaves
// the data unchanged (the LSN still advances, since the log position is
// consumed) and returns an *Error with a SQLSTATE. Apply is deterministic:
// the same change sets at the same LSNs give byte-identical states on every
// replica.
func (e *Engine) Apply(cs *ChangeSet, lsn uint64) error {
	e.applyMu.Lock()
	defer e.applyMu.Unlock()
	cur := e.cur.Load()
	if lsn <= cur.lsn {
		return newErrorf(CodeInternal, "engine: LSN %d not above current LSN %d", lsn, cur.lsn)
	}
	tx := txn{base: cur, lsn: lsn}
	err := tx.run(cs)
	if err != nil {
		next := *cur
		next.lsn = lsn
		e.cur.Store(&next)
		return err
	}
	e.cur.Store(tx.finish())
	return nil
}

// PruneTombstones forgets tombstones with LSN <= upTo. Afterwards
// ChangesSince refuses LSNs below upTo. Node-local: it changes no row and
// no hash, so replicas may prune at different times.
func (e *Engine) PruneTombstones(upTo uint64) {
	e.applyMu.Lock()
	defer e.applyMu.Unlock()
	cur := e.cur.Load()
	if upTo <= cur.horizon {
		return
	}
	next := *cur
	next.tables = make(map[string]*tableState, len(cur.tables))
	for _, name := range cur.names {
		t := cur.tables[name]
		var drop []string
		t.tombs.Scan(func(r tombItem) bool {
			if r.lsn() <= upTo {
				drop = append(drop, r.key())
			}
			return true
		})
		c := *t
		if len(drop) > 0 {
			c.tombs = t.tombs.Copy()
			for _, k := range drop {
				c.tombs.Delete(k)
			}
		}
		c.log.prune(upTo)
		next.tables[name] = &c
	}
	next.horizon = upTo
	e.cur.Store(&next)
}

// MarkDumped records that a dump of s completed: dirty bytes are counted
// from s onward.
func (e *Engine) MarkDumped(s *Snapshot) {
	e.dirty.Lock()
	defer e.dirty.Unlock()
	e.dirty.total = s.written
	e.dirty.tables = make(map[string]int64, len(s.tables))
	for name, t := range s.tables {
		e.dirty.tables[name] = t.written
	}
}

// DirtyBytes returns the bytes changed since the last completed dump, in
// total and for the named table (0 for an unknown table).
func (e *Engine) DirtyBytes(table string) (total, tableBytes int64) {
	s := e.cur.Load()
	e.dirty.Lock()
	defer e.dirty.Unlock()
	total = s.written - e.dirty.total
	if t, ok := s.tables[table]; ok {
		tableBytes = t.written - e.dirty.tables[table]
	}
	return total, tableBytes
}
