package sql

import (
	"math"
	"regexp"
	"strings"

	"github.com/heliosdb/heliosdb-lite/engine"
	pg "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

var aggNames = map[string]bool{
	"count": true, "sum": true, "avg": true, "min": true, "max": true, "string_agg": true,
	"bool_and": true, "bool_or": true, "every": true, "array_agg": true, "json_agg": true,
	"stddev": true, "variance": true,
}

// hasAggregate reports whether any node contains an aggregate call outside
// a subquery.
func hasAggregate(nodes []*pg.Node) bool {
	found := false
	for _, n := range nodes {
		walk(n, func(m proto.Message) bool {
			switch v := m.(type) {
			case *pg.SubLink:
				return false
			case *pg.FuncCall:
				if v.Over == nil && aggNames[funcName(v.Funcname)] {
					found = true
				}
			}
			return !found
		})
	}
	return found
}

// walk visits every message under n (depth first) while fn returns true
// for the parent.
func walk(n proto.Message, fn func(proto.Message) bool) {
	if n == nil {
		return
	}
	if nd, ok := n.(*pg.Node); ok {
		if nd == nil || nd.Node == nil {
			return
		}
	}
	m := n.ProtoReflect()
	if !m.IsValid() {
		return
	}
	if _, isNode := n.(*pg.Node); !isNode && !fn(n) {
		return
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Message() != nil:
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				walk(l.Get(i).Message().Interface(), fn)
			}
		case fd.Message() != nil && !fd.IsMap():
			walk(v.Message().Interface(), fn)
		}
		return true
	})
}

var locationRE = regexp.MustCompile(`location:\s*-?\d+`)

// nodeKey is a structural identity of an expression (ignoring positions),
// for matching GROUP BY expressions in the select list.
func nodeKey(n *pg.Node) string {
	b, _ := prototext.MarshalOptions{}.Marshal(n)
	return locationRE.ReplaceAllString(string(b), "")
}

// aggSpec is one aggregate call.
type aggSpec struct {
	name     string
	args     []expr
	star     bool
	distinct bool
	filter   *expr
	order    []sortKey // over args (string_agg/array_agg ORDER BY), column = arg index
	orderBy  []expr
	t        typ
}

// aggContext maps post-aggregation expressions to the aggregate node's
// output slots: groups first, then aggregates.
type aggContext struct {
	input    *scope
	groups   []expr
	groupKey []string
	groupCol []int // input column index for plain column groups, else -1
	aggs     []*aggSpec
	aggKeys  []string
}

func (a *aggContext) match(c *compiler, n *pg.Node, sc *scope) (expr, bool, error) {
	if fc := n.GetFuncCall(); fc != nil && fc.Over == nil && aggNames[funcName(fc.Funcname)] {
		key := nodeKey(n)
		for i, k := range a.aggKeys {
			if k == key {
				return a.slot(len(a.groups)+i, a.aggs[i].t), true, nil
			}
		}
		spec, err := c.compileAggCall(fc, a.input)
		if err != nil {
			return expr{}, true, err
		}
		a.aggs = append(a.aggs, spec)
		a.aggKeys = append(a.aggKeys, key)
		return a.slot(len(a.groups)+len(a.aggs)-1, spec.t), true, nil
	}
	if cr := n.GetColumnRef(); cr != nil && cr.Fields[len(cr.Fields)-1].GetAStar() == nil {
		qual, name := colRefParts(cr)
		if lvl, idx, err := a.input.resolve(qual, name); err == nil && lvl == 0 {
			for i, gc := range a.groupCol {
				if gc == idx {
					return a.slot(i, a.groups[i].t), true, nil
				}
			}
			return expr{}, false, nil
		}
		return expr{}, false, nil
	}
	if _, isConst := n.Node.(*pg.Node_AConst); isConst {
		return expr{}, false, nil
	}
	key := nodeKey(n)
	for i, k := range a.groupKey {
		if k == key {
			return a.slot(i, a.groups[i].t), true, nil
		}
	}
	return expr{}, false, nil
}

func (a *aggContext) slot(i int, t typ) expr {
	return expr{t: t, fn: func(_ *execCtx, r []any) (any, error) { return r[i], nil }}
}

func (c *compiler) compileAggCall(fc *pg.FuncCall, in *scope) (*aggSpec, error) {
	spec := &aggSpec{name: funcName(fc.Funcname), star: fc.AggStar, distinct: fc.AggDistinct}
	if spec.name == "every" {
		spec.name = "bool_and"
	}
	for _, a := range fc.Args {
		if hasAggregate([]*pg.Node{a}) {
			return nil, errorf(codeGrouping, "aggregate function calls cannot be nested")
		}
		e, err := c.compileExpr(a, in)
		if err != nil {
			return nil, err
		}
		spec.args = append(spec.args, e)
	}
	if fc.AggFilter != nil {
		f, err := c.compileCond(fc.AggFilter, in, "FILTER")
		if err != nil {
			return nil, err
		}
		spec.filter = &f
	}
	for _, o := range fc.AggOrder {
		sb := o.GetSortBy()
		e, err := c.compileExpr(sb.Node, in)
		if err != nil {
			return nil, err
		}
		spec.orderBy = append(spec.orderBy, e)
		desc := sb.SortbyDir == pg.SortByDir_SORTBY_DESC
		spec.order = append(spec.order, sortKey{col: len(spec.orderBy) - 1, desc: desc, nullsFirst: desc})
	}
	var argT typ
	if len(spec.args) > 0 {
		argT = spec.args[0].t
	}
	need := func(n int) error {
		if len(spec.args) != n && !(spec.star && n == 0) {
			return errorf(codeUndefinedFunction, "function %s with %d arguments does not exist", spec.name, len(spec.args))
		}
		return nil
	}
	var err error
	switch spec.name {
	case "count":
		spec.t = tInt8
		if !spec.star {
			err = need(1)
		}
	case "sum":
		err = need(1)
		switch {
		case argT.k == kInt2 || argT.k == kInt4:
			spec.t = tInt8
		case argT.k == kInt8 || argT.k == kNumeric || argT.k == kUnknown:
			spec.t = tNumeric
			if argT.k == kUnknown {
				spec.args[0], err = c.coerce(spec.args[0], tNumeric)
			}
		case argT.k == kFloat4 || argT.k == kFloat8:
			spec.t = tFloat8
		case argT.k == kInterval:
			spec.t = tInterval
		default:
			err = errorf(codeUndefinedFunction, "function sum(%s) does not exist", argT)
		}
	case "avg", "stddev", "variance":
		err = need(1)
		if argT.k == kFloat4 || argT.k == kFloat8 {
			spec.t = tFloat8
		} else if argT.k.isNumber() || argT.k == kUnknown {
			spec.t = tNumeric
		} else if argT.k == kInterval && spec.name == "avg" {
			spec.t = tInterval
		} else {
			err = errorf(codeUndefinedFunction, "function %s(%s) does not exist", spec.name, argT)
		}
	case "min", "max":
		err = need(1)
		spec.t = argT
		if argT.k == kUnknown {
			spec.t = tText
		}
	case "string_agg":
		if err = need(2); err == nil {
			for i := range spec.args {
				if spec.args[i], err = c.coerce(spec.args[i], tText); err != nil {
					break
				}
			}
		}
		spec.t = tText
	case "bool_and", "bool_or":
		if err = need(1); err == nil {
			spec.args[0], err = c.coerce(spec.args[0], tBool)
		}
		spec.t = tBool
	case "array_agg":
		err = need(1)
		spec.t = typ{k: kArray, elem: argT.k}
	case "json_agg":
		err = need(1)
		spec.t = typ{k: kJSON}
	}
	return spec, err
}

// compileAggregate plans GROUP BY and the aggregates used by the select
// list, HAVING and ORDER BY; it returns the aggregate plan and the scope
// those clauses compile in.
func (c *compiler) compileAggregate(s *pg.SelectStmt, in plan, sc *scope) (plan, *scope, error) {
	actx := &aggContext{input: sc}
	for _, g := range s.GroupClause {
		gn := g
		// GROUP BY ordinal or output alias.
		if ac := g.GetAConst(); ac != nil {
			if iv, ok := ac.Val.(*pg.A_Const_Ival); ok {
				pos := int(iv.Ival.Ival)
				if pos < 1 || pos > len(s.TargetList) {
					return nil, nil, errorf(codeInvalidColumnRef, "GROUP BY position %d is not in select list", pos)
				}
				gn = s.TargetList[pos-1].GetResTarget().Val
			}
		} else if cr := g.GetColumnRef(); cr != nil && len(cr.Fields) == 1 {
			name := strVal(cr.Fields[0])
			if _, _, err := sc.resolve("", name); err != nil {
				for _, t := range s.TargetList {
					if rt := t.GetResTarget(); rt.Name == name {
						gn = rt.Val
					}
				}
			}
		}
		if len(g.GetList().GetItems()) > 0 || g.GetGroupingSet() != nil {
			return nil, nil, unsupported("GROUPING SETS")
		}
		e, err := c.compileExpr(gn, sc)
		if err != nil {
			return nil, nil, err
		}
		col := -1
		if cr := gn.GetColumnRef(); cr != nil {
			if lvl, idx, err := sc.resolve(colRefParts(cr)); err == nil && lvl == 0 {
				col = idx
			}
		}
		actx.groups = append(actx.groups, e)
		actx.groupKey = append(actx.groupKey, nodeKey(gn))
		actx.groupCol = append(actx.groupCol, col)
	}
	node := &aggNode{in: in, ctx: actx, grouped: len(s.GroupClause) > 0}
	out := &scope{parent: sc.parent, agg: actx}
	// The aggregate list grows while the select list, HAVING and ORDER BY
	// compile; the node reads actx at run time, so that is fine.
	out.cols = nil
	return node, out, nil
}

type aggNode struct {
	in      plan
	ctx     *aggContext
	grouped bool
}

func (n *aggNode) columns() []colInfo {
	var cols []colInfo
	for _, g := range n.ctx.groups {
		cols = append(cols, colInfo{name: "?group?", t: g.t, hidden: true})
	}
	for _, a := range n.ctx.aggs {
		cols = append(cols, colInfo{name: a.name, t: a.t, hidden: true})
	}
	return cols
}

func (n *aggNode) explain(e *explainer, depth int) {
	if n.grouped {
		e.add(depth, "HashAggregate")
	} else {
		e.add(depth, "Aggregate")
	}
	n.in.explain(e, depth+1)
}

// aggState accumulates one aggregate for one group.
type aggState struct {
	count   int64
	sumI    int64
	sumBig  *decimal
	sumF    float64
	sumIv   interval
	best    any
	boolAcc any
	strs    []string
	vals    []any
	sortBy  [][]any
	seen    map[string]bool
	overflw bool
	sq      float64 // sum of squares (stddev/variance)
}

func (n *aggNode) run(x *execCtx) ([][]any, error) {
	rows, err := n.in.run(x)
	if err != nil {
		return nil, err
	}
	type group struct {
		vals   []any
		states []*aggState
	}
	groups := map[string]*group{}
	var order []*group
	for _, r := range rows {
		if err := x.tick(); err != nil {
			return nil, err
		}
		gv := make([]any, len(n.ctx.groups))
		for i, g := range n.ctx.groups {
			v, err := g.fn(x, r)
			if err != nil {
				return nil, err
			}
			gv[i] = v
		}
		k := rowKey(gv)
		g := groups[k]
		if g == nil {
			g = &group{vals: gv, states: make([]*aggState, len(n.ctx.aggs))}
			for i := range g.states {
				g.states[i] = &aggState{}
			}
			groups[k] = g
			order = append(order, g)
		}
		for i, a := range n.ctx.aggs {
			if err := a.accumulate(x, g.states[i], r); err != nil {
				return nil, err
			}
		}
	}
	if len(order) == 0 && !n.grouped {
		g := &group{states: make([]*aggState, len(n.ctx.aggs))}
		for i := range g.states {
			g.states[i] = &aggState{}
		}
		order = append(order, g)
	}
	out := make([][]any, 0, len(order))
	for _, g := range order {
		row := append([]any(nil), g.vals...)
		for i, a := range n.ctx.aggs {
			v, err := a.final(g.states[i])
			if err != nil {
				return nil, err
			}
			row = append(row, v)
		}
		out = append(out, row)
	}
	return out, nil
}

func (a *aggSpec) accumulate(x *execCtx, st *aggState, r []any) error {
	if a.filter != nil {
		v, err := a.filter.fn(x, r)
		if err != nil {
			return err
		}
		if v != true {
			return nil
		}
	}
	if a.star {
		st.count++
		return nil
	}
	args := make([]any, len(a.args))
	for i, e := range a.args {
		v, err := e.fn(x, r)
		if err != nil {
			return err
		}
		args[i] = v
	}
	v := args[0]
	if v == nil && a.name != "array_agg" && a.name != "json_agg" {
		return nil
	}
	if a.distinct {
		if st.seen == nil {
			st.seen = map[string]bool{}
		}
		k := rowKey(args[:1])
		if st.seen[k] {
			return nil
		}
		st.seen[k] = true
	}
	st.count++
	switch a.name {
	case "sum", "avg", "stddev", "variance":
		switch x := v.(type) {
		case int64:
			if !st.overflw {
				s := st.sumI + x
				if (s > st.sumI) != (x > 0) {
					st.overflw = true
					d := decFromInt(st.sumI)
					st.sumBig = &d
				} else {
					st.sumI = s
				}
			}
			if st.overflw {
				d := decAdd(*st.sumBig, decFromInt(x))
				st.sumBig = &d
			}
			st.sumF += float64(x)
			st.sq += float64(x) * float64(x)
		case float64:
			st.sumF += x
			st.sq += x * x
		case engine.Numeric:
			d := decFromNumeric(x)
			if st.sumBig == nil {
				z := decFromInt(0)
				st.sumBig = &z
			}
			s := decAdd(*st.sumBig, d)
			st.sumBig = &s
			f := d.float()
			st.sumF += f
			st.sq += f * f
		case interval:
			st.sumIv = interval{st.sumIv.months + x.months, st.sumIv.days + x.days, st.sumIv.us + x.us}
		}
	case "min", "max":
		if st.best == nil {
			st.best = v
		} else if c := compareValues(v, st.best); (a.name == "min" && c < 0) || (a.name == "max" && c > 0) {
			st.best = v
		}
	case "string_agg":
		if len(st.strs) > 0 {
			sep := ""
			if args[1] != nil {
				sep = args[1].(string)
			}
			st.strs = append(st.strs, sep)
		}
		st.strs = append(st.strs, v.(string))
		if len(a.orderBy) > 0 {
			return a.addSortRow(x, st, r, v, args[1])
		}
	case "bool_and":
		if st.boolAcc == nil {
			st.boolAcc = v
		} else {
			st.boolAcc = st.boolAcc.(bool) && v.(bool)
		}
	case "bool_or":
		if st.boolAcc == nil {
			st.boolAcc = v
		} else {
			st.boolAcc = st.boolAcc.(bool) || v.(bool)
		}
	case "array_agg", "json_agg":
		st.vals = append(st.vals, v)
		if len(a.orderBy) > 0 {
			return a.addSortRow(x, st, r, v, nil)
		}
	}
	return nil
}

func (a *aggSpec) addSortRow(x *execCtx, st *aggState, r []any, v, sep any) error {
	keys := make([]any, 0, len(a.orderBy)+2)
	for _, e := range a.orderBy {
		k, err := e.fn(x, r)
		if err != nil {
			return err
		}
		keys = append(keys, k)
	}
	st.sortBy = append(st.sortBy, append(keys, v, sep))
	return nil
}

func (a *aggSpec) final(st *aggState) (any, error) {
	if a.name == "count" {
		return st.count, nil
	}
	if st.count == 0 {
		return nil, nil
	}
	switch a.name {
	case "sum":
		switch a.t.k {
		case kInt8:
			if st.overflw {
				return nil, errorf(codeNumericRange, "bigint out of range")
			}
			return st.sumI, nil
		case kNumeric:
			if st.sumBig != nil {
				return st.sumBig.numeric(), nil
			}
			return decFromInt(st.sumI).numeric(), nil
		case kFloat8:
			return st.sumF, nil
		case kInterval:
			return st.sumIv, nil
		}
	case "avg":
		switch a.t.k {
		case kFloat8:
			return st.sumF / float64(st.count), nil
		case kInterval:
			return interval{st.sumIv.months / st.count, st.sumIv.days / st.count, st.sumIv.us / st.count}, nil
		}
		sum := decFromInt(st.sumI)
		if st.sumBig != nil {
			sum = *st.sumBig
		}
		d, err := decDiv(sum, decFromInt(st.count))
		if err != nil {
			return nil, err
		}
		return d.numeric(), nil
	case "stddev", "variance":
		if st.count < 2 {
			return nil, nil
		}
		n := float64(st.count)
		v := (st.sq - st.sumF*st.sumF/n) / (n - 1)
		if a.name == "stddev" {
			v = math.Sqrt(v)
		}
		if a.t.k == kNumeric {
			return decFromFloat(v).numeric(), nil
		}
		return v, nil
	case "min", "max":
		return st.best, nil
	case "string_agg":
		if len(st.sortBy) > 0 {
			sortRows(st.sortBy, a.order)
			var b strings.Builder
			for i, r := range st.sortBy {
				if i > 0 && r[len(r)-1] != nil {
					b.WriteString(r[len(r)-1].(string))
				}
				b.WriteString(r[len(r)-2].(string))
			}
			return b.String(), nil
		}
		return strings.Join(st.strs, ""), nil
	case "bool_and", "bool_or":
		return st.boolAcc, nil
	case "array_agg", "json_agg":
		vals := st.vals
		if len(st.sortBy) > 0 {
			sortRows(st.sortBy, a.order)
			vals = vals[:0]
			for _, r := range st.sortBy {
				vals = append(vals, r[len(r)-2])
			}
		}
		if a.name == "json_agg" {
			return jsonArray(vals), nil
		}
		return vals, nil
	}
	return nil, nil
}
