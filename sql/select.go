package sql

import (
	"strconv"
	"strings"

	"github.com/heliosdb/heliosdb-lite/engine"
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
