package sql

import (
	"math"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
)

// Set-returning functions in the select list (PostgreSQL's ProjectSet).
//
// SELECT f(...), (g(...)).x FROM t evaluates every set-returning call of
// the select list once per input row and emits as many rows as the
// longest result, the shorter ones padded with NULL (PostgreSQL 10+
// semantics). The calls become hidden columns of a projectSetNode below
// the projection; compileFunc resolves each call to its column. JDBC's
// DatabaseMetaData (getPrimaryKeys, getIndexInfo, ...) relies on
// information_schema._pg_expandarray(i.indkey) used this way.

// targetSRFs are the functions planned as target-list set-returning
// functions.
var targetSRFs = map[string]bool{"_pg_expandarray": true, "unnest": true, "generate_series": true}

// srfCalls lists the set-returning calls of a select list (not those of
// subqueries, which plan their own).
func srfCalls(targets []*pg.Node) []*pg.FuncCall {
	return selectListCalls(targets, func(v *pg.FuncCall) bool {
		return v.Over == nil && targetSRFs[funcName(v.Funcname)] && srfSchemaOK(v)
	})
}

// selectListCalls returns the function calls of a select list, outside
// subqueries, for which keep is true.
func selectListCalls(targets []*pg.Node, keep func(*pg.FuncCall) bool) []*pg.FuncCall {
	var out []*pg.FuncCall
	for _, n := range targets {
		walk(n, func(m proto.Message) bool {
			switch v := m.(type) {
			case *pg.SubLink:
				return false
			case *pg.FuncCall:
				if keep(v) {
					out = append(out, v)
				}
			}
			return true
		})
	}
	return out
}

func srfSchemaOK(fc *pg.FuncCall) bool {
	if len(fc.Funcname) == 1 {
		return true
	}
	switch strings.ToLower(strVal(fc.Funcname[0])) {
	case "pg_catalog":
		return true
	case "information_schema":
		return funcName(fc.Funcname) == "_pg_expandarray"
	}
	return false
}

// srfCall is one planned set-returning call: its arguments over the input
// row and the generator of its values.
type srfCall struct {
	args []expr
	gen  func(x *execCtx, vals []any) ([]any, error)
}

// expandArrayType is the record type of _pg_expandarray's rows for an
// array of elem: (x elem, n int4).
func expandArrayType(elem kind) typ {
	return typ{k: kRecord, rec: &recordType{names: []string{"x", "n"}, types: []typ{{k: elem}, tInt4}}}
}

// recordType names and types the fields of a record value ([]any).
type recordType struct {
	names []string
	types []typ
}

// compileSRF plans one set-returning call over sc.
func (c *compiler) compileSRF(fc *pg.FuncCall, sc *scope) (srfCall, typ, error) {
	name := funcName(fc.Funcname)
	args := make([]expr, len(fc.Args))
	for i, a := range fc.Args {
		e, err := c.compileExpr(a, sc)
		if err != nil {
			return srfCall{}, typ{}, err
		}
		args[i] = e
	}
	switch name {
	case "_pg_expandarray", "unnest":
		if len(args) != 1 {
			return srfCall{}, typ{}, noFunc(name, args)
		}
		if args[0].t.k == kUnknown {
			a, err := c.coerceAll(args, tTextArray)
			if err != nil {
				return srfCall{}, typ{}, err
			}
			args = a
		}
		if args[0].t.k != kArray {
			return srfCall{}, typ{}, noFunc(name, args)
		}
		t := typ{k: args[0].t.elem}
		expand := name == "_pg_expandarray"
		if expand {
			t = expandArrayType(args[0].t.elem)
		}
		return srfCall{args: args, gen: func(_ *execCtx, v []any) ([]any, error) {
			arr, _ := v[0].([]any)
			if !expand {
				return arr, nil
			}
			out := make([]any, len(arr))
			for i, e := range arr {
				out[i] = []any{e, int64(i + 1)}
			}
			return out, nil
		}}, t, nil
	case "generate_series":
		if len(args) < 2 || len(args) > 3 {
			return srfCall{}, typ{}, noFunc(name, args)
		}
		t := tInt4
		for _, a := range args {
			switch a.t.k {
			case kInt8:
				t = tInt8
			case kInt2, kInt4, kUnknown:
			default:
				return srfCall{}, typ{}, unsupported("generate_series over " + a.t.String() + " in the select list")
			}
		}
		a, err := c.coerceAll(args, t)
		if err != nil {
			return srfCall{}, typ{}, err
		}
		return srfCall{args: a, gen: func(x *execCtx, v []any) ([]any, error) {
			var out []any
			if err := intSeries(x, v, func(i int64) { out = append(out, i) }); err != nil {
				return nil, err
			}
			return out, nil
		}}, t, nil
	}
	return srfCall{}, typ{}, noFunc(name, args)
}

// compileProjectSet plans the select list's set-returning calls over in
// and returns the widened plan and scope.
func (c *compiler) compileProjectSet(calls []*pg.FuncCall, in plan, sc *scope) (plan, *scope, error) {
	n := &projectSetNode{in: in, cols: append([]colInfo(nil), sc.cols...)}
	if c.srfs == nil {
		c.srfs = map[*pg.FuncCall]srfRef{}
	}
	for _, fc := range calls {
		call, t, err := c.compileSRF(fc, sc)
		if err != nil {
			return nil, nil, withPos(err, fc.Location)
		}
		c.srfs[fc] = srfRef{col: len(n.cols), t: t}
		n.cols = append(n.cols, colInfo{name: funcName(fc.Funcname), t: t, hidden: true})
		n.calls = append(n.calls, call)
	}
	return n, &scope{cols: n.cols, parent: sc.parent}, nil
}

// srfRef is where a planned set-returning call's values are.
type srfRef struct {
	col int
	t   typ
}

// srfRefExpr is the expression for a planned set-returning call.
func (c *compiler) srfRefExpr(fc *pg.FuncCall) (expr, bool) {
	ref, ok := c.srfs[fc]
	if !ok {
		return expr{}, false
	}
	return expr{t: ref.t, fn: colGetter(ref.col)}, true
}

// projectSetNode appends the values of set-returning calls to its input
// rows, one output row per value of the longest call.
type projectSetNode struct {
	in    plan
	calls []srfCall
	cols  []colInfo
}

func (n *projectSetNode) columns() []colInfo { return n.cols }

func (n *projectSetNode) run(x *execCtx) ([][]any, error) {
	rows, err := n.in.run(x)
	if err != nil {
		return nil, err
	}
	var out [][]any
	sets := make([][]any, len(n.calls))
	for _, r := range rows {
		longest := 0
		for i, call := range n.calls {
			vals := make([]any, len(call.args))
			for j, a := range call.args {
				if vals[j], err = a.fn(x, r); err != nil {
					return nil, err
				}
			}
			if sets[i], err = call.gen(x, vals); err != nil {
				return nil, err
			}
			longest = max(longest, len(sets[i]))
		}
		for k := range longest {
			if err := x.tick(); err != nil {
				return nil, err
			}
			row := make([]any, len(n.cols))
			base := len(n.cols) - len(n.calls)
			copy(row[:base], r)
			for i, set := range sets {
				if k < len(set) {
					row[base+i] = set[k]
				}
			}
			out = append(out, row)
		}
	}
	return out, nil
}

func (n *projectSetNode) explain(e *explainer, depth int) {
	e.add(depth, "ProjectSet")
	n.in.explain(e, depth+1)
}

// fieldSelect is (arg).name for a record whose fields are known.
func fieldSelect(arg expr, name string) (expr, error) {
	if arg.t.k != kRecord || arg.t.rec == nil {
		return expr{}, errorf(codeUndefinedColumn, "could not identify column %q in record data type", name)
	}
	for i, n := range arg.t.rec.names {
		if n != name {
			continue
		}
		return expr{t: arg.t.rec.types[i], fn: func(x *execCtx, r []any) (any, error) {
			v, err := arg.fn(x, r)
			if err != nil || v == nil {
				return nil, err
			}
			rec, _ := v.([]any)
			if i >= len(rec) {
				return nil, nil
			}
			return rec[i], nil
		}}, nil
	}
	return expr{}, errorf(codeUndefinedColumn, "could not identify column %q in record data type", name)
}

// intSeries produces generate_series(lo, hi [, step]) over the int64
// arguments v, calling emit per value: none when an argument is NULL; it
// stops before a step would overflow int64 (as PostgreSQL does), checks
// for cancellation and bounds the result.
func intSeries(x *execCtx, v []any, emit func(int64)) error {
	for _, e := range v {
		if e == nil {
			return nil
		}
	}
	lo, hi, step := v[0].(int64), v[1].(int64), int64(1)
	if len(v) == 3 {
		step = v[2].(int64)
	}
	if step == 0 {
		return errorf(codeInvalidParam, "step size cannot equal zero")
	}
	n := 0
	for i := lo; (step > 0 && i <= hi) || (step < 0 && i >= hi); i += step {
		if err := x.tick(); err != nil {
			return err
		}
		emit(i)
		if n++; n > 50_000_000 {
			return errorf(codeProgramLimit, "generate_series result too large")
		}
		if (step > 0 && i > math.MaxInt64-step) || (step < 0 && i < math.MinInt64-step) {
			break
		}
	}
	return nil
}
