package sql

import (
	"context"
	"fmt"
	"testing"

	"github.com/heliosdb/heliosdb-lite/pgwire"
)

func TestNormalizeQuery(t *testing.T) {
	for _, tc := range []struct {
		q, key string
		n      int
		ok     bool
	}{
		{"SELECT abalance FROM a WHERE aid = 12345;", "SELECT abalance FROM a WHERE aid = ?;", 1, true},
		{"UPDATE t1 SET v = v + -5 WHERE id = 7", "UPDATE t1 SET v = v + -? WHERE id = ?", 2, true},
		{"SELECT 'a1', \"c2\" FROM x -- 3\n WHERE y = 4", "SELECT 'a1', \"c2\" FROM x -- 3\n WHERE y = ?", 1, true},
		{"SELECT 1.5", "", 0, false},
		{"SELECT 99999999999", "", 0, false},
		{"SELECT $$x$$", "", 0, false},
		{"SELECT 1e3", "", 0, false},
	} {
		key, lits, ok := normalizeQuery(tc.q)
		if ok != tc.ok || (ok && (key != tc.key || len(lits) != tc.n)) {
			t.Errorf("%q: got %q %v %v", tc.q, key, lits, ok)
		}
	}
}

// TestPlanCacheSameAnswers runs queries twice through the cache (miss,
// then hit with other literals) and compares with an uncached session.
func TestPlanCacheSameAnswers(t *testing.T) {
	db, _ := newTestDB(t)
	s := db.NewLocalSession()
	mustExec(t, s, "CREATE TABLE a (aid int PRIMARY KEY, v int, s smallint, name text); INSERT INTO a SELECT g, g * 10, g, 'n' || g FROM generate_series(1, 50) g")
	queries := []string{
		"SELECT v FROM a WHERE aid = %d",
		"SELECT v + -%d FROM a WHERE aid = 3",
		"SELECT %d",
		"SELECT %d + 1",
		"SELECT name FROM a WHERE s = %d",
		"SELECT count(*) FROM a WHERE aid < %d LIMIT 5",
		"SELECT v FROM a ORDER BY aid LIMIT %d",
		"SELECT aid %% 3 + %d, count(*) FROM a GROUP BY 1 ORDER BY 1",
		"SELECT name, v FROM a WHERE aid < %d ORDER BY 2 DESC",
		"UPDATE a SET v = v + %d WHERE aid = 9 RETURNING v",
		"INSERT INTO a VALUES (100 + %d, 1, 1, 'x') RETURNING aid",
	}
	ref := db.NewLocalSession()
	for _, q := range queries {
		for _, lit := range []int{4, 7, 40000} {
			text := fmt.Sprintf(q, lit)
			got, gerr := s.Exec(context.Background(), text)
			if q[0] != 'S' {
				// Writes: one row each, as written.
				if gerr != nil || len(got[0].Rows) != 1 {
					t.Errorf("%s: %v %v", text, got, gerr)
				}
				continue
			}
			want, werr := execUncached(ref, text)
			if fmt.Sprint(gerr) != fmt.Sprint(werr) || (gerr == nil && (fmt.Sprint(got[0].Rows) != fmt.Sprint(want[0].Rows) || fmt.Sprint(got[0].Columns) != fmt.Sprint(want[0].Columns))) {
				t.Errorf("%s: cached %v %v, uncached %v %v", text, got, gerr, want, werr)
			}
		}
	}
	if len(s.plans) == 0 {
		t.Fatal("nothing cached")
	}
	if res := mustExec(t, s, "SELECT count(*) FROM a WHERE aid > 100"); res[0].Rows[0][0] != int64(3) {
		t.Fatalf("inserted through the cache: %v", res[0].Rows)
	}
	// DDL under a cached template: the statement is planned as written.
	mustExec(t, s, "SELECT v FROM a WHERE aid = 1")
	mustExec(t, s, "ALTER TABLE a ADD COLUMN w int")
	res := mustExec(t, s, "SELECT v FROM a WHERE aid = 2")
	if fmt.Sprint(res[0].Rows) != "[[20]]" {
		t.Fatalf("after DDL: %v", res[0].Rows)
	}
}

// execUncached runs text without the plan cache.
func execUncached(s *Session, text string) ([]*pgwire.Result, error) {
	stmts, err := s.parse(text)
	if err != nil {
		return nil, err
	}
	var out []*pgwire.Result
	for _, st := range stmts {
		res, err := st.Execute(context.Background(), nil)
		if err != nil {
			return out, err
		}
		out = append(out, res)
	}
	return out, nil
}

// The extended protocol's Parse reuses the tree and plan of a text it
// has prepared before (same declared types), re-plans after DDL, and
// keeps texts with other declared types apart.
func TestPrepareCache(t *testing.T) {
	db, _ := newTestDB(t)
	s := db.NewLocalSession()
	ctx := context.Background()
	mustExec(t, s, "CREATE TABLE p (id int PRIMARY KEY, v int); INSERT INTO p VALUES (1, 10), (2, 20)")
	const q = "SELECT * FROM p WHERE id = $1"
	prep := func(types ...uint32) *stmt {
		t.Helper()
		ps, err := s.Prepare(ctx, q, types)
		if err != nil {
			t.Fatal(err)
		}
		return ps.(*stmt)
	}
	run := func(st *stmt, arg any) []any {
		t.Helper()
		res, err := st.Execute(ctx, []any{arg})
		if err != nil || len(res.Rows) != 1 {
			t.Fatalf("execute: %v %v", res, err)
		}
		return res.Rows[0]
	}
	a, b := prep(), prep()
	if a.node != b.node || a.cp == nil || a.cp != b.cp {
		t.Fatal("second Parse of the same text parsed or planned again")
	}
	if got := run(b, "2"); len(got) != 2 || got[1] != int32(20) && got[1] != int64(20) {
		t.Fatalf("row %v", got)
	}
	if c := prep(20); c.cp == a.cp {
		t.Fatal("declared int8 shares the plan of undeclared types")
	}
	mustExec(t, s, "ALTER TABLE p ADD COLUMN w text")
	c := prep()
	if c.cp == a.cp || len(c.Columns()) != 3 {
		t.Fatalf("after ALTER TABLE: %d columns, same plan %v", len(c.Columns()), c.cp == a.cp)
	}
	if got := run(c, "1"); len(got) != 3 {
		t.Fatalf("row %v", got)
	}
	// An aborted transaction refuses a cached text like any other.
	mustExec(t, s, "BEGIN")
	if _, err := s.Exec(ctx, "SELECT 1/0"); err == nil {
		t.Fatal("1/0 succeeded")
	}
	if _, err := s.Prepare(ctx, q, nil); err == nil {
		t.Fatal("Prepare in an aborted transaction succeeded")
	}
	mustExec(t, s, "ROLLBACK")
}
