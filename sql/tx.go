package sql

import (
	"context"
	"time"

	"github.com/heliosdb/heliosdb-lite/engine"
	"github.com/heliosdb/heliosdb-lite/pgwire"
)

// changes accumulates one statement's change set.
type changes struct {
	cs      engine.ChangeSet
	preSeen map[engine.Precondition]bool // nil while few (see pre)
	// seqs are sequences allocated from during the statement.
	seqs     map[seqKey]*seqAlloc
	seqOrder []seqKey
	// ids hands out hidden row ids (rowid.go).
	ids *rowIDAlloc
}

type seqKey struct {
	table string
	col   int
}

type seqAlloc struct {
	cur int64
	// floor is where a hidden row-id allocation starts from (rowIDFloor).
	floor int64
}

func newChanges(ids *rowIDAlloc) *changes {
	return &changes{ids: ids}
}

// preSeenMin is the number of preconditions above which pre dedupes
// through a map instead of scanning them (most statements, point reads
// included, record one or two).
const preSeenMin = 16

func (ch *changes) pre(p engine.Precondition) {
	if ch.preSeen != nil {
		if ch.preSeen[p] {
			return
		}
		ch.preSeen[p] = true
	} else {
		for _, q := range ch.cs.Preconditions {
			if q == p {
				return
			}
		}
		if len(ch.cs.Preconditions) >= preSeenMin {
			ch.preSeen = make(map[engine.Precondition]bool, 2*preSeenMin)
			for _, q := range ch.cs.Preconditions {
				ch.preSeen[q] = true
			}
			ch.preSeen[p] = true
		}
	}
	ch.cs.Preconditions = append(ch.cs.Preconditions, p)
}

func (ch *changes) schema(table string, lsn uint64) {
	ch.pre(engine.Precondition{Kind: engine.PreSchema, Table: table, TableLSN: lsn})
}

func (ch *changes) rowLSN(table, key string, lsn uint64) {
	ch.pre(engine.Precondition{Kind: engine.PreRowLSN, Table: table, Key: key, LSN: lsn})
}

func (ch *changes) absent(table, key string) {
	ch.pre(engine.Precondition{Kind: engine.PreAbsent, Table: table, Key: key})
}

func (ch *changes) op(op engine.Op) { ch.cs.Ops = append(ch.cs.Ops, op) }

// nextval allocates the next value of a table's sequence, asserting the
// value it started from. Hidden row ids (col -1) come from the node's
// allocator instead and assert nothing about the sequence (rowid.go); the
// caller asserts that the row's key is absent.
func (ch *changes) nextval(tbl engine.Table, table string, col int) int64 {
	k := seqKey{table, col}
	a := ch.seqs[k]
	if a == nil {
		v := tbl.Sequence(col)
		if col < 0 {
			v = rowIDFloor(tbl)
		} else {
			ch.pre(engine.Precondition{Kind: engine.PreSequence, Table: table, Seq: col, Value: v})
		}
		a = &seqAlloc{cur: v, floor: v}
		if ch.seqs == nil {
			ch.seqs = map[seqKey]*seqAlloc{}
		}
		ch.seqs[k] = a
		ch.seqOrder = append(ch.seqOrder, k)
	}
	if col < 0 {
		a.cur = max(a.cur, ch.ids.next(table, a.floor))
		return a.cur
	}
	a.cur++
	return a.cur
}

// finish returns the change set, or nil when the statement changed nothing.
func (ch *changes) finish() *engine.ChangeSet {
	for _, k := range ch.seqOrder {
		ch.cs.Ops = append(ch.cs.Ops, engine.Op{Kind: engine.OpSetSequence, Table: k.table, Seq: k.col, Value: ch.seqs[k].cur})
	}
	ch.seqOrder = nil
	if len(ch.cs.Ops) == 0 {
		return nil
	}
	return &ch.cs
}

// txState is an open transaction block.
type txState struct {
	base *engine.State
	// priv is a private engine holding base plus the block's writes; nil
	// until the first write.
	priv    *engine.Engine
	privLSN uint64
	ops     []engine.Op
	pres    []engine.Precondition
	preSeen map[engine.Precondition]bool
	entries []txEntry
	// replayable is false once the block did something that cannot be
	// re-executed at commit (COPY FROM, DDL).
	replayable bool
	failed     bool
	now        time.Time
	savedLocal map[string]string
	readOnly   bool
	// implicit marks the block of a multi-statement simple Query
	// (implicit.go): it ends with the Query, committed if every statement
	// succeeded, else rolled back.
	implicit bool
}

type txEntry struct {
	run    func(x *execCtx) (*pgwire.Result, error)
	digest uint64
}

func (s *Session) begin(ctx context.Context) error {
	base, err := s.db.cfg.Snapshot(ctx, s.settings["heliosdb.read_consistency"])
	if err != nil {
		return err
	}
	s.tx = &txState{base: base, replayable: true, now: s.db.cfg.Clock(), preSeen: map[engine.Precondition]bool{}}
	return nil
}

func (tx *txState) view() *engine.State {
	if tx.priv != nil {
		return tx.priv.Snapshot()
	}
	return tx.base
}

// exec runs one statement inside the block, locks the rows it writes and
// applies its changes to the private engine. When a lock had to be waited
// for, or a written row changed since the block's snapshot, the block is
// first rebased on a fresh snapshot (see locks.go) and the statement
// evaluated again there.
func (tx *txState) exec(ctx context.Context, s *Session, run func(x *execCtx) (*pgwire.Result, error)) (*pgwire.Result, error) {
	for round := 0; ; round++ {
		x := s.newExec(ctx, tx.view(), tx.now)
		res, err := run(x)
		if err != nil {
			return nil, err
		}
		cs := x.ch.finish()
		if cs == nil {
			return res, nil
		}
		if tx.readOnly {
			return nil, errorf(codeReadOnlyTx, "cannot execute this statement in a read-only transaction")
		}
		if tx.replayable && round < maxRebases {
			cur, err := s.lockWrites(ctx, tx.base, cs)
			if err != nil {
				return nil, err
			}
			if cur != nil {
				if err := s.rebase(ctx, tx, cur); err != nil {
					return nil, err
				}
				continue
			}
		}
		if err := tx.apply(cs); err != nil {
			return nil, err
		}
		return res, nil
	}
}

// maxRebases bounds how often one statement rebases its block (or an
// autocommit statement is re-evaluated) because of its locks.
const maxRebases = 8

// maxLockedKeys is the largest write set that takes row locks; bigger
// statements (bulk loads) rely on preconditions alone.
const maxLockedKeys = 10000

// lockWrites locks what cs writes for the session. It returns a fresh
// state to re-evaluate on when the locked rows changed since base (or a
// lock had to be waited for and they did), nil when base is current for
// them.
func (s *Session) lockWrites(ctx context.Context, base *engine.State, cs *engine.ChangeSet) (*engine.State, error) {
	keys := writeKeys(cs)
	if len(keys) == 0 || len(keys) > maxLockedKeys {
		return nil, nil
	}
	waited, lsn, err := s.db.locks.acquire(ctx, &s.locks, keys)
	if err != nil {
		return nil, err
	}
	cur, err := s.db.cfg.Snapshot(ctx, "local")
	if err != nil {
		return nil, err
	}
	if waited && (lsn == 0 || cur.LSN() < lsn) {
		// This node has not applied what the previous holder committed
		// (or it did not say): read at the session's level to see it.
		if cur, err = s.db.cfg.Snapshot(ctx, s.settings["heliosdb.read_consistency"]); err != nil {
			return nil, err
		}
	}
	if cur.LSN() == base.LSN() || !changedSince(base, cur, keys) {
		return nil, nil
	}
	return cur, nil
}

// rebase moves the block onto cur: its statements so far are re-executed
// there and must give the client the same answers, else 40001.
func (s *Session) rebase(ctx context.Context, tx *txState, cur *engine.State) error {
	ntx, err := s.replayOn(ctx, tx, cur)
	if err != nil {
		return err
	}
	tx.base, tx.priv, tx.privLSN = ntx.base, ntx.priv, ntx.privLSN
	tx.ops, tx.pres, tx.preSeen = ntx.ops, ntx.pres, ntx.preSeen
	tx.replayable = tx.replayable && ntx.replayable
	return nil
}

// releaseLocks ends the session's hold on every row lock; lsn is where
// its writes committed (0: nothing committed).
func (s *Session) releaseLocks(lsn uint64) {
	if len(s.locks.held) > 0 {
		s.db.locks.releaseAll(&s.locks, lsn)
	}
}

func (tx *txState) apply(cs *engine.ChangeSet) error {
	if tx.priv == nil {
		tx.priv = engine.New()
		tx.priv.Install(tx.base)
		tx.privLSN = tx.base.LSN()
	}
	tx.privLSN++
	if err := tx.priv.Apply(cs, tx.privLSN); err != nil {
		return err
	}
	for _, p := range cs.Preconditions {
		// Preconditions about the block's own writes are implied by the
		// ops that made them; only facts about the base snapshot remain.
		if holdsIn(tx.base, p) && !tx.preSeen[p] {
			tx.preSeen[p] = true
			tx.pres = append(tx.pres, p)
		}
	}
	for _, op := range cs.Ops {
		if op.Kind != engine.OpInsert && op.Kind != engine.OpUpdate && op.Kind != engine.OpDelete && op.Kind != engine.OpUpsert && op.Kind != engine.OpSetSequence {
			tx.replayable = false
		}
	}
	tx.ops = append(tx.ops, cs.Ops...)
	return nil
}

func holdsIn(st *engine.State, p engine.Precondition) bool {
	t, ok := st.Table(p.Table)
	switch p.Kind {
	case engine.PreSchema:
		if !ok {
			return p.TableLSN == 0
		}
		return t.SchemaLSN() == p.TableLSN
	case engine.PreRowLSN:
		if !ok {
			return false
		}
		r, found := t.Get(p.Key)
		return found && r.LSN == p.LSN
	case engine.PreAbsent:
		if !ok {
			return false
		}
		_, found := t.Get(p.Key)
		return !found
	case engine.PreSequence:
		return ok && t.Sequence(p.Seq) == p.Value
	}
	return false
}

// commit proposes the block's writes as one change set. On a
// serialization failure the block is replayed on a fresh snapshot if every
// statement gives the client the same answer again.
func (s *Session) commit(ctx context.Context) error {
	tx := s.tx
	s.tx = nil
	s.endLocal(tx)
	var lsn uint64
	defer func() { s.releaseLocks(lsn) }()
	if tx.failed || len(tx.ops) == 0 {
		return nil
	}
	cs := &engine.ChangeSet{Preconditions: tx.pres, Ops: tx.ops}
	lsn, err := s.proposeTx(ctx, cs, tx.base) // staged if large: tx_staged.go
	for attempt := 1; err != nil && isSerialization(err) && tx.replayable && attempt < s.db.cfg.MaxRetries; attempt++ {
		if berr := s.backoff(ctx, attempt); berr != nil {
			return berr
		}
		var ntx *txState
		ntx, err = s.replay(ctx, tx)
		if err != nil {
			if isSerialization(err) {
				break
			}
			return err
		}
		if len(ntx.ops) == 0 {
			return nil
		}
		lsn, err = s.proposeTx(ctx, &engine.ChangeSet{Preconditions: ntx.pres, Ops: ntx.ops}, ntx.base)
	}
	if err != nil {
		lsn = 0
	}
	if err != nil && isSerialization(err) {
		return &Error{Code: codeSerialization, Msg: "could not serialize access due to concurrent update", wrapped: err,
			Hnt: "The transaction might succeed if retried."}
	}
	return err
}

// replay re-executes a block's statements on a new snapshot.
func (s *Session) replay(ctx context.Context, old *txState) (*txState, error) {
	base, err := s.db.cfg.Snapshot(ctx, s.settings["heliosdb.read_consistency"])
	if err != nil {
		return nil, err
	}
	return s.replayOn(ctx, old, base)
}

// replayOn re-executes a block's statements on base without taking locks
// (the session holds those of the original execution) and checks that
// each gives the client the same answer.
func (s *Session) replayOn(ctx context.Context, old *txState, base *engine.State) (*txState, error) {
	ntx := &txState{base: base, replayable: true, now: old.now, preSeen: map[engine.Precondition]bool{}}
	for _, e := range old.entries {
		x := s.newExec(ctx, ntx.view(), ntx.now)
		res, err := e.run(x)
		if err == nil {
			if cs := x.ch.finish(); cs != nil {
				err = ntx.apply(cs)
			}
		}
		if err != nil || digest(res) != e.digest {
			return nil, errorf(codeSerialization, "could not serialize access due to concurrent update")
		}
	}
	return ntx, nil
}

func (s *Session) endLocal(tx *txState) {
	for k, v := range tx.savedLocal {
		s.settings[k] = v
	}
}
