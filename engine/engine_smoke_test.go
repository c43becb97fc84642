package engine

import (
	"errors"
	"testing"
)

func mustEnc(t *testing.T, r Row) []byte {
	t.Helper()
	b, err := EncodeRow(nil, r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSmoke(t *testing.T) {
	e := New()
	def := &TableDef{Name: "t", Columns: []ColumnDef{{Name: "id", Type: TypeInt8, NotNull: true}, {Name: "v", Type: TypeText}}, PrimaryKey: []int{0}, PKName: "t_pkey",
		Indexes: []IndexDef{{Name: "t_v", Columns: []int{1}, Unique: true}}}
	if err := e.Apply(&ChangeSet{Ops: []Op{{Kind: OpCreateTable, Table: "t", Def: def}}}, 1); err != nil {
		t.Fatal(err)
	}
	r := Row{int64(1), "a"}
	k, _ := def.KeyOf(r)
	if err := e.Apply(&ChangeSet{Ops: []Op{{Kind: OpInsert, Table: "t", Key: k, Row: mustEnc(t, r)}}}, 2); err != nil {
		t.Fatal(err)
	}
	snap := e.Snapshot()
	r2 := Row{int64(2), "a"}
	k2, _ := def.KeyOf(r2)
	err := e.Apply(&ChangeSet{Ops: []Op{{Kind: OpInsert, Table: "t", Key: k2, Row: mustEnc(t, r2)}}}, 3)
	var ee *Error
	if !errors.As(err, &ee) || ee.Code != CodeUniqueViolation {
		t.Fatalf("want 23505, got %v", err)
	}
	tb, _ := e.Snapshot().Table("t")
	if tb.Len() != 1 {
		t.Fatal(tb.Len())
	}
	err = e.Apply(&ChangeSet{Preconditions: []Precondition{{Kind: PreAbsent, Table: "t", Key: k}}}, 4)
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("want conflict, got %v", err)
	}
	if err := e.Apply(&ChangeSet{Ops: []Op{{Kind: OpDelete, Table: "t", Key: k}}}, 5); err != nil {
		t.Fatal(err)
	}
	old, _ := snap.Table("t")
	if old.Len() != 1 {
		t.Fatal("snapshot changed")
	}
	ch, err := e.Snapshot().ChangesSince(2)
	if err != nil || len(ch) != 1 || len(ch[0].Tombstones) != 1 {
		t.Fatalf("%v %+v", err, ch)
	}
}
