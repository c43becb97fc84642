package sql

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/heliosdb/heliosdb-lite/engine"
	"github.com/heliosdb/heliosdb-lite/pgwire"
)

// compareValues orders two non-NULL values of compatible types. Mixed
// numeric representations are compared by value.
func compareValues(a, b any) int {
	switch x := a.(type) {
	case int64:
		switch y := b.(type) {
		case int64:
			return cmpOrdered(x, y)
		case float64:
			return cmpFloat(float64(x), y)
		case engine.Numeric:
			return decCmp(decFromInt(x), decFromNumeric(y))
		}
	case float64:
		switch y := b.(type) {
		case float64:
			return cmpFloat(x, y)
		case int64:
			return cmpFloat(x, float64(y))
		case engine.Numeric:
			return cmpFloat(x, decFromNumeric(y).float())
		}
	case engine.Numeric:
		switch y := b.(type) {
		case engine.Numeric:
			return decCmp(decFromNumeric(x), decFromNumeric(y))
		case int64:
			return decCmp(decFromNumeric(x), decFromInt(y))
		case float64:
			return cmpFloat(decFromNumeric(x).float(), y)
		}
	case string:
		if y, ok := b.(string); ok {
			return strings.Compare(x, y)
		}
	case bool:
		if y, ok := b.(bool); ok {
			switch {
			case x == y:
				return 0
			case !x:
				return -1
			}
			return 1
		}
	case []byte:
		if y, ok := b.([]byte); ok {
			return bytes.Compare(x, y)
		}
	case engine.Date:
		switch y := b.(type) {
		case engine.Date:
			return cmpOrdered(x, y)
		case engine.Timestamp:
			return cmpOrdered(int64(x)*usPerDay, int64(y))
		}
	case engine.Timestamp:
		switch y := b.(type) {
		case engine.Timestamp:
			return cmpOrdered(x, y)
		case engine.Date:
			return cmpOrdered(int64(x), int64(y)*usPerDay)
		}
	case engine.UUID:
		if y, ok := b.(engine.UUID); ok {
			return bytes.Compare(x[:], y[:])
		}
	case interval:
		if y, ok := b.(interval); ok {
			return cmpFloat(x.cmpKey(), y.cmpKey())
		}
	case []any:
		if y, ok := b.([]any); ok {
			for i := 0; i < len(x) && i < len(y); i++ {
				if x[i] == nil || y[i] == nil {
					if x[i] == nil && y[i] != nil {
						return 1
					} else if y[i] == nil && x[i] != nil {
						return -1
					}
					continue
				}
				if c := compareValues(x[i], y[i]); c != 0 {
					return c
				}
			}
			return cmpOrdered(len(x), len(y))
		}
	}
	// Different representations that slipped through typing: compare text.
	return strings.Compare(formatValue(a), formatValue(b))
}

func cmpOrdered[T int | int64 | engine.Date | engine.Timestamp](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// cmpFloat orders NaN above everything, as PostgreSQL does.
func cmpFloat(a, b float64) int {
	an, bn := math.IsNaN(a), math.IsNaN(b)
	switch {
	case an && bn:
		return 0
	case an:
		return 1
	case bn:
		return -1
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// formatValue renders v in PostgreSQL's text output format.
func formatValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case float64:
		return formatFloat(x)
	case engine.Timestamp:
		return formatTimestamp(x, false)
	case interval:
		return x.String()
	case []any:
		return formatArray(x)
	case tsTZ:
		return formatTimestamp(engine.Timestamp(x), true)
	}
	return engine.FormatValue(v)
}

// tsTZ marks a timestamptz value during text formatting only.
type tsTZ engine.Timestamp

func formatTyped(v any, t typ) string {
	if ts, ok := v.(engine.Timestamp); ok && t.k == kTimestamptz {
		return formatTimestamp(ts, true)
	}
	if f, ok := v.(float64); ok && t.k == kFloat4 {
		return string(pgwire.AppendFloat(nil, f, 32))
	}
	if a, ok := v.([]any); ok && t.k == kArray {
		return formatArrayOf(a, t.elem)
	}
	return formatValue(v)
}

// formatFloat renders a double precision value as PostgreSQL prints it.
func formatFloat(f float64) string {
	return string(pgwire.AppendFloat(nil, f, 64))
}

func formatArray(a []any) string { return formatArrayOf(a, kUnknown) }

// formatArrayOf renders an array whose elements are of kind elem (real
// elements print with float4 precision).
func formatArrayOf(a []any, elem kind) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, v := range a {
		if i > 0 {
			b.WriteByte(',')
		}
		if v == nil {
			b.WriteString("NULL")
			continue
		}
		var s string
		if f, ok := v.(float64); ok && elem == kFloat4 {
			s = string(pgwire.AppendFloat(nil, f, 32))
		} else {
			s = formatValue(v)
		}
		if s == "" || strings.ContainsAny(s, "{},\"\\ ") || strings.EqualFold(s, "null") {
			s = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
		}
		b.WriteString(s)
	}
	b.WriteByte('}')
	return b.String()
}

func invalidInput(t typ, s string) *Error {
	name := t.String()
	if t.k == kVarchar || t.k == kChar || t.k == kNumeric {
		name = kindInfo[t.k].name
	}
	return errorf(codeInvalidText, "invalid input syntax for type %s: %q", name, s)
}

func intRangeErr(k kind) *Error {
	switch k {
	case kInt2:
		return errorf(codeNumericRange, "smallint out of range")
	case kInt4:
		return errorf(codeNumericRange, "integer out of range")
	}
	return errorf(codeNumericRange, "bigint out of range")
}

func checkIntRange(i int64, k kind) error {
	switch k {
	case kInt2:
		if i < math.MinInt16 || i > math.MaxInt16 {
			return intRangeErr(k)
		}
	case kInt4, kOid, kRegclass, kRegtype, kRegproc:
		if k == kInt4 && (i < math.MinInt32 || i > math.MaxInt32) {
			return intRangeErr(k)
		}
	}
	return nil
}

// parseText converts text input to a value of type t (the input function).
func parseText(s string, t typ, now time.Time) (any, error) {
	switch t.k {
	case kUnknown, kText, kName, kJSON, kJSONB, kVarchar, kChar, kChar1, kRegproc:
		if (t.k == kJSON || t.k == kJSONB) && !json.Valid([]byte(s)) {
			return nil, errorf(codeInvalidText, "invalid input syntax for type json")
		}
		return s, nil
	case kInt2, kInt4, kInt8, kOid, kRegclass, kRegtype:
		i, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
				return nil, errorf(codeNumericRange, "value %q is out of range for type %s", s, t)
			}
			return nil, invalidInput(t, s)
		}
		if err := checkIntRange(i, t.k); err != nil {
			return nil, errorf(codeNumericRange, "value %q is out of range for type %s", s, t)
		}
		return i, nil
	case kFloat4, kFloat8:
		ts := strings.TrimSpace(s)
		switch strings.ToLower(ts) {
		case "nan":
			return math.NaN(), nil
		case "infinity", "inf", "+infinity":
			return math.Inf(1), nil
		case "-infinity", "-inf":
			return math.Inf(-1), nil
		}
		f, err := strconv.ParseFloat(ts, 64)
		if err != nil {
			return nil, invalidInput(t, s)
		}
		return f, nil
	case kNumeric:
		d, ok := parseDecimal(s)
		if !ok {
			return nil, invalidInput(t, s)
		}
		d, err := d.applyTypmod(t.prec, t.scale)
		if err != nil {
			return nil, err
		}
		return d.numeric(), nil
	case kBool:
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "t", "true", "y", "yes", "on", "1":
			return true, nil
		case "f", "false", "n", "no", "off", "0":
			return false, nil
		}
		return nil, invalidInput(t, s)
	case kBytea:
		if strings.HasPrefix(s, `\x`) {
			b, err := hex.DecodeString(s[2:])
			if err != nil {
				return nil, invalidInput(t, s)
			}
			return b, nil
		}
		return unescapeBytea(s), nil
	case kDate:
		tm, err := parseTimestamp(s, now)
		if err != nil {
			return nil, errorf(codeInvalidDatetime, "invalid input syntax for type date: %q", s)
		}
		return timeDate(tm), nil
	case kTimestamp, kTimestamptz:
		tm, err := parseTimestamp(s, now)
		if err != nil {
			return nil, err
		}
		return timeTS(tm), nil
	case kUUID:
		h := strings.NewReplacer("-", "", "{", "", "}", "").Replace(strings.TrimSpace(s))
		b, err := hex.DecodeString(h)
		if err != nil || len(b) != 16 {
			return nil, invalidInput(t, s)
		}
		var u engine.UUID
		copy(u[:], b)
		return u, nil
	case kInterval:
		return parseInterval(s)
	case kArray:
		return parseArray(s, typ{k: t.elem}, now)
	}
	return nil, errorf(codeFeature, "input of type %s is not supported", t)
}

func unescapeBytea(s string) []byte {
	var out []byte
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			if s[i+1] == '\\' {
				out = append(out, '\\')
				i++
				continue
			}
			if i+3 < len(s) {
				if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
					out = append(out, byte(n))
					i += 3
					continue
				}
			}
		}
		out = append(out, s[i])
	}
	if out == nil {
		out = []byte{}
	}
	return out
}

func parseArray(s string, elem typ, now time.Time) (any, error) {
	s = strings.TrimSpace(s)
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return nil, errorf(codeInvalidText, "malformed array literal: %q", s)
	}
	body := s[1 : len(s)-1]
	out := []any{}
	if strings.TrimSpace(body) == "" {
		return out, nil
	}
	var cur strings.Builder
	quoted, inq := false, false
	flush := func() error {
		v := cur.String()
		cur.Reset()
		if !quoted && strings.EqualFold(strings.TrimSpace(v), "null") {
			out = append(out, nil)
			return nil
		}
		if !quoted {
			v = strings.TrimSpace(v)
		}
		x, err := parseText(v, elem, now)
		if err != nil {
			return err
		}
		out = append(out, x)
		quoted = false
		return nil
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case c == '"':
			inq = !inq
			quoted = true
		case c == '\\' && i+1 < len(body):
			i++
			cur.WriteByte(body[i])
		case c == ',' && !inq:
			if err := flush(); err != nil {
				return nil, err
			}
		default:
			cur.WriteByte(c)
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return out, nil
}

// castValue converts v (of type from) to type to. explicit selects the
// rules of CAST (varchar(n) truncates) over those of assignment (22001).
func castValue(v any, from, to typ, explicit bool, now time.Time) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch to.k {
	case kUnknown:
		return v, nil
	case kText, kName, kJSON, kJSONB, kRegproc:
		s, ok := v.(string)
		if !ok {
			s = formatTyped(v, from)
		}
		if to.k == kRegproc {
			s = strings.TrimPrefix(s, "pg_catalog.")
		}
		if (to.k == kJSON || to.k == kJSONB) && !json.Valid([]byte(s)) {
			return nil, errorf(codeInvalidText, "invalid input syntax for type json")
		}
		return s, nil
	case kVarchar, kChar, kChar1:
		s, ok := v.(string)
		if !ok {
			if b, isBool := v.(bool); isBool && !explicit {
				s = strconv.FormatBool(b)
			} else {
				s = formatTyped(v, from)
			}
		}
		if to.k == kChar1 {
			if s == "" {
				return s, nil
			}
			r, _ := utf8.DecodeRuneInString(s)
			return string(r), nil
		}
		return applyLength(s, to, explicit)
	}
	switch x := v.(type) {
	case string:
		if to.k == kBytea {
			if from.k == kUnknown || strings.HasPrefix(x, `\x`) {
				return parseText(x, to, now)
			}
			return []byte(x), nil
		}
		return parseText(x, to, now)
	case int64:
		switch to.k {
		case kInt2, kInt4, kInt8, kOid, kRegclass, kRegtype, kRegproc:
			if err := checkIntRange(x, to.k); err != nil {
				return nil, err
			}
			return x, nil
		case kFloat4, kFloat8:
			return float64(x), nil
		case kNumeric:
			d, err := decFromInt(x).applyTypmod(to.prec, to.scale)
			if err != nil {
				return nil, err
			}
			return d.numeric(), nil
		case kBool:
			if from.k == kInt4 || from.k == kInt8 || from.k == kInt2 {
				return x != 0, nil
			}
		case kInterval:
			return interval{us: x * 1e6}, nil
		}
	case float64:
		switch to.k {
		case kFloat4:
			if !math.IsInf(x, 0) && !math.IsNaN(x) && math.Abs(x) > math.MaxFloat32 {
				return nil, errorf(codeNumericRange, "value out of range: overflow")
			}
			return float64(float32(x)), nil
		case kFloat8:
			return x, nil
		case kInt2, kInt4, kInt8:
			r := math.RoundToEven(x)
			if math.IsNaN(r) || r < math.MinInt64 || r >= math.MaxInt64 {
				return nil, intRangeErr(to.k)
			}
			if err := checkIntRange(int64(r), to.k); err != nil {
				return nil, err
			}
			return int64(r), nil
		case kNumeric:
			if math.IsNaN(x) {
				return engine.Numeric("NaN"), nil
			}
			if math.IsInf(x, 0) {
				return nil, errorf(codeFeature, "cannot convert infinity to numeric")
			}
			d, err := decFromFloat(x).applyTypmod(to.prec, to.scale)
			if err != nil {
				return nil, err
			}
			return d.numeric(), nil
		}
	case engine.Numeric:
		d := decFromNumeric(x)
		switch to.k {
		case kNumeric:
			d, err := d.applyTypmod(to.prec, to.scale)
			if err != nil {
				return nil, err
			}
			return d.numeric(), nil
		case kFloat4, kFloat8:
			f := d.float()
			if to.k == kFloat4 {
				f = float64(float32(f))
			}
			return f, nil
		case kInt2, kInt4, kInt8:
			i, ok := d.toInt()
			if !ok {
				return nil, intRangeErr(to.k)
			}
			if err := checkIntRange(i, to.k); err != nil {
				return nil, err
			}
			return i, nil
		}
	case bool:
		switch to.k {
		case kBool:
			return x, nil
		case kInt4, kInt8, kInt2:
			if x {
				return int64(1), nil
			}
			return int64(0), nil
		}
	case engine.Date:
		switch to.k {
		case kDate:
			return x, nil
		case kTimestamp, kTimestamptz:
			return engine.Timestamp(int64(x) * usPerDay), nil
		}
	case engine.Timestamp:
		switch to.k {
		case kTimestamp, kTimestamptz:
			return x, nil
		case kDate:
			return timeDate(tsTime(x)), nil
		}
	case engine.UUID:
		if to.k == kUUID {
			return x, nil
		}
	case []byte:
		if to.k == kBytea {
			return x, nil
		}
	case interval:
		if to.k == kInterval {
			return x, nil
		}
	case []any:
		if to.k == kArray {
			out := make([]any, len(x))
			for i, e := range x {
				c, err := castValue(e, typ{k: from.elem}, typ{k: to.elem}, explicit, now)
				if err != nil {
					return nil, err
				}
				out[i] = c
			}
			return out, nil
		}
	}
	return nil, errorf(codeDatatypeMismatch, "cannot cast type %s to %s", from, to)
}

// applyLength enforces varchar(n)/char(n) on s.
func applyLength(s string, t typ, explicit bool) (string, error) {
	n := int(t.len)
	if n <= 0 {
		if t.k == kChar {
			return strings.TrimRight(s, " "), nil
		}
		return s, nil
	}
	rc := utf8.RuneCountInString(s)
	if rc > n {
		runes := []rune(s)
		if !explicit && strings.TrimRight(string(runes[n:]), " ") != "" {
			return "", errorf(codeStringTooLong, "value too long for type %s", t)
		}
		s = string(runes[:n])
		rc = n
	}
	if t.k == kChar && rc < n {
		s += strings.Repeat(" ", n-rc)
	}
	return s, nil
}

// toWire converts an internal value to the Go value pgwire expects for the
// column's OID.
func toWire(v any, t typ) any {
	switch x := v.(type) {
	case nil:
		return nil
	case engine.Numeric:
		return string(x)
	case engine.Date:
		return dateTime(x)
	case engine.Timestamp:
		return tsTime(x)
	case engine.UUID:
		return [16]byte(x)
	case interval:
		return x.String()
	case []any:
		if t.k == kArray {
			return formatArrayOf(x, t.elem)
		}
		return formatArray(x)
	case int64:
		if t.k.isOidLike() {
			return uint32(x)
		}
		if t.k.isString() || t.k == kUnknown {
			return strconv.FormatInt(x, 10)
		}
	case float64:
		if t.k.isString() || t.k == kUnknown {
			return formatFloat(x)
		}
	case bool:
		if t.k.isString() || t.k == kUnknown {
			return formatValue(x)
		}
	}
	return v
}

// fromParam converts a pgwire-decoded parameter to an internal value of t.
func fromParam(v any, t typ, now time.Time) (any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case time.Time:
		switch t.k {
		case kDate:
			return timeDate(x.UTC()), nil
		case kText, kVarchar, kUnknown:
			return formatTimestamp(timeTS(x.UTC()), true), nil
		}
		return timeTS(x.UTC()), nil
	case [16]byte:
		return engine.UUID(x), nil
	case string:
		if t.k == kUnknown || t.k == kText {
			return x, nil
		}
		return castValue(x, tText, t, false, now)
	case int32:
		return castValue(int64(x), tInt8, t, false, now)
	case int16:
		return castValue(int64(x), tInt8, t, false, now)
	case float32:
		return castValue(float64(x), tFloat8, t, false, now)
	case int64:
		return castValue(x, tInt8, t, false, now)
	case float64:
		return castValue(x, tFloat8, t, false, now)
	case bool:
		return castValue(x, tBool, t, false, now)
	case []byte:
		if t.k == kBytea || t.k == kUnknown {
			return x, nil
		}
		return castValue(string(x), tText, t, false, now)
	}
	return castValue(fmt.Sprint(v), tText, t, false, now)
}
