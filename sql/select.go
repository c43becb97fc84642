package sql

import (
	"strconv"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
)

// compileSelect plans a SELECT (or VALUES, or set operation) whose
// correlated references resolve in outer.
func (c *compiler) compileSelect(s *pg.SelectStmt, outer *scope) (plan, error) {
	if s.WithClause != nil {
		if s.WithClause.Recursive {
			return nil, unsupported("WITH RECURSIVE")
		}
		defs := map[string]*cteDef{}
		c.ctes = append(c.ctes, defs)
		defer func() { c.ctes = c.ctes[:len(c.ctes)-1] }()
		for _, n := range s.WithClause.Ctes {
			cte := n.GetCommonTableExpr()
			sel := cte.Ctequery.GetSelectStmt()
			if sel == nil {
				return nil, unsupported("data-modifying statements in WITH")
			}
			p, err := c.compileSelect(sel, outer)
			if err != nil {
				return nil, err
			}
			cols := append([]colInfo(nil), p.columns()...)
			for i, a := range cte.Aliascolnames {
				if i < len(cols) {
					cols[i].name = strVal(a)
				}
			}
			defs[cte.Ctename] = &cteDef{name: cte.Ctename, p: p, cols: cols}
		}
	}
	if s.Op != pg.SetOperation_SETOP_NONE && s.Op != pg.SetOperation_SET_OPERATION_UNDEFINED {
		return c.compileSetOp(s, outer)
	}
	if len(s.ValuesLists) > 0 {
		p, err := c.compileValues(s.ValuesLists, outer, nil)
		if err != nil {
			return nil, err
		}
		return c.finishSelect(p, s, outer)
	}
	if s.IntoClause != nil {
		return nil, unsupported("SELECT INTO")
	}
	if len(s.LockingClause) > 0 {
		// FOR UPDATE/SHARE: under optimistic concurrency the read set is
		// validated at commit anyway; accept and ignore.
		s.LockingClause = nil
	}
	if len(s.WindowClause) > 0 {
		return nil, unsupported("window functions")
	}
	var from plan = oneRowNode{}
	sc := &scope{parent: outer}
	if len(s.FromClause) > 0 {
		p, err := c.compileFromList(s.FromClause, outer, s.WhereClause)
		if err != nil {
			return nil, err
		}
		from = p
		sc.cols = p.columns()
	}
	if s.WhereClause != nil {
		cond, err := c.compileCond(s.WhereClause, sc, "WHERE")
		if err != nil {
			return nil, err
		}
		from = &filterNode{in: from, cond: cond}
	}
	if calls := windowCalls(s.TargetList); len(calls) > 0 {
		if len(s.GroupClause) > 0 || s.HavingClause != nil || hasAggregate(s.TargetList) {
			return nil, unsupported("window functions with aggregation")
		}
		wp, wsc, err := c.compileWindows(calls, from, sc)
		if err != nil {
			return nil, err
		}
		from, sc = wp, wsc
	}
	// Aggregation.
	if len(s.GroupClause) > 0 || s.HavingClause != nil || hasAggregate(s.TargetList) || hasAggregate(sortNodes(s.SortClause)) {
		ap, asc, err := c.compileAggregate(s, from, sc)
		if err != nil {
			return nil, err
		}
		from, sc = ap, asc
		if s.HavingClause != nil {
			cond, err := c.compileCond(s.HavingClause, sc, "HAVING")
			if err != nil {
				return nil, err
			}
			from = &filterNode{in: from, cond: cond}
		}
	}
	if calls := srfCalls(s.TargetList); len(calls) > 0 {
		if len(s.GroupClause) > 0 || s.HavingClause != nil || hasAggregate(s.TargetList) {
			return nil, unsupported("set-returning functions in the select list with aggregation")
		}
		pp, psc, err := c.compileProjectSet(calls, from, sc)
		if err != nil {
			return nil, err
		}
		from, sc = pp, psc
	}
	// Targets.
	exprs, cols, err := c.compileTargets(s.TargetList, sc)
	if err != nil {
		return nil, err
	}
	visible := len(exprs)
	keys, exprs, cols, err := c.compileOrderBy(s.SortClause, sc, exprs, cols, s.TargetList)
	if err != nil {
		return nil, err
	}
	var p plan = &projectNode{in: from, exprs: exprs, cols: cols}
	if len(s.DistinctClause) > 0 {
		if len(s.DistinctClause) > 1 || (s.DistinctClause[0] != nil && s.DistinctClause[0].Node != nil) {
			return nil, unsupported("DISTINCT ON")
		}
		p = &distinctNode{in: p, n: visible}
	}
	if len(keys) > 0 {
		p = &sortNode{in: p, keys: keys, desc: sortDesc(keys, cols)}
	}
	if p, err = c.compileLimit(p, s); err != nil {
		return nil, err
	}
	if len(exprs) > visible {
		p = &trimNode{in: p, n: visible}
	}
	return p, nil
}

func sortNodes(sorts []*pg.Node) []*pg.Node {
	out := make([]*pg.Node, 0, len(sorts))
	for _, s := range sorts {
		if sb := s.GetSortBy(); sb != nil {
			out = append(out, sb.Node)
		}
	}
	return out
}

func sortDesc(keys []sortKey, cols []colInfo) string {
	var parts []string
	for _, k := range keys {
		s := cols[k.col].name
		if k.desc {
			s += " DESC"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// compileCond compiles a boolean condition.
func (c *compiler) compileCond(n *pg.Node, sc *scope, what string) (expr, error) {
	e, err := c.compileExpr(n, sc)
	if err != nil {
		return expr{}, err
	}
	if e, err = c.coerce(e, tBool); err != nil {
		return expr{}, err
	}
	if e.t.k != kBool {
		return expr{}, errorf(codeDatatypeMismatch, "argument of %s must be type boolean, not type %s", what, e.t)
	}
	return e, nil
}

// finishSelect applies ORDER BY / LIMIT to a set operation or VALUES
// result, whose sort keys can only name output columns.
func (c *compiler) finishSelect(p plan, s *pg.SelectStmt, outer *scope) (plan, error) {
	cols := p.columns()
	sc := &scope{cols: cols, parent: outer}
	exprs := make([]expr, len(cols))
	for i, col := range cols {
		i := i
		exprs[i] = expr{t: col.t, fn: func(_ *execCtx, r []any) (any, error) { return r[i], nil }}
	}
	visible := len(exprs)
	keys, exprs, outCols, err := c.compileOrderBy(s.SortClause, sc, exprs, append([]colInfo(nil), cols...), nil)
	if err != nil {
		return nil, err
	}
	if len(exprs) > visible {
		p = &projectNode{in: p, exprs: exprs, cols: outCols}
	}
	if len(keys) > 0 {
		p = &sortNode{in: p, keys: keys, desc: sortDesc(keys, outCols)}
	}
	if p, err = c.compileLimit(p, s); err != nil {
		return nil, err
	}
	if len(exprs) > visible {
		p = &trimNode{in: p, n: visible}
	}
	return p, nil
}

func (c *compiler) compileLimit(p plan, s *pg.SelectStmt) (plan, error) {
	if s.LimitCount == nil && s.LimitOffset == nil {
		return p, nil
	}
	ln := &limitNode{in: p}
	for _, it := range []struct {
		n   *pg.Node
		dst **expr
	}{{s.LimitCount, &ln.limit}, {s.LimitOffset, &ln.offset}} {
		if it.n == nil {
			continue
		}
		if ac := it.n.GetAConst(); ac != nil && ac.Isnull {
			continue // LIMIT ALL / LIMIT NULL
		}
		e, err := c.compileExpr(it.n, nil)
		if err != nil {
			return nil, err
		}
		if e, err = c.coerce(e, tInt8); err != nil {
			return nil, err
		}
		*it.dst = &e
	}
	return ln, nil
}

func (c *compiler) compileSetOp(s *pg.SelectStmt, outer *scope) (plan, error) {
	l, err := c.compileSelect(s.Larg, outer)
	if err != nil {
		return nil, err
	}
	r, err := c.compileSelect(s.Rarg, outer)
	if err != nil {
		return nil, err
	}
	lc, rc := l.columns(), r.columns()
	op := strings.TrimPrefix(s.Op.String(), "SETOP_")
	if len(lc) != len(rc) {
		return nil, errorf(codeSyntax, "each %s query must have the same number of columns", op)
	}
	n := &setOpNode{op: op, all: s.All, left: l, right: r}
	for i := range lc {
		t := commonType(lc[i].t, rc[i].t)
		if t.k == kUnknown {
			t = tText
		}
		i := i
		get := func(ct typ) expr {
			return expr{t: ct, fn: func(_ *execCtx, row []any) (any, error) { return row[i], nil }}
		}
		le, err := c.coerce(get(lc[i].t), t)
		if err != nil {
			return nil, err
		}
		re, err := c.coerce(get(rc[i].t), t)
		if err != nil {
			return nil, errorf(codeDatatypeMismatch, "%s types %s and %s cannot be matched", op, lc[i].t, rc[i].t)
		}
		n.lconv = append(n.lconv, le)
		n.rconv = append(n.rconv, re)
		n.cols = append(n.cols, colInfo{name: lc[i].name, t: t})
	}
	return c.finishSelect(n, s, outer)
}

// compileValues plans VALUES rows; target, when given, are the types the
// rows will be assigned to (INSERT), which decides how literals resolve.
func (c *compiler) compileValues(lists []*pg.Node, outer *scope, target []typ) (plan, error) {
	n := &valuesNode{}
	sc := &scope{parent: outer}
	width := -1
	for _, l := range lists {
		items := l.GetList().Items
		if width >= 0 && len(items) != width {
			return nil, errorf(codeSyntax, "VALUES lists must all be the same length")
		}
		width = len(items)
		row := make([]expr, len(items))
		for i, it := range items {
			if it.GetSetToDefault() != nil && target != nil {
				row[i] = expr{t: tUnknown, param: -1, fn: func(*execCtx, []any) (any, error) { return defaultMarker{}, nil }}
				continue
			}
			e, err := c.compileExpr(it, sc)
			if err != nil {
				return nil, err
			}
			row[i] = e
		}
		n.rows = append(n.rows, row)
	}
	for i := 0; i < width; i++ {
		t := tUnknown
		if target != nil && i < len(target) {
			// Literals resolve to the column's base type; assignment applies
			// the modifiers (length checks, numeric rounding) afterwards.
			t = typ{k: target[i].k}
		} else {
			for _, r := range n.rows {
				if r[i].param != -1 {
					t = commonType(t, r[i].t)
				}
			}
			if t.k == kUnknown {
				t = tText
			}
		}
		for _, r := range n.rows {
			if r[i].param == -1 {
				continue
			}
			if target != nil && r[i].t.k != kUnknown && r[i].param == 0 {
				continue // assignment casts later
			}
			e, err := c.coerce(r[i], t)
			if err != nil {
				return nil, err
			}
			r[i] = e
		}
		ct := t
		if target != nil {
			ct = n.rows[0][i].t
		}
		n.cols = append(n.cols, colInfo{table: "*VALUES*", name: "column" + strconv.Itoa(i+1), t: ct})
	}
	return n, nil
}

// defaultMarker is the value of DEFAULT in an INSERT's VALUES list.
type defaultMarker struct{}

// compileTargets expands the select list.
func (c *compiler) compileTargets(targets []*pg.Node, sc *scope) ([]expr, []colInfo, error) {
	var exprs []expr
	var cols []colInfo
	for _, tn := range targets {
		rt := tn.GetResTarget()
		if cr := rt.Val.GetColumnRef(); cr != nil && cr.Fields[len(cr.Fields)-1].GetAStar() != nil {
			qual := ""
			if len(cr.Fields) >= 2 {
				qual = strVal(cr.Fields[len(cr.Fields)-2])
			}
			src := sc
			if sc.agg != nil {
				src = sc.agg.input
			}
			found := false
			for i, col := range src.cols {
				if col.hidden || col.usingDup || (qual != "" && col.table != qual) {
					continue
				}
				found = true
				var e expr
				var err error
				if sc.agg != nil {
					e, err = c.compileExpr(&pg.Node{Node: &pg.Node_ColumnRef{ColumnRef: &pg.ColumnRef{Fields: []*pg.Node{pg.MakeStrNode(col.table), pg.MakeStrNode(col.name)}}}}, sc)
					if err != nil {
						return nil, nil, err
					}
				} else {
					i := i
					e = expr{t: col.t, fn: func(_ *execCtx, r []any) (any, error) { return r[i], nil }}
					c.level0++
				}
				exprs = append(exprs, e)
				cols = append(cols, colInfo{name: col.name, t: col.t, tableOID: col.tableOID, attnum: col.attnum})
			}
			if !found && qual != "" {
				return nil, nil, withPos(errorf(codeUndefinedTable, "missing FROM-clause entry for table %q", qual), cr.Location)
			}
			if !found && qual == "" && len(src.cols) == 0 {
				return nil, nil, withPos(errorf(codeSyntax, "SELECT * with no tables specified is not valid"), cr.Location)
			}
			continue
		}
		e, err := c.compileExpr(rt.Val, sc)
		if err != nil {
			return nil, nil, err
		}
		if e.t.k == kUnknown {
			e, _ = c.coerce(e, tText)
		}
		name := rt.Name
		if name == "" {
			name = deriveName(rt.Val)
		}
		col := colInfo{name: name, t: e.t}
		if cr := rt.Val.GetColumnRef(); cr != nil && sc != nil && sc.agg == nil {
			if l, i, err := sc.resolve(colRefParts(cr)); err == nil && l == 0 {
				col.tableOID, col.attnum = sc.cols[i].tableOID, sc.cols[i].attnum
			}
		}
		exprs = append(exprs, e)
		cols = append(cols, col)
	}
	return exprs, cols, nil
}

func colRefParts(cr *pg.ColumnRef) (string, string) {
	parts := strList(cr.Fields)
	if len(parts) >= 2 {
		return parts[len(parts)-2], parts[len(parts)-1]
	}
	return "", parts[0]
}

// deriveName is PostgreSQL's FigureColname.
func deriveName(n *pg.Node) string {
	switch v := n.Node.(type) {
	case *pg.Node_ColumnRef:
		return strVal(v.ColumnRef.Fields[len(v.ColumnRef.Fields)-1])
	case *pg.Node_FuncCall:
		return funcName(v.FuncCall.Funcname)
	case *pg.Node_TypeCast:
		if name := deriveName(v.TypeCast.Arg); name != "?column?" {
			return name
		}
		names := strList(v.TypeCast.TypeName.Names)
		t, err := parseTypeName(names, nil, false)
		if err == nil {
			switch t.k {
			case kInt4:
				return "int4"
			case kInt8:
				return "int8"
			case kInt2:
				return "int2"
			case kFloat8:
				return "float8"
			case kFloat4:
				return "float4"
			case kBool:
				return "bool"
			case kVarchar:
				return "varchar"
			case kChar:
				return "bpchar"
			case kTimestamptz:
				return "timestamptz"
			}
		}
		return names[len(names)-1]
	case *pg.Node_CaseExpr:
		return "case"
	case *pg.Node_CoalesceExpr:
		return "coalesce"
	case *pg.Node_MinMaxExpr:
		if v.MinMaxExpr.Op == pg.MinMaxOp_IS_GREATEST {
			return "greatest"
		}
		return "least"
	case *pg.Node_AExpr:
		if v.AExpr.Kind == pg.A_Expr_Kind_AEXPR_NULLIF {
			return "nullif"
		}
	case *pg.Node_SubLink:
		switch v.SubLink.SubLinkType {
		case pg.SubLinkType_EXISTS_SUBLINK:
			return "exists"
		case pg.SubLinkType_ARRAY_SUBLINK:
			return "array"
		case pg.SubLinkType_EXPR_SUBLINK:
			if sel := v.SubLink.Subselect.GetSelectStmt(); sel != nil && len(sel.TargetList) == 1 {
				rt := sel.TargetList[0].GetResTarget()
				if rt.Name != "" {
					return rt.Name
				}
				return deriveName(rt.Val)
			}
		}
	case *pg.Node_SqlvalueFunction:
		switch v.SqlvalueFunction.Op {
		case pg.SQLValueFunctionOp_SVFOP_CURRENT_DATE:
			return "current_date"
		case pg.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP, pg.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP_N:
			return "current_timestamp"
		case pg.SQLValueFunctionOp_SVFOP_CURRENT_USER:
			return "current_user"
		case pg.SQLValueFunctionOp_SVFOP_SESSION_USER:
			return "session_user"
		case pg.SQLValueFunctionOp_SVFOP_USER:
			return "user"
		case pg.SQLValueFunctionOp_SVFOP_CURRENT_SCHEMA:
			return "current_schema"
		case pg.SQLValueFunctionOp_SVFOP_CURRENT_CATALOG:
			return "current_catalog"
		case pg.SQLValueFunctionOp_SVFOP_LOCALTIMESTAMP, pg.SQLValueFunctionOp_SVFOP_LOCALTIMESTAMP_N:
			return "localtimestamp"
		}
	case *pg.Node_AArrayExpr:
		return "array"
	case *pg.Node_RowExpr:
		return "row"
	case *pg.Node_BooleanTest, *pg.Node_NullTest, *pg.Node_BoolExpr:
	case *pg.Node_CollateClause:
		return deriveName(v.CollateClause.Arg)
	case *pg.Node_AIndirection:
		return deriveName(v.AIndirection.Arg)
	}
	return "?column?"
}

// compileOrderBy resolves sort keys: ordinals and output names refer to
// the select list; other expressions are appended as hidden columns.
func (c *compiler) compileOrderBy(sorts []*pg.Node, sc *scope, exprs []expr, cols []colInfo, targets []*pg.Node) ([]sortKey, []expr, []colInfo, error) {
	var keys []sortKey
	visible := len(cols)
	for _, sn := range sorts {
		sb := sn.GetSortBy()
		k := sortKey{col: -1, desc: sb.SortbyDir == pg.SortByDir_SORTBY_DESC}
		k.nullsFirst = k.desc
		switch sb.SortbyNulls {
		case pg.SortByNulls_SORTBY_NULLS_FIRST:
			k.nullsFirst = true
		case pg.SortByNulls_SORTBY_NULLS_LAST:
			k.nullsFirst = false
		}
		if ac := sb.Node.GetAConst(); ac != nil {
			if iv, ok := ac.Val.(*pg.A_Const_Ival); ok {
				pos := int(iv.Ival.Ival)
				if pos < 1 || pos > visible {
					return nil, nil, nil, withPos(errorf(codeInvalidColumnRef, "ORDER BY position %d is not in select list", pos), ac.Location)
				}
				k.col = pos - 1
			}
		}
		if cr := sb.Node.GetColumnRef(); k.col < 0 && cr != nil && len(cr.Fields) == 1 && cr.Fields[0].GetAStar() == nil {
			name := strVal(cr.Fields[0])
			for i := 0; i < visible; i++ {
				if cols[i].name == name {
					// Prefer an output column only when the name is not
					// also an input column, or when it is the same thing.
					k.col = i
					break
				}
			}
		}
		if k.col < 0 && targets != nil {
			key := nodeKey(sb.Node)
			for i, tn := range targets {
				if rt := tn.GetResTarget(); rt != nil && i < visible && nodeKey(rt.Val) == key {
					k.col = i
					break
				}
			}
		}
		if k.col < 0 {
			e, err := c.compileExpr(sb.Node, sc)
			if err != nil {
				return nil, nil, nil, err
			}
			exprs = append(exprs, e)
			cols = append(cols, colInfo{name: deriveName(sb.Node), t: e.t, hidden: true})
			k.col = len(cols) - 1
		}
		keys = append(keys, k)
	}
	return keys, exprs, cols, nil
}
