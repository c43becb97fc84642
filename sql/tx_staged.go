package sql

import (
	"context"

	"github.com/heliosdb/heliosdb-lite/engine"
)

// A large transaction block (or autocommit statement, such as a huge
// INSERT ... SELECT) is staged like a large COPY.
//
// A block's writes are one change set at COMMIT: `BEGIN; COPY ...;
// COMMIT` of 1M rows was one ~100 MB raft entry, which a busy leader may
// fail to commit within its lease. When the change set is larger than
// copyStageBytes, the inserts into each table that the block only inserts
// into (it may have created the table and set its sequences, nothing
// else: an update, delete, truncate, index or alter of the table keeps
// its ops in order, in the final entry) go through staging tables in
// bounded entries (proposeStaged), and one small final entry carries the
// other ops, the preconditions and the promotes: all of the block or
// none, as one entry would be. Only tables holding at least an eighth of
// the bound in inserts are worth their staging entries.

// txStageable returns the tables whose inserts in cs should be staged,
// with their definitions (from the op that creates them in cs, else from
// base), or nil when cs is small enough for one entry.
func txStageable(cs *engine.ChangeSet, base *engine.State) map[string]*engine.TableDef {
	size := 0
	for i := range cs.Ops {
		size += opBytes(&cs.Ops[i])
	}
	if size <= copyStageBytes {
		return nil
	}
	inserts := map[string]int{}
	created := map[string]*engine.TableDef{}
	mixed := map[string]bool{}
	for i := range cs.Ops {
		op := &cs.Ops[i]
		switch op.Kind {
		case engine.OpInsert:
			inserts[op.Table] += opBytes(op)
		case engine.OpCreateTable:
			if _, again := created[op.Table]; again || inserts[op.Table] > 0 {
				mixed[op.Table] = true
			}
			created[op.Table] = op.Def
		case engine.OpSetSequence:
		default:
			mixed[op.Table] = true
		}
	}
	var out map[string]*engine.TableDef
	for t, n := range inserts {
		if mixed[t] || n < copyStageBytes/8 {
			continue
		}
		def := created[t]
		if def == nil {
			tbl, ok := base.Table(t)
			if !ok {
				continue
			}
			def = tbl.Def()
		}
		if out == nil {
			out = map[string]*engine.TableDef{}
		}
		out[t] = def
	}
	return out
}

// proposeTx proposes the change set of a block or of an autocommit
// statement evaluated on base: as one entry, or staged when it is large
// (txStageable).
func (s *Session) proposeTx(ctx context.Context, cs *engine.ChangeSet, base *engine.State) (uint64, error) {
	stage := txStageable(cs, base)
	if stage == nil {
		return s.db.cfg.Propose(ctx, cs)
	}
	lsn, err := s.proposeStaged(ctx, cs, stage, "tx")
	if err != nil && sqlState(err) == codeUnique {
		for _, def := range stage {
			if def.HasHiddenRowID() {
				// As for a staged COPY: a row id this node chose was
				// taken by a concurrent insert elsewhere (the promote
				// cannot tell it from a user's duplicate; one entry's
				// absence check would have said 40001).
				return 0, errorf(codeSerialization, "could not serialize access: a concurrent insert took a row id chosen for this transaction")
			}
		}
	}
	return lsn, err
}
