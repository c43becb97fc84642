package sql

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/heliosdb/heliosdb-lite/engine"
	"github.com/heliosdb/heliosdb-lite/pgwire"
)

// A large autocommit COPY FROM STDIN is staged in bounded log entries.
//
// As one change set, `pgbench -i -s 10` (1M rows in one COPY) was one
// ~100 MB raft entry: writing and shipping it took longer than the
// leader's lease on a loaded cluster, which then stalled. Above
// copyStageBytes of input, the COPY is evaluated as usual (types,
// defaults, constraints, duplicate keys within the COPY) on one state,
// then:
//
//  1. one entry creates a hidden staging table shaped like the target
//     (engine.StagingDef: invisible to clients, dumps and catalogs);
//  2. the rows go into it in entries of at most copyStageBytes each;
//  3. one small entry promotes them into the target (engine.OpPromote with
//     PromoteMergeError: a key that exists by then fails it with 23505
//     naming the key) under the statement's preconditions (schema,
//     sequences, referenced rows), and sets the sequences.
//
// Clients see no row before step 3 and every row after it. Any failure
// (a proposal refused, the client gone, a conflict at the promote) drops
// the staging table and leaves the target untouched; a serialization
// failure at the promote re-evaluates the whole COPY, up to copyStageRetries
// times. Inside a transaction block a COPY stays part of the block's one
// change set at COMMIT.

// copyStageBytes is the input size above which an autocommit COPY is
// staged, and the bound on one staging entry's encoded size.
var copyStageBytes = 8 << 20

// copyStageRetries bounds the re-evaluations of a staged COPY whose
// promote met a concurrent change (each one stages every row again).
const copyStageRetries = 3

// opBytes is about what op adds to an encoded change set.
func opBytes(op *engine.Op) int {
	return len(op.Table) + len(op.Key) + len(op.Row) + 3*binary.MaxVarintLen32 + 1
}

// copyStaged runs an autocommit COPY of table through a staging table.
func (s *Session) copyStaged(ctx context.Context, table string, run func(x *execCtx) (*pgwire.Result, error)) (*pgwire.Result, error) {
	var err error
	for attempt := 0; attempt < copyStageRetries; attempt++ {
		var res *pgwire.Result
		if res, err = s.copyStagedOnce(ctx, table, run); err == nil {
			return res, nil
		}
		if !isSerialization(err) {
			return nil, err
		}
	}
	return nil, err
}

func (s *Session) copyStagedOnce(ctx context.Context, table string, run func(x *execCtx) (*pgwire.Result, error)) (*pgwire.Result, error) {
	state, err := s.readState(ctx, "")
	if err != nil {
		return nil, err
	}
	x := s.newExec(ctx, state, s.db.cfg.Clock())
	res, err := run(x)
	if err != nil {
		return nil, err
	}
	cs := x.ch.finish()
	if cs == nil {
		return res, nil
	}
	tbl, ok := state.Table(table)
	if !ok {
		return nil, errorf(codeSerialization, "could not serialize access due to concurrent schema change")
	}
	if _, err := s.proposeStaged(ctx, cs, map[string]*engine.TableDef{table: tbl.Def()}, "copy"); err != nil {
		if tbl.Def().HasHiddenRowID() && sqlState(err) == codeUnique {
			// Hidden row ids are chosen by this node above the table's
			// largest key when the COPY was evaluated; a concurrent
			// insert elsewhere took one of them. Not the user's
			// duplicate: retry with fresh ids, as a row-level insert's
			// absence check would (40001).
			return nil, errorf(codeSerialization, "could not serialize access: a concurrent insert took a row id chosen for this COPY")
		}
		return nil, err
	}
	return res, nil
}

// proposeStaged proposes cs with its inserts into the tables of stage
// (name: definition) staged: one entry creates a hidden staging table per
// table, the rows go into them in entries of at most copyStageBytes, and
// one final entry holds the rest of cs, its preconditions (less the
// absence checks on staged keys: the promote's merge check replaces them)
// and the promotes. Clients see nothing before the final entry; any
// failure drops the staging tables. The staging tables' id starts with
// kind.
func (s *Session) proposeStaged(ctx context.Context, cs *engine.ChangeSet, stage map[string]*engine.TableDef, kind string) (uint64, error) {
	var idb [6]byte
	if _, err := io.ReadFull(s.db.cfg.Rand, idb[:]); err != nil {
		return 0, err
	}
	id := kind + hex.EncodeToString(idb[:])
	names := slices.Sorted(maps.Keys(stage))
	create := &engine.ChangeSet{}
	var promotes []engine.Op
	for _, t := range names {
		sn := engine.StagingName(id, t)
		create.Ops = append(create.Ops, engine.Op{Kind: engine.OpCreateTable, Table: sn, Def: engine.StagingDef(id, stage[t])})
		promotes = append(promotes, engine.Op{Kind: engine.OpPromote, Table: sn, Name: t, Seq: int(engine.PromoteMergeError)})
	}
	final := &engine.ChangeSet{}
	for _, p := range cs.Preconditions {
		if _, staged := stage[p.Table]; p.Kind == engine.PreAbsent && staged {
			continue
		}
		final.Preconditions = append(final.Preconditions, p)
	}
	var staged []engine.Op
	for _, op := range cs.Ops {
		if _, ok := stage[op.Table]; ok && op.Kind == engine.OpInsert {
			op.Table = engine.StagingName(id, op.Table)
			staged = append(staged, op)
		} else {
			final.Ops = append(final.Ops, op)
		}
	}
	// After the rest: a table the change set creates exists by then.
	final.Ops = append(final.Ops, promotes...)
	cs.Ops = nil
	propose := s.db.cfg.Propose
	if _, err := propose(ctx, create); err != nil {
		return 0, err
	}
	done := false
	defer func() {
		if done {
			return
		}
		// The client may be gone: drop the staging tables regardless.
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		drop := &engine.ChangeSet{}
		for _, t := range names {
			drop.Ops = append(drop.Ops, engine.Op{Kind: engine.OpDropTable, Table: engine.StagingName(id, t)})
		}
		_, _ = propose(dctx, drop)
	}()
	for len(staged) > 0 {
		n, size := 0, 16
		for n < len(staged) && (n == 0 || size+opBytes(&staged[n]) <= copyStageBytes) {
			size += opBytes(&staged[n])
			n++
		}
		if _, err := propose(ctx, &engine.ChangeSet{Ops: staged[:n]}); err != nil {
			return 0, err
		}
		clear(staged[:n]) // let the proposed rows go
		staged = staged[n:]
	}
	lsn, err := propose(ctx, final)
	if err != nil {
		return 0, err
	}
	done = true
	return lsn, nil
}
