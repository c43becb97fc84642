package sql

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/heliosdb/heliosdb-lite/engine"
	pg "github.com/pganalyze/pg_query_go/v6"
)

// compiler turns one statement's AST into plans and expressions. It lives
// for the compilation of one statement.
type compiler struct {
	db   *DB
	sess *Session
	st   *engine.State
	// params are the inferred parameter types, index $n-1.
	params     []typ
	usesParams bool
	// level0 and outerRefs count resolved column references (current level,
	// enclosing levels); callers compare before/after to learn what an
	// expression depends on.
	level0, outerRefs int
	// deps are the tables the statement was planned against and their
	// schema LSNs (0 = absent): they become PreSchema preconditions and
	// decide whether a prepared plan is still valid.
	deps map[string]uint64
	// ctes is a stack of WITH scopes, innermost last.
	ctes []map[string]*cteDef
	// fixedNow is the statement time used to fold constants like 'now'.
	fixedNow time.Time
	// windows maps each planned window call to its column (window.go).
	windows map[*pg.FuncCall]int
	// srfs maps each planned select-list set-returning call to its
	// column (srf.go).
	srfs map[*pg.FuncCall]srfRef
}

func newCompiler(db *DB, s *Session, st *engine.State) *compiler {
	return &compiler{db: db, sess: s, st: st, deps: map[string]uint64{}}
}

func (c *compiler) now() time.Time {
	if c.fixedNow.IsZero() {
		c.fixedNow = c.db.cfg.Clock()
	}
	return c.fixedNow
}

// table looks a user table up in the planning snapshot and records it as a
// dependency.
func (c *compiler) table(name string) (engine.Table, bool) {
	t, ok := c.st.Table(name)
	if ok {
		c.deps[name] = t.SchemaLSN()
	} else if _, seen := c.deps[name]; !seen {
		c.deps[name] = 0
	}
	return t, ok
}

// execCtx is the state of one execution of a compiled statement.
type execCtx struct {
	ctx    context.Context
	db     *DB
	sess   *Session
	st     *engine.State
	params []any
	now    time.Time
	// outer holds the rows of enclosing query levels while a correlated
	// subquery runs, innermost last.
	outer [][]any
	// cache memoizes uncorrelated subqueries and CTEs for this execution.
	cache map[any][][]any
	ch    *changes
	steps int
}

// tick checks for cancellation every so often during long loops.
func (x *execCtx) tick() error {
	x.steps++
	if x.steps&1023 == 0 && x.ctx != nil {
		if err := x.ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

// plan is a relational operator. Operators materialise their output: the
// database is in memory and results go to one client.
type plan interface {
	columns() []colInfo
	run(x *execCtx) ([][]any, error)
	explain(e *explainer, depth int)
}

type explainer struct{ lines []string }

func (e *explainer) add(depth int, format string, args ...any) {
	prefix := ""
	if depth > 0 {
		prefix = strings.Repeat("      ", depth-1) + "  ->  "
	}
	e.lines = append(e.lines, prefix+fmt.Sprintf(format, args...))
}

// oneRowNode is the FROM-less SELECT's single empty row.
type oneRowNode struct{}

func (oneRowNode) columns() []colInfo              { return nil }
func (oneRowNode) run(*execCtx) ([][]any, error)   { return [][]any{{}}, nil }
func (oneRowNode) explain(e *explainer, depth int) { e.add(depth, "Result") }

// valuesNode is a VALUES list.
type valuesNode struct {
	cols []colInfo
	rows [][]expr
}

func (n *valuesNode) columns() []colInfo { return n.cols }
func (n *valuesNode) run(x *execCtx) ([][]any, error) {
	out := make([][]any, 0, len(n.rows))
	for _, r := range n.rows {
		row := make([]any, len(r))
		for i, e := range r {
			v, err := e.fn(x, nil)
			if err != nil {
				return nil, err
			}
			row[i] = v
		}
		out = append(out, row)
	}
	return out, nil
}
func (n *valuesNode) explain(e *explainer, depth int) {
	e.add(depth, "Values Scan on \"*VALUES*\"")
}

// filterNode keeps rows for which cond is true.
type filterNode struct {
	in   plan
	cond expr
}

func (n *filterNode) columns() []colInfo { return n.in.columns() }
func (n *filterNode) run(x *execCtx) ([][]any, error) {
	rows, err := n.in.run(x)
	if err != nil {
		return nil, err
	}
	out := rows[:0:0]
	for _, r := range rows {
		if err := x.tick(); err != nil {
			return nil, err
		}
		v, err := n.cond.fn(x, r)
		if err != nil {
			return nil, err
		}
		if v == true {
			out = append(out, r)
		}
	}
	return out, nil
}
func (n *filterNode) explain(e *explainer, depth int) {
	// The filter is shown as part of its input, as PostgreSQL does.
	n.in.explain(e, depth)
	e.lines = append(e.lines, strings.Repeat(" ", indentOf(depth)+4)+"Filter: (...)")
}

func indentOf(depth int) int {
	if depth == 0 {
		return 0
	}
	return (depth-1)*6 + 4
}

// projectNode computes output expressions.
type projectNode struct {
	in    plan
	exprs []expr
	cols  []colInfo
}

func (n *projectNode) columns() []colInfo { return n.cols }
func (n *projectNode) run(x *execCtx) ([][]any, error) {
	rows, err := n.in.run(x)
	if err != nil {
		return nil, err
	}
	out := make([][]any, len(rows))
	for i, r := range rows {
		row := make([]any, len(n.exprs))
		for j, e := range n.exprs {
			v, err := e.fn(x, r)
			if err != nil {
				return nil, err
			}
			row[j] = v
		}
		out[i] = row
	}
	return out, nil
}
func (n *projectNode) explain(e *explainer, depth int) { n.in.explain(e, depth) }

// trimNode drops trailing hidden columns.
type trimNode struct {
	in plan
	n  int
}

func (n *trimNode) columns() []colInfo { return n.in.columns()[:n.n] }
func (n *trimNode) run(x *execCtx) ([][]any, error) {
	rows, err := n.in.run(x)
	if err != nil {
		return nil, err
	}
	for i, r := range rows {
		rows[i] = r[:n.n:n.n]
	}
	return rows, nil
}
func (n *trimNode) explain(e *explainer, depth int) { n.in.explain(e, depth) }

// sortKey orders by one output column.
type sortKey struct {
	col        int
	desc       bool
	nullsFirst bool
}

type sortNode struct {
	in   plan
	keys []sortKey
	desc string
}

func (n *sortNode) columns() []colInfo { return n.in.columns() }
func (n *sortNode) run(x *execCtx) ([][]any, error) {
	rows, err := n.in.run(x)
	if err != nil {
		return nil, err
	}
	sortRows(rows, n.keys)
	return rows, nil
}

func sortRows(rows [][]any, keys []sortKey) {
	sort.SliceStable(rows, func(i, j int) bool {
		for _, k := range keys {
			a, b := rows[i][k.col], rows[j][k.col]
			var c int
			switch {
			case a == nil && b == nil:
				c = 0
			case a == nil:
				c = 1
				if k.nullsFirst {
					c = -1
				}
				if k.desc {
					c = -c
				}
			case b == nil:
				c = -1
				if k.nullsFirst {
					c = 1
				}
				if k.desc {
					c = -c
				}
			default:
				c = compareValues(a, b)
			}
			if k.desc {
				c = -c
			}
			if c != 0 {
				return c < 0
			}
		}
		return false
	})
}

func (n *sortNode) explain(e *explainer, depth int) {
	e.add(depth, "Sort")
	if n.desc != "" {
		e.lines = append(e.lines, strings.Repeat(" ", indentOf(depth)+2)+"  Sort Key: "+n.desc)
	}
	n.in.explain(e, depth+1)
}

type limitNode struct {
	in            plan
	limit, offset *expr
}

func (n *limitNode) columns() []colInfo { return n.in.columns() }
func (n *limitNode) run(x *execCtx) ([][]any, error) {
	rows, err := n.in.run(x)
	if err != nil {
		return nil, err
	}
	if n.offset != nil {
		v, err := n.offset.fn(x, nil)
		if err != nil {
			return nil, err
		}
		if v != nil {
			off := v.(int64)
			if off < 0 {
				return nil, errorf("2201X", "OFFSET must not be negative")
			}
			if off >= int64(len(rows)) {
				rows = nil
			} else {
				rows = rows[off:]
			}
		}
	}
	if n.limit != nil {
		v, err := n.limit.fn(x, nil)
		if err != nil {
			return nil, err
		}
		if v != nil {
			lim := v.(int64)
			if lim < 0 {
				return nil, errorf("2201W", "LIMIT must not be negative")
			}
			if lim < int64(len(rows)) {
				rows = rows[:lim]
			}
		}
	}
	return rows, nil
}
func (n *limitNode) explain(e *explainer, depth int) {
	e.add(depth, "Limit")
	n.in.explain(e, depth+1)
}

// distinctNode removes duplicate rows (over the first n columns).
type distinctNode struct {
	in plan
	n  int
}

func (n *distinctNode) columns() []colInfo { return n.in.columns() }
func (n *distinctNode) run(x *execCtx) ([][]any, error) {
	rows, err := n.in.run(x)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	out := rows[:0:0]
	for _, r := range rows {
		k := rowKey(r[:n.n])
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, r)
	}
	return out, nil
}
func (n *distinctNode) explain(e *explainer, depth int) {
	e.add(depth, "HashAggregate")
	n.in.explain(e, depth+1)
}

// rowKey is a hashable identity of values: equal SQL values give equal
// keys across numeric representations.
func rowKey(vals []any) string {
	var b strings.Builder
	for _, v := range vals {
		writeKey(&b, v)
		b.WriteByte(0)
	}
	return b.String()
}

func writeKey(b *strings.Builder, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("N")
	case int64:
		b.WriteString("n")
		b.WriteString(strconv.FormatInt(x, 10))
	case float64:
		if x == float64(int64(x)) {
			b.WriteString("n")
			b.WriteString(strconv.FormatInt(int64(x), 10))
		} else {
			b.WriteString("f")
			b.WriteString(strconv.FormatFloat(x, 'g', -1, 64))
		}
	case engine.Numeric:
		d := decFromNumeric(x).trimScale(0)
		b.WriteString("n")
		b.WriteString(string(d.numeric()))
	case string:
		b.WriteString("s")
		b.WriteString(x)
	case []any:
		b.WriteString("[")
		for _, e := range x {
			writeKey(b, e)
			b.WriteByte(1)
		}
		b.WriteString("]")
	default:
		fmt.Fprintf(b, "%T:%s", v, formatValue(v))
	}
}

// setOpNode is UNION/INTERSECT/EXCEPT [ALL].
type setOpNode struct {
	op          string
	all         bool
	left, right plan
	cols        []colInfo
	lconv       []expr // coercions of left/right columns to the common types
	rconv       []expr
}

func (n *setOpNode) columns() []colInfo { return n.cols }
func (n *setOpNode) run(x *execCtx) ([][]any, error) {
	conv := func(p plan, cv []expr) ([][]any, error) {
		rows, err := p.run(x)
		if err != nil {
			return nil, err
		}
		for i, r := range rows {
			nr := make([]any, len(cv))
			for j, e := range cv {
				v, err := e.fn(x, r)
				if err != nil {
					return nil, err
				}
				nr[j] = v
			}
			rows[i] = nr
		}
		return rows, nil
	}
	l, err := conv(n.left, n.lconv)
	if err != nil {
		return nil, err
	}
	r, err := conv(n.right, n.rconv)
	if err != nil {
		return nil, err
	}
	switch n.op {
	case "UNION":
		all := append(l, r...)
		if n.all {
			return all, nil
		}
		seen := map[string]bool{}
		out := all[:0:0]
		for _, row := range all {
			k := rowKey(row)
			if !seen[k] {
				seen[k] = true
				out = append(out, row)
			}
		}
		return out, nil
	case "INTERSECT", "EXCEPT":
		counts := map[string]int{}
		for _, row := range r {
			counts[rowKey(row)]++
		}
		out := l[:0:0]
		emitted := map[string]bool{}
		for _, row := range l {
			k := rowKey(row)
			in := counts[k] > 0
			keep := in == (n.op == "INTERSECT")
			if n.all {
				if in {
					counts[k]--
				}
			} else {
				if emitted[k] {
					continue
				}
			}
			if keep {
				emitted[k] = true
				out = append(out, row)
			}
		}
		return out, nil
	}
	return nil, errorf(codeInternal, "bad set operation")
}
func (n *setOpNode) explain(e *explainer, depth int) {
	name := map[string]string{"UNION": "Append", "INTERSECT": "HashSetOp Intersect", "EXCEPT": "HashSetOp Except"}[n.op]
	e.add(depth, "%s", name)
	n.left.explain(e, depth+1)
	n.right.explain(e, depth+1)
}

// renameNode gives a subquery's columns a table alias (and maybe new names).
type renameNode struct {
	in   plan
	cols []colInfo
	name string
}

func (n *renameNode) columns() []colInfo              { return n.cols }
func (n *renameNode) run(x *execCtx) ([][]any, error) { return n.in.run(x) }
func (n *renameNode) explain(e *explainer, depth int) {
	e.add(depth, "Subquery Scan on %s", n.name)
	n.in.explain(e, depth+1)
}

// cteDef is one WITH query; its result is computed once per execution.
type cteDef struct {
	name string
	p    plan
	cols []colInfo
}

type cteScanNode struct {
	def   *cteDef
	alias string
	cols  []colInfo
}

func (n *cteScanNode) columns() []colInfo { return n.cols }
func (n *cteScanNode) run(x *execCtx) ([][]any, error) {
	if rows, ok := x.cache[n.def]; ok {
		return copyRows(rows), nil
	}
	rows, err := n.def.p.run(x)
	if err != nil {
		return nil, err
	}
	if x.cache == nil {
		x.cache = map[any][][]any{}
	}
	x.cache[n.def] = rows
	return copyRows(rows), nil
}
func (n *cteScanNode) explain(e *explainer, depth int) {
	e.add(depth, "CTE Scan on %s", n.def.name)
}

func copyRows(rows [][]any) [][]any { return append([][]any(nil), rows...) }

// funcScanNode produces rows from a set-returning function.
type funcScanNode struct {
	name string
	cols []colInfo
	gen  func(x *execCtx) ([][]any, error)
}

func (n *funcScanNode) columns() []colInfo              { return n.cols }
func (n *funcScanNode) run(x *execCtx) ([][]any, error) { return n.gen(x) }
func (n *funcScanNode) explain(e *explainer, depth int) {
	e.add(depth, "Function Scan on %s", n.name)
}
