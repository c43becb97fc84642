package sql

import (
	"slices"
	"strconv"

	"github.com/heliosdb/heliosdb-lite/engine"
	pg "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Plan cache for the simple protocol.
//
// Parsing (pg_query through cgo and protobuf) and planning dominate a
// point query's cost, and simple-protocol clients (pgbench, psql, most
// ORMs without server-side prepare) send the same statement again and
// again with different integer literals. A single-statement query is
// therefore keyed by its text with every integer literal blanked out; the
// first time a key is seen the statement is parsed, its integer constants
// are turned into parameters $1..$n, and the result is planned. The
// template is kept only when that changes nothing a client can see: every
// literal maps to exactly one integer constant at its position, every
// parameter is inferred as int4 or int8 (so an int32 literal converts the
// same way), and the columns equal those of the statement as written.
// Later queries with the key reuse the parsed tree and the plan (which
// re-plans itself after DDL like any prepared statement) and bind their
// literals as parameters. Statements without literals (BEGIN, COMMIT,
// SELECT now()) are cached by text alone. The cache is per session (plans
// are not shared between goroutines) and bounded.
//
// The extended protocol has its own per-session cache (Session.Prepare,
// prepCache): a Parse of a text already prepared with the same declared
// parameter types reuses its tree and plan, so clients that send Parse
// before every execution (unnamed statements) skip parsing and planning
// as named prepared statements do.

// maxPlanCache bounds a session's cached templates; the cache is cleared
// when full.
const maxPlanCache = 256

// planTemplate is one cached statement shape.
type planTemplate struct {
	node *pg.Node
	// lits is the number of integer literals (parameters); neg[i] says
	// literal i appears with a unary minus folded into the constant.
	lits int
	neg  []bool
	// cp is the plan shared by every statement made from the template
	// (nil for utility statements).
	cp *compiled
}

// literal is an integer literal found in a query's text.
type literal struct {
	pos int
	val int64
}

// normalizeQuery returns the query's cache key (integer literals replaced
// by '?') and the literals in order, or ok false when the text has
// something the simple lexer does not handle (dollar quoting, escapes,
// literals not fitting int32).
func normalizeQuery(q string) (key string, lits []literal, ok bool) {
	buf := make([]byte, 0, len(q))
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == '\'' || c == '"':
			j := i + 1
			for j < len(q) && q[j] != c {
				if q[j] == '\\' {
					return "", nil, false
				}
				j++
			}
			if j >= len(q) {
				return "", nil, false
			}
			buf = append(buf, q[i:j+1]...)
			i = j + 1
		case c == '-' && i+1 < len(q) && q[i+1] == '-':
			j := i
			for j < len(q) && q[j] != '\n' {
				j++
			}
			buf = append(buf, q[i:j]...)
			i = j
		case c == '/' && i+1 < len(q) && q[i+1] == '*', c == '$', c == '\\':
			return "", nil, false
		case isIdentByte(c):
			j := i
			for j < len(q) && (isIdentByte(q[j]) || q[j] >= '0' && q[j] <= '9') {
				j++
			}
			buf = append(buf, q[i:j]...)
			i = j
		case c >= '0' && c <= '9':
			j := i
			for j < len(q) && q[j] >= '0' && q[j] <= '9' {
				j++
			}
			if j < len(q) && (q[j] == '.' || q[j] == 'e' || q[j] == 'E' || q[j] == '_' || isIdentByte(q[j])) {
				return "", nil, false
			}
			if i > 0 && q[i-1] == '.' {
				return "", nil, false
			}
			v, err := strconv.ParseInt(q[i:j], 10, 32)
			if err != nil {
				return "", nil, false
			}
			lits = append(lits, literal{pos: i, val: v})
			buf = append(buf, '?')
			i = j
		default:
			buf = append(buf, c)
			i++
		}
	}
	return string(buf), lits, true
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

// walkNodes calls fn for every pg.Node in m, parents before children.
func walkNodes(m protoreflect.Message, fn func(n *pg.Node)) {
	if n, ok := m.Interface().(*pg.Node); ok {
		fn(n)
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsMap() || fd.Message() == nil:
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				walkNodes(l.Get(i).Message(), fn)
			}
		default:
			walkNodes(v.Message(), fn)
		}
		return true
	})
}

// intConst returns the value of an integer constant node.
func intConst(n *pg.Node) (*pg.A_Const, bool) {
	if n == nil {
		return nil, false
	}
	ac, ok := n.Node.(*pg.Node_AConst)
	if !ok || ac.AConst.Isnull {
		return nil, false
	}
	if _, ok := ac.AConst.Val.(*pg.A_Const_Ival); !ok {
		return nil, false
	}
	return ac.AConst, true
}

// makeTemplate turns the integer constants of node (parsed from a query
// whose literals are lits) into parameters. ok is false unless every
// integer constant is one of the literals and every literal one constant.
func makeTemplate(node *pg.Node, lits []literal) (tmpl *planTemplate, ok bool) {
	byPos := make(map[int]int, len(lits))
	for i, l := range lits {
		byPos[l.pos] = i
	}
	// ORDER BY 1 and GROUP BY 1 name output columns: not values.
	positional := false
	walkNodes(node.ProtoReflect(), func(n *pg.Node) {
		switch v := n.Node.(type) {
		case *pg.Node_SortBy:
			if _, isInt := intConst(v.SortBy.Node); isInt {
				positional = true
			}
		case *pg.Node_SelectStmt:
			for _, g := range v.SelectStmt.GroupClause {
				if _, isInt := intConst(g); isInt {
					positional = true
				}
			}
			for _, d := range v.SelectStmt.DistinctClause {
				if _, isInt := intConst(d); isInt {
					positional = true
				}
			}
		}
	})
	if positional {
		return nil, false
	}
	clone := proto.Clone(node).(*pg.Node)
	tmpl = &planTemplate{node: clone, lits: len(lits), neg: make([]bool, len(lits))}
	seen := make([]bool, len(lits))
	ok = true
	walkNodes(clone.ProtoReflect(), func(n *pg.Node) {
		ac, isInt := intConst(n)
		if !isInt || !ok {
			return
		}
		v := int64(ac.GetIval().GetIval())
		loc := int(ac.Location)
		i, at := byPos[loc]
		neg := false
		if !at {
			// "-5" folds into one constant located at the minus sign.
			i, at = byPos[loc+1]
			neg = true
		}
		if !at || seen[i] || (neg && v != -lits[i].val) || (!neg && v != lits[i].val) {
			ok = false
			return
		}
		seen[i], tmpl.neg[i] = true, neg
		n.Node = &pg.Node_ParamRef{ParamRef: &pg.ParamRef{Number: int32(i + 1), Location: ac.Location}}
	})
	if !ok || slices.Contains(seen, false) {
		return nil, false
	}
	return tmpl, true
}

// cachedSimple returns the statement for a single-statement simple query
// from the session's plan cache, parsing and caching on a miss. ok is
// false when the query is not cacheable (the caller parses it normally).
func (s *Session) cachedSimple(query string, state func() (*engine.State, error)) (st *stmt, ok bool) {
	key, lits, ok := normalizeQuery(query)
	if !ok {
		return nil, false
	}
	tmpl, hit := s.plans[key]
	if !hit {
		if tmpl, ok = s.fillPlan(query, lits, state); !ok {
			return nil, false
		}
		if len(s.plans) >= maxPlanCache {
			clear(s.plans)
		}
		if s.plans == nil {
			s.plans = map[string]*planTemplate{}
		}
		s.plans[key] = tmpl
	}
	if tmpl == nil {
		return nil, false // known not cacheable
	}
	st = &stmt{s: s, node: tmpl.node, text: query, cp: tmpl.cp}
	if tmpl.cp != nil {
		st.tmpl = tmpl
	}
	if tmpl.lits > 0 {
		st.lits = make([]any, tmpl.lits)
		for i, l := range lits {
			v := l.val
			if tmpl.neg[i] {
				v = -v
			}
			st.lits[i] = v
		}
	}
	return st, true
}

// fillPlan parses query and builds its template; a nil template with ok
// true records that the key is not cacheable.
func (s *Session) fillPlan(query string, lits []literal, state func() (*engine.State, error)) (*planTemplate, bool) {
	stmts, err := s.parse(query)
	if err != nil || len(stmts) != 1 {
		return nil, false
	}
	orig := stmts[0]
	switch orig.node.Node.(type) {
	case *pg.Node_SelectStmt, *pg.Node_InsertStmt, *pg.Node_UpdateStmt, *pg.Node_DeleteStmt:
	default:
		if len(lits) == 0 && !isDataStmt(orig.node) {
			if _, isCopy := orig.node.Node.(*pg.Node_CopyStmt); !isCopy {
				return &planTemplate{node: orig.node}, true
			}
		}
		return nil, true
	}
	tmpl, ok := makeTemplate(orig.node, lits)
	if !ok {
		return nil, true
	}
	st, err := state()
	if err != nil {
		return nil, false
	}
	want, err := orig.compile(st)
	if err != nil {
		return nil, false
	}
	tst := &stmt{s: s, node: tmpl.node, text: query}
	cp, err := tst.compile(st)
	if err != nil || len(cp.params) != tmpl.lits || !sameColumns(cp.cols, want.cols) {
		return nil, true
	}
	for _, p := range cp.params {
		if p.k != kInt4 && p.k != kInt8 {
			return nil, true
		}
	}
	tmpl.cp = cp
	return tmpl, true
}

func sameColumns(a, b []colInfo) bool {
	if len(a) != len(b) || (a == nil) != (b == nil) {
		return false
	}
	for i := range a {
		if a[i].name != b[i].name || a[i].t != b[i].t || a[i].hidden != b[i].hidden {
			return false
		}
	}
	return true
}

// materialize gives st its own tree with the literals back in place of
// the template's parameters and forgets the template (which the session's
// cache drops, so the next query of this shape is checked afresh).
func (st *stmt) materialize() {
	for k, t := range st.s.plans {
		if t == st.tmpl {
			delete(st.s.plans, k)
		}
	}
	node := proto.Clone(st.tmpl.node).(*pg.Node)
	walkNodes(node.ProtoReflect(), func(n *pg.Node) {
		pr, ok := n.Node.(*pg.Node_ParamRef)
		if !ok || pr.ParamRef.Number < 1 || int(pr.ParamRef.Number) > len(st.lits) {
			return
		}
		v, _ := st.lits[pr.ParamRef.Number-1].(int64)
		n.Node = &pg.Node_AConst{AConst: &pg.A_Const{Val: &pg.A_Const_Ival{Ival: &pg.Integer{Ival: int32(v)}}, Location: pr.ParamRef.Location}}
	})
	st.node, st.cp, st.tmpl, st.lits = node, nil, nil, nil
}
