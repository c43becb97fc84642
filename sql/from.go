package sql

import (
	"github.com/heliosdb/heliosdb-lite/engine"
	pg "github.com/pganalyze/pg_query_go/v6"
)

// compileFromList plans the FROM clause: comma-separated items are cross
// joins; where is used only to choose access paths.
func (c *compiler) compileFromList(items []*pg.Node, outer *scope, where *pg.Node) (plan, error) {
	var p plan
	for _, it := range items {
		q, err := c.compileFromItem(it, outer, where)
		if err != nil {
			return nil, err
		}
		if p == nil {
			p = q
			continue
		}
		p, err = c.makeJoin("INNER", p, q, nil, nil, outer, where)
		if err != nil {
			return nil, err
		}
	}
	if len(items) > 1 {
		// Check duplicate aliases, as PostgreSQL does.
		seen := map[string]bool{}
		last := ""
		for _, col := range p.columns() {
			if col.table != last {
				if seen[col.table] && col.table != "" {
					return nil, errorf(codeDuplicateAlias, "table name %q specified more than once", col.table)
				}
				seen[col.table] = true
				last = col.table
			}
		}
	}
	return p, nil
}

const codeDuplicateAlias = "42712"

func (c *compiler) compileFromItem(n *pg.Node, outer *scope, where *pg.Node) (plan, error) {
	switch v := n.Node.(type) {
	case *pg.Node_RangeVar:
		p, err := c.compileRangeVar(v.RangeVar, where, outer, false)
		return p, withPos(err, v.RangeVar.Location)
	case *pg.Node_JoinExpr:
		return c.compileJoin(v.JoinExpr, outer, where)
	case *pg.Node_RangeSubselect:
		if v.RangeSubselect.Lateral {
			return nil, unsupported("LATERAL")
		}
		sel := v.RangeSubselect.Subquery.GetSelectStmt()
		p, err := c.compileSelect(sel, outer)
		if err != nil {
			return nil, err
		}
		alias := ""
		var colnames []*pg.Node
		if v.RangeSubselect.Alias != nil {
			alias = v.RangeSubselect.Alias.Aliasname
			colnames = v.RangeSubselect.Alias.Colnames
		}
		return aliasPlan(p, alias, colnames), nil
	case *pg.Node_RangeFunction:
		return c.compileRangeFunction(v.RangeFunction, outer)
	}
	return nil, unsupported("FROM item " + nodeName(n))
}

func aliasPlan(p plan, alias string, colnames []*pg.Node) plan {
	cols := make([]colInfo, len(p.columns()))
	for i, col := range p.columns() {
		col.table = alias
		if i < len(colnames) {
			col.name = strVal(colnames[i])
		}
		cols[i] = col
	}
	return &renameNode{in: p, cols: cols, name: alias}
}

// compileRangeVar plans a table reference: CTE, catalog relation or user
// table (with an access path chosen from where).
func (c *compiler) compileRangeVar(rv *pg.RangeVar, where *pg.Node, outer *scope, meta bool) (plan, error) {
	name := rv.Relname
	alias := name
	var colnames []*pg.Node
	if rv.Alias != nil {
		alias = rv.Alias.Aliasname
		colnames = rv.Alias.Colnames
	}
	if rv.Schemaname == "" && !meta {
		for i := len(c.ctes) - 1; i >= 0; i-- {
			if def, ok := c.ctes[i][name]; ok {
				cols := make([]colInfo, len(def.cols))
				for j, col := range def.cols {
					col.table = alias
					if j < len(colnames) {
						col.name = strVal(colnames[j])
					}
					cols[j] = col
				}
				return &cteScanNode{def: def, alias: alias, cols: cols}, nil
			}
		}
	}
	if !meta {
		if vt, ok, err := c.virtualTable(rv.Schemaname, name); err != nil {
			return nil, err
		} else if ok {
			cols := make([]colInfo, len(vt.cols))
			for i, col := range vt.cols {
				col.table = alias
				if i < len(colnames) {
					col.name = strVal(colnames[i])
				}
				cols[i] = col
			}
			return &virtualNode{name: name, cols: cols, gen: vt.gen}, nil
		}
	}
	if err := checkSchema(rv.Schemaname); err != nil {
		return nil, err
	}
	tbl, ok := c.table(name)
	if !ok {
		return nil, errorf(codeUndefinedTable, "relation %q does not exist", name)
	}
	def := tbl.Def()
	n := &scanNode{table: name, alias: alias, def: def, meta: meta}
	oid := tableOID(name)
	for i := range def.Columns {
		col := colInfo{table: alias, name: def.Columns[i].Name, t: colType(&def.Columns[i]), tableOID: oid, attnum: int16(i + 1)}
		if i < len(colnames) {
			col.name = strVal(colnames[i])
		}
		n.cols = append(n.cols, col)
	}
	if meta {
		n.cols = append(n.cols, colInfo{name: "__key", t: tBytea, hidden: true}, colInfo{name: "__lsn", t: tInt8, hidden: true})
	}
	if where != nil {
		c.choosePath(n, where, outer)
	}
	return n, nil
}

func checkSchema(schema string) error {
	switch schema {
	case "", "public":
		return nil
	}
	return errorf(codeUndefinedTable, "schema %q does not exist", schema)
}

func (c *compiler) compileJoin(j *pg.JoinExpr, outer *scope, where *pg.Node) (plan, error) {
	l, err := c.compileFromItem(j.Larg, outer, where)
	if err != nil {
		return nil, err
	}
	r, err := c.compileFromItem(j.Rarg, outer, where)
	if err != nil {
		return nil, err
	}
	kind := "INNER"
	switch j.Jointype {
	case pg.JoinType_JOIN_LEFT:
		kind = "LEFT"
	case pg.JoinType_JOIN_RIGHT:
		kind = "RIGHT"
	case pg.JoinType_JOIN_FULL:
		kind = "FULL"
	}
	if j.Quals == nil && len(j.UsingClause) == 0 && !j.IsNatural && kind == "INNER" {
		kind = "CROSS"
	}
	using := strList(j.UsingClause)
	if j.IsNatural {
		for _, lc := range l.columns() {
			for _, rc := range r.columns() {
				if !lc.hidden && !rc.hidden && lc.name == rc.name {
					using = append(using, lc.name)
				}
			}
		}
	}
	p, err := c.makeJoin(kind, l, r, j.Quals, using, outer, nil)
	if err != nil {
		return nil, err
	}
	if j.Alias != nil {
		return aliasPlan(p, j.Alias.Aliasname, j.Alias.Colnames), nil
	}
	return p, nil
}

// makeJoin builds a join of l and r on quals (and USING columns),
// extracting equality keys for a hash join.
func (c *compiler) makeJoin(kind string, l, r plan, quals *pg.Node, using []string, outer *scope, _ *pg.Node) (plan, error) {
	lc, rc := l.columns(), r.columns()
	cols := append(append([]colInfo(nil), lc...), rc...)
	n := &joinNode{kind: kind, left: l, right: r}
	lsc := &scope{cols: lc, parent: outer}
	rsc := &scope{cols: rc, parent: outer}
	full := &scope{cols: cols, parent: outer}
	for _, name := range using {
		li, ri := -1, -1
		for i, col := range lc {
			if col.name == name && !col.hidden && !col.usingDup {
				li = i
			}
		}
		for i, col := range rc {
			if col.name == name && !col.hidden && !col.usingDup {
				ri = i
			}
		}
		if li < 0 || ri < 0 {
			return nil, errorf(codeUndefinedColumn, "column %q specified in USING clause does not exist in %s table", name, map[bool]string{true: "left", false: "right"}[li < 0])
		}
		le := expr{t: lc[li].t, fn: colGetter(li)}
		re := expr{t: rc[ri].t, fn: colGetter(ri)}
		le, re, err := c.unify(le, re)
		if err != nil {
			return nil, err
		}
		n.lkeys = append(n.lkeys, le)
		n.rkeys = append(n.rkeys, re)
		cols[len(lc)+ri].usingDup = true
	}
	var residual []expr
	for _, q := range conjuncts(quals) {
		if a := q.GetAExpr(); a != nil && a.Kind == pg.A_Expr_Kind_AEXPR_OP && len(a.Name) == 1 && strVal(a.Name[0]) == "=" && kind != "CROSS" {
			if le, re, ok := c.splitEquality(a, lsc, rsc); ok {
				n.lkeys = append(n.lkeys, le)
				n.rkeys = append(n.rkeys, re)
				continue
			}
		}
		e, err := c.compileCond(q, full, "JOIN/ON")
		if err != nil {
			return nil, err
		}
		residual = append(residual, e)
	}
	if len(residual) > 0 {
		cond := residual[0]
		if len(residual) > 1 {
			all := residual
			cond = expr{t: tBool, fn: func(x *execCtx, row []any) (any, error) {
				var res any = true
				for _, e := range all {
					v, err := e.fn(x, row)
					if err != nil {
						return nil, err
					}
					if v == false {
						return false, nil
					}
					if v == nil {
						res = nil
					}
				}
				return res, nil
			}}
		}
		n.cond = &cond
	}
	n.cols = cols
	return n, nil
}

func colGetter(i int) evalFn {
	return func(_ *execCtx, r []any) (any, error) { return r[i], nil }
}

// splitEquality recognises "left-expr = right-expr" for a hash join.
func (c *compiler) splitEquality(a *pg.A_Expr, lsc, rsc *scope) (expr, expr, bool) {
	try := func(ln, rn *pg.Node) (expr, expr, bool) {
		save0, saveO, saveP := c.level0, c.outerRefs, len(c.params)
		defer func() { c.level0, c.outerRefs = save0, saveO }()
		le, err := c.compileExpr(ln, lsc)
		if err != nil || c.level0 == save0 || len(c.params) != saveP {
			return expr{}, expr{}, false
		}
		mid := c.level0
		re, err := c.compileExpr(rn, rsc)
		if err != nil || c.level0 == mid || len(c.params) != saveP {
			return expr{}, expr{}, false
		}
		if !comparable(le.t, re.t) {
			return expr{}, expr{}, false
		}
		le, re, err = c.unify(le, re)
		if err != nil {
			return expr{}, expr{}, false
		}
		return le, re, true
	}
	if le, re, ok := try(a.Lexpr, a.Rexpr); ok {
		return le, re, true
	}
	return try(a.Rexpr, a.Lexpr)
}

// conjuncts splits a condition on AND.
func conjuncts(n *pg.Node) []*pg.Node {
	if n == nil {
		return nil
	}
	if b := n.GetBoolExpr(); b != nil && b.Boolop == pg.BoolExprType_AND_EXPR {
		var out []*pg.Node
		for _, a := range b.Args {
			out = append(out, conjuncts(a)...)
		}
		return out
	}
	return []*pg.Node{n}
}

// choosePath picks an access path for scan n from the conjuncts of where:
// the primary key first, then the secondary index with the most equality
// columns.
func (c *compiler) choosePath(n *scanNode, where *pg.Node, outer *scope) {
	def := n.def
	// Candidate predicates: column op value, value not depending on the
	// current query level.
	type pred struct {
		col int
		op  string
		val expr
	}
	var preds []pred
	self := &scope{cols: n.cols, parent: outer}
	valScope := &scope{parent: outer}
	for _, q := range conjuncts(where) {
		a := q.GetAExpr()
		if a == nil {
			continue
		}
		var pairs [][3]any // col node, op, value node
		switch a.Kind {
		case pg.A_Expr_Kind_AEXPR_OP:
			if len(a.Name) != 1 || a.Lexpr == nil {
				continue
			}
			op := strVal(a.Name[0])
			switch op {
			case "=", "<", "<=", ">", ">=":
			default:
				continue
			}
			pairs = append(pairs, [3]any{a.Lexpr, op, a.Rexpr}, [3]any{a.Rexpr, flipOp(op), a.Lexpr})
		case pg.A_Expr_Kind_AEXPR_BETWEEN:
			b := a.Rexpr.GetList().Items
			pairs = append(pairs, [3]any{a.Lexpr, ">=", b[0]}, [3]any{a.Lexpr, "<=", b[1]})
		default:
			continue
		}
		for _, p := range pairs {
			cn, op, vn := p[0].(*pg.Node), p[1].(string), p[2].(*pg.Node)
			cr := cn.GetColumnRef()
			if cr == nil || cr.Fields[len(cr.Fields)-1].GetAStar() != nil {
				continue
			}
			qual, name := colRefParts(cr)
			lvl, idx, err := self.resolve(qual, name)
			if err != nil || lvl != 0 || idx >= len(def.Columns) {
				continue
			}
			saveP := len(c.params)
			saveTypes := append([]typ(nil), c.params...)
			save0, saveO := c.level0, c.outerRefs
			v, err := c.compileExpr(vn, valScope)
			c.level0, c.outerRefs = save0, saveO
			if err != nil {
				c.params = saveTypes[:saveP]
				continue
			}
			ct := colType(&def.Columns[idx])
			if v.t.k == kUnknown || (v.param > 0 && c.params[v.param-1].k == kUnknown) {
				if v, err = c.coerce(v, typ{k: ct.k}); err != nil {
					continue
				}
			}
			if !sameKeyClass(v.t.k, ct.k) || (op != "=" && v.t.k != ct.k && !(v.t.k.isInt() && ct.k.isInt())) {
				continue
			}
			preds = append(preds, pred{col: idx, op: op, val: v})
		}
	}
	if len(preds) == 0 {
		return
	}
	build := func(cols []int) (accessPath, int) {
		var ap accessPath
		ap.cols = cols
		score := 0
		for _, col := range cols {
			found := false
			for _, p := range preds {
				if p.col == col && p.op == "=" {
					ap.eq = append(ap.eq, p.val)
					found = true
					score += 10
					break
				}
			}
			if !found {
				for _, p := range preds {
					if p.col != col {
						continue
					}
					v := p.val
					switch p.op {
					case ">", ">=":
						if ap.lo == nil {
							ap.lo = &v
							score++
						}
					case "<", "<=":
						if ap.hi == nil {
							ap.hi = &v
							score++
						}
					}
				}
				break
			}
		}
		return ap, score
	}
	best, bestScore := accessPath{}, 0
	if len(def.PrimaryKey) > 0 {
		ap, s := build(def.PrimaryKey)
		if s > 0 {
			ap.kind, ap.name = pathPK, pkName(def)
			if len(ap.eq) == len(def.PrimaryKey) {
				s += 100 // a point lookup beats everything
			}
			best, bestScore = ap, s
		}
	}
	for i, ix := range def.Indexes {
		ap, s := build(ix.Columns)
		if s > bestScore {
			ap.kind, ap.index, ap.name = pathIndex, i, ix.Name
			best, bestScore = ap, s
		}
	}
	if bestScore > 0 {
		n.path = best
	}
}

func pkName(def *engine.TableDef) string {
	if def.PKName != "" {
		return def.PKName
	}
	return def.Name + "_pkey"
}

func flipOp(op string) string {
	switch op {
	case "<":
		return ">"
	case "<=":
		return ">="
	case ">":
		return "<"
	case ">=":
		return "<="
	}
	return op
}

// sameKeyClass reports whether values of kind v can be encoded as keys of
// a column of kind col after a cast without changing equality.
func sameKeyClass(v, col kind) bool {
	switch {
	case v.isInt() && col.isInt():
		return true
	case v.isString() && col.isString():
		return true
	case v == col:
		return true
	case v.isTime() && col.isTime():
		return true
	}
	return false
}
