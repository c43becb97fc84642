package sql

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/fnv"
	mrand "math/rand/v2"
	"strings"
	"time"

	"github.com/heliosdb/heliosdb-lite/engine"
	"github.com/heliosdb/heliosdb-lite/pgwire"
	pg "github.com/pganalyze/pg_query_go/v6"
	pgparser "github.com/pganalyze/pg_query_go/v6/parser"
)

// Session is one client session. It is used by one goroutine at a time
// (pgwire's connection goroutine), so it needs no lock.
type Session struct {
	db       *DB
	user     string
	database string
	pid      int32
	rng      *mrand.Rand
	settings map[string]string
	tx       *txState
	// locks are the row locks the session holds (locks.go); released
	// when its transaction or autocommit statement ends.
	locks lockOwner
	// plans is the simple-protocol plan cache (plancache.go).
	plans map[string]*planTemplate
	// prepCache holds parsed and planned extended-protocol texts
	// (Prepare), bounded by maxPlanCache.
	prepCache map[string]*prepEntry
}

var _ pgwire.Session = (*Session)(nil)

// TxStatus implements pgwire.Session.
func (s *Session) TxStatus() byte {
	switch {
	case s.tx == nil:
		return 'I'
	case s.tx.failed:
		return 'E'
	}
	return 'T'
}

// ParameterStatus implements pgwire.Session.
func (s *Session) ParameterStatus() map[string]string {
	out := map[string]string{}
	for _, k := range reportedSettings {
		out[k] = s.settings[k]
	}
	return out
}

// ParameterVersion implements pgwire.ParameterVersioner: a hash of the
// reported settings.
func (s *Session) ParameterVersion() uint64 {
	h := uint64(14695981039346656037)
	for _, k := range reportedSettings {
		v := s.settings[k]
		for i := 0; i < len(v); i++ {
			h = (h ^ uint64(v[i])) * 1099511628211
		}
		h = (h ^ 0xff) * 1099511628211
	}
	return h
}

// Close implements pgwire.Session: an open transaction is rolled back.
func (s *Session) Close() {
	s.tx = nil
	s.releaseLocks(0)
}

// stmt is one parsed statement of a session.
type stmt struct {
	s    *Session
	node *pg.Node
	text string // the statement's own text (for errors, replay)
	loc  int    // byte offset of the statement in the query string
	// declared are the parameter OIDs the client declared (extended).
	declared []uint32
	// cp is the compiled form, reused while its dependencies are unchanged.
	cp *compiled
	// tmpl is the plan cache template st was made from, and lits the
	// values of its parameters (the query's integer literals).
	tmpl *planTemplate
	lits []any
	// multi marks a statement of a simple Query holding several: they run
	// in an implicit transaction block (implicit.go); last marks the final
	// one, which closes the block.
	multi, last bool
}

// compiled is a statement planned against a snapshot.
type compiled struct {
	deps   map[string]uint64
	params []typ
	cols   []colInfo
	run    func(x *execCtx) (*pgwire.Result, error)
	// readOnly statements never produce changes.
	readOnly bool
}

func (cp *compiled) valid(st *engine.State) bool {
	for name, lsn := range cp.deps {
		t, ok := st.Table(name)
		if ok != (lsn != 0) || (ok && t.SchemaLSN() != lsn) {
			return false
		}
	}
	return true
}

// PrepareSimple implements pgwire.Session.
func (s *Session) PrepareSimple(ctx context.Context, query string) ([]pgwire.Statement, error) {
	if st, ok := s.cachedSimple(query, func() (*engine.State, error) { return s.readState(ctx, "local") }); ok {
		return []pgwire.Statement{st}, nil
	}
	stmts, err := s.parse(query)
	if err != nil {
		return nil, err
	}
	out := make([]pgwire.Statement, len(stmts))
	for i, st := range stmts {
		st.multi = len(stmts) > 1
		st.last = i == len(stmts)-1
		out[i] = st
	}
	return out, nil
}

func (s *Session) parse(query string) ([]*stmt, error) {
	tree, err := pg.Parse(query)
	if err != nil {
		return nil, parseError(err)
	}
	var out []*stmt
	for _, raw := range tree.Stmts {
		end := int(raw.StmtLocation + raw.StmtLen)
		if raw.StmtLen == 0 || end > len(query) {
			end = len(query)
		}
		start := int(raw.StmtLocation)
		if start > len(query) {
			start = len(query)
		}
		out = append(out, &stmt{s: s, node: raw.Stmt, text: strings.TrimSpace(query[start:end]), loc: start})
	}
	return out, nil
}

func parseError(err error) error {
	var pe *pgParseError
	if errors.As(err, &pe) {
		e := errorf(codeSyntax, "%s", pe.Message)
		e.Pos = pe.Cursorpos
		return e
	}
	return errorf(codeSyntax, "%s", err.Error())
}

// Prepare implements pgwire.Session: one statement, compiled now so the
// client learns parameter and result types.
//
// Clients that send Parse for every execution (unnamed statements:
// pgbench -M extended, JDBC below prepareThreshold, many ORMs) would pay
// the parse and the plan each time; the session keeps the parsed tree and
// plan of recent texts (prepCache) and reuses them while the plan's
// tables are unchanged.
func (s *Session) Prepare(ctx context.Context, query string, paramTypes []uint32) (pgwire.Statement, error) {
	key := prepKey(query, paramTypes)
	e, hit := s.prepCache[key]
	if !hit {
		stmts, err := s.parse(query)
		if err != nil {
			return nil, err
		}
		switch len(stmts) {
		case 0:
			return nil, nil
		case 1:
		default:
			return nil, errorf(codeSyntax, "cannot insert multiple commands into a prepared statement")
		}
		e = &prepEntry{node: stmts[0].node, text: stmts[0].text, loc: stmts[0].loc}
	}
	st := &stmt{s: s, node: e.node, text: e.text, loc: e.loc, declared: paramTypes}
	if s.tx != nil && s.tx.failed && !isTxEnd(st.node) {
		return nil, abortedErr()
	}
	if isDataStmt(st.node) {
		state, err := s.readState(ctx, "local")
		if err != nil {
			return nil, err
		}
		if e.cp != nil && e.cp.valid(state) {
			st.cp = e.cp
		} else {
			cp, err := st.compile(state)
			if err != nil {
				s.failTx()
				return nil, err
			}
			st.cp, e.cp = cp, cp
		}
	}
	if !hit {
		if len(s.prepCache) >= maxPlanCache {
			clear(s.prepCache)
		}
		if s.prepCache == nil {
			s.prepCache = map[string]*prepEntry{}
		}
		s.prepCache[key] = e
	}
	return st, nil
}

// prepEntry is a parsed (and, for data statements, planned) text of the
// extended protocol, shared by the statements prepared from it. The tree
// is never modified after parsing; the plan re-plans itself like any
// prepared statement's when its tables change.
type prepEntry struct {
	node *pg.Node
	text string
	loc  int
	cp   *compiled
}

// prepKey is the extended-protocol cache key: the declared parameter
// types (they change the plan) and the text.
func prepKey(query string, paramTypes []uint32) string {
	b := make([]byte, 0, len(query)+4*len(paramTypes)+binary.MaxVarintLen64)
	b = binary.AppendUvarint(b, uint64(len(paramTypes)))
	for _, t := range paramTypes {
		b = binary.BigEndian.AppendUint32(b, t)
	}
	return string(append(b, query...))
}

// readState is what a statement reads: the transaction's view, or a new
// snapshot at the session's consistency level.
func (s *Session) readState(ctx context.Context, consistency string) (*engine.State, error) {
	if s.tx != nil {
		return s.tx.view(), nil
	}
	if consistency == "" {
		consistency = s.settings["heliosdb.read_consistency"]
	}
	return s.db.cfg.Snapshot(ctx, consistency)
}

// ParamTypes implements pgwire.Statement.
func (st *stmt) ParamTypes() []uint32 {
	n := len(st.declared)
	if st.cp != nil && len(st.cp.params) > n {
		n = len(st.cp.params)
	}
	out := make([]uint32, n)
	for i := range out {
		if i < len(st.declared) && st.declared[i] != 0 {
			out[i] = st.declared[i]
		} else if st.cp != nil && i < len(st.cp.params) && st.cp.params[i].k != kUnknown {
			out[i] = st.cp.params[i].oid()
		}
	}
	return out
}

// Columns implements pgwire.Statement.
func (st *stmt) Columns() []pgwire.Column {
	if st.cp != nil {
		if st.cp.cols == nil {
			return nil
		}
		return wireColumns(st.cp.cols)
	}
	return utilityColumns(st.node)
}

func wireColumns(cols []colInfo) []pgwire.Column {
	out := make([]pgwire.Column, 0, len(cols))
	for _, c := range cols {
		if c.hidden {
			continue
		}
		out = append(out, pgwire.Column{Name: c.name, TypeOID: c.t.oid(), TypeSize: c.t.size(), TypeMod: c.t.typmod(), TableOID: c.tableOID, ColumnAttr: c.attnum})
	}
	return out
}

func abortedErr() error {
	return errorf(codeInFailedTx, "current transaction is aborted, commands ignored until end of transaction block")
}

func isTxEnd(n *pg.Node) bool {
	if t := n.GetTransactionStmt(); t != nil {
		switch t.Kind {
		case pg.TransactionStmtKind_TRANS_STMT_COMMIT, pg.TransactionStmtKind_TRANS_STMT_ROLLBACK, pg.TransactionStmtKind_TRANS_STMT_ROLLBACK_TO:
			return true
		}
	}
	return false
}

// isDataStmt reports whether a statement reads or writes tables (as
// opposed to session and transaction control).
func isDataStmt(n *pg.Node) bool {
	switch n.Node.(type) {
	case *pg.Node_SelectStmt, *pg.Node_InsertStmt, *pg.Node_UpdateStmt, *pg.Node_DeleteStmt,
		*pg.Node_CreateStmt, *pg.Node_DropStmt, *pg.Node_IndexStmt, *pg.Node_AlterTableStmt,
		*pg.Node_RenameStmt, *pg.Node_TruncateStmt, *pg.Node_ExplainStmt, *pg.Node_CreateTableAsStmt:
		return true
	}
	return false
}

// Execute implements pgwire.Statement.
func (st *stmt) Execute(ctx context.Context, params []any) (*pgwire.Result, error) {
	if st.multi {
		return st.executeMulti(ctx, params) // implicit.go
	}
	return st.execute(ctx, params)
}

func (st *stmt) execute(ctx context.Context, params []any) (*pgwire.Result, error) {
	s := st.s
	if params == nil {
		params = st.lits
	}
	if s.tx != nil && s.tx.failed && !isTxEnd(st.node) {
		return nil, abortedErr()
	}
	if name := blockRefusal(st.node); name != "" && (s.tx != nil || st.multi) {
		s.failTx()
		return nil, errorf(codeActiveTx, "%s cannot run inside a transaction block", name)
	}
	if !isDataStmt(st.node) {
		res, err := s.utility(ctx, st, params)
		if err != nil {
			s.failTx()
		}
		return res, err
	}
	res, err := s.execData(ctx, st.run(params), true)
	if err != nil {
		s.failTx()
		return nil, err
	}
	if s.tx != nil {
		s.tx.entries = append(s.tx.entries, txEntry{run: st.run(params), digest: digest(res)})
	}
	return res, nil
}

func (s *Session) failTx() {
	if s.tx != nil {
		s.tx.failed = true
		// Nothing of an aborted block will be committed.
		s.releaseLocks(0)
	}
}

// run returns a runner that compiles (or reuses) st for the state being
// read and executes it with params.
func (st *stmt) run(params []any) func(x *execCtx) (*pgwire.Result, error) {
	return func(x *execCtx) (*pgwire.Result, error) {
		cp := st.cp
		if cp != nil && st.tmpl != nil && !cp.valid(x.st) {
			// The schema changed under a cached template: plan the
			// statement as written, as if it had not been cached.
			st.materialize()
			cp, params = nil, nil
		}
		if cp == nil || !cp.valid(x.st) {
			var err error
			if cp, err = st.compile(x.st); err != nil {
				return nil, err
			}
			st.cp = cp
		}
		x.params = make([]any, len(params))
		for i, p := range params {
			t := tUnknown
			if i < len(cp.params) {
				t = cp.params[i]
			}
			v, err := fromParam(p, t, x.now)
			if err != nil {
				return nil, err
			}
			x.params[i] = v
		}
		if len(cp.params) > len(params) && len(params) > 0 {
			return nil, errorf(codeProtocolViolation, "bind message supplies %d parameters, but prepared statement requires %d", len(params), len(cp.params))
		}
		for dep, lsn := range cp.deps {
			x.ch.schema(dep, lsn)
		}
		return cp.run(x)
	}
}

const codeProtocolViolation = "08P01"

// execData runs a data statement: in a transaction against its view, else
// on a fresh snapshot, proposing any changes and retrying on 40001.
func (s *Session) execData(ctx context.Context, run func(x *execCtx) (*pgwire.Result, error), retry bool) (*pgwire.Result, error) {
	if s.tx != nil {
		return s.tx.exec(ctx, s, run)
	}
	var lsn uint64
	defer func() { s.releaseLocks(lsn) }()
	var lastErr error
	now := s.db.cfg.Clock()
	rebases := 0
	for attempt := 0; attempt < s.db.cfg.MaxRetries; attempt++ {
		if attempt > 0 {
			if err := s.backoff(ctx, attempt); err != nil {
				return nil, err
			}
		}
		state, err := s.readState(ctx, "")
		if err != nil {
			return nil, err
		}
		x := s.newExec(ctx, state, now)
		res, err := run(x)
		if err != nil {
			return nil, err
		}
		cs := x.ch.finish()
		if cs == nil {
			return res, nil
		}
		if rebases < maxRebases {
			cur, err := s.lockWrites(ctx, state, cs)
			if isDeadlock(err) && attempt+1 < s.db.cfg.MaxRetries {
				// An autocommit statement has shown nothing yet: give
				// way and evaluate again.
				s.releaseLocks(0)
				lastErr = err
				continue
			}
			if err != nil {
				return nil, err
			}
			if cur != nil {
				// Re-evaluate on the newer state, still holding the
				// locks: not a conflict, so no backoff.
				rebases++
				attempt--
				continue
			}
		}
		if lsn, err = s.proposeTx(ctx, cs, state); err == nil { // staged if large: tx_staged.go
			return res, nil
		}
		lsn = 0
		if !isSerialization(err) || !retry {
			return nil, err
		}
		lastErr = err
	}
	return nil, lastErr
}

func (s *Session) newExec(ctx context.Context, st *engine.State, now time.Time) *execCtx {
	return &execCtx{ctx: ctx, db: s.db, sess: s, st: st, now: now, ch: newChanges(s.db.rowIDs)}
}

// backoff sleeps before retry number attempt (1, 2, ...): full jitter
// over an exponentially growing window (200µs, 400µs, ... capped at
// 25ms), so sessions that collided spread out instead of colliding again.
func (s *Session) backoff(ctx context.Context, attempt int) error {
	window := 200 * time.Microsecond << min(attempt-1, 7)
	d := time.Duration(s.rng.Int64N(int64(window))) + 50*time.Microsecond
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// digest identifies a statement's visible outcome (tag and rows), to check
// that a replayed transaction told the client the same things.
func digest(res *pgwire.Result) uint64 {
	h := fnv.New64a()
	if res == nil {
		return 0
	}
	h.Write([]byte(res.Tag))
	for _, r := range res.Rows {
		for _, v := range r {
			h.Write([]byte{0})
			if v == nil {
				h.Write([]byte{1})
				continue
			}
			h.Write([]byte(formatAny(v)))
		}
	}
	return h.Sum64()
}

func formatAny(v any) string {
	switch x := v.(type) {
	case time.Time:
		return x.Format(time.RFC3339Nano)
	case [16]byte:
		return string(x[:])
	}
	return formatValue(v)
}

type pgParseError = pgparser.Error
