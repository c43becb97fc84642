package sql

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/heliosdb/heliosdb-lite/engine"
	pg "github.com/pganalyze/pg_query_go/v6"
)

func (c *compiler) compileFunc(fc *pg.FuncCall, sc *scope) (expr, error) {
	if e, ok := c.srfRefExpr(fc); ok {
		return e, nil
	}
	name := funcName(fc.Funcname)
	if len(fc.Funcname) > 1 {
		if schema := strings.ToLower(strVal(fc.Funcname[0])); schema != "pg_catalog" && schema != "public" && schema != "heliosdb" {
			return expr{}, errorf(codeUndefinedFunction, "function %s does not exist", strings.Join(strList(fc.Funcname), "."))
		}
	}
	if fc.Over != nil {
		if e, ok := c.windowRef(fc); ok {
			return e, nil
		}
		return expr{}, unsupported("window functions")
	}
	if aggNames[name] {
		return expr{}, errorf(codeGrouping, "aggregate functions are not allowed here")
	}
	args := make([]expr, 0, len(fc.Args))
	for i, a := range fc.Args {
		// extract/date_part/date_trunc take the field name as a literal.
		e, err := c.compileExpr(a, sc)
		if err != nil {
			return expr{}, err
		}
		_ = i
		args = append(args, e)
	}
	return c.callBuiltin(name, args)
}

// mk builds a function expression; strict functions return NULL when any
// argument is NULL.
func mk(t typ, strict bool, args []expr, f func(x *execCtx, v []any) (any, error)) expr {
	return expr{t: t, fn: func(x *execCtx, r []any) (any, error) {
		vals := make([]any, len(args))
		for i, a := range args {
			v, err := a.fn(x, r)
			if err != nil {
				return nil, err
			}
			if v == nil && strict {
				return nil, nil
			}
			vals[i] = v
		}
		return f(x, vals)
	}}
}

func (c *compiler) coerceAll(args []expr, ts ...typ) ([]expr, error) {
	out := make([]expr, len(args))
	for i, a := range args {
		t := ts[len(ts)-1]
		if i < len(ts) {
			t = ts[i]
		}
		e, err := c.coerce(a, t)
		if err != nil {
			return nil, err
		}
		out[i] = e
	}
	return out, nil
}

func noFunc(name string, args []expr) error {
	var ts []string
	for _, a := range args {
		if a.t.k == kUnknown {
			ts = append(ts, "unknown")
		} else {
			ts = append(ts, a.t.String())
		}
	}
	return &Error{Code: codeUndefinedFunction, Msg: fmt.Sprintf("function %s(%s) does not exist", name, strings.Join(ts, ", ")),
		Hnt: "No function matches the given name and argument types. You might need to add explicit type casts."}
}

// systemConstants are catalog helper functions psql and drivers call whose
// answer does not depend on their arguments here.
var systemConstants = map[string]struct {
	v any
	t typ
}{
	"pg_table_is_visible":                {true, tBool},
	"pg_type_is_visible":                 {true, tBool},
	"pg_function_is_visible":             {true, tBool},
	"pg_is_in_recovery":                  {false, tBool},
	"has_table_privilege":                {true, tBool},
	"has_schema_privilege":               {true, tBool},
	"has_database_privilege":             {true, tBool},
	"has_column_privilege":               {true, tBool},
	"has_function_privilege":             {true, tBool},
	"pg_has_role":                        {true, tBool},
	"obj_description":                    {nil, tText},
	"col_description":                    {nil, tText},
	"shobj_description":                  {nil, tText},
	"pg_get_viewdef":                     {nil, tText},
	"pg_get_triggerdef":                  {nil, tText},
	"pg_get_partkeydef":                  {nil, tText},
	"pg_get_statisticsobjdef_columns":    {nil, tText},
	"pg_tablespace_location":             {"", tText},
	"pg_get_function_identity_arguments": {"", tText},
	"pg_get_function_result":             {nil, tText},
	"pg_get_function_arguments":          {"", tText},
	"pg_relation_is_publishable":         {false, tBool},
	"inet_server_addr":                   {nil, tText},
	"inet_server_port":                   {nil, tInt4},
	"inet_client_addr":                   {nil, tText},
	"pg_get_serial_sequence":             {nil, tText},
	"pg_encoding_to_char":                {"UTF8", tName},
	"pg_char_to_encoding":                {int64(6), tInt4},
	"pg_client_encoding":                 {"UTF8", tName},
	"pg_get_ruledef":                     {nil, tText},
	"array_upper":                        {nil, tInt4},
	"pg_conf_load_time":                  {nil, tTimestamptz},
	"pg_collation_is_visible":            {true, tBool},
	"pg_opclass_is_visible":              {true, tBool},
	"row_security_active":                {false, tBool},
	"pg_trigger_depth":                   {int64(0), tInt4},
	"txid_current_if_assigned":           {nil, tInt8},
	"pg_jit_available":                   {false, tBool},
}

func (c *compiler) callBuiltin(name string, args []expr) (expr, error) {
	text := func(n int) ([]expr, error) {
		if len(args) != n {
			return nil, noFunc(name, args)
		}
		return c.coerceAll(args, tText)
	}
	switch name {
	// ---- strings
	case "length", "char_length", "character_length", "octet_length", "bit_length":
		if len(args) != 1 {
			return expr{}, noFunc(name, args)
		}
		if args[0].t.k == kBytea {
			return mk(tInt4, true, args, func(_ *execCtx, v []any) (any, error) { return int64(len(v[0].([]byte))), nil }), nil
		}
		a, err := text(1)
		if err != nil {
			return expr{}, err
		}
		ch := args[0].t.k == kChar
		return mk(tInt4, true, a, func(_ *execCtx, v []any) (any, error) {
			s := v[0].(string)
			if ch {
				s = strings.TrimRight(s, " ")
			}
			switch name {
			case "octet_length":
				return int64(len(s)), nil
			case "bit_length":
				return int64(len(s) * 8), nil
			}
			return int64(utf8.RuneCountInString(s)), nil
		}), nil
	case "lower", "upper", "initcap", "reverse", "md5", "quote_ident", "quote_literal", "ascii", "btrim", "ltrim", "rtrim", "trim":
		if len(args) < 1 || len(args) > 2 {
			return expr{}, noFunc(name, args)
		}
		a, err := c.coerceAll(args, tText)
		if err != nil {
			return expr{}, err
		}
		t := tText
		if name == "ascii" {
			t = tInt4
		}
		return mk(t, true, a, func(_ *execCtx, v []any) (any, error) {
			s := v[0].(string)
			cut := " "
			if len(v) > 1 {
				cut = v[1].(string)
			}
			switch name {
			case "lower":
				return strings.ToLower(s), nil
			case "upper":
				return strings.ToUpper(s), nil
			case "initcap":
				prev := false
				return strings.Map(func(r rune) rune {
					isAl := unicode.IsLetter(r) || unicode.IsDigit(r)
					defer func() { prev = isAl }()
					if isAl && !prev {
						return unicode.ToUpper(r)
					}
					return unicode.ToLower(r)
				}, s), nil
			case "reverse":
				r := []rune(s)
				for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
					r[i], r[j] = r[j], r[i]
				}
				return string(r), nil
			case "md5":
				h := md5.Sum([]byte(s))
				return hex.EncodeToString(h[:]), nil
			case "quote_ident":
				return quoteIdent(s), nil
			case "quote_literal":
				return "'" + strings.ReplaceAll(s, "'", "''") + "'", nil
			case "ascii":
				if s == "" {
					return int64(0), nil
				}
				r, _ := utf8.DecodeRuneInString(s)
				return int64(r), nil
			case "ltrim":
				return strings.TrimLeft(s, cut), nil
			case "rtrim":
				return strings.TrimRight(s, cut), nil
			}
			return strings.Trim(s, cut), nil
		}), nil
	case "substr", "substring":
		if len(args) < 2 || len(args) > 3 {
			return expr{}, noFunc(name, args)
		}
		if args[1].t.k == kText || args[1].t.k == kUnknown && len(args) == 2 && !args[1].konst {
			return expr{}, unsupported("substring with a regular expression")
		}
		if args[1].konst && args[1].t.k == kUnknown {
			if _, err := strconv.Atoi(fmt.Sprint(args[1].val)); err != nil {
				return c.callBuiltin("regexp_substr", args)
			}
		}
		a, err := c.coerceAll(args, tText, tInt8, tInt8)
		if err != nil {
			return expr{}, err
		}
		return mk(tText, true, a, func(_ *execCtx, v []any) (any, error) {
			r := []rune(v[0].(string))
			start := v[1].(int64)
			end := int64(len(r)) + 1
			if len(v) == 3 {
				n := v[2].(int64)
				if n < 0 {
					return nil, errorf(codeInvalidParam, "negative substring length not allowed")
				}
				end = start + n
			}
			start = max(start, 1)
			end = min(end, int64(len(r))+1)
			if start >= end {
				return "", nil
			}
			return string(r[start-1 : end-1]), nil
		}), nil
	case "regexp_substr":
		a, err := c.coerceAll(args, tText)
		if err != nil {
			return expr{}, err
		}
		return mk(tText, true, a, func(_ *execCtx, v []any) (any, error) {
			re, err := regexp.Compile(v[1].(string))
			if err != nil {
				return nil, errorf(codeInvalidRegex, "invalid regular expression: %v", err)
			}
			m := re.FindStringSubmatch(v[0].(string))
			switch {
			case m == nil:
				return nil, nil
			case len(m) > 1:
				return m[1], nil
			}
			return m[0], nil
		}), nil
	case "replace":
		a, err := text(3)
		if err != nil {
			return expr{}, err
		}
		return mk(tText, true, a, func(_ *execCtx, v []any) (any, error) {
			return strings.ReplaceAll(v[0].(string), v[1].(string), v[2].(string)), nil
		}), nil
	case "regexp_replace":
		if len(args) < 3 || len(args) > 4 {
			return expr{}, noFunc(name, args)
		}
		a, err := c.coerceAll(args, tText)
		if err != nil {
			return expr{}, err
		}
		return mk(tText, true, a, func(_ *execCtx, v []any) (any, error) {
			flags := ""
			if len(v) == 4 {
				flags = v[3].(string)
			}
			pat := v[1].(string)
			if strings.Contains(flags, "i") {
				pat = "(?i)" + pat
			}
			re, err := regexp.Compile(pat)
			if err != nil {
				return nil, errorf(codeInvalidRegex, "invalid regular expression: %v", err)
			}
			repl := regexp.MustCompile(`\\(\d)`).ReplaceAllString(v[2].(string), "$${$1}")
			if strings.Contains(flags, "g") {
				return re.ReplaceAllString(v[0].(string), repl), nil
			}
			done := false
			return re.ReplaceAllStringFunc(v[0].(string), func(m string) string {
				if done {
					return m
				}
				done = true
				return re.ReplaceAllString(m, repl)
			}), nil
		}), nil
	case "textcat":
		a, err := c.coerceAll(args, tText)
		if err != nil {
			return expr{}, err
		}
		return mk(tText, true, a, func(_ *execCtx, v []any) (any, error) { return v[0].(string) + v[1].(string), nil }), nil
	case "concat", "concat_ws":
		a, err := c.coerceAll(args, tText)
		if err != nil {
			return expr{}, err
		}
		return mk(tText, false, a, func(_ *execCtx, v []any) (any, error) {
			var parts []string
			sep := ""
			vals := v
			if name == "concat_ws" {
				if len(v) == 0 || v[0] == nil {
					return nil, nil
				}
				sep = v[0].(string)
				vals = v[1:]
			}
			for _, s := range vals {
				if s != nil {
					parts = append(parts, s.(string))
				}
			}
			return strings.Join(parts, sep), nil
		}), nil
	case "position", "strpos":
		a, err := text(2)
		if err != nil {
			return expr{}, err
		}
		return mk(tInt4, true, a, func(_ *execCtx, v []any) (any, error) {
			i := strings.Index(v[0].(string), v[1].(string))
			if i < 0 {
				return int64(0), nil
			}
			return int64(utf8.RuneCountInString(v[0].(string)[:i]) + 1), nil
		}), nil
	case "starts_with":
		a, err := text(2)
		if err != nil {
			return expr{}, err
		}
		return mk(tBool, true, a, func(_ *execCtx, v []any) (any, error) {
			return strings.HasPrefix(v[0].(string), v[1].(string)), nil
		}), nil
	case "left", "right", "repeat":
		if len(args) != 2 {
			return expr{}, noFunc(name, args)
		}
		a, err := c.coerceAll(args, tText, tInt8)
		if err != nil {
			return expr{}, err
		}
		return mk(tText, true, a, func(_ *execCtx, v []any) (any, error) {
			r := []rune(v[0].(string))
			n := int(v[1].(int64))
			if name == "repeat" {
				if n <= 0 {
					return "", nil
				}
				if len(r)*n > 1<<28 {
					return nil, errorf(codeProgramLimit, "requested length too large")
				}
				return strings.Repeat(string(r), n), nil
			}
			if n < 0 {
				n = max(len(r)+n, 0)
			}
			n = min(n, len(r))
			if name == "left" {
				return string(r[:n]), nil
			}
			return string(r[len(r)-n:]), nil
		}), nil
	case "lpad", "rpad":
		if len(args) < 2 || len(args) > 3 {
			return expr{}, noFunc(name, args)
		}
		a, err := c.coerceAll(args, tText, tInt8, tText)
		if err != nil {
			return expr{}, err
		}
		return mk(tText, true, a, func(_ *execCtx, v []any) (any, error) {
			r := []rune(v[0].(string))
			n := int(v[1].(int64))
			if n > 1<<28 {
				return nil, errorf(codeProgramLimit, "requested length too large")
			}
			fill := []rune(" ")
			if len(v) == 3 {
				fill = []rune(v[2].(string))
			}
			if n <= len(r) {
				return string(r[:max(n, 0)]), nil
			}
			if len(fill) == 0 {
				return string(r), nil
			}
			pad := make([]rune, 0, n-len(r))
			for i := 0; len(pad) < n-len(r); i++ {
				pad = append(pad, fill[i%len(fill)])
			}
			if name == "lpad" {
				return string(pad) + string(r), nil
			}
			return string(r) + string(pad), nil
		}), nil
	case "split_part":
		a, err := c.coerceAll(args, tText, tText, tInt8)
		if err != nil || len(args) != 3 {
			return expr{}, noFunc(name, args)
		}
		return mk(tText, true, a, func(_ *execCtx, v []any) (any, error) {
			parts := strings.Split(v[0].(string), v[1].(string))
			n := int(v[2].(int64))
			if n == 0 {
				return nil, errorf(codeInvalidParam, "field position must not be zero")
			}
			if n < 0 {
				n = len(parts) + n + 1
			}
			if n < 1 || n > len(parts) {
				return "", nil
			}
			return parts[n-1], nil
		}), nil
	case "chr":
		a, err := c.coerceAll(args, tInt8)
		if err != nil {
			return expr{}, err
		}
		return mk(tText, true, a, func(_ *execCtx, v []any) (any, error) { return string(rune(v[0].(int64))), nil }), nil
	case "to_hex":
		a, err := c.coerceAll(args, tInt8)
		if err != nil {
			return expr{}, err
		}
		return mk(tText, true, a, func(_ *execCtx, v []any) (any, error) { return strconv.FormatUint(uint64(v[0].(int64)), 16), nil }), nil
	case "format":
		if len(args) < 1 {
			return expr{}, noFunc(name, args)
		}
		a, err := c.coerceAll(args, tText)
		if err != nil {
			return expr{}, err
		}
		return mk(tText, false, a, func(_ *execCtx, v []any) (any, error) { return formatFunc(v) }), nil
	// ---- math
	case "abs":
		if len(args) != 1 {
			return expr{}, noFunc(name, args)
		}
		a := args
		if a[0].t.k == kUnknown {
			a, _ = c.coerceAll(args, tFloat8)
		}
		k := a[0].t.k
		return mk(a[0].t, true, a, func(_ *execCtx, v []any) (any, error) {
			switch x := v[0].(type) {
			case int64:
				if x == math.MinInt64 || (k == kInt4 && x == math.MinInt32) {
					return nil, intRangeErr(k)
				}
				if x < 0 {
					return -x, nil
				}
				return x, nil
			case float64:
				return math.Abs(x), nil
			case engine.Numeric:
				d := decFromNumeric(x)
				if !d.nan {
					d.u.Abs(d.u)
				}
				return d.numeric(), nil
			}
			return nil, noFunc(name, args)
		}), nil
	case "round", "trunc":
		if len(args) < 1 || len(args) > 2 {
			return expr{}, noFunc(name, args)
		}
		if len(args) == 1 && (args[0].t.k == kFloat8 || args[0].t.k == kFloat4) {
			return mk(tFloat8, true, args, func(_ *execCtx, v []any) (any, error) {
				if name == "trunc" {
					return math.Trunc(v[0].(float64)), nil
				}
				return math.RoundToEven(v[0].(float64)), nil
			}), nil
		}
		a, err := c.coerceAll(args, tNumeric, tInt8)
		if err != nil {
			return expr{}, err
		}
		return mk(tNumeric, true, a, func(_ *execCtx, v []any) (any, error) {
			d := decFromNumeric(v[0].(engine.Numeric))
			s := int32(0)
			if len(v) == 2 {
				s = int32(v[1].(int64))
			}
			if d.nan {
				return d.numeric(), nil
			}
			if name == "trunc" {
				if s < d.scale {
					d = decimal{u: d.u.Quo(d.u, pow10(d.scale-s)), scale: s}
				}
				return d.rescale(max(s, 0)).numeric(), nil
			}
			r := d.rescale(s)
			if s < 0 {
				r = r.rescale(0)
			}
			return r.numeric(), nil
		}), nil
	case "ceil", "ceiling", "floor", "sign":
		if len(args) != 1 {
			return expr{}, noFunc(name, args)
		}
		if args[0].t.k == kNumeric || args[0].t.k.isInt() {
			a, _ := c.coerceAll(args, tNumeric)
			return mk(tNumeric, true, a, func(_ *execCtx, v []any) (any, error) {
				d := decFromNumeric(v[0].(engine.Numeric))
				f := d.float()
				switch name {
				case "sign":
					return decFromInt(int64(cmpFloat(f, 0))).numeric(), nil
				case "floor":
					q := d.rescale(0)
					if decCmp(q, d) > 0 {
						q = decSub(q, decFromInt(1))
					}
					return q.numeric(), nil
				}
				q := d.rescale(0)
				if decCmp(q, d) < 0 {
					q = decAdd(q, decFromInt(1))
				}
				return q.numeric(), nil
			}), nil
		}
		a, err := c.coerceAll(args, tFloat8)
		if err != nil {
			return expr{}, err
		}
		return mk(tFloat8, true, a, func(_ *execCtx, v []any) (any, error) {
			f := v[0].(float64)
			switch name {
			case "floor":
				return math.Floor(f), nil
			case "sign":
				return float64(cmpFloat(f, 0)), nil
			}
			return math.Ceil(f), nil
		}), nil
	case "mod":
		if len(args) != 2 {
			return expr{}, noFunc(name, args)
		}
		return c.arith("%", args[0], args[1])
	case "div":
		if len(args) != 2 {
			return expr{}, noFunc(name, args)
		}
		a, err := c.coerceAll(args, tNumeric)
		if err != nil {
			return expr{}, err
		}
		return mk(tNumeric, true, a, func(_ *execCtx, v []any) (any, error) {
			d, err := decDiv(decFromNumeric(v[0].(engine.Numeric)), decFromNumeric(v[1].(engine.Numeric)))
			if err != nil {
				return nil, err
			}
			return decimal{u: d.u.Quo(d.u, pow10(d.scale))}.numeric(), nil
		}), nil
	case "power", "pow", "sqrt", "exp", "ln", "log", "log10", "cbrt", "sin", "cos", "tan", "atan", "asin", "acos", "degrees", "radians":
		a, err := c.coerceAll(args, tFloat8)
		if err != nil {
			return expr{}, err
		}
		t := tFloat8
		if args[0].t.k == kNumeric || (len(args) > 1 && args[1].t.k == kNumeric) || (args[0].t.k.isInt() && name != "power" && name != "pow" && name != "sqrt" && name != "cbrt" && !strings.ContainsAny(name[:1], "scatdr")) {
			t = tNumeric
		}
		return mk(t, true, a, func(_ *execCtx, v []any) (any, error) {
			f := v[0].(float64)
			var r float64
			switch name {
			case "power", "pow":
				r = math.Pow(f, v[1].(float64))
			case "sqrt":
				if f < 0 {
					return nil, errorf("2201F", "cannot take square root of a negative number")
				}
				r = math.Sqrt(f)
			case "exp":
				r = math.Exp(f)
			case "ln":
				if f <= 0 {
					return nil, errorf("2201E", "cannot take logarithm of zero or a negative number")
				}
				r = math.Log(f)
			case "log", "log10":
				if len(v) == 2 {
					r = math.Log(v[1].(float64)) / math.Log(f)
				} else {
					if f <= 0 {
						return nil, errorf("2201E", "cannot take logarithm of zero or a negative number")
					}
					r = math.Log10(f)
				}
			case "cbrt":
				r = math.Cbrt(f)
			case "sin":
				r = math.Sin(f)
			case "cos":
				r = math.Cos(f)
			case "tan":
				r = math.Tan(f)
			case "atan":
				r = math.Atan(f)
			case "asin":
				r = math.Asin(f)
			case "acos":
				r = math.Acos(f)
			case "degrees":
				r = f * 180 / math.Pi
			case "radians":
				r = f * math.Pi / 180
			}
			if math.IsInf(r, 0) {
				return nil, errorf(codeNumericRange, "value out of range: overflow")
			}
			if t.k == kNumeric {
				return decFromFloat(r).numeric(), nil
			}
			return r, nil
		}), nil
	case "pi":
		return constExpr(math.Pi, tFloat8), nil
	case "random":
		return expr{t: tFloat8, fn: func(x *execCtx, _ []any) (any, error) { return x.sess.rng.Float64(), nil }}, nil
	case "setseed":
		return mk(typ{k: kVoid}, true, args, func(x *execCtx, v []any) (any, error) {
			f, _ := v[0].(float64)
			x.sess.rng = rand.New(rand.NewPCG(uint64(f*math.MaxInt32), 1))
			return "", nil
		}), nil
	}
	if e, ok, err := c.callSystemBuiltin(name, args); ok || err != nil {
		return e, err
	}
	if sc, ok := systemConstants[name]; ok {
		return expr{t: sc.t, fn: func(*execCtx, []any) (any, error) { return sc.v, nil }}, nil
	}
	return expr{}, noFunc(name, args)
}

var tJSONB = typ{k: kJSONB}

func jsonField(doc, key string, asText bool) (any, error) {
	var v any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		return nil, errorf(codeInvalidText, "invalid input syntax for type json")
	}
	var out any
	switch m := v.(type) {
	case map[string]any:
		var ok bool
		if out, ok = m[key]; !ok {
			return nil, nil
		}
	case []any:
		i, err := strconv.Atoi(key)
		if err != nil || i < 0 || i >= len(m) {
			return nil, nil
		}
		out = m[i]
	default:
		return nil, nil
	}
	if s, ok := out.(string); ok && asText {
		return s, nil
	}
	if out == nil && asText {
		return nil, nil
	}
	b, _ := json.Marshal(out)
	return string(b), nil
}

func jsonArray(vals []any) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		switch x := v.(type) {
		case nil:
			parts[i] = "null"
		case int64, float64, bool:
			parts[i] = formatValue(x)
		case engine.Numeric:
			parts[i] = string(x)
		default:
			b, _ := json.Marshal(formatValue(v))
			parts[i] = string(b)
		}
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func sizePretty(n int64) string {
	units := []string{"bytes", "kB", "MB", "GB", "TB"}
	f := n
	i := 0
	for i < len(units)-1 && (f >= 10*1024 || f <= -10*1024) {
		f = (f + 512) / 1024
		i++
	}
	return fmt.Sprintf("%d %s", f, units[i])
}

func quoteIdent(s string) string {
	simple := s != ""
	for i, r := range s {
		if !(r >= 'a' && r <= 'z' || r == '_' || (i > 0 && r >= '0' && r <= '9')) {
			simple = false
		}
	}
	if simple && !reservedWords[s] {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

var reservedWords = map[string]bool{"select": true, "from": true, "where": true, "table": true, "user": true, "order": true, "group": true, "all": true, "and": true, "or": true, "not": true, "null": true, "true": true, "false": true, "default": true, "check": true, "primary": true, "references": true, "column": true, "limit": true, "offset": true, "end": true, "case": true, "when": true, "then": true, "else": true, "as": true, "in": true, "on": true, "to": true}

func formatFunc(v []any) (any, error) {
	if v[0] == nil {
		return nil, nil
	}
	f := v[0].(string)
	args := v[1:]
	var b strings.Builder
	ai := 0
	for i := 0; i < len(f); i++ {
		if f[i] != '%' || i+1 >= len(f) {
			b.WriteByte(f[i])
			continue
		}
		i++
		if f[i] == '%' {
			b.WriteByte('%')
			continue
		}
		if ai >= len(args) {
			return nil, errorf(codeInvalidParam, "too few arguments for format()")
		}
		a := args[ai]
		ai++
		switch f[i] {
		case 's':
			if a != nil {
				b.WriteString(a.(string))
			}
		case 'I':
			if a == nil {
				return nil, errorf(codeInvalidParam, "null values cannot be formatted as an SQL identifier")
			}
			b.WriteString(quoteIdent(a.(string)))
		case 'L':
			if a == nil {
				b.WriteString("NULL")
			} else {
				b.WriteString("'" + strings.ReplaceAll(a.(string), "'", "''") + "'")
			}
		default:
			return nil, errorf(codeInvalidParam, "unrecognized format() type specifier %q", f[i])
		}
	}
	return b.String(), nil
}

// foldIdent folds an identifier given as text the way the parser would:
// lower case unless double-quoted.
func foldIdent(s string) string {
	s = strings.TrimPrefix(s, "public.")
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return strings.ReplaceAll(s[1:len(s)-1], `""`, `"`)
	}
	return strings.ToLower(s)
}
