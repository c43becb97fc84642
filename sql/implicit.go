package sql

import (
	"context"
	"io"

	"github.com/heliosdb/heliosdb-lite/pgwire"
	pg "github.com/pganalyze/pg_query_go/v6"
)

// The statements of a simple Query holding several run as one implicit
// transaction block, as in PostgreSQL ("Multiple Statements in a Simple
// Query"): if one fails, what the earlier ones did is rolled back and
// the rest are not run. An explicit BEGIN turns the implicit block into
// a regular one (the statements before it included); a COMMIT or
// ROLLBACK ends whichever block is open, and the statements after it
// start a new implicit one.
//
// The block is opened by the first statement that reads or writes
// tables (session and transaction control need none) and closed by the
// last statement: committed before its result is returned, so that a
// commit failure is reported instead of its CommandComplete, as
// PostgreSQL does. A COPY's work happens after Execute returns, so its
// functions end the block. EndQuery (called by pgwire once the Query is
// over) rolls back a block the protocol layer abandoned.

// executeMulti runs one statement of a multi-statement simple Query.
func (st *stmt) executeMulti(ctx context.Context, params []any) (*pgwire.Result, error) {
	s := st.s
	if s.tx == nil && needsBlock(st.node) {
		if err := s.begin(ctx); err != nil {
			return nil, err
		}
		s.tx.implicit = true
	}
	res, err := st.execute(ctx, params)
	if err != nil {
		s.rollbackImplicit()
		return nil, err
	}
	if s.tx == nil || !s.tx.implicit || res == nil {
		return res, nil
	}
	switch {
	case res.CopyIn != nil:
		in := res.CopyIn
		res.CopyIn = func(ctx context.Context, r io.Reader) (string, error) {
			tag, err := in(ctx, r)
			if err == nil && st.last {
				err = s.commitImplicit(ctx)
			}
			if err != nil {
				s.rollbackImplicit()
			}
			return tag, err
		}
	case res.CopyOut != nil:
		out := res.CopyOut
		res.CopyOut = func(ctx context.Context, w io.Writer) error {
			err := out(ctx, w)
			if err == nil && st.last {
				err = s.commitImplicit(ctx)
			}
			if err != nil {
				s.rollbackImplicit()
			}
			return err
		}
	case st.last:
		if err := s.commitImplicit(ctx); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// needsBlock reports whether a statement opens the implicit block when
// none is open: it reads or writes tables, or it is a SET LOCAL (which
// lasts until the block ends).
func needsBlock(n *pg.Node) bool {
	if v := n.GetVariableSetStmt(); v != nil {
		return v.IsLocal
	}
	return isDataStmt(n) || n.GetCopyStmt() != nil
}

// blockRefusal names a statement that PostgreSQL refuses to run inside a
// transaction block, a regular one or the implicit block of a
// multi-statement Query (SQLSTATE 25001); "" for the others.
func blockRefusal(n *pg.Node) string {
	switch v := n.Node.(type) {
	case *pg.Node_VacuumStmt:
		if v.VacuumStmt.IsVacuumcmd {
			return "VACUUM"
		}
	case *pg.Node_IndexStmt:
		if v.IndexStmt.Concurrent {
			return "CREATE INDEX CONCURRENTLY"
		}
	case *pg.Node_DropStmt:
		if v.DropStmt.Concurrent {
			return "DROP INDEX CONCURRENTLY"
		}
	}
	return ""
}

// commitImplicit commits an open implicit block.
func (s *Session) commitImplicit(ctx context.Context) error {
	if s.tx == nil || !s.tx.implicit {
		return nil
	}
	return s.commit(ctx)
}

// rollbackImplicit discards an open implicit block.
func (s *Session) rollbackImplicit() {
	if s.tx == nil || !s.tx.implicit {
		return
	}
	s.endLocal(s.tx)
	s.tx = nil
	s.releaseLocks(0)
}

// EndQuery implements pgwire.QueryEnder: an implicit block still open
// when the Query ends (the protocol layer stopped after a statement had
// succeeded, e.g. the client failed a COPY) is committed if the Query
// succeeded, else rolled back.
func (s *Session) EndQuery(ctx context.Context, failed bool) error {
	if failed {
		s.rollbackImplicit()
		return nil
	}
	return s.commitImplicit(ctx)
}

var _ pgwire.QueryEnder = (*Session)(nil)
