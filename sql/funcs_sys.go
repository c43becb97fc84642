package sql

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/heliosdb/heliosdb-lite/engine"
)

// callSystemBuiltin compiles date/time and system-information functions.
// ok is false when name is not one of them.
func (c *compiler) callSystemBuiltin(name string, args []expr) (expr, bool, error) {
	e, err := c.systemBuiltin(name, args)
	if err == errNotBuiltin {
		return expr{}, false, nil
	}
	return e, true, err
}

var errNotBuiltin = &Error{Code: codeUndefinedFunction, Msg: "not a builtin"}

func (c *compiler) systemBuiltin(name string, args []expr) (expr, error) {
	switch name {
	case "now", "transaction_timestamp", "statement_timestamp":
		return expr{t: tTimestamptz, fn: func(x *execCtx, _ []any) (any, error) { return timeTS(x.now), nil }}, nil
	case "clock_timestamp":
		return expr{t: tTimestamptz, fn: func(x *execCtx, _ []any) (any, error) { return timeTS(x.db.cfg.Clock()), nil }}, nil
	case "timeofday":
		return expr{t: tText, fn: func(x *execCtx, _ []any) (any, error) { return x.db.cfg.Clock().Format(time.UnixDate), nil }}, nil
	case "date_trunc":
		if len(args) != 2 {
			return expr{}, noFunc(name, args)
		}
		f, err := c.coerce(args[0], tText)
		if err != nil {
			return expr{}, err
		}
		v := args[1]
		if v.t.k == kUnknown {
			if v, err = c.coerce(v, tTimestamptz); err != nil {
				return expr{}, err
			}
		}
		if v.t.k == kDate {
			if v, err = c.coerce(v, tTimestamptz); err != nil {
				return expr{}, err
			}
		}
		if v.t.k == kInterval {
			return expr{}, unsupported("date_trunc on intervals")
		}
		return mk(v.t, true, []expr{f, v}, func(_ *execCtx, vals []any) (any, error) {
			t, err := dateTrunc(vals[0].(string), tsTime(vals[1].(engine.Timestamp)))
			if err != nil {
				return nil, err
			}
			return timeTS(t), nil
		}), nil
	case "date_part", "extract":
		if len(args) != 2 {
			return expr{}, noFunc(name, args)
		}
		f, err := c.coerce(args[0], tText)
		if err != nil {
			return expr{}, err
		}
		v := args[1]
		if v.t.k == kUnknown {
			if v, err = c.coerce(v, tTimestamptz); err != nil {
				return expr{}, err
			}
		}
		rt := tFloat8
		if name == "extract" {
			rt = tNumeric
		}
		return mk(rt, true, []expr{f, v}, func(_ *execCtx, vals []any) (any, error) {
			var r float64
			var err error
			switch t := vals[1].(type) {
			case engine.Timestamp:
				r, err = extractField(vals[0].(string), tsTime(t))
			case engine.Date:
				r, err = extractField(vals[0].(string), dateTime(t))
			case interval:
				r, err = extractInterval(vals[0].(string), t)
			default:
				return nil, errorf(codeDatatypeMismatch, "cannot extract from %T", t)
			}
			if err != nil {
				return nil, err
			}
			if rt.k == kNumeric {
				return decFromFloat(r).numeric(), nil
			}
			return r, nil
		}), nil
	case "to_char":
		if len(args) != 2 {
			return expr{}, noFunc(name, args)
		}
		v := args[0]
		pat, err := c.coerce(args[1], tText)
		if err != nil {
			return expr{}, err
		}
		if v.t.k == kUnknown {
			if v, err = c.coerce(v, tTimestamptz); err != nil {
				return expr{}, err
			}
		}
		return mk(tText, true, []expr{v, pat}, func(_ *execCtx, vals []any) (any, error) {
			switch t := vals[0].(type) {
			case engine.Timestamp:
				return toChar(tsTime(t), vals[1].(string)), nil
			case engine.Date:
				return toChar(dateTime(t), vals[1].(string)), nil
			case int64:
				return strconv.FormatInt(t, 10), nil
			case float64:
				return formatFloat(t), nil
			case engine.Numeric:
				return string(t), nil
			}
			return formatValue(vals[0]), nil
		}), nil
	case "to_timestamp":
		if len(args) != 1 {
			return expr{}, unsupported("to_timestamp with a format")
		}
		a, err := c.coerceAll(args, tFloat8)
		if err != nil {
			return expr{}, err
		}
		return mk(tTimestamptz, true, a, func(_ *execCtx, v []any) (any, error) {
			return engine.Timestamp(int64(math.Round(v[0].(float64) * 1e6))), nil
		}), nil
	case "age":
		a, err := c.coerceAll(args, tTimestamptz)
		if err != nil {
			return expr{}, err
		}
		return mk(tInterval, true, a, func(x *execCtx, v []any) (any, error) {
			end := timeTS(x.now)
			start := v[0].(engine.Timestamp)
			if len(v) == 2 {
				end, start = v[0].(engine.Timestamp), v[1].(engine.Timestamp)
			}
			us := int64(end - start)
			return interval{days: us / usPerDay, us: us % usPerDay}, nil
		}), nil
	case "make_date":
		a, err := c.coerceAll(args, tInt8)
		if err != nil || len(args) != 3 {
			return expr{}, noFunc(name, args)
		}
		return mk(tDate, true, a, func(_ *execCtx, v []any) (any, error) {
			return timeDate(time.Date(int(v[0].(int64)), time.Month(v[1].(int64)), int(v[2].(int64)), 0, 0, 0, 0, time.UTC)), nil
		}), nil
	case "isfinite":
		return constExpr(true, tBool), nil
	// ---- uuid
	case "gen_random_uuid", "uuid_generate_v4":
		return expr{t: tUUID, fn: func(x *execCtx, _ []any) (any, error) { return x.db.newUUID() }}, nil
	// ---- system information
	case "version":
		return expr{t: tText, fn: func(x *execCtx, _ []any) (any, error) { return x.db.versionString(), nil }}, nil
	case "current_database", "current_catalog":
		return expr{t: tName, fn: func(x *execCtx, _ []any) (any, error) { return x.sess.database, nil }}, nil
	case "current_schema":
		return constExpr("public", tName), nil
	case "current_schemas":
		return constExpr([]any{"pg_catalog", "public"}, typ{k: kArray, elem: kName}), nil
	case "current_user", "session_user", "user", "current_role":
		return expr{t: tName, fn: func(x *execCtx, _ []any) (any, error) { return x.sess.user, nil }}, nil
	case "pg_backend_pid":
		return expr{t: tInt4, fn: func(x *execCtx, _ []any) (any, error) { return int64(x.sess.pid), nil }}, nil
	case "pg_postmaster_start_time":
		return expr{t: tTimestamptz, fn: func(x *execCtx, _ []any) (any, error) { return timeTS(x.db.started), nil }}, nil
	case "txid_current", "pg_current_xact_id":
		return expr{t: tInt8, fn: func(x *execCtx, _ []any) (any, error) { return int64(x.st.LSN()), nil }}, nil
	case "current_setting":
		a, err := c.coerceAll(args, tText, tBool)
		if err != nil {
			return expr{}, err
		}
		return mk(tText, true, a, func(x *execCtx, v []any) (any, error) {
			val, ok := x.sess.getSetting(v[0].(string))
			if !ok {
				if len(v) > 1 && v[1] == true {
					return nil, nil
				}
				return nil, errorf(codeUndefinedObject, "unrecognized configuration parameter %q", v[0])
			}
			return val, nil
		}), nil
	case "set_config":
		a, err := c.coerceAll(args, tText, tText, tBool)
		if err != nil || len(args) != 3 {
			return expr{}, noFunc(name, args)
		}
		return mk(tText, false, a, func(x *execCtx, v []any) (any, error) {
			if v[0] == nil {
				return nil, errorf(codeInvalidParam, "SET requires parameter name")
			}
			val := ""
			if v[1] != nil {
				val = v[1].(string)
			}
			if err := x.sess.setSetting(v[0].(string), val, v[2] == true); err != nil {
				return nil, err
			}
			return val, nil
		}), nil
	case "pg_stat_get_dirty_bytes":
		return expr{t: tInt8, fn: func(x *execCtx, _ []any) (any, error) {
			if x.db.cfg.DirtyBytes == nil {
				return int64(0), nil
			}
			total, _ := x.db.cfg.DirtyBytes("")
			return total, nil
		}}, nil
	case "pg_table_dirty_bytes":
		a, err := c.coerceAll(args, tText)
		if err != nil || len(args) != 1 {
			return expr{}, noFunc(name, args)
		}
		return mk(tInt8, true, a, func(x *execCtx, v []any) (any, error) {
			name := foldIdent(v[0].(string))
			if _, ok := x.st.Table(name); !ok {
				// As PostgreSQL's regclass argument would: a misspelt
				// name must not read as "nothing to dump".
				return nil, errorf(codeUndefinedTable, "relation %q does not exist", v[0].(string))
			}
			if x.db.cfg.DirtyBytes == nil {
				return int64(0), nil
			}
			_, tb := x.db.cfg.DirtyBytes(name)
			return tb, nil
		}), nil
	case "pg_relation_size", "pg_total_relation_size", "pg_table_size", "pg_indexes_size":
		if len(args) < 1 {
			return expr{}, noFunc(name, args)
		}
		a := args[:1]
		if a[0].t.k.isString() || a[0].t.k == kUnknown {
			var err error
			if a[0], err = c.coerce(a[0], tText); err != nil {
				return expr{}, err
			}
		}
		return mk(tInt8, true, a, func(x *execCtx, v []any) (any, error) {
			var tname string
			switch t := v[0].(type) {
			case string:
				tname = foldIdent(t)
			case int64:
				tname = tableNameByOID(x.st, t)
			}
			if tb, ok := x.st.Table(tname); ok {
				if name == "pg_indexes_size" {
					return int64(0), nil
				}
				return tb.Bytes(), nil
			}
			if s, isName := v[0].(string); isName {
				// A name is a regclass in PostgreSQL: an index has a size
				// (not tracked apart here), anything else does not exist.
				for _, ix := range allIndexes(x.st) {
					if ix.name == tname {
						return int64(0), nil
					}
				}
				return nil, errorf(codeUndefinedTable, "relation %q does not exist", s)
			}
			return nil, nil // an OID no relation has: NULL, as in PostgreSQL
		}), nil
	case "pg_size_pretty":
		a, err := c.coerceAll(args, tInt8)
		if err != nil {
			return expr{}, err
		}
		return mk(tText, true, a, func(_ *execCtx, v []any) (any, error) { return sizePretty(v[0].(int64)), nil }), nil
	case "pg_get_userbyid":
		return mk(tName, true, args, func(x *execCtx, v []any) (any, error) { return x.sess.user, nil }), nil
	case "format_type":
		if len(args) != 2 {
			return expr{}, noFunc(name, args)
		}
		a, err := c.coerceAll(args, tOid, tInt4)
		if err != nil {
			return expr{}, err
		}
		return mk(tText, false, a, func(_ *execCtx, v []any) (any, error) {
			if v[0] == nil {
				return nil, nil
			}
			mod := int64(-1)
			if v[1] != nil {
				mod = v[1].(int64)
			}
			return formatType(uint32(v[0].(int64)), int32(mod)), nil
		}), nil
	case "pg_get_indexdef", "pg_get_constraintdef":
		if len(args) < 1 {
			return expr{}, noFunc(name, args)
		}
		a, err := c.coerceAll(args[:1], tOid)
		if err != nil {
			return expr{}, err
		}
		return mk(tText, true, a, func(x *execCtx, v []any) (any, error) {
			if name == "pg_get_indexdef" {
				return indexDefByOID(x.st, v[0].(int64)), nil
			}
			return constraintDefByOID(x.st, v[0].(int64)), nil
		}), nil
	case "pg_get_expr":
		if len(args) < 2 {
			return expr{}, noFunc(name, args)
		}
		a, err := c.coerceAll(args[:1], tText)
		if err != nil {
			return expr{}, err
		}
		return mk(tText, true, a, func(_ *execCtx, v []any) (any, error) { return v[0], nil }), nil
	case "to_regclass":
		a, err := c.coerceAll(args, tText)
		if err != nil {
			return expr{}, err
		}
		return mk(tRegclass, true, a, func(x *execCtx, v []any) (any, error) {
			oid, err := c.regclassOIDIn(x.st, v[0].(string))
			if err != nil {
				return nil, nil
			}
			return oid, nil
		}), nil
	case "array_to_string":
		if len(args) < 2 {
			return expr{}, noFunc(name, args)
		}
		sep, err := c.coerce(args[1], tText)
		if err != nil {
			return expr{}, err
		}
		return mk(tText, true, []expr{args[0], sep}, func(_ *execCtx, v []any) (any, error) {
			arr, _ := v[0].([]any)
			var parts []string
			for _, e := range arr {
				if e != nil {
					parts = append(parts, formatValue(e))
				}
			}
			return strings.Join(parts, v[1].(string)), nil
		}), nil
	case "array_length", "cardinality":
		return mk(tInt4, true, args[:1], func(_ *execCtx, v []any) (any, error) {
			arr, _ := v[0].([]any)
			if len(arr) == 0 && name == "array_length" {
				return nil, nil
			}
			return int64(len(arr)), nil
		}), nil
	case "array_cat":
		return mk(args[0].t, false, args, func(_ *execCtx, v []any) (any, error) {
			var out []any
			for _, a := range v {
				switch x := a.(type) {
				case []any:
					out = append(out, x...)
				case nil:
				default:
					out = append(out, x)
				}
			}
			return out, nil
		}), nil
	case "json_field", "json_field_text":
		a, err := c.coerceAll(args, tText)
		if err != nil {
			return expr{}, err
		}
		rt := tJSONB
		if name == "json_field_text" {
			rt = tText
		}
		return mk(rt, true, a, func(_ *execCtx, v []any) (any, error) { return jsonField(v[0].(string), v[1].(string), rt.k == kText) }), nil
	case "nextval", "currval", "setval":
		return expr{}, unsupported("sequence functions")
	}
	return expr{}, errNotBuiltin
}
