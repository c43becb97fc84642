package sql

import (
	"math"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/heliosdb/heliosdb-lite/engine"
	pg "github.com/pganalyze/pg_query_go/v6"
)

// compileOperands compiles both sides of a binary expression.
func (c *compiler) compileOperands(a *pg.A_Expr, sc *scope) (l, r expr, err error) {
	if l, err = c.compileExpr(a.Lexpr, sc); err != nil {
		return expr{}, expr{}, err
	}
	r, err = c.compileExpr(a.Rexpr, sc)
	return l, r, err
}

func (c *compiler) compileAExpr(a *pg.A_Expr, sc *scope) (expr, error) {
	op := ""
	if len(a.Name) > 0 {
		op = strVal(a.Name[len(a.Name)-1])
	}
	switch a.Kind {
	case pg.A_Expr_Kind_AEXPR_OP:
		if a.Lexpr == nil {
			r, err := c.compileExpr(a.Rexpr, sc)
			if err != nil {
				return expr{}, err
			}
			return c.unaryOp(op, r)
		}
		l, r, err := c.compileOperands(a, sc)
		if err != nil {
			return expr{}, err
		}
		return c.binaryOp(op, l, r)
	case pg.A_Expr_Kind_AEXPR_LIKE, pg.A_Expr_Kind_AEXPR_ILIKE:
		l, r, err := c.compileOperands(a, sc)
		if err != nil {
			return expr{}, err
		}
		return c.binaryOp(op, l, r)
	case pg.A_Expr_Kind_AEXPR_DISTINCT, pg.A_Expr_Kind_AEXPR_NOT_DISTINCT:
		l, r, err := c.compileOperands(a, sc)
		if err != nil {
			return expr{}, err
		}
		if l, r, err = c.unify(l, r); err != nil {
			return expr{}, err
		}
		not := a.Kind == pg.A_Expr_Kind_AEXPR_NOT_DISTINCT
		return expr{t: tBool, fn: func(x *execCtx, row []any) (any, error) {
			lv, err := l.fn(x, row)
			if err != nil {
				return nil, err
			}
			rv, err := r.fn(x, row)
			if err != nil {
				return nil, err
			}
			var same bool
			switch {
			case lv == nil || rv == nil:
				same = lv == nil && rv == nil
			default:
				same = compareValues(lv, rv) == 0
			}
			return same == not, nil
		}}, nil
	case pg.A_Expr_Kind_AEXPR_NULLIF:
		l, r, err := c.compileOperands(a, sc)
		if err != nil {
			return expr{}, err
		}
		if l, r, err = c.unify(l, r); err != nil {
			return expr{}, err
		}
		return expr{t: l.t, fn: func(x *execCtx, row []any) (any, error) {
			lv, err := l.fn(x, row)
			if err != nil || lv == nil {
				return lv, err
			}
			rv, err := r.fn(x, row)
			if err != nil {
				return nil, err
			}
			if rv != nil && compareValues(lv, rv) == 0 {
				return nil, nil
			}
			return lv, nil
		}}, nil
	case pg.A_Expr_Kind_AEXPR_IN:
		l, err := c.compileExpr(a.Lexpr, sc)
		if err != nil {
			return expr{}, err
		}
		list := a.Rexpr.GetList()
		if list == nil {
			return expr{}, unsupported("IN with this right-hand side")
		}
		var items []expr
		for _, n := range list.Items {
			e, err := c.compileExpr(n, sc)
			if err != nil {
				return expr{}, err
			}
			items = append(items, e)
		}
		t := l.t
		for _, it := range items {
			t = commonType(t, it.t)
		}
		if l, err = c.coerce(l, t); err != nil {
			return expr{}, err
		}
		for i := range items {
			if items[i], err = c.coerce(items[i], t); err != nil {
				return expr{}, err
			}
		}
		return inExpr(l, items, op == "<>"), nil
	case pg.A_Expr_Kind_AEXPR_BETWEEN, pg.A_Expr_Kind_AEXPR_NOT_BETWEEN, pg.A_Expr_Kind_AEXPR_BETWEEN_SYM, pg.A_Expr_Kind_AEXPR_NOT_BETWEEN_SYM:
		v, err := c.compileExpr(a.Lexpr, sc)
		if err != nil {
			return expr{}, err
		}
		bounds := a.Rexpr.GetList().Items
		lo, err := c.compileExpr(bounds[0], sc)
		if err != nil {
			return expr{}, err
		}
		hi, err := c.compileExpr(bounds[1], sc)
		if err != nil {
			return expr{}, err
		}
		ge, err := c.binaryOp(">=", v, lo)
		if err != nil {
			return expr{}, err
		}
		le, err := c.binaryOp("<=", v, hi)
		if err != nil {
			return expr{}, err
		}
		not := a.Kind == pg.A_Expr_Kind_AEXPR_NOT_BETWEEN || a.Kind == pg.A_Expr_Kind_AEXPR_NOT_BETWEEN_SYM
		sym := a.Kind == pg.A_Expr_Kind_AEXPR_BETWEEN_SYM || a.Kind == pg.A_Expr_Kind_AEXPR_NOT_BETWEEN_SYM
		var geSym, leSym expr
		if sym {
			if geSym, err = c.binaryOp(">=", v, hi); err != nil {
				return expr{}, err
			}
			if leSym, err = c.binaryOp("<=", v, lo); err != nil {
				return expr{}, err
			}
		}
		return expr{t: tBool, fn: func(x *execCtx, r []any) (any, error) {
			res, err := and3(x, r, ge, le)
			if err != nil {
				return nil, err
			}
			if sym && res != true {
				res2, err := and3(x, r, geSym, leSym)
				if err != nil {
					return nil, err
				}
				if res2 == true || res == nil && res2 == nil {
					res = res2
				}
			}
			if res == nil {
				return nil, nil
			}
			return res.(bool) != not, nil
		}}, nil
	case pg.A_Expr_Kind_AEXPR_OP_ANY, pg.A_Expr_Kind_AEXPR_OP_ALL:
		l, r, err := c.compileOperands(a, sc)
		if err != nil {
			return expr{}, err
		}
		if r.t.k != kArray {
			if r, err = c.coerce(r, typ{k: kArray, elem: l.t.k}); err != nil {
				return expr{}, err
			}
		}
		elemT := typ{k: r.t.elem}
		cmp, err := c.binaryOp(op, expr{t: l.t, fn: func(x *execCtx, row []any) (any, error) { return row[0], nil }},
			expr{t: elemT, fn: func(x *execCtx, row []any) (any, error) { return row[1], nil }})
		if err != nil {
			return expr{}, err
		}
		all := a.Kind == pg.A_Expr_Kind_AEXPR_OP_ALL
		return expr{t: tBool, fn: func(x *execCtx, row []any) (any, error) {
			lv, err := l.fn(x, row)
			if err != nil {
				return nil, err
			}
			rv, err := r.fn(x, row)
			if err != nil || rv == nil {
				return nil, err
			}
			sawNull := false
			pair := make([]any, 2)
			for _, e := range rv.([]any) {
				pair[0], pair[1] = lv, e
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
	case pg.A_Expr_Kind_AEXPR_SIMILAR:
		return expr{}, unsupported("SIMILAR TO")
	}
	return expr{}, unsupported("operator kind " + a.Kind.String())
}

func and3(x *execCtx, r []any, a, b expr) (any, error) {
	av, err := a.fn(x, r)
	if err != nil {
		return nil, err
	}
	if av == false {
		return false, nil
	}
	bv, err := b.fn(x, r)
	if err != nil {
		return nil, err
	}
	if bv == false {
		return false, nil
	}
	if av == nil || bv == nil {
		return nil, nil
	}
	return true, nil
}

func inExpr(l expr, items []expr, not bool) expr {
	return expr{t: tBool, fn: func(x *execCtx, r []any) (any, error) {
		lv, err := l.fn(x, r)
		if err != nil {
			return nil, err
		}
		if lv == nil {
			return nil, nil
		}
		sawNull := false
		for _, it := range items {
			v, err := it.fn(x, r)
			if err != nil {
				return nil, err
			}
			if v == nil {
				sawNull = true
				continue
			}
			if compareValues(lv, v) == 0 {
				return !not, nil
			}
		}
		if sawNull {
			return nil, nil
		}
		return not, nil
	}}
}

// unify coerces two operands to a common type.
func (c *compiler) unify(l, r expr) (expr, expr, error) {
	t := commonType(l.t, r.t)
	if t.k == kUnknown {
		t = tText
	}
	var err error
	if l, err = c.coerce(l, t); err != nil {
		return l, r, err
	}
	r, err = c.coerce(r, t)
	return l, r, err
}

func (c *compiler) unaryOp(op string, r expr) (expr, error) {
	switch op {
	case "-":
		if r.konst {
			switch v := r.val.(type) {
			case int64:
				t := r.t
				if v == math.MinInt32*-1 && t.k == kInt8 {
					t = tInt4
				}
				return constExpr(-v, t), nil
			case engine.Numeric:
				d := decFromNumeric(v)
				d.u.Neg(d.u)
				return constExpr(d.numeric(), r.t), nil
			}
		}
		zero := constExpr(int64(0), tInt4)
		return c.binaryOp("-", zero, r)
	case "+":
		return r, nil
	case "~":
		return expr{}, unsupported("bitwise operators")
	case "@":
		return c.callBuiltin("abs", []expr{r})
	}
	return expr{}, errorf(codeUndefinedFunction, "operator does not exist: %s %s", op, r.t)
}

func isCmpOp(op string) bool {
	switch op {
	case "=", "<>", "!=", "<", "<=", ">", ">=":
		return true
	}
	return false
}

func (c *compiler) binaryOp(op string, l, r expr) (expr, error) {
	switch {
	case isCmpOp(op):
		if l.t.k == kRecord || r.t.k == kRecord {
			return c.rowCompare(op, l, r)
		}
		var err error
		if l.t.k == kUnknown && r.t.k != kUnknown {
			l, err = c.coerce(l, r.t)
		} else if r.t.k == kUnknown && l.t.k != kUnknown {
			r, err = c.coerce(r, l.t)
		} else if !comparable(l.t, r.t) {
			return expr{}, errorf(codeUndefinedFunction, "operator does not exist: %s %s %s", l.t, op, r.t)
		} else {
			l, r, err = c.unify(l, r)
		}
		if err != nil {
			return expr{}, err
		}
		test := cmpTest(op)
		lf, rf := l.fn, r.fn
		return expr{t: tBool, fn: func(x *execCtx, row []any) (any, error) {
			lv, err := lf(x, row)
			if err != nil || lv == nil {
				return nil, err
			}
			rv, err := rf(x, row)
			if err != nil || rv == nil {
				return nil, err
			}
			return test(compareValues(lv, rv)), nil
		}}, nil
	case op == "||":
		if l.t.k == kArray || r.t.k == kArray {
			return c.callBuiltin("array_cat", []expr{l, r})
		}
		return c.callBuiltin("textcat", []expr{l, r})
	case op == "~~" || op == "!~~" || op == "~~*" || op == "!~~*":
		return c.likeOp(op, l, r)
	case op == "~" || op == "!~" || op == "~*" || op == "!~*":
		return c.regexOp(op, l, r)
	case op == "+" || op == "-" || op == "*" || op == "/" || op == "%":
		return c.arith(op, l, r)
	case op == "->" || op == "->>":
		return c.callBuiltin("json_field"+strings.Repeat("_text", len(op)-2), []expr{l, r})
	case op == "^":
		return c.callBuiltin("power", []expr{l, r})
	}
	return expr{}, errorf(codeUndefinedFunction, "operator does not exist: %s %s %s", l.t, op, r.t)
}

func comparable(a, b typ) bool {
	switch {
	case a.k == b.k:
		return true
	case a.k.isNumber() && b.k.isNumber():
		return true
	case a.k.isString() && b.k.isString():
		return true
	case (a.k.isTime() || a.k == kDate) && (b.k.isTime() || b.k == kDate):
		return true
	case (a.k.isOidLike() || a.k.isInt()) && (b.k.isOidLike() || b.k.isInt()):
		return true
	case a.k == kUnknown || b.k == kUnknown:
		return true
	}
	return false
}

func cmpTest(op string) func(int) bool {
	switch op {
	case "=":
		return func(c int) bool { return c == 0 }
	case "<>", "!=":
		return func(c int) bool { return c != 0 }
	case "<":
		return func(c int) bool { return c < 0 }
	case "<=":
		return func(c int) bool { return c <= 0 }
	case ">":
		return func(c int) bool { return c > 0 }
	}
	return func(c int) bool { return c >= 0 }
}

func (c *compiler) rowCompare(op string, l, r expr) (expr, error) {
	test := cmpTest(op)
	return expr{t: tBool, fn: func(x *execCtx, row []any) (any, error) {
		lv, err := l.fn(x, row)
		if err != nil || lv == nil {
			return nil, err
		}
		rv, err := r.fn(x, row)
		if err != nil || rv == nil {
			return nil, err
		}
		la, _ := lv.([]any)
		ra, _ := rv.([]any)
		if len(la) != len(ra) {
			return nil, errorf(codeSyntax, "unequal number of entries in row expressions")
		}
		for i := range la {
			if la[i] == nil || ra[i] == nil {
				return nil, nil
			}
			if cmp := compareValues(la[i], ra[i]); cmp != 0 {
				return test(cmp), nil
			}
		}
		return test(0), nil
	}}, nil
}

// patternCache keeps compiled LIKE and regular-expression patterns. It is
// bounded: patterns come from clients (and from row data), so past
// maxCachedPatterns new ones are compiled without being kept.
type patternCache struct {
	m sync.Map     // kind+flags+pattern -> *regexp.Regexp
	n atomic.Int64 // entries stored
}

const maxCachedPatterns = 4096

var patterns patternCache

func (pc *patternCache) get(key string) (*regexp.Regexp, bool) {
	re, ok := pc.m.Load(key)
	if !ok {
		return nil, false
	}
	return re.(*regexp.Regexp), true
}

func (pc *patternCache) put(key string, re *regexp.Regexp) {
	if pc.n.Load() < maxCachedPatterns {
		if _, loaded := pc.m.LoadOrStore(key, re); !loaded {
			pc.n.Add(1)
		}
	}
}

func patternKey(kind string, pat string, ci bool) string {
	if ci {
		return kind + "i:" + pat
	}
	return kind + "c:" + pat
}

func likeRegexp(pat string, ci bool) (*regexp.Regexp, error) {
	key := patternKey("like/", pat, ci)
	if re, ok := patterns.get(key); ok {
		return re, nil
	}
	var b strings.Builder
	b.WriteString("(?s)^")
	if ci {
		b.WriteString("(?i)")
	}
	for i := 0; i < len(pat); i++ {
		switch ch := pat[i]; ch {
		case '\\':
			if i+1 < len(pat) {
				i++
				b.WriteString(regexp.QuoteMeta(string(pat[i])))
			} else {
				return nil, errorf(codeInvalidEscape, "LIKE pattern must not end with escape character")
			}
		case '%':
			b.WriteString(".*")
		case '_':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(ch)))
		}
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, errorf(codeInvalidRegex, "invalid LIKE pattern: %v", err)
	}
	patterns.put(key, re)
	return re, nil
}

// posixRegexp compiles the pattern of ~ and ~* (and their negations).
func posixRegexp(pat string, ci bool) (*regexp.Regexp, error) {
	key := patternKey("re/", pat, ci)
	if re, ok := patterns.get(key); ok {
		return re, nil
	}
	src := pat
	if ci {
		src = "(?i)" + pat
	}
	re, err := regexp.Compile(src)
	if err != nil {
		return nil, errorf(codeInvalidRegex, "invalid regular expression: %v", err)
	}
	patterns.put(key, re)
	return re, nil
}

func (c *compiler) likeOp(op string, l, r expr) (expr, error) {
	return c.patternOp(op, l, r, likeRegexp)
}

func (c *compiler) regexOp(op string, l, r expr) (expr, error) {
	return c.patternOp(op, l, r, posixRegexp)
}

// patternOp compiles a text-matching operator: a leading "!" negates it, a
// trailing "*" makes it case-insensitive; compile turns the right operand
// into a (cached) regular expression.
func (c *compiler) patternOp(op string, l, r expr, compile func(pat string, ci bool) (*regexp.Regexp, error)) (expr, error) {
	var err error
	if l, err = c.coerce(l, tText); err != nil {
		return expr{}, err
	}
	if r, err = c.coerce(r, tText); err != nil {
		return expr{}, err
	}
	not := strings.HasPrefix(op, "!")
	ci := strings.HasSuffix(op, "*")
	return expr{t: tBool, fn: func(x *execCtx, row []any) (any, error) {
		lv, err := l.fn(x, row)
		if err != nil || lv == nil {
			return nil, err
		}
		rv, err := r.fn(x, row)
		if err != nil || rv == nil {
			return nil, err
		}
		re, err := compile(rv.(string), ci)
		if err != nil {
			return nil, err
		}
		return re.MatchString(lv.(string)) != not, nil
	}}, nil
}

// arith compiles + - * / % over numbers, dates, timestamps and intervals.
func (c *compiler) arith(op string, l, r expr) (expr, error) {
	var err error
	// Date/time arithmetic first: it decides how unknown literals resolve.
	lk, rk := l.t.k, r.t.k
	if lk == kUnknown && (rk.isTime() || rk == kDate || rk == kInterval) {
		if rk == kInterval || op == "+" {
			l, err = c.coerce(l, tInterval)
		} else {
			l, err = c.coerce(l, r.t)
		}
	} else if rk == kUnknown && (lk.isTime() || lk == kDate || lk == kInterval) {
		if op == "-" && (lk.isTime() || lk == kDate) {
			r, err = c.coerce(r, tInterval)
		} else if op == "*" || op == "/" {
			r, err = c.coerce(r, tFloat8)
		} else {
			r, err = c.coerce(r, tInterval)
		}
	}
	if err != nil {
		return expr{}, err
	}
	lk, rk = l.t.k, r.t.k
	if lk.isTime() || lk == kDate || lk == kInterval || rk.isTime() || rk == kDate || rk == kInterval {
		return c.timeArith(op, l, r)
	}
	if lk == kUnknown {
		if l, err = c.coerce(l, typ{k: ifUnknown(rk, kInt4)}); err != nil {
			return expr{}, err
		}
	}
	if r.t.k == kUnknown {
		if r, err = c.coerce(r, typ{k: ifUnknown(l.t.k, kInt4)}); err != nil {
			return expr{}, err
		}
	}
	if !l.t.k.isNumber() || !r.t.k.isNumber() {
		return expr{}, errorf(codeUndefinedFunction, "operator does not exist: %s %s %s", l.t, op, r.t)
	}
	t := commonType(typ{k: l.t.k}, typ{k: r.t.k})
	if t.k == kFloat4 {
		t = tFloat8
	}
	if l, err = c.coerce(l, t); err != nil {
		return expr{}, err
	}
	if r, err = c.coerce(r, t); err != nil {
		return expr{}, err
	}
	lf, rf := l.fn, r.fn
	return expr{t: t, fn: func(x *execCtx, row []any) (any, error) {
		lv, err := lf(x, row)
		if err != nil || lv == nil {
			return nil, err
		}
		rv, err := rf(x, row)
		if err != nil || rv == nil {
			return nil, err
		}
		return arithValues(op, lv, rv, t.k)
	}}, nil
}

func ifUnknown(k, def kind) kind {
	if k == kUnknown {
		return def
	}
	return k
}

func arithValues(op string, lv, rv any, k kind) (any, error) {
	switch k {
	case kInt2, kInt4, kInt8:
		a, b := lv.(int64), rv.(int64)
		var res int64
		switch op {
		case "+":
			res = a + b
			if (res > a) != (b > 0) {
				return nil, intRangeErr(k)
			}
		case "-":
			res = a - b
			if (res < a) != (b > 0) {
				return nil, intRangeErr(k)
			}
		case "*":
			if a != 0 && b != 0 {
				res = a * b
				if res/b != a || (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64) {
					return nil, intRangeErr(k)
				}
			}
		case "/":
			if b == 0 {
				return nil, errorf(codeDivisionByZero, "division by zero")
			}
			if a == math.MinInt64 && b == -1 {
				return nil, intRangeErr(k)
			}
			res = a / b
		case "%":
			if b == 0 {
				return nil, errorf(codeDivisionByZero, "division by zero")
			}
			if b == -1 {
				return int64(0), nil
			}
			res = a % b
		}
		if err := checkIntRange(res, k); err != nil {
			return nil, err
		}
		return res, nil
	case kFloat4, kFloat8:
		a, b := lv.(float64), rv.(float64)
		switch op {
		case "+":
			return checkFloat(a + b)
		case "-":
			return checkFloat(a - b)
		case "*":
			return checkFloat(a * b)
		case "/":
			if b == 0 {
				return nil, errorf(codeDivisionByZero, "division by zero")
			}
			return checkFloat(a / b)
		case "%":
			if b == 0 {
				return nil, errorf(codeDivisionByZero, "division by zero")
			}
			return math.Mod(a, b), nil
		}
	case kNumeric:
		a, b := toDecimal(lv), toDecimal(rv)
		var d decimal
		var err error
		switch op {
		case "+":
			d = decAdd(a, b)
		case "-":
			d = decSub(a, b)
		case "*":
			d = decMul(a, b)
		case "/":
			d, err = decDiv(a, b)
		case "%":
			d, err = decMod(a, b)
		}
		if err != nil {
			return nil, err
		}
		return d.numeric(), nil
	}
	return nil, errorf(codeInternal, "bad arithmetic kind")
}

func checkFloat(f float64) (any, error) {
	if math.IsInf(f, 0) {
		return nil, errorf(codeNumericRange, "value out of range: overflow")
	}
	return f, nil
}

func toDecimal(v any) decimal {
	switch x := v.(type) {
	case int64:
		return decFromInt(x)
	case float64:
		return decFromFloat(x)
	case engine.Numeric:
		return decFromNumeric(x)
	}
	return decFromInt(0)
}

func (c *compiler) timeArith(op string, l, r expr) (expr, error) {
	lk, rk := l.t.k, r.t.k
	mk := func(t typ, f func(a, b any) (any, error)) (expr, error) {
		return expr{t: t, fn: func(x *execCtx, row []any) (any, error) {
			a, err := l.fn(x, row)
			if err != nil || a == nil {
				return nil, err
			}
			b, err := r.fn(x, row)
			if err != nil || b == nil {
				return nil, err
			}
			return f(a, b)
		}}, nil
	}
	toTime := func(v any) (engine.Timestamp, bool) {
		switch t := v.(type) {
		case engine.Timestamp:
			return t, true
		case engine.Date:
			return engine.Timestamp(int64(t) * usPerDay), true
		}
		return 0, false
	}
	switch {
	case (lk.isTime() || lk == kDate) && rk == kInterval && (op == "+" || op == "-"):
		sign := int64(1)
		if op == "-" {
			sign = -1
		}
		t := l.t
		if lk == kDate {
			t = tTimestamp
		}
		return mk(t, func(a, b any) (any, error) {
			ts, _ := toTime(a)
			return timeTS(addInterval(tsTime(ts), b.(interval), sign)), nil
		})
	case lk == kInterval && (rk.isTime() || rk == kDate) && op == "+":
		t := r.t
		if rk == kDate {
			t = tTimestamp
		}
		return mk(t, func(a, b any) (any, error) {
			ts, _ := toTime(b)
			return timeTS(addInterval(tsTime(ts), a.(interval), 1)), nil
		})
	case lk == kDate && rk.isInt() && (op == "+" || op == "-"):
		return mk(tDate, func(a, b any) (any, error) {
			if op == "-" {
				return a.(engine.Date) - engine.Date(b.(int64)), nil
			}
			return a.(engine.Date) + engine.Date(b.(int64)), nil
		})
	case lk.isInt() && rk == kDate && op == "+":
		return mk(tDate, func(a, b any) (any, error) { return b.(engine.Date) + engine.Date(a.(int64)), nil })
	case lk == kDate && rk == kDate && op == "-":
		return mk(tInt4, func(a, b any) (any, error) { return int64(a.(engine.Date) - b.(engine.Date)), nil })
	case (lk.isTime() || lk == kDate) && (rk.isTime() || rk == kDate) && op == "-":
		return mk(tInterval, func(a, b any) (any, error) {
			ta, _ := toTime(a)
			tb, _ := toTime(b)
			us := int64(ta - tb)
			return interval{days: us / usPerDay, us: us % usPerDay}, nil
		})
	case lk == kInterval && rk == kInterval && (op == "+" || op == "-"):
		return mk(tInterval, func(a, b any) (any, error) {
			x, y := a.(interval), b.(interval)
			if op == "-" {
				y = interval{-y.months, -y.days, -y.us}
			}
			return interval{x.months + y.months, x.days + y.days, x.us + y.us}, nil
		})
	case lk == kInterval && rk.isNumber() && (op == "*" || op == "/"), rk == kInterval && lk.isNumber() && op == "*":
		return mk(tInterval, func(a, b any) (any, error) {
			iv, n := a, b
			if _, ok := a.(interval); !ok {
				iv, n = b, a
			}
			f := toDecimal(n).float()
			if op == "/" {
				if f == 0 {
					return nil, errorf(codeDivisionByZero, "division by zero")
				}
				f = 1 / f
			}
			v := iv.(interval)
			months := float64(v.months) * f
			days := float64(v.days)*f + (months-math.Trunc(months))*30
			us := float64(v.us)*f + (days-math.Trunc(days))*usPerDay
			return interval{int64(months), int64(days), int64(math.Round(us))}, nil
		})
	}
	return expr{}, errorf(codeUndefinedFunction, "operator does not exist: %s %s %s", l.t, op, r.t)
}
