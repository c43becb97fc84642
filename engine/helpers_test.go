package engine

import (
	"testing"
)

// testDB wraps an engine with a running LSN so tests read like SQL scripts.
type testDB struct {
	t   testing.TB
	e   *Engine
	lsn uint64
}

func newTestDB(t testing.TB) *testDB { return &testDB{t: t, e: New()} }

func (db *testDB) apply(cs *ChangeSet) error {
	db.lsn++
	return db.e.Apply(cs, db.lsn)
}

func (db *testDB) must(cs *ChangeSet) {
	db.t.Helper()
	if err := db.apply(cs); err != nil {
		db.t.Fatalf("apply: %v", err)
	}
}

func enc(t testing.TB, r Row) []byte {
	t.Helper()
	b, err := EncodeRow(nil, r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func key(vals ...Value) string { return string(EncodeKey(nil, vals...)) }

func insertOp(t testing.TB, def *TableDef, r Row) Op {
	k, err := def.KeyOf(r)
	if err != nil {
		t.Fatal(err)
	}
	return Op{Kind: OpInsert, Table: def.Name, Key: k, Row: enc(t, r)}
}

func usersDef() *TableDef {
	return &TableDef{
		Name: "users",
		Columns: []ColumnDef{
			{Name: "id", Type: TypeInt8, NotNull: true},
			{Name: "email", Type: TypeText},
			{Name: "age", Type: TypeInt4},
		},
		PrimaryKey: []int{0},
		PKName:     "users_pkey",
		Indexes: []IndexDef{
			{Name: "users_email_key", Columns: []int{1}, Unique: true, Constraint: true},
			{Name: "users_age_idx", Columns: []int{2}},
		},
	}
}

func create(def *TableDef) *ChangeSet {
	return &ChangeSet{Ops: []Op{{Kind: OpCreateTable, Table: def.Name, Def: def}}}
}

func sqlstate(err error) string {
	if e, ok := err.(*Error); ok {
		return e.Code
	}
	if err == nil {
		return ""
	}
	return "?"
}

func rows(t testing.TB, s *State, table string) []Row {
	t.Helper()
	tb, ok := s.Table(table)
	if !ok {
		t.Fatalf("no table %s", table)
	}
	var out []Row
	tb.Scan(func(r RowRef) bool {
		row, err := r.Decode()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, row)
		return true
	})
	return out
}
