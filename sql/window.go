package sql

import (
	pg "github.com/pganalyze/pg_query_go/v6"
)

// Window functions: only row_number() OVER ([PARTITION BY ...] [ORDER BY
// ...]) in the select list of a query without aggregation, which is what
// client drivers' catalog queries need (pgjdbc's getColumns numbers the
// attributes with it). Each call becomes a hidden column appended to the
// input rows before projection.

// windowCall is one row_number() call: its partition and order keys are
// evaluated per input row.
type windowCall struct {
	exprs []expr    // partition keys, then order keys
	keys  []sortKey // over exprs' values
	nPart int
}

// windowNode appends one int8 column per call to every input row.
type windowNode struct {
	in    plan
	calls []*windowCall
	cols  []colInfo
}

// windowCalls returns the window function calls in the select list,
// outside subqueries.
func windowCalls(targets []*pg.Node) []*pg.FuncCall {
	return selectListCalls(targets, func(v *pg.FuncCall) bool { return v.Over != nil })
}

// compileWindows plans the window calls over in and returns the widened
// plan and scope; compileFunc resolves each call through c.windows.
func (c *compiler) compileWindows(calls []*pg.FuncCall, in plan, sc *scope) (plan, *scope, error) {
	n := &windowNode{in: in, cols: append([]colInfo(nil), sc.cols...)}
	if c.windows == nil {
		c.windows = map[*pg.FuncCall]int{}
	}
	for _, fc := range calls {
		name := funcName(fc.Funcname)
		if name != "row_number" || len(fc.Args) > 0 || fc.AggStar {
			return nil, nil, unsupported("window function " + name)
		}
		w := fc.Over
		if w.Name != "" || w.Refname != "" {
			// A frame clause cannot change row_number(); a named window can.
			return nil, nil, unsupported("named windows")
		}
		call := &windowCall{nPart: len(w.PartitionClause)}
		for _, p := range w.PartitionClause {
			e, err := c.compileExpr(p, sc)
			if err != nil {
				return nil, nil, err
			}
			call.keys = append(call.keys, sortKey{col: len(call.exprs)})
			call.exprs = append(call.exprs, e)
		}
		for _, o := range w.OrderClause {
			sb := o.GetSortBy()
			e, err := c.compileExpr(sb.Node, sc)
			if err != nil {
				return nil, nil, err
			}
			k := sortKey{col: len(call.exprs), desc: sb.SortbyDir == pg.SortByDir_SORTBY_DESC}
			k.nullsFirst = k.desc
			switch sb.SortbyNulls {
			case pg.SortByNulls_SORTBY_NULLS_FIRST:
				k.nullsFirst = true
			case pg.SortByNulls_SORTBY_NULLS_LAST:
				k.nullsFirst = false
			}
			call.keys = append(call.keys, k)
			call.exprs = append(call.exprs, e)
		}
		c.windows[fc] = len(n.cols)
		n.cols = append(n.cols, colInfo{name: name, t: tInt8, hidden: true})
		n.calls = append(n.calls, call)
	}
	return n, &scope{cols: n.cols, parent: sc.parent}, nil
}

// windowRef is the expression for a planned window call: its column.
func (c *compiler) windowRef(fc *pg.FuncCall) (expr, bool) {
	idx, ok := c.windows[fc]
	if !ok {
		return expr{}, false
	}
	return expr{t: tInt8, fn: func(_ *execCtx, r []any) (any, error) { return r[idx], nil }}, true
}

func (n *windowNode) columns() []colInfo { return n.cols }

func (n *windowNode) run(x *execCtx) ([][]any, error) {
	rows, err := n.in.run(x)
	if err != nil {
		return nil, err
	}
	out := make([][]any, len(rows))
	for i, r := range rows {
		// A fresh backing array: input rows may be shared with a scan.
		out[i] = append(make([]any, 0, len(r)+len(n.calls)), r...)
	}
	for _, call := range n.calls {
		// Sort (keys..., row index) tuples, then number within partitions.
		tuples := make([][]any, len(rows))
		for i, r := range rows {
			t := make([]any, len(call.exprs)+1)
			for j, e := range call.exprs {
				if t[j], err = e.fn(x, r); err != nil {
					return nil, err
				}
			}
			t[len(call.exprs)] = i
			tuples[i] = t
		}
		sortRows(tuples, call.keys)
		var num int64
		for i, t := range tuples {
			if i == 0 || !samePartition(tuples[i-1], t, call.nPart) {
				num = 0
			}
			num++
			idx := t[len(call.exprs)].(int)
			out[idx] = append(out[idx], num)
		}
	}
	return out, nil
}

func samePartition(a, b []any, n int) bool {
	for i := 0; i < n; i++ {
		if (a[i] == nil) != (b[i] == nil) || a[i] != nil && compareValues(a[i], b[i]) != 0 {
			return false
		}
	}
	return true
}

func (n *windowNode) explain(e *explainer, depth int) {
	e.add(depth, "WindowAgg")
	n.in.explain(e, depth+1)
}
