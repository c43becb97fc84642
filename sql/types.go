package sql

import (
	"fmt"
	"strings"

	"github.com/heliosdb/heliosdb-lite/engine"
)

// kind is the SQL type of an expression. Storable kinds mirror engine
// types; the others exist only during evaluation (intervals, catalog
// types, arrays, untyped literals).
type kind uint8

const (
	kUnknown kind = iota // untyped literal or NULL: resolved by context
	kInt2
	kInt4
	kInt8
	kFloat4
	kFloat8
	kNumeric
	kBool
	kText
	kVarchar
	kChar
	kBytea
	kDate
	kTimestamp
	kTimestamptz
	kUUID
	kJSON
	kJSONB
	kInterval
	kOid
	kName
	kRegclass
	kRegtype
	kRegproc
	kChar1 // "char"
	kArray // element kind in typ.elem; values are []any
	kVoid
	kRecord
)

// typ is a kind with its modifiers.
type typ struct {
	k     kind
	len   int32 // varchar(n)/char(n)
	prec  int32 // numeric(p,s)
	scale int32
	elem  kind // kArray
	// rec names the fields of a kRecord whose layout is known (nil:
	// anonymous ROW(...)).
	rec *recordType
}

var (
	tUnknown     = typ{k: kUnknown}
	tInt4        = typ{k: kInt4}
	tInt8        = typ{k: kInt8}
	tInt2        = typ{k: kInt2}
	tFloat8      = typ{k: kFloat8}
	tNumeric     = typ{k: kNumeric}
	tBool        = typ{k: kBool}
	tText        = typ{k: kText}
	tName        = typ{k: kName}
	tOid         = typ{k: kOid}
	tBytea       = typ{k: kBytea}
	tDate        = typ{k: kDate}
	tTimestamp   = typ{k: kTimestamp}
	tTimestamptz = typ{k: kTimestamptz}
	tInterval    = typ{k: kInterval}
	tUUID        = typ{k: kUUID}
	tChar1       = typ{k: kChar1}
	tTextArray   = typ{k: kArray, elem: kText}
	tRegclass    = typ{k: kRegclass}
)

var kindInfo = [...]struct {
	oid  uint32
	size int16
	name string // format_type name
}{
	kUnknown:     {705, -2, "unknown"},
	kInt2:        {21, 2, "smallint"},
	kInt4:        {23, 4, "integer"},
	kInt8:        {20, 8, "bigint"},
	kFloat4:      {700, 4, "real"},
	kFloat8:      {701, 8, "double precision"},
	kNumeric:     {1700, -1, "numeric"},
	kBool:        {16, 1, "boolean"},
	kText:        {25, -1, "text"},
	kVarchar:     {1043, -1, "character varying"},
	kChar:        {1042, -1, "character"},
	kBytea:       {17, -1, "bytea"},
	kDate:        {1082, 4, "date"},
	kTimestamp:   {1114, 8, "timestamp without time zone"},
	kTimestamptz: {1184, 8, "timestamp with time zone"},
	kUUID:        {2950, 16, "uuid"},
	kJSON:        {114, -1, "json"},
	kJSONB:       {3802, -1, "jsonb"},
	kInterval:    {1186, 16, "interval"},
	kOid:         {26, 4, "oid"},
	kName:        {19, 64, "name"},
	kRegclass:    {2205, 4, "regclass"},
	kRegtype:     {2206, 4, "regtype"},
	kRegproc:     {24, 4, "regproc"},
	kChar1:       {18, 1, "\"char\""},
	kArray:       {1009, -1, "text[]"},
	kVoid:        {2278, 4, "void"},
	kRecord:      {2249, -1, "record"},
}

// arrayOIDs maps element kinds to their array type OIDs.
var arrayOIDs = map[kind]uint32{kText: 1009, kInt2: 1005, kInt4: 1007, kInt8: 1016, kOid: 1028, kName: 1003, kChar1: 1002, kBool: 1000, kFloat8: 1022, kVarchar: 1015, kNumeric: 1231}

func (t typ) oid() uint32 {
	if t.k == kArray {
		if o, ok := arrayOIDs[t.elem]; ok {
			return o
		}
		return 1009
	}
	if t.k == kUnknown {
		return 25 // an unresolved literal is returned as text, as PostgreSQL does
	}
	return kindInfo[t.k].oid
}

func (t typ) size() int16 {
	if t.k == kUnknown {
		return -1
	}
	return kindInfo[t.k].size
}

// typmod is the PostgreSQL atttypmod of t.
func (t typ) typmod() int32 {
	switch t.k {
	case kVarchar, kChar:
		if t.len > 0 {
			return t.len + 4
		}
	case kNumeric:
		if t.prec > 0 {
			return (t.prec<<16 | t.scale) + 4
		}
	}
	return -1
}

// String is format_type's rendering (with modifiers).
func (t typ) String() string {
	switch t.k {
	case kVarchar, kChar:
		if t.len > 0 {
			return fmt.Sprintf("%s(%d)", kindInfo[t.k].name, t.len)
		}
		if t.k == kChar {
			return "character(1)"
		}
	case kNumeric:
		if t.prec > 0 {
			return fmt.Sprintf("numeric(%d,%d)", t.prec, t.scale)
		}
	case kArray:
		return typ{k: t.elem}.String() + "[]"
	}
	return kindInfo[t.k].name
}

func (k kind) isInt() bool    { return k == kInt2 || k == kInt4 || k == kInt8 }
func (k kind) isNumber() bool { return k.isInt() || k == kFloat4 || k == kFloat8 || k == kNumeric }
func (k kind) isString() bool {
	return k == kText || k == kVarchar || k == kChar || k == kName || k == kJSON || k == kJSONB || k == kChar1 || k == kRegproc
}
func (k kind) isTime() bool    { return k == kTimestamp || k == kTimestamptz }
func (k kind) isOidLike() bool { return k == kOid || k == kRegclass || k == kRegtype }

// engineKinds maps engine column types to kinds and back.
var engineKinds = map[engine.Type]kind{
	engine.TypeInt2: kInt2, engine.TypeInt4: kInt4, engine.TypeInt8: kInt8,
	engine.TypeFloat4: kFloat4, engine.TypeFloat8: kFloat8, engine.TypeNumeric: kNumeric,
	engine.TypeBool: kBool, engine.TypeText: kText, engine.TypeVarchar: kVarchar,
	engine.TypeChar: kChar, engine.TypeBytea: kBytea, engine.TypeDate: kDate,
	engine.TypeTimestamp: kTimestamp, engine.TypeTimestamptz: kTimestamptz,
	engine.TypeUUID: kUUID, engine.TypeJSON: kJSON, engine.TypeJSONB: kJSONB,
}

func colType(c *engine.ColumnDef) typ {
	return typ{k: engineKinds[c.Type], len: c.Length, prec: c.Precision, scale: c.Scale}
}

func engineType(k kind) (engine.Type, bool) {
	for et, kk := range engineKinds {
		if kk == k {
			return et, true
		}
	}
	return engine.TypeInvalid, false
}

// parseTypeName maps a type name as pg_query reports it to a typ.
func parseTypeName(names []string, mods []int32, array bool) (typ, error) {
	name := strings.ToLower(names[len(names)-1])
	if len(names) > 1 && names[0] != "pg_catalog" && names[0] != "public" {
		return typ{}, errorf(codeUndefinedObject, "type %q does not exist", strings.Join(names, "."))
	}
	var t typ
	switch name {
	case "int2", "smallint", "smallserial", "serial2":
		t.k = kInt2
	case "int4", "int", "integer", "serial", "serial4":
		t.k = kInt4
	case "int8", "bigint", "bigserial", "serial8":
		t.k = kInt8
	case "float4", "real":
		t.k = kFloat4
	case "float8", "double precision", "float":
		t.k = kFloat8
	case "numeric", "decimal":
		t.k = kNumeric
		if len(mods) > 0 {
			t.prec = mods[0]
			if len(mods) > 1 {
				t.scale = mods[1]
			}
			if t.prec < 1 || t.prec > 1000 || t.scale < 0 || t.scale > t.prec {
				return typ{}, errorf(codeInvalidParam, "NUMERIC precision %d must be between 1 and 1000", t.prec)
			}
		}
	case "bool", "boolean":
		t.k = kBool
	case "text":
		t.k = kText
	case "varchar", "character varying":
		t.k = kVarchar
		if len(mods) > 0 {
			t.len = mods[0]
		}
	case "bpchar", "char", "character":
		t.k = kChar
		t.len = 1
		if len(mods) > 0 {
			t.len = mods[0]
		}
		if name == "bpchar" && len(mods) == 0 {
			t.len = 0
		}
	case "bytea":
		t.k = kBytea
	case "date":
		t.k = kDate
	case "timestamp":
		t.k = kTimestamp
	case "timestamptz":
		t.k = kTimestamptz
	case "uuid":
		t.k = kUUID
	case "json":
		t.k = kJSON
	case "jsonb":
		t.k = kJSONB
	case "interval":
		t.k = kInterval
	case "oid", "regnamespace", "regrole", "regoper", "regoperator", "regconfig", "regdictionary", "regcollation", "xid", "xid8", "cid", "tid":
		t.k = kOid
	case "name":
		t.k = kName
	case "regclass":
		t.k = kRegclass
	case "regtype":
		t.k = kRegtype
	case "regproc", "regprocedure":
		t.k = kRegproc
	case "\"char\"":
		t.k = kChar1
	case "void":
		t.k = kVoid
	default:
		return typ{}, errorf(codeUndefinedObject, "type %q does not exist", name)
	}
	if array {
		return typ{k: kArray, elem: t.k}, nil
	}
	return t, nil
}

// isSerialName reports whether a column type name asks for a sequence.
func isSerialName(name string) bool {
	switch strings.ToLower(name) {
	case "serial", "serial4", "bigserial", "serial8", "smallserial", "serial2":
		return true
	}
	return false
}

// commonType is the type two operands are coerced to (UNION, CASE,
// comparisons), following PostgreSQL's preference order loosely.
func commonType(a, b typ) typ {
	switch {
	case a.k == kUnknown:
		if b.k == kUnknown {
			return tText
		}
		return b
	case b.k == kUnknown:
		return a
	case a.k == b.k:
		if a.len != b.len || a.prec != b.prec || a.scale != b.scale {
			return typ{k: a.k}
		}
		return a
	}
	rank := func(k kind) int {
		switch k {
		case kInt2:
			return 1
		case kInt4, kOid, kRegclass, kRegtype, kRegproc:
			return 2
		case kInt8:
			return 3
		case kNumeric:
			return 4
		case kFloat4:
			return 5
		case kFloat8:
			return 6
		}
		return 0
	}
	if ra, rb := rank(a.k), rank(b.k); ra > 0 && rb > 0 {
		if ra >= rb {
			return typ{k: a.k}
		}
		return typ{k: b.k}
	}
	if a.k.isString() && b.k.isString() {
		return tText
	}
	if a.k.isTime() && (b.k.isTime() || b.k == kDate) || b.k.isTime() && a.k == kDate {
		if a.k == kTimestamptz || b.k == kTimestamptz {
			return tTimestamptz
		}
		return tTimestamp
	}
	return a
}
