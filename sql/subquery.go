package sql

import (
	"github.com/heliosdb/heliosdb-lite/engine"
	pg "github.com/pganalyze/pg_query_go/v6"
)

// runSub runs a subquery plan for the current row r. Uncorrelated
// subqueries run once per execution and are cached.
func runSub(x *execCtx, p plan, correlated bool, r []any) ([][]any, error) {
	if !correlated {
		if rows, ok := x.cache[p]; ok {
			return rows, nil
		}
	}
	x.outer = append(x.outer, r)
	rows, err := p.run(x)
	x.outer = x.outer[:len(x.outer)-1]
	if err != nil {
		return nil, err
	}
	if !correlated {
		if x.cache == nil {
			x.cache = map[any][][]any{}
		}
		x.cache[p] = rows
	}
	return rows, nil
}

func (c *compiler) compileSubLink(sl *pg.SubLink, sc *scope) (expr, error) {
	sel := sl.Subselect.GetSelectStmt()
	if sel == nil {
		return expr{}, unsupported("this subquery")
	}
	if sc == nil {
		sc = &scope{}
	}
	saveOuter, save0 := c.outerRefs, c.level0
	p, err := c.compileSelect(sel, sc)
	if err != nil {
		return expr{}, err
	}
	correlated := c.outerRefs != saveOuter
	// References from inside the subquery to this level count as this
	// level's references for the caller's dependency tracking.
	if correlated {
		c.level0 = save0 + 1
	}
	cols := p.columns()
	switch sl.SubLinkType {
	case pg.SubLinkType_EXISTS_SUBLINK:
		return expr{t: tBool, fn: func(x *execCtx, r []any) (any, error) {
			rows, err := runSub(x, p, correlated, r)
			return len(rows) > 0, err
		}}, nil
	case pg.SubLinkType_EXPR_SUBLINK, pg.SubLinkType_ARRAY_SUBLINK:
		if len(cols) != 1 {
			return expr{}, withPos(errorf(codeSyntax, "subquery must return only one column"), sl.Location)
		}
		if sl.SubLinkType == pg.SubLinkType_ARRAY_SUBLINK {
			return expr{t: typ{k: kArray, elem: cols[0].t.k}, fn: func(x *execCtx, r []any) (any, error) {
				rows, err := runSub(x, p, correlated, r)
				if err != nil {
					return nil, err
				}
				out := make([]any, len(rows))
				for i, row := range rows {
					out[i] = row[0]
				}
				return out, nil
			}}, nil
		}
		return expr{t: cols[0].t, fn: func(x *execCtx, r []any) (any, error) {
			rows, err := runSub(x, p, correlated, r)
			if err != nil {
				return nil, err
			}
			switch len(rows) {
			case 0:
				return nil, nil
			case 1:
				return rows[0][0], nil
			}
			return nil, errorf(codeCardinality, "more than one row returned by a subquery used as an expression")
		}}, nil
	case pg.SubLinkType_ANY_SUBLINK, pg.SubLinkType_ALL_SUBLINK:
		op := "="
		if len(sl.OperName) > 0 {
			op = strVal(sl.OperName[len(sl.OperName)-1])
		}
		test, err := c.compileExpr(sl.Testexpr, sc)
		if err != nil {
			return expr{}, err
		}
		if len(cols) != 1 && test.t.k != kRecord {
			return expr{}, withPos(errorf(codeSyntax, "subquery has too many columns"), sl.Location)
		}
		var cmp expr
		if test.t.k == kRecord {
			cmp, err = c.rowCompare(op, expr{t: test.t, fn: colGetter(0)}, expr{t: typ{k: kRecord}, fn: colGetter(1)})
		} else {
			cmp, err = c.binaryOp(op, expr{t: test.t, fn: colGetter(0)}, expr{t: cols[0].t, fn: colGetter(1)})
		}
		if err != nil {
			return expr{}, err
		}
		all := sl.SubLinkType == pg.SubLinkType_ALL_SUBLINK
		record := test.t.k == kRecord
		// For uncorrelated IN (subquery) with '=' a hash set answers in O(1).
		return expr{t: tBool, fn: func(x *execCtx, r []any) (any, error) {
			lv, err := test.fn(x, r)
			if err != nil {
				return nil, err
			}
			rows, err := runSub(x, p, correlated, r)
			if err != nil {
				return nil, err
			}
			sawNull := false
			pair := make([]any, 2)
			for _, row := range rows {
				pair[0] = lv
				if record {
					pair[1] = row
				} else {
					pair[1] = row[0]
				}
				v, err := cmp.fn(x, pair)
				if err != nil {
					return nil, err
				}
				switch {
				case v == nil:
					sawNull = true
				case v.(bool) && !all:
					return true, nil
				case !v.(bool) && all:
					return false, nil
				}
			}
			if sawNull {
				return nil, nil
			}
			return all, nil
		}}, nil
	}
	return expr{}, unsupported("subquery type " + sl.SubLinkType.String())
}

// compileRangeFunction plans set-returning functions in FROM.
func (c *compiler) compileRangeFunction(rf *pg.RangeFunction, outer *scope) (plan, error) {
	if rf.Lateral || len(rf.Functions) != 1 {
		return nil, unsupported("this function in FROM")
	}
	items := rf.Functions[0].GetList().GetItems()
	fc := items[0].GetFuncCall()
	if fc == nil {
		return nil, unsupported("this function in FROM")
	}
	name := funcName(fc.Funcname)
	sc := &scope{parent: outer}
	var args []expr
	for _, a := range fc.Args {
		e, err := c.compileExpr(a, sc)
		if err != nil {
			return nil, err
		}
		args = append(args, e)
	}
	alias := name
	var colnames []*pg.Node
	if rf.Alias != nil {
		alias = rf.Alias.Aliasname
		colnames = rf.Alias.Colnames
	}
	colName := name
	if len(colnames) > 0 {
		colName = strVal(colnames[0])
	} else if rf.Alias != nil {
		colName = alias
	}
	evalArgs := func(x *execCtx) ([]any, error) {
		vals := make([]any, len(args))
		for i, a := range args {
			v, err := a.fn(x, nil)
			if err != nil {
				return nil, err
			}
			vals[i] = v
		}
		return vals, nil
	}
	switch name {
	case "generate_series":
		if len(args) < 2 || len(args) > 3 {
			return nil, noFunc(name, args)
		}
		if args[0].t.k.isTime() || args[0].t.k == kDate || (args[0].t.k == kUnknown && len(args) == 3 && args[2].t.k == kInterval) {
			a, err := c.coerceAll(args, tTimestamptz, tTimestamptz, tInterval)
			if err != nil {
				return nil, err
			}
			args = a
			return &funcScanNode{name: name, cols: []colInfo{{table: alias, name: colName, t: tTimestamptz}}, gen: func(x *execCtx) ([][]any, error) {
				v, err := evalArgs(x)
				if err != nil || v[0] == nil || v[1] == nil || v[2] == nil {
					return nil, err
				}
				iv := v[2].(interval)
				if iv.cmpKey() == 0 {
					return nil, errorf(codeInvalidParam, "step size cannot equal zero")
				}
				var out [][]any
				for t := tsTime(v[0].(engine.Timestamp)); ; t = addInterval(t, iv, 1) {
					ts := timeTS(t)
					if (iv.cmpKey() > 0 && ts > v[1].(engine.Timestamp)) || (iv.cmpKey() < 0 && ts < v[1].(engine.Timestamp)) || len(out) > 10_000_000 {
						break
					}
					out = append(out, []any{ts})
				}
				return out, nil
			}}, nil
		}
		t := tInt4
		for _, a := range args {
			if a.t.k == kInt8 {
				t = tInt8
			}
			if a.t.k == kNumeric {
				return nil, unsupported("generate_series over numeric")
			}
		}
		a, err := c.coerceAll(args, t)
		if err != nil {
			return nil, err
		}
		args = a
		return &funcScanNode{name: name, cols: []colInfo{{table: alias, name: colName, t: t}}, gen: func(x *execCtx) ([][]any, error) {
			v, err := evalArgs(x)
			if err != nil {
				return nil, err
			}
			var out [][]any
			if err := intSeries(x, v, func(i int64) { out = append(out, []any{i}) }); err != nil {
				return nil, err
			}
			return out, nil
		}}, nil
	case "unnest":
		if len(args) != 1 || args[0].t.k != kArray {
			if len(args) == 1 && args[0].t.k == kUnknown {
				a, err := c.coerceAll(args, tTextArray)
				if err != nil {
					return nil, err
				}
				args = a
			} else {
				return nil, noFunc(name, args)
			}
		}
		return &funcScanNode{name: name, cols: []colInfo{{table: alias, name: colName, t: typ{k: args[0].t.elem}}}, gen: func(x *execCtx) ([][]any, error) {
			v, err := evalArgs(x)
			if err != nil || v[0] == nil {
				return nil, err
			}
			var out [][]any
			for _, e := range v[0].([]any) {
				out = append(out, []any{e})
			}
			return out, nil
		}}, nil
	}
	// A scalar function in FROM yields one row.
	e, err := c.callBuiltin(name, args)
	if err != nil {
		return nil, err
	}
	return &funcScanNode{name: name, cols: []colInfo{{table: alias, name: colName, t: e.t}}, gen: func(x *execCtx) ([][]any, error) {
		v, err := e.fn(x, nil)
		if err != nil {
			return nil, err
		}
		return [][]any{{v}}, nil
	}}, nil
}
