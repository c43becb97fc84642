package sql

import (
	"fmt"
	"strings"
	"time"

	pg "github.com/pganalyze/pg_query_go/v6"
)

// evalFn evaluates a compiled expression against one row of its scope.
type evalFn func(x *execCtx, r []any) (any, error)

// expr is a compiled expression: its static type and its evaluator.
type expr struct {
	t     typ
	fn    evalFn
	konst bool // value known at compile time (in val)
	val   any
	param int // 1-based parameter number when the expression is a bare $n
}

func constExpr(v any, t typ) expr {
	return expr{t: t, konst: true, val: v, fn: func(*execCtx, []any) (any, error) { return v, nil }}
}

// colInfo describes one column of a scope or plan output.
type colInfo struct {
	table    string // alias or table name used to qualify it
	name     string
	t        typ
	hidden   bool   // not visible to name resolution or * (row keys, sort keys)
	usingDup bool   // right-hand duplicate of a JOIN USING column
	tableOID uint32 // source table for RowDescription, 0 if computed
	attnum   int16
}

// scope is the name-resolution context of one query level.
type scope struct {
	cols   []colInfo
	parent *scope
	// agg, when set, compiles expressions over the output of an aggregate
	// node: group expressions and aggregates map to its slots.
	agg *aggContext
}

// resolve finds a column by optional qualifier; it returns the level (0 =
// this scope) and index.
func (s *scope) resolve(qual, name string) (int, int, error) {
	level := 0
	qualSeen := false
	for sc := s; sc != nil; sc = sc.parent {
		found := -1
		for i, c := range sc.cols {
			if c.hidden || c.name != name {
				continue
			}
			if qual != "" && c.table != qual {
				continue
			}
			if qual == "" && c.usingDup {
				continue
			}
			if found >= 0 {
				if qual == "" {
					return 0, 0, errorf(codeAmbiguousColumn, "column reference %q is ambiguous", name)
				}
				return 0, 0, errorf(codeAmbiguousColumn, "column reference \"%s.%s\" is ambiguous", qual, name)
			}
			found = i
		}
		if found >= 0 {
			return level, found, nil
		}
		if qual != "" {
			for _, c := range sc.cols {
				if c.table == qual {
					qualSeen = true
				}
			}
		}
		level++
	}
	if qual != "" {
		if !qualSeen {
			return 0, 0, errorf(codeUndefinedTable, "missing FROM-clause entry for table %q", qual)
		}
		return 0, 0, errorf(codeUndefinedColumn, "column %s.%s does not exist", qual, name)
	}
	return 0, 0, errorf(codeUndefinedColumn, "column %q does not exist", name)
}

func strVal(n *pg.Node) string {
	if n == nil {
		return ""
	}
	if s := n.GetString_(); s != nil {
		return s.Sval
	}
	return ""
}

func strList(ns []*pg.Node) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = strVal(n)
	}
	return out
}

// funcName returns the unqualified lower-case function name (pg_catalog.
// prefixes are accepted).
func funcName(ns []*pg.Node) string {
	return strings.ToLower(strVal(ns[len(ns)-1]))
}

func (c *compiler) compileExpr(n *pg.Node, sc *scope) (expr, error) {
	if n == nil {
		return constExpr(nil, tUnknown), nil
	}
	if sc != nil && sc.agg != nil {
		if e, ok, err := sc.agg.match(c, n, sc); ok || err != nil {
			return e, err
		}
	}
	switch v := n.Node.(type) {
	case *pg.Node_AConst:
		return compileConst(v.AConst)
	case *pg.Node_ColumnRef:
		return c.compileColumnRef(v.ColumnRef, sc)
	case *pg.Node_ParamRef:
		return c.compileParam(int(v.ParamRef.Number), v.ParamRef.Location)
	case *pg.Node_TypeCast:
		return c.compileCast(v.TypeCast, sc)
	case *pg.Node_AExpr:
		e, err := c.compileAExpr(v.AExpr, sc)
		return e, withPos(err, v.AExpr.Location)
	case *pg.Node_BoolExpr:
		return c.compileBoolExpr(v.BoolExpr, sc)
	case *pg.Node_NullTest:
		arg, err := c.compileExpr(v.NullTest.Arg, sc)
		if err != nil {
			return expr{}, err
		}
		isNull := v.NullTest.Nulltesttype == pg.NullTestType_IS_NULL
		return expr{t: tBool, fn: func(x *execCtx, r []any) (any, error) {
			a, err := arg.fn(x, r)
			if err != nil {
				return nil, err
			}
			if row, ok := a.([]any); ok && arg.t.k == kRecord {
				all := true
				for _, e := range row {
					if (e == nil) != isNull {
						all = false
					}
				}
				return all, nil
			}
			return (a == nil) == isNull, nil
		}}, nil
	case *pg.Node_BooleanTest:
		return c.compileBoolTest(v.BooleanTest, sc)
	case *pg.Node_CaseExpr:
		return c.compileCase(v.CaseExpr, sc)
	case *pg.Node_CoalesceExpr:
		args, t, err := c.compileUnified(v.CoalesceExpr.Args, sc)
		if err != nil {
			return expr{}, err
		}
		return expr{t: t, fn: func(x *execCtx, r []any) (any, error) {
			for _, a := range args {
				v, err := a.fn(x, r)
				if err != nil || v != nil {
					return v, err
				}
			}
			return nil, nil
		}}, nil
	case *pg.Node_MinMaxExpr:
		args, t, err := c.compileUnified(v.MinMaxExpr.Args, sc)
		if err != nil {
			return expr{}, err
		}
		greatest := v.MinMaxExpr.Op == pg.MinMaxOp_IS_GREATEST
		return expr{t: t, fn: func(x *execCtx, r []any) (any, error) {
			var best any
			for _, a := range args {
				v, err := a.fn(x, r)
				if err != nil {
					return nil, err
				}
				if v == nil {
					continue
				}
				if best == nil || (compareValues(v, best) > 0) == greatest && compareValues(v, best) != 0 {
					best = v
				}
			}
			return best, nil
		}}, nil
	case *pg.Node_FuncCall:
		e, err := c.compileFunc(v.FuncCall, sc)
		return e, withPos(err, v.FuncCall.Location)
	case *pg.Node_SqlvalueFunction:
		return c.compileSQLValueFunc(v.SqlvalueFunction)
	case *pg.Node_SubLink:
		return c.compileSubLink(v.SubLink, sc)
	case *pg.Node_CollateClause:
		return c.compileExpr(v.CollateClause.Arg, sc)
	case *pg.Node_AArrayExpr:
		args, t, err := c.compileUnified(v.AArrayExpr.Elements, sc)
		if err != nil {
			return expr{}, err
		}
		if t.k == kUnknown {
			t = tText
		}
		return expr{t: typ{k: kArray, elem: t.k}, fn: func(x *execCtx, r []any) (any, error) {
			out := make([]any, len(args))
			for i, a := range args {
				v, err := a.fn(x, r)
				if err != nil {
					return nil, err
				}
				out[i] = v
			}
			return out, nil
		}}, nil
	case *pg.Node_AIndirection:
		return c.compileIndirection(v.AIndirection, sc)
	case *pg.Node_RowExpr:
		args := make([]expr, len(v.RowExpr.Args))
		for i, a := range v.RowExpr.Args {
			e, err := c.compileExpr(a, sc)
			if err != nil {
				return expr{}, err
			}
			args[i] = e
		}
		return expr{t: typ{k: kRecord}, fn: func(x *execCtx, r []any) (any, error) {
			out := make([]any, len(args))
			for i, a := range args {
				v, err := a.fn(x, r)
				if err != nil {
					return nil, err
				}
				out[i] = v
			}
			return out, nil
		}}, nil
	case *pg.Node_SetToDefault:
		return expr{}, errorf(codeSyntax, "DEFAULT is not allowed in this context")
	}
	return expr{}, unsupported("expression " + nodeName(n))
}

func nodeName(n *pg.Node) string {
	return strings.TrimPrefix(fmt.Sprintf("%T", n.Node), "*pg_query.Node_")
}

func compileConst(a *pg.A_Const) (expr, error) {
	if a.Isnull {
		return constExpr(nil, tUnknown), nil
	}
	switch v := a.Val.(type) {
	case *pg.A_Const_Ival:
		return constExpr(int64(v.Ival.Ival), tInt4), nil
	case *pg.A_Const_Fval:
		s := v.Fval.Fval
		if !strings.ContainsAny(s, ".eE") {
			if i, err := parseText(s, tInt8, time.Time{}); err == nil {
				return constExpr(i, tInt8), nil
			}
		}
		d, ok := parseDecimal(s)
		if !ok {
			return expr{}, errorf(codeInvalidText, "invalid input syntax for type numeric: %q", s)
		}
		return constExpr(d.numeric(), tNumeric), nil
	case *pg.A_Const_Boolval:
		return constExpr(v.Boolval.Boolval, tBool), nil
	case *pg.A_Const_Sval:
		return constExpr(v.Sval.Sval, tUnknown), nil
	case *pg.A_Const_Bsval:
		return expr{}, unsupported("bit string literals")
	}
	return constExpr(nil, tUnknown), nil
}

func (c *compiler) compileColumnRef(cr *pg.ColumnRef, sc *scope) (expr, error) {
	var parts []string
	for _, f := range cr.Fields {
		if f.GetAStar() != nil {
			return expr{}, withPos(errorf(codeSyntax, "row expansion via \"*\" is not supported here"), cr.Location)
		}
		parts = append(parts, strVal(f))
	}
	qual, name := "", parts[len(parts)-1]
	if len(parts) >= 2 {
		qual = parts[len(parts)-2]
	}
	if sc == nil {
		return expr{}, withPos(errorf(codeUndefinedColumn, "column %q does not exist", name), cr.Location)
	}
	level, idx, err := sc.resolve(qual, name)
	if err != nil {
		if sc.agg != nil {
			// A column of the aggregate's input that is neither grouped nor
			// aggregated.
			if l, _, err2 := sc.agg.input.resolve(qual, name); err2 == nil && l == 0 {
				return expr{}, withPos(errorf(codeGrouping, "column \"%s\" must appear in the GROUP BY clause or be used in an aggregate function", colRefText(qual, name)), cr.Location)
			}
		}
		return expr{}, withPos(err, cr.Location)
	}
	var col colInfo
	s := sc
	for i := 0; i < level; i++ {
		s = s.parent
	}
	col = s.cols[idx]
	if level == 0 {
		c.level0++
		return expr{t: col.t, fn: func(_ *execCtx, r []any) (any, error) { return r[idx], nil }}, nil
	}
	c.outerRefs++
	return expr{t: col.t, fn: func(x *execCtx, _ []any) (any, error) {
		return x.outer[len(x.outer)-level][idx], nil
	}}, nil
}

func colRefText(qual, name string) string {
	if qual != "" {
		return qual + "." + name
	}
	return name
}

func (c *compiler) compileParam(n int, loc int32) (expr, error) {
	if n < 1 || n > 65535 {
		return expr{}, withPos(errorf(codeUndefinedParam, "there is no parameter $%d", n), loc)
	}
	for len(c.params) < n {
		c.params = append(c.params, tUnknown)
	}
	i := n - 1
	c.usesParams = true
	return expr{t: c.params[i], param: n, fn: func(x *execCtx, _ []any) (any, error) {
		if i >= len(x.params) {
			return nil, errorf(codeUndefinedParam, "there is no parameter $%d", n)
		}
		return x.params[i], nil
	}}, nil
}

// coerce converts e to type t: literals are converted now, parameters of
// unknown type take the type, anything else gets a runtime cast.
func (c *compiler) coerce(e expr, t typ) (expr, error) {
	if t.k == kUnknown || (e.t.k == t.k && e.t.len == t.len && e.t.prec == t.prec && e.t.scale == t.scale) {
		return e, nil
	}
	if e.param > 0 && c.params[e.param-1].k == kUnknown {
		c.params[e.param-1] = t
		e.t = t
		return e, nil
	}
	if e.konst {
		v, err := castValue(e.val, e.t, t, true, c.now())
		if err != nil {
			return expr{}, err
		}
		return constExpr(v, t), nil
	}
	from := e.t
	if from.k == t.k && (t.k == kVarchar || t.k == kChar || t.k == kNumeric) && t.len == 0 && t.prec == 0 {
		// Same base type, different modifier: the value is acceptable as is
		// in expressions; assignment enforces the modifier.
		e.t = t
		return e, nil
	}
	inner := e.fn
	return expr{t: t, fn: func(x *execCtx, r []any) (any, error) {
		v, err := inner(x, r)
		if err != nil || v == nil {
			return v, err
		}
		return castValue(v, from, t, true, x.now)
	}}, nil
}

// compileUnified compiles args and coerces them to their common type.
func (c *compiler) compileUnified(ns []*pg.Node, sc *scope) ([]expr, typ, error) {
	args := make([]expr, len(ns))
	t := tUnknown
	for i, n := range ns {
		e, err := c.compileExpr(n, sc)
		if err != nil {
			return nil, typ{}, err
		}
		args[i] = e
		t = commonType(t, e.t)
	}
	if t.k == kUnknown {
		t = tText
	}
	for i := range args {
		e, err := c.coerce(args[i], t)
		if err != nil {
			return nil, typ{}, err
		}
		args[i] = e
	}
	return args, t, nil
}

func (c *compiler) compileCast(tc *pg.TypeCast, sc *scope) (expr, error) {
	t, err := typeFromNode(tc.TypeName)
	if err != nil {
		return expr{}, withPos(err, tc.Location)
	}
	arg, err := c.compileExpr(tc.Arg, sc)
	if err != nil {
		return expr{}, err
	}
	if t.k == kRegclass && arg.konst {
		if s, ok := arg.val.(string); ok {
			oid, err := c.regclassOID(s)
			if err != nil {
				return expr{}, withPos(err, tc.Location)
			}
			return constExpr(oid, t), nil
		}
	}
	if t.k == kRegtype && arg.konst {
		if s, ok := arg.val.(string); ok {
			names := strings.Split(s, ".")
			rt, err := parseTypeName(names, nil, strings.HasSuffix(s, "[]"))
			if err != nil {
				return expr{}, err
			}
			return constExpr(int64(rt.oid()), t), nil
		}
	}
	if t.k == kRegclass || t.k == kRegtype || t.k == kRegproc {
		if arg.t.k.isString() || arg.t.k == kUnknown {
			inner := arg.fn
			return expr{t: t, fn: func(x *execCtx, r []any) (any, error) {
				v, err := inner(x, r)
				if s, ok := v.(string); ok && err == nil && t.k == kRegclass {
					return c.regclassOIDIn(x.st, s)
				}
				return v, err
			}}, nil
		}
	}
	e, err := c.coerce(arg, t)
	pos := tc.Location
	if ac := tc.Arg.GetAConst(); ac != nil {
		pos = ac.Location // PostgreSQL points at the literal it cannot read
	}
	return e, withPos(err, pos)
}

// typeFromNode converts a TypeName node.
func typeFromNode(tn *pg.TypeName) (typ, error) {
	names := strList(tn.Names)
	var mods []int32
	for _, m := range tn.Typmods {
		if ac := m.GetAConst(); ac != nil {
			if iv, ok := ac.Val.(*pg.A_Const_Ival); ok {
				mods = append(mods, iv.Ival.Ival)
			}
		}
	}
	t, err := parseTypeName(names, mods, len(tn.ArrayBounds) > 0)
	if err == nil && len(names) > 0 && strings.EqualFold(names[len(names)-1], "char") && len(names) == 1 {
		// Unquoted char is character(1); "char" in quotes arrives as
		// pg_catalog.char which we treat the same.
		return t, nil
	}
	return t, err
}

func (c *compiler) compileBoolExpr(b *pg.BoolExpr, sc *scope) (expr, error) {
	args := make([]expr, len(b.Args))
	for i, a := range b.Args {
		e, err := c.compileExpr(a, sc)
		if err != nil {
			return expr{}, err
		}
		if e, err = c.coerce(e, tBool); err != nil {
			return expr{}, err
		}
		if e.t.k != kBool {
			return expr{}, errorf(codeDatatypeMismatch, "argument of %s must be type boolean, not type %s", strings.TrimSuffix(b.Boolop.String(), "_EXPR"), e.t)
		}
		args[i] = e
	}
	switch b.Boolop {
	case pg.BoolExprType_NOT_EXPR:
		a := args[0]
		return expr{t: tBool, fn: func(x *execCtx, r []any) (any, error) {
			v, err := a.fn(x, r)
			if err != nil || v == nil {
				return nil, err
			}
			return !v.(bool), nil
		}}, nil
	case pg.BoolExprType_AND_EXPR:
		return expr{t: tBool, fn: func(x *execCtx, r []any) (any, error) {
			sawNull := false
			for _, a := range args {
				v, err := a.fn(x, r)
				if err != nil {
					return nil, err
				}
				if v == nil {
					sawNull = true
				} else if !v.(bool) {
					return false, nil
				}
			}
			if sawNull {
				return nil, nil
			}
			return true, nil
		}}, nil
	default:
		return expr{t: tBool, fn: func(x *execCtx, r []any) (any, error) {
			sawNull := false
			for _, a := range args {
				v, err := a.fn(x, r)
				if err != nil {
					return nil, err
				}
				if v == nil {
					sawNull = true
				} else if v.(bool) {
					return true, nil
				}
			}
			if sawNull {
				return nil, nil
			}
			return false, nil
		}}, nil
	}
}

func (c *compiler) compileBoolTest(b *pg.BooleanTest, sc *scope) (expr, error) {
	arg, err := c.compileExpr(b.Arg, sc)
	if err != nil {
		return expr{}, err
	}
	if arg, err = c.coerce(arg, tBool); err != nil {
		return expr{}, err
	}
	kind := b.Booltesttype
	return expr{t: tBool, fn: func(x *execCtx, r []any) (any, error) {
		v, err := arg.fn(x, r)
		if err != nil {
			return nil, err
		}
		switch kind {
		case pg.BoolTestType_IS_TRUE:
			return v == true, nil
		case pg.BoolTestType_IS_NOT_TRUE:
			return v != true, nil
		case pg.BoolTestType_IS_FALSE:
			return v == false, nil
		case pg.BoolTestType_IS_NOT_FALSE:
			return v != false, nil
		case pg.BoolTestType_IS_UNKNOWN:
			return v == nil, nil
		}
		return v != nil, nil
	}}, nil
}

func (c *compiler) compileCase(ce *pg.CaseExpr, sc *scope) (expr, error) {
	var arg *expr
	if ce.Arg != nil {
		a, err := c.compileExpr(ce.Arg, sc)
		if err != nil {
			return expr{}, err
		}
		arg = &a
	}
	type when struct{ cond, res expr }
	var whens []when
	var results []*pg.Node
	for _, w := range ce.Args {
		cw := w.GetCaseWhen()
		var cond expr
		var err error
		if arg != nil {
			rhs, err := c.compileExpr(cw.Expr, sc)
			if err != nil {
				return expr{}, err
			}
			cond, err = c.binaryOp("=", *arg, rhs)
			if err != nil {
				return expr{}, err
			}
		} else {
			if cond, err = c.compileExpr(cw.Expr, sc); err != nil {
				return expr{}, err
			}
			if cond, err = c.coerce(cond, tBool); err != nil {
				return expr{}, err
			}
		}
		whens = append(whens, when{cond: cond})
		results = append(results, cw.Result)
	}
	if ce.Defresult != nil {
		results = append(results, ce.Defresult)
	}
	res, t, err := c.compileUnified(results, sc)
	if err != nil {
		return expr{}, err
	}
	for i := range whens {
		whens[i].res = res[i]
	}
	var def *expr
	if ce.Defresult != nil {
		def = &res[len(res)-1]
	}
	return expr{t: t, fn: func(x *execCtx, r []any) (any, error) {
		for _, w := range whens {
			v, err := w.cond.fn(x, r)
			if err != nil {
				return nil, err
			}
			if v == true {
				return w.res.fn(x, r)
			}
		}
		if def != nil {
			return def.fn(x, r)
		}
		return nil, nil
	}}, nil
}

func (c *compiler) compileIndirection(ind *pg.A_Indirection, sc *scope) (expr, error) {
	arg, err := c.compileExpr(ind.Arg, sc)
	if err != nil {
		return expr{}, err
	}
	if len(ind.Indirection) == 1 && ind.Indirection[0].GetString_() != nil {
		return fieldSelect(arg, ind.Indirection[0].GetString_().Sval)
	}
	if len(ind.Indirection) != 1 || ind.Indirection[0].GetAIndices() == nil || ind.Indirection[0].GetAIndices().IsSlice {
		return expr{}, unsupported("this indirection")
	}
	idx, err := c.compileExpr(ind.Indirection[0].GetAIndices().Uidx, sc)
	if err != nil {
		return expr{}, err
	}
	if idx, err = c.coerce(idx, tInt4); err != nil {
		return expr{}, err
	}
	et := typ{k: arg.t.elem}
	// Catalog int2vector/oidvector columns are zero-based, arrays 1-based.
	base := int64(1)
	if arg.t.k == kArray && arg.t.elem == kInt2 && arg.t.len == -1 {
		base = 0
	}
	return expr{t: et, fn: func(x *execCtx, r []any) (any, error) {
		a, err := arg.fn(x, r)
		if err != nil || a == nil {
			return nil, err
		}
		i, err := idx.fn(x, r)
		if err != nil || i == nil {
			return nil, err
		}
		arr, _ := a.([]any)
		k := i.(int64) - base
		if k < 0 || k >= int64(len(arr)) {
			return nil, nil
		}
		return arr[k], nil
	}}, nil
}

func (c *compiler) compileSQLValueFunc(f *pg.SQLValueFunction) (expr, error) {
	switch f.Op {
	case pg.SQLValueFunctionOp_SVFOP_CURRENT_DATE:
		return expr{t: tDate, fn: func(x *execCtx, _ []any) (any, error) { return timeDate(x.now), nil }}, nil
	case pg.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP, pg.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP_N:
		return expr{t: tTimestamptz, fn: func(x *execCtx, _ []any) (any, error) { return timeTS(x.now), nil }}, nil
	case pg.SQLValueFunctionOp_SVFOP_LOCALTIMESTAMP, pg.SQLValueFunctionOp_SVFOP_LOCALTIMESTAMP_N:
		return expr{t: tTimestamp, fn: func(x *execCtx, _ []any) (any, error) { return timeTS(x.now), nil }}, nil
	case pg.SQLValueFunctionOp_SVFOP_CURRENT_TIME, pg.SQLValueFunctionOp_SVFOP_CURRENT_TIME_N,
		pg.SQLValueFunctionOp_SVFOP_LOCALTIME, pg.SQLValueFunctionOp_SVFOP_LOCALTIME_N:
		return expr{t: tText, fn: func(x *execCtx, _ []any) (any, error) { return x.now.Format("15:04:05.999999"), nil }}, nil
	case pg.SQLValueFunctionOp_SVFOP_CURRENT_CATALOG:
		return expr{t: tName, fn: func(x *execCtx, _ []any) (any, error) { return x.sess.database, nil }}, nil
	case pg.SQLValueFunctionOp_SVFOP_CURRENT_SCHEMA:
		return constExpr("public", tName), nil
	}
	return expr{t: tName, fn: func(x *execCtx, _ []any) (any, error) { return x.sess.user, nil }}, nil
}
