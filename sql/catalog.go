package sql

import (
	"fmt"
	"hash/fnv"
	"sort"
	"strings"

	"github.com/heliosdb/heliosdb-lite/engine"
)

// Object identifiers. User objects get stable OIDs derived from their
// names (every node computes the same), above PostgreSQL's
// FirstNormalObjectId.
const (
	oidPgCatalog  = 11
	oidPublic     = 2200
	oidInfoSchema = 13000
	oidHeliosdb   = 13100
	oidBtree      = 403
	oidHeap       = 2
	oidDatabase   = 16384
)

func nameOID(kind, name string) int64 {
	h := fnv.New32a()
	h.Write([]byte(kind))
	h.Write([]byte{0})
	h.Write([]byte(name))
	return 16385 + int64(h.Sum32()%1_000_000_000)
}

func tableOID(name string) uint32 { return uint32(nameOID("r", name)) }
func indexOID(name string) int64  { return nameOID("i", name) }
func conOID(name string) int64    { return nameOID("c", name) }

func tableNameByOID(st *engine.State, oid int64) string {
	for _, n := range st.TableNames() {
		if int64(tableOID(n)) == oid {
			return n
		}
	}
	return ""
}

func (c *compiler) regclassOID(s string) (int64, error) { return c.regclassOIDIn(c.st, s) }

func (c *compiler) regclassOIDIn(st *engine.State, s string) (int64, error) {
	name := foldIdent(strings.TrimPrefix(s, "pg_catalog."))
	if _, ok := st.Table(name); ok {
		return int64(tableOID(name)), nil
	}
	for ixName, tbl := range relationNames(st) {
		if ixName == name && tbl != name {
			return indexOID(name), nil
		}
	}
	if _, ok := catalogTables[name]; ok {
		return nameOID("v", name), nil
	}
	return 0, errorf(codeUndefinedTable, "relation %q does not exist", s)
}

// formatType is format_type(oid, typmod).
func formatType(oid uint32, mod int32) string {
	t := oidType(oid)
	if t.k == kUnknown && oid != 705 {
		return "???"
	}
	switch t.k {
	case kVarchar, kChar:
		if mod >= 4 {
			t.len = mod - 4
		} else if t.k == kChar {
			return "character"
		}
	case kNumeric:
		if mod >= 4 {
			t.prec, t.scale = (mod-4)>>16, (mod-4)&0xffff
		}
	}
	return t.String()
}

// indexInfo is one index as the catalogs show it.
type indexInfo struct {
	table   string
	name    string
	cols    []int
	unique  bool
	primary bool
	constr  bool
	def     *engine.TableDef
}

func allIndexes(st *engine.State) []indexInfo {
	var out []indexInfo
	for _, n := range st.TableNames() {
		t, _ := st.Table(n)
		d := t.Def()
		if len(d.PrimaryKey) > 0 {
			out = append(out, indexInfo{table: n, name: pkName(d), cols: d.PrimaryKey, unique: true, primary: true, constr: true, def: d})
		}
		for _, ix := range d.Indexes {
			out = append(out, indexInfo{table: n, name: ix.Name, cols: ix.Columns, unique: ix.Unique, constr: ix.Constraint, def: d})
		}
	}
	return out
}

func (ix indexInfo) colNames() string {
	var names []string
	for _, ci := range ix.cols {
		names = append(names, quoteIdent(ix.def.Columns[ci].Name))
	}
	return strings.Join(names, ", ")
}

func (ix indexInfo) indexDef() string {
	u := ""
	if ix.unique {
		u = "UNIQUE "
	}
	return fmt.Sprintf("CREATE %sINDEX %s ON public.%s USING btree (%s)", u, quoteIdent(ix.name), quoteIdent(ix.table), ix.colNames())
}

func (ix indexInfo) constraintDef() string {
	if ix.primary {
		return "PRIMARY KEY (" + ix.colNames() + ")"
	}
	return "UNIQUE (" + ix.colNames() + ")"
}

func indexDefByOID(st *engine.State, oid int64) any {
	for _, ix := range allIndexes(st) {
		if indexOID(ix.name) == oid {
			return ix.indexDef()
		}
	}
	return nil
}

func constraintDefByOID(st *engine.State, oid int64) any {
	for _, ix := range allIndexes(st) {
		if ix.constr && conOID(ix.name) == oid {
			return ix.constraintDef()
		}
	}
	return nil
}

// vtable is a virtual catalog relation.
type vtable struct {
	cols []colInfo
	gen  func(x *execCtx) ([][]any, error)
}

// catalogTables maps relation names to their definitions; schema
// qualification is checked by virtualTable.
var catalogTables = map[string]*catalogTable{}

type catalogTable struct {
	schema string
	spec   string
	gen    func(x *execCtx) [][]any
	cols   []colInfo
}

// defineCatalog registers a relation. spec lists "name:type" pairs.
func defineCatalog(schema, name, spec string, gen func(x *execCtx) [][]any) {
	ct := &catalogTable{schema: schema, spec: spec, gen: gen}
	for _, f := range strings.Fields(spec) {
		n, t, _ := strings.Cut(f, ":")
		var ty typ
		switch t {
		case "oid":
			ty = tOid
		case "name":
			ty = tName
		case "text":
			ty = tText
		case "bool":
			ty = tBool
		case "int2":
			ty = tInt2
		case "int4":
			ty = tInt4
		case "int8":
			ty = tInt8
		case "float4":
			ty = typ{k: kFloat4}
		case "char":
			ty = tChar1
		case "regproc":
			ty = typ{k: kRegproc}
		case "int2v":
			ty = typ{k: kArray, elem: kInt2, len: -1} // int2vector: zero-based
		case "int2a":
			ty = typ{k: kArray, elem: kInt2}
		case "oida":
			ty = typ{k: kArray, elem: kOid}
		case "texta":
			ty = tTextArray
		case "ts":
			ty = tTimestamptz
		default:
			panic("catalog type " + t)
		}
		ct.cols = append(ct.cols, colInfo{name: n, t: ty})
	}
	catalogTables[name] = ct
}

// virtualTable resolves a catalog relation reference.
func (c *compiler) virtualTable(schema, name string) (*vtable, bool, error) {
	ct, ok := catalogTables[name]
	if !ok {
		if schema == "pg_catalog" || schema == "information_schema" {
			return nil, false, errorf(codeUndefinedTable, "relation \"%s.%s\" does not exist", schema, name)
		}
		return nil, false, nil
	}
	switch {
	case schema == ct.schema:
	case schema == "" && ct.schema == "pg_catalog":
		if _, shadow := c.st.Table(name); shadow {
			return nil, false, nil
		}
	default:
		return nil, false, nil
	}
	gen := ct.gen
	return &vtable{cols: ct.cols, gen: func(x *execCtx) ([][]any, error) { return gen(x), nil }}, true, nil
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func boolYN(b bool) string {
	if b {
		return "YES"
	}
	return "NO"
}

func columnDefault(d *engine.TableDef, i int) any {
	c := d.Columns[i]
	if c.Default != "" {
		return c.Default
	}
	if c.Identity {
		return fmt.Sprintf("nextval('%s_%s_seq'::regclass)", d.Name, c.Name)
	}
	return nil
}

func forTables(x *execCtx, fn func(name string, d *engine.TableDef, t engine.Table)) {
	for _, n := range x.st.TableNames() {
		t, _ := x.st.Table(n)
		fn(n, t.Def(), t)
	}
}
