package engine

import (
	"fmt"
	"strings"
)

// Type is a column type. The numeric values are part of the on-disk and
// on-wire formats (change sets, dumps): never renumber, only append.
type Type uint8

// Column types. Go representations of values (see Value):
//
//	Int2, Int4, Int8           int64
//	Float4, Float8             float64
//	Numeric                    Numeric (canonical decimal text)
//	Bool                       bool
//	Text, Varchar, Char        string
//	Bytea                      []byte
//	Date                       Date (days since 1970-01-01)
//	Timestamp, Timestamptz     Timestamp (microseconds since 1970-01-01 00:00 UTC)
//	UUID                       UUID
//	JSON, JSONB                string (JSON text)
const (
	TypeInvalid Type = iota
	TypeInt2
	TypeInt4
	TypeInt8
	TypeFloat4
	TypeFloat8
	TypeNumeric
	TypeBool
	TypeText
	TypeVarchar
	TypeChar
	TypeBytea
	TypeDate
	TypeTimestamp
	TypeTimestamptz
	TypeUUID
	TypeJSON
	TypeJSONB
	typeEnd
)

var typeNames = [...]string{
	TypeInvalid:     "invalid",
	TypeInt2:        "smallint",
	TypeInt4:        "integer",
	TypeInt8:        "bigint",
	TypeFloat4:      "real",
	TypeFloat8:      "double precision",
	TypeNumeric:     "numeric",
	TypeBool:        "boolean",
	TypeText:        "text",
	TypeVarchar:     "character varying",
	TypeChar:        "character",
	TypeBytea:       "bytea",
	TypeDate:        "date",
	TypeTimestamp:   "timestamp without time zone",
	TypeTimestamptz: "timestamp with time zone",
	TypeUUID:        "uuid",
	TypeJSON:        "json",
	TypeJSONB:       "jsonb",
}

// String returns the PostgreSQL name of the type (information_schema style).
func (t Type) String() string {
	if t < typeEnd {
		return typeNames[t]
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Valid reports whether t is a known type.
func (t Type) Valid() bool { return t > TypeInvalid && t < typeEnd }

// IsInteger reports whether values of t are int64.
func (t Type) IsInteger() bool { return t == TypeInt2 || t == TypeInt4 || t == TypeInt8 }

// IsString reports whether values of t are Go strings.
func (t Type) IsString() bool {
	switch t {
	case TypeText, TypeVarchar, TypeChar, TypeJSON, TypeJSONB:
		return true
	}
	return false
}

// ParseType maps a PostgreSQL type name (as pg_query reports it, e.g.
// "int4", "varchar", "timestamptz") to a Type.
func ParseType(name string) (Type, bool) {
	switch strings.ToLower(name) {
	case "int2", "smallint", "smallserial", "serial2":
		return TypeInt2, true
	case "int4", "int", "integer", "serial", "serial4":
		return TypeInt4, true
	case "int8", "bigint", "bigserial", "serial8":
		return TypeInt8, true
	case "float4", "real":
		return TypeFloat4, true
	case "float8", "double precision", "float":
		return TypeFloat8, true
	case "numeric", "decimal":
		return TypeNumeric, true
	case "bool", "boolean":
		return TypeBool, true
	case "text":
		return TypeText, true
	case "varchar", "character varying":
		return TypeVarchar, true
	case "bpchar", "char", "character":
		return TypeChar, true
	case "bytea":
		return TypeBytea, true
	case "date":
		return TypeDate, true
	case "timestamp", "timestamp without time zone":
		return TypeTimestamp, true
	case "timestamptz", "timestamp with time zone":
		return TypeTimestamptz, true
	case "uuid":
		return TypeUUID, true
	case "json":
		return TypeJSON, true
	case "jsonb":
		return TypeJSONB, true
	}
	return TypeInvalid, false
}

// Numeric is an arbitrary-precision decimal in canonical text form: an
// optional '-', digits, an optional '.' followed by digits, no exponent,
// no leading zeros beyond one, or "NaN". The SQL layer normalizes values
// before they reach the engine (see NormalizeNumeric).
type Numeric string

// Date is a calendar date as days since 1970-01-01 (proleptic Gregorian).
type Date int32

// Timestamp is microseconds since 1970-01-01 00:00:00 UTC. Timestamp and
// timestamptz columns both store it; timestamptz values are instants,
// timestamp values are wall-clock readings taken as UTC.
type Timestamp int64

// UUID is a 16-byte universally unique identifier.
type UUID [16]byte

// Value is one SQL value: nil (NULL) or one of int64, float64, Numeric,
// bool, string, []byte, Date, Timestamp, UUID. A Value stored in the engine
// is never mutated in place ([]byte values included).
type Value = any

// Row is one row's values in column order.
type Row []Value

// NormalizeNumeric returns the canonical text of a decimal string, or false
// if s is not a decimal number.
func NormalizeNumeric(s string) (Numeric, bool) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "nan") {
		return "NaN", true
	}
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	intPart, frac, hasDot := strings.Cut(s, ".")
	if intPart == "" && frac == "" {
		return "", false
	}
	for _, p := range [2]string{intPart, frac} {
		for i := 0; i < len(p); i++ {
			if p[i] < '0' || p[i] > '9' {
				return "", false
			}
		}
	}
	intPart = strings.TrimLeft(intPart, "0")
	if intPart == "" {
		intPart = "0"
	}
	_ = hasDot
	// Trailing fractional zeros are significant in PostgreSQL (scale), so
	// they are kept: 1.50 stays 1.50.
	var b strings.Builder
	if neg && (intPart != "0" || strings.Trim(frac, "0") != "") {
		b.WriteByte('-')
	}
	b.WriteString(intPart)
	if frac != "" {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	return Numeric(b.String()), true
}
