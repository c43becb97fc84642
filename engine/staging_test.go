package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// stage creates the staging copy of def for restore id and fills it.
func stage(t *testing.T, db *testDB, id string, def *TableDef, rows ...Row) {
	t.Helper()
	sd := StagingDef(id, def)
	ops := []Op{{Kind: OpCreateTable, Table: sd.Name, Def: sd}}
	for _, r := range rows {
		op := insertOp(t, def, r)
		op.Table, op.Kind = sd.Name, OpUpsert
		ops = append(ops, op)
	}
	db.must(&ChangeSet{Ops: ops})
}

func promoteOp(id, table string, p PromotePolicy) Op {
	return Op{Kind: OpPromote, Table: StagingName(id, table), Name: table, Seq: int(p)}
}

func userRow(id int64, email string) Row { return Row{id, email, int64(30)} }

func TestStagingHiddenAndReplace(t *testing.T) {
	db := newTestDB(t)
	def := usersDef()
	db.must(&ChangeSet{Ops: []Op{{Kind: OpCreateTable, Table: "users", Def: def}, insertOp(t, def, userRow(1, "old@x"))}})
	stage(t, db, "r1", def, userRow(2, "a@x"), userRow(3, "b@x"))
	s := db.e.Snapshot()
	if got := s.TableNames(); !slices.Equal(got, []string{"users"}) {
		t.Fatalf("TableNames shows hidden tables: %q", got)
	}
	if got := s.AllTableNames(); len(got) != 2 {
		t.Fatalf("AllTableNames = %q", got)
	}
	staged, _ := s.Table(StagingName("r1", "users"))
	db.must(&ChangeSet{Ops: []Op{promoteOp("r1", "users", PromoteReplace)}})
	s = db.e.Snapshot()
	if got := s.AllTableNames(); !slices.Equal(got, []string{"users"}) {
		t.Fatalf("after promote: %q", got)
	}
	u, _ := s.Table("users")
	if u.Len() != 2 || u.HashSum() != staged.HashSum() || u.Def().Name != "users" || u.Def().Indexes[0].Name != "users_email_key" || u.Def().PKName != "users_pkey" {
		t.Fatalf("promoted table wrong: len %d def %+v", u.Len(), u.Def())
	}
	// The hash sum is the one a table filled directly would have.
	ref := newTestDB(t)
	ref.must(&ChangeSet{Ops: []Op{{Kind: OpCreateTable, Table: "users", Def: def}, insertOp(t, def, userRow(2, "a@x")), insertOp(t, def, userRow(3, "b@x"))}})
	r, _ := ref.e.Snapshot().Table("users")
	if r.HashSum() != u.HashSum() {
		t.Fatal("staged hash sum differs from a direct fill")
	}
	// Unique index still enforced on the promoted table.
	if err := db.apply(&ChangeSet{Ops: []Op{insertOp(t, def, userRow(9, "a@x"))}}); !isCode(err, CodeUniqueViolation) {
		t.Fatalf("unique index lost: %v", err)
	}
}

func isCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

func TestPromoteMergePolicies(t *testing.T) {
	for _, tc := range []struct {
		policy  PromotePolicy
		wantErr string
		want    map[int64]string
	}{
		{PromoteMergeError, CodeUniqueViolation, map[int64]string{1: "db@x"}},
		{PromoteMergeSkip, "", map[int64]string{1: "db@x", 2: "new@x"}},
		{PromoteMergeUpdate, "", map[int64]string{1: "dump@x", 2: "new@x"}},
	} {
		db := newTestDB(t)
		def := usersDef()
		db.must(&ChangeSet{Ops: []Op{{Kind: OpCreateTable, Table: "users", Def: def}, insertOp(t, def, userRow(1, "db@x"))}})
		stage(t, db, "m", def, userRow(1, "dump@x"), userRow(2, "new@x"))
		err := db.apply(&ChangeSet{Ops: []Op{promoteOp("m", "users", tc.policy)}})
		if tc.wantErr != "" {
			if !isCode(err, tc.wantErr) {
				t.Fatalf("policy %d: err %v, want %s", tc.policy, err, tc.wantErr)
			}
			var e *Error
			errors.As(err, &e)
			if e.Detail() == "" {
				t.Fatalf("conflict error does not name the key: %v", err)
			}
		} else if err != nil {
			t.Fatalf("policy %d: %v", tc.policy, err)
		}
		u, _ := db.e.Snapshot().Table("users")
		got := map[int64]string{}
		u.Scan(func(r RowRef) bool {
			row, _ := r.Decode()
			got[row[0].(int64)] = row[1].(string)
			return true
		})
		if len(got) != len(tc.want) {
			t.Fatalf("policy %d: rows %v, want %v", tc.policy, got, tc.want)
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Fatalf("policy %d: rows %v, want %v", tc.policy, got, tc.want)
			}
		}
	}
}

func TestPromoteDelta(t *testing.T) {
	db := newTestDB(t)
	def := usersDef()
	db.must(&ChangeSet{Ops: []Op{{Kind: OpCreateTable, Table: "users", Def: def},
		insertOp(t, def, userRow(1, "a@x")), insertOp(t, def, userRow(2, "b@x"))}})
	// Delta: row 1 deleted, row 2 takes row 1's old email (transiently a
	// duplicate if applied before the delete), row 3 new.
	stage(t, db, "d", def, userRow(2, "a@x"), userRow(3, "c@x"))
	db.must(&ChangeSet{Ops: []Op{{Kind: OpTombstone, Table: StagingName("d", "users"), Key: key(int64(1))}}})
	db.must(&ChangeSet{Ops: []Op{promoteOp("d", "users", PromoteDelta)}})
	u, _ := db.e.Snapshot().Table("users")
	if u.Len() != 2 {
		t.Fatalf("rows = %d", u.Len())
	}
	if _, ok := u.Get(key(int64(1))); ok {
		t.Fatal("tombstone not applied")
	}
	if len(db.e.Snapshot().AllTableNames()) != 1 {
		t.Fatal("staging table left behind")
	}
}

func TestPromoteRefusesBadTarget(t *testing.T) {
	db := newTestDB(t)
	def := usersDef()
	stage(t, db, "x", def)
	if err := db.apply(&ChangeSet{Ops: []Op{promoteOp("x", "users", PromoteDelta)}}); !isCode(err, CodeUndefinedTable) {
		t.Fatalf("delta into missing table: %v", err)
	}
	if err := db.apply(&ChangeSet{Ops: []Op{{Kind: OpPromote, Table: "users", Name: "users"}}}); !isCode(err, CodeInternal) {
		t.Fatalf("promote of a non-staging table: %v", err)
	}
	// The failed change sets changed nothing: the staging table is there.
	if len(db.e.Snapshot().AllTableNames()) != 1 {
		t.Fatal("failed promote changed the state")
	}
}

func TestStagingOpsEncoding(t *testing.T) {
	cs := &ChangeSet{Ops: []Op{
		{Kind: OpTombstone, Table: StagingName("r", "t"), Key: "k"},
		{Kind: OpPromote, Table: StagingName("r", "t"), Name: "t", Seq: int(PromoteMergeUpdate)},
	}}
	b := cs.Encode(nil)
	got, err := DecodeChangeSet(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Ops[0].Key != "k" || got.Ops[1].Name != "t" || got.Ops[1].Seq != 3 || got.Ops[1].Kind != OpPromote {
		t.Fatalf("round trip: %+v", got.Ops)
	}
	// The fuzz corpus holds this encoding (testdata/fuzz/FuzzDecodeChangeSet/staging_ops).
	seed, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzDecodeChangeSet", "staging_ops"))
	if err != nil || !strings.Contains(string(seed), fmt.Sprintf("%q", b)[1:8]) {
		t.Logf("fuzz seed staging_ops missing or stale: %v", err)
	}
}

func TestBaseName(t *testing.T) {
	for in, want := range map[string]string{
		"users":                    "users",
		StagingName("r1", "users"): "users",
		StagingName("r1", "a/b"):   "a/b",
		RestoreStateTable:          RestoreStateTable,
	} {
		if got := BaseName(in); got != want {
			t.Errorf("BaseName(%q) = %q, want %q", in, got, want)
		}
	}
}
