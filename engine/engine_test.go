package engine

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
)

func TestConstraints(t *testing.T) {
	db := newTestDB(t)
	def := usersDef()
	db.must(create(def))
	db.must(&ChangeSet{Ops: []Op{insertOp(t, def, Row{int64(1), "a@x", int64(30)})}})

	cases := []struct {
		name string
		row  Row
		code string
	}{
		{"duplicate primary key", Row{int64(1), "b@x", nil}, CodeUniqueViolation},
		{"duplicate unique column", Row{int64(2), "a@x", nil}, CodeUniqueViolation},
		{"null in unique column is allowed", Row{int64(3), nil, nil}, ""},
		{"second null in unique column is allowed", Row{int64(4), nil, nil}, ""},
		{"duplicate non-unique index value is allowed", Row{int64(5), "c@x", int64(30)}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := db.apply(&ChangeSet{Ops: []Op{insertOp(t, def, c.row)}})
			if got := sqlstate(err); got != c.code {
				t.Fatalf("got %q (%v), want %q", got, err, c.code)
			}
		})
	}

	t.Run("not null", func(t *testing.T) {
		r := Row{int64(9), "n@x", nil}
		op := insertOp(t, def, r)
		bad := enc(t, Row{nil, "n@x", nil})
		op.Row = bad
		if got := sqlstate(db.apply(&ChangeSet{Ops: []Op{op}})); got != CodeNotNullViolation {
			t.Fatalf("got %q", got)
		}
	})

	t.Run("unique violation message names the constraint and key", func(t *testing.T) {
		err := db.apply(&ChangeSet{Ops: []Op{insertOp(t, def, Row{int64(1), "z@x", nil})}})
		var e *Error
		if !errors.As(err, &e) || e.Msg != `duplicate key value violates unique constraint "users_pkey"` || e.Detail() != "Key (id)=(1) already exists." {
			t.Fatalf("got %v / %q", err, e.Detail())
		}
	})

	t.Run("failed change set changes nothing", func(t *testing.T) {
		before := db.e.Snapshot()
		err := db.apply(&ChangeSet{Ops: []Op{
			insertOp(t, def, Row{int64(100), "ok@x", nil}),
			insertOp(t, def, Row{int64(1), "dup@x", nil}),
		}})
		if err == nil {
			t.Fatal("expected failure")
		}
		after := db.e.Snapshot()
		if !reflect.DeepEqual(rows(t, before, "users"), rows(t, after, "users")) {
			t.Fatal("partial change set was applied")
		}
		if after.LSN() != db.lsn {
			t.Fatalf("LSN did not advance past the failed entry: %d", after.LSN())
		}
	})
}

func TestPreconditions(t *testing.T) {
	db := newTestDB(t)
	def := usersDef()
	db.must(create(def))
	db.must(&ChangeSet{Ops: []Op{insertOp(t, def, Row{int64(1), "a", int64(1)})}})
	tb, _ := db.e.Snapshot().Table("users")
	r, _ := tb.Get(key(int64(1)))
	readLSN := r.LSN

	update := func(age int64) *ChangeSet {
		op := insertOp(t, def, Row{int64(1), "a", age})
		op.Kind = OpUpdate
		return &ChangeSet{
			Preconditions: []Precondition{{Kind: PreRowLSN, Table: "users", Key: key(int64(1)), LSN: readLSN}},
			Ops:           []Op{op},
		}
	}
	// Two sessions read the row at the same LSN; the first write wins.
	first, second := update(2), update(3)
	db.must(first)
	err := db.apply(second)
	if !errors.Is(err, ErrConflict) || sqlstate(err) != CodeSerializationFailure {
		t.Fatalf("second writer: got %v, want 40001", err)
	}
	if got := rows(t, db.e.Snapshot(), "users")[0][2]; got != int64(2) {
		t.Fatalf("age = %v, want 2", got)
	}

	// Key-absent precondition (two inserts of the same new key).
	abs := Precondition{Kind: PreAbsent, Table: "users", Key: key(int64(7))}
	db.must(&ChangeSet{Preconditions: []Precondition{abs}, Ops: []Op{insertOp(t, def, Row{int64(7), "s", nil})}})
	if err := db.apply(&ChangeSet{Preconditions: []Precondition{abs}}); !errors.Is(err, ErrConflict) {
		t.Fatalf("absent precondition: %v", err)
	}

	// Sequence precondition.
	seq := Precondition{Kind: PreSequence, Table: "users", Seq: 0, Value: 0}
	db.must(&ChangeSet{Preconditions: []Precondition{seq}, Ops: []Op{{Kind: OpSetSequence, Table: "users", Seq: 0, Value: 5}}})
	if err := db.apply(&ChangeSet{Preconditions: []Precondition{seq}}); !errors.Is(err, ErrConflict) {
		t.Fatalf("sequence precondition: %v", err)
	}

	// Schema precondition.
	tb, _ = db.e.Snapshot().Table("users")
	sch := Precondition{Kind: PreSchema, Table: "users", TableLSN: tb.SchemaLSN()}
	db.must(&ChangeSet{Ops: []Op{{Kind: OpCreateIndex, Table: "users", Index: &IndexDef{Name: "users_x", Columns: []int{2}}}}})
	if err := db.apply(&ChangeSet{Preconditions: []Precondition{sch}}); !errors.Is(err, ErrConflict) {
		t.Fatalf("schema precondition: %v", err)
	}
}

func TestSnapshotIsolation(t *testing.T) {
	db := newTestDB(t)
	def := usersDef()
	db.must(create(def))
	for i := 0; i < 100; i++ {
		db.must(&ChangeSet{Ops: []Op{insertOp(t, def, Row{int64(i), fmt.Sprint("u", i), int64(i % 7)})}})
	}
	snap := db.e.Snapshot()
	before := rows(t, snap, "users")
	tb, _ := snap.Table("users")
	sumBefore := tb.HashSum()
	for i := 0; i < 100; i += 2 {
		db.must(&ChangeSet{Ops: []Op{{Kind: OpDelete, Table: "users", Key: key(int64(i))}}})
	}
	db.must(&ChangeSet{Ops: []Op{{Kind: OpTruncate, Table: "users"}}})
	db.must(&ChangeSet{Ops: []Op{{Kind: OpDropTable, Table: "users"}}})
	if !reflect.DeepEqual(before, rows(t, snap, "users")) {
		t.Fatal("a snapshot saw later writes")
	}
	tb, _ = snap.Table("users")
	if tb.HashSum() != sumBefore || tb.Len() != 100 {
		t.Fatal("snapshot hash or length changed")
	}
	var viaIndex int
	tb.IndexScan(1, nil, nil, func(RowRef) bool { viaIndex++; return true })
	if viaIndex != 100 {
		t.Fatalf("index of snapshot has %d entries", viaIndex)
	}
	if _, ok := db.e.Snapshot().Table("users"); ok {
		t.Fatal("table still present after drop")
	}
}

func TestIndexScanOrderAndRange(t *testing.T) {
	db := newTestDB(t)
	def := usersDef()
	db.must(create(def))
	for i := 0; i < 50; i++ {
		db.must(&ChangeSet{Ops: []Op{insertOp(t, def, Row{int64(i), fmt.Sprintf("e%02d", 49-i), int64(i % 5)})}})
	}
	tb, _ := db.e.Snapshot().Table("users")
	lo := EncodeKey(nil, int64(3))
	var got []int64
	tb.IndexScan(1, lo, PrefixEnd(lo), func(r RowRef) bool {
		row, _ := r.Decode()
		got = append(got, row[0].(int64))
		return true
	})
	if len(got) != 10 {
		t.Fatalf("age=3 via index: %v", got)
	}
	for _, id := range got {
		if id%5 != 3 {
			t.Fatalf("wrong row %d", id)
		}
	}
	var pks []int64
	tb.ScanRange(EncodeKey(nil, int64(10)), EncodeKey(nil, int64(13)), func(r RowRef) bool {
		row, _ := r.Decode()
		pks = append(pks, row[0].(int64))
		return true
	})
	if !reflect.DeepEqual(pks, []int64{10, 11, 12}) {
		t.Fatalf("range: %v", pks)
	}
}

func TestTombstonesAndChangesSince(t *testing.T) {
	db := newTestDB(t)
	def := usersDef()
	db.must(create(def))
	for i := 0; i < 10; i++ {
		db.must(&ChangeSet{Ops: []Op{insertOp(t, def, Row{int64(i), fmt.Sprint(i), nil})}})
	}
	mark := db.lsn
	db.must(&ChangeSet{Ops: []Op{{Kind: OpDelete, Table: "users", Key: key(int64(3))}}})
	up := insertOp(t, def, Row{int64(4), "four", nil})
	up.Kind = OpUpdate
	db.must(&ChangeSet{Ops: []Op{up}})
	db.must(&ChangeSet{Ops: []Op{insertOp(t, def, Row{int64(20), "20", nil})}})

	ch, err := db.e.Snapshot().ChangesSince(mark)
	if err != nil {
		t.Fatal(err)
	}
	if len(ch) != 1 || ch[0].Full || len(ch[0].Rows) != 2 || len(ch[0].Tombstones) != 1 || ch[0].Tombstones[0].Key != key(int64(3)) {
		t.Fatalf("changes: %+v", ch)
	}
	// A table created after the mark is sent whole.
	other := &TableDef{Name: "other", Columns: []ColumnDef{{Name: "x", Type: TypeText}}}
	db.must(create(other))
	db.must(&ChangeSet{Ops: []Op{{Kind: OpInsert, Table: "other", Key: EncodeRowID(1), Row: enc(t, Row{"x"})}}})
	ch, _ = db.e.Snapshot().ChangesSince(mark)
	if !ch[0].Full || len(ch[0].Rows) != 1 {
		t.Fatalf("new table: %+v", ch[0])
	}
	// Re-inserting a deleted key removes its tombstone.
	db.must(&ChangeSet{Ops: []Op{insertOp(t, def, Row{int64(3), "back", nil})}})
	ch, _ = db.e.Snapshot().ChangesSince(mark)
	if len(ch[1].Tombstones) != 0 {
		t.Fatalf("tombstone survived reinsert: %+v", ch[1].Tombstones)
	}
	// Past the horizon the engine refuses rather than silently missing deletes.
	db.e.PruneTombstones(db.lsn)
	_, err = db.e.Snapshot().ChangesSince(mark)
	if !errors.Is(err, ErrChangesTooOld) {
		t.Fatalf("want ErrChangesTooOld, got %v", err)
	}
	if _, err := db.e.Snapshot().ChangesSince(db.lsn); err != nil {
		t.Fatalf("at the horizon: %v", err)
	}
}

func TestDirtyAccounting(t *testing.T) {
	db := newTestDB(t)
	def := usersDef()
	db.must(create(def))
	if total, _ := db.e.DirtyBytes("users"); total != 0 {
		t.Fatalf("fresh: %d", total)
	}
	op := insertOp(t, def, Row{int64(1), "abc", int64(1)})
	db.must(&ChangeSet{Ops: []Op{op}})
	total, tbl := db.e.DirtyBytes("users")
	if total != int64(len(op.Row)) || tbl != total {
		t.Fatalf("after insert: %d %d want %d", total, tbl, len(op.Row))
	}
	snap := db.e.Snapshot()
	db.must(&ChangeSet{Ops: []Op{insertOp(t, def, Row{int64(2), "d", nil})}})
	db.e.MarkDumped(snap) // a dump of snap completed; the later write stays dirty
	total, _ = db.e.DirtyBytes("users")
	if total == 0 || total >= 2*int64(len(op.Row)) {
		t.Fatalf("after dump: %d", total)
	}
	db.e.MarkDumped(db.e.Snapshot())
	if total, tbl := db.e.DirtyBytes("users"); total != 0 || tbl != 0 {
		t.Fatalf("after full dump: %d %d", total, tbl)
	}
	db.must(&ChangeSet{Ops: []Op{{Kind: OpDelete, Table: "users", Key: key(int64(1))}}})
	if total, _ := db.e.DirtyBytes("users"); total != int64(len(op.Row)) {
		t.Fatalf("a delete counts the deleted bytes: %d", total)
	}
}

func TestAlterTable(t *testing.T) {
	db := newTestDB(t)
	def := &TableDef{Name: "t", Columns: []ColumnDef{{Name: "a", Type: TypeInt8}, {Name: "b", Type: TypeText}}}
	db.must(create(def))
	for i := int64(1); i <= 3; i++ {
		db.must(&ChangeSet{Ops: []Op{{Kind: OpInsert, Table: "t", Key: EncodeRowID(i), Row: enc(t, Row{i, fmt.Sprint(i)})}}})
	}
	db.must(&ChangeSet{Ops: []Op{{Kind: OpAlterTable, Table: "t", Alter: &Alter{Kind: AlterAddColumn, Column: ColumnDef{Name: "c", Type: TypeBool}, Fill: true}}}})
	if r := rows(t, db.e.Snapshot(), "t"); len(r[0]) != 3 || r[2][2] != true {
		t.Fatalf("add column: %v", r)
	}
	db.must(&ChangeSet{Ops: []Op{{Kind: OpAlterTable, Table: "t", Alter: &Alter{Kind: AlterAddPrimary, Columns: []int{0}, NewName: "t_pkey"}}}})
	tb, _ := db.e.Snapshot().Table("t")
	if _, ok := tb.Get(key(int64(2))); !ok || tb.Def().HasHiddenRowID() {
		t.Fatal("rows not re-keyed by the new primary key")
	}
	db.must(&ChangeSet{Ops: []Op{{Kind: OpAlterTable, Table: "t", Alter: &Alter{Kind: AlterDropColumn, Name: "b"}}}})
	db.must(&ChangeSet{Ops: []Op{{Kind: OpAlterTable, Table: "t", Alter: &Alter{Kind: AlterRenameTable, NewName: "u"}}}})
	if r := rows(t, db.e.Snapshot(), "u"); !reflect.DeepEqual(r[0], Row{int64(1), true}) {
		t.Fatalf("after drop+rename: %v", r)
	}
	// Adding a primary key over duplicates fails and leaves the table as it was.
	dup := &TableDef{Name: "d", Columns: []ColumnDef{{Name: "a", Type: TypeInt8}}}
	db.must(create(dup))
	for i := int64(1); i <= 2; i++ {
		db.must(&ChangeSet{Ops: []Op{{Kind: OpInsert, Table: "d", Key: EncodeRowID(i), Row: enc(t, Row{int64(7)})}}})
	}
	err := db.apply(&ChangeSet{Ops: []Op{{Kind: OpAlterTable, Table: "d", Alter: &Alter{Kind: AlterAddPrimary, Columns: []int{0}}}}})
	if sqlstate(err) != CodeUniqueViolation {
		t.Fatalf("got %v", err)
	}
	if tb, _ := db.e.Snapshot().Table("d"); !tb.Def().HasHiddenRowID() || tb.Len() != 2 {
		t.Fatal("failed alter changed the table")
	}
}

func TestInstallAndBuilder(t *testing.T) {
	db := newTestDB(t)
	def := usersDef()
	db.must(create(def))
	for i := 0; i < 20; i++ {
		db.must(&ChangeSet{Ops: []Op{insertOp(t, def, Row{int64(i), fmt.Sprint(i), int64(i)})}})
	}
	src := db.e.Snapshot()
	b := NewBuilder(src.LSN())
	for _, name := range src.TableNames() {
		tb, _ := src.Table(name)
		if err := b.CreateTable(tb.Def(), tb.Meta()); err != nil {
			t.Fatal(err)
		}
		tb.Scan(func(r RowRef) bool {
			if err := b.Put(name, r.Key, []byte(r.Enc), r.LSN); err != nil {
				t.Fatal(err)
			}
			return true
		})
	}
	e2 := New()
	e2.Install(b.Finish())
	if !reflect.DeepEqual(Canonical(src), Canonical(e2.Snapshot())) {
		t.Fatal("rebuilt state differs")
	}
}
