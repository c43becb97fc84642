package sql

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/heliosdb/heliosdb-lite/engine"
)

func copyIn(t *testing.T, s *Session, q, data string) (string, error) {
	t.Helper()
	res := mustExec(t, s, q)
	if res[0].CopyIn == nil {
		t.Fatalf("%s: not a COPY IN", q)
	}
	return res[0].CopyIn(context.Background(), strings.NewReader(data))
}

func copyOut(t *testing.T, s *Session, q string) string {
	t.Helper()
	res := mustExec(t, s, q)
	var b bytes.Buffer
	if err := res[0].CopyOut(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestCopy(t *testing.T) {
	db, _ := newTestDB(t)
	s := db.NewLocalSession()
	mustExec(t, s, "CREATE TABLE c (id int PRIMARY KEY, name text, note varchar(10) DEFAULT 'd')")
	tag, err := copyIn(t, s, "COPY c (id, name) FROM STDIN", "1\tone\n2\t\\N\n3\ttab\\there\n\\.\n")
	if err != nil || tag != "COPY 3" {
		t.Fatal(tag, err)
	}
	tag, err = copyIn(t, s, "COPY c FROM STDIN WITH (FORMAT csv, HEADER true)", "id,name,note\n4,\"a,b\",x\n5,,\n6,\"q\"\"uote\",\"\"\n")
	if err != nil || tag != "COPY 3" {
		t.Fatal(tag, err)
	}
	if _, err := copyIn(t, s, "COPY c FROM STDIN", "1\tdup\tx\n"); sqlState(err) != codeUnique {
		t.Fatalf("want 23505, got %v", err)
	}
	if _, err := copyIn(t, s, "COPY c FROM STDIN", "x\ty\tz\n"); sqlState(err) != codeInvalidText {
		t.Fatalf("want 22P02, got %v", err)
	}
	got := copyOut(t, s, "COPY c TO STDOUT")
	want := "1\tone\td\n2\t\\N\td\n3\ttab\\there\td\n4\ta,b\tx\n5\t\\N\t\\N\n6\tq\"uote\t\n"
	if got != want {
		t.Fatalf("text:\n%q\nwant\n%q", got, want)
	}
	got = copyOut(t, s, "COPY (SELECT id, name FROM c WHERE id > 3 ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER)")
	if got != "id,name\n4,\"a,b\"\n5,\n6,\"q\"\"uote\"\n" {
		t.Fatalf("csv: %q", got)
	}
	// Inside a transaction the copied rows are visible before COMMIT only.
	mustExec(t, s, "BEGIN")
	if _, err := copyIn(t, s, "COPY c (id) FROM STDIN", "7\n8\n"); err != nil {
		t.Fatal(err)
	}
	if r := mustExec(t, s, "SELECT count(*) FROM c"); r[0].Rows[0][0] != int64(8) {
		t.Fatal(r[0].Rows)
	}
	mustExec(t, s, "ROLLBACK")
	if r := mustExec(t, s, "SELECT count(*) FROM c"); r[0].Rows[0][0] != int64(6) {
		t.Fatal(r[0].Rows)
	}
}

func TestCopyTargets(t *testing.T) {
	db, _ := newTestDB(t)
	var gotOpts map[string]string
	db.cfg.CopyTargets = map[string]CopyTarget{"dump": {
		Out: func(ctx context.Context, opts map[string]string, w io.Writer) error {
			gotOpts = opts
			_, err := w.Write([]byte("DUMPDATA"))
			return err
		},
		In: func(ctx context.Context, opts map[string]string, r io.Reader) (string, error) {
			b, _ := io.ReadAll(r)
			return "RESTORE " + string(b), nil
		},
	}}
	s := db.NewLocalSession()
	out := copyOut(t, s, "COPY heliosdb.dump TO STDOUT WITH (compress 'zstd', tables 'a,b')")
	if out != "DUMPDATA" || gotOpts["compress"] != "zstd" || gotOpts["tables"] != "a,b" {
		t.Fatal(out, gotOpts)
	}
	tag, err := copyIn(t, s, "COPY heliosdb.dump FROM STDIN", "xyz")
	if err != nil || tag != "RESTORE xyz" {
		t.Fatal(tag, err)
	}
	if _, err := s.Exec(context.Background(), "COPY heliosdb.nosuch TO STDOUT"); sqlState(err) != codeUndefinedTable {
		t.Fatal(err)
	}
}

// FuzzExec checks that no statement text makes the SQL layer panic.
func FuzzExec(f *testing.F) {
	for _, seed := range []string{
		"SELECT 1", "CREATE TABLE t (a int primary key, b text); INSERT INTO t VALUES (1, 'x'); SELECT * FROM t WHERE a = 1",
		"SELECT * FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace", "UPDATE t SET b = b || 'y' RETURNING *",
		"SELECT count(*), sum(a) FROM t GROUP BY b HAVING count(*) > 0 ORDER BY 1", "BEGIN; DELETE FROM t; ROLLBACK",
		"SELECT '2024-01-01'::date + interval '1 day', 1/0", "WITH x AS (SELECT 1 a) SELECT a FROM x UNION SELECT 2",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, q string) {
		db, _ := newTestDB(t)
		s := db.NewLocalSession()
		_, _ = s.Exec(context.Background(), "CREATE TABLE t (a int primary key, b text); INSERT INTO t VALUES (1, 'x'), (2, NULL)")
		_, _ = s.Exec(context.Background(), q)
	})
}

// stagedCopyDB is a test DB whose proposals go through hook first (it may
// fail one), with COPY staging above 4 KiB.
func stagedCopyDB(t *testing.T, hook func(n int, cs *engine.ChangeSet) error) (*DB, *engine.Engine) {
	t.Helper()
	old := copyStageBytes
	copyStageBytes = 4 << 10
	t.Cleanup(func() { copyStageBytes = old })
	e := engine.New()
	cfg := NewLocalConfig(e)
	cfg.Rand = &seqReader{}
	local := cfg.Propose
	n := 0
	cfg.Propose = func(ctx context.Context, cs *engine.ChangeSet) (uint64, error) {
		n++
		if err := hook(n, cs); err != nil {
			return 0, err
		}
		return local(ctx, cs)
	}
	return New(cfg), e
}

func copyRowsInput(from, to int) string {
	var b strings.Builder
	for i := from; i <= to; i++ {
		fmt.Fprintf(&b, "%d\tpayload-%d-%s\n", i, i, strings.Repeat("x", 40))
	}
	return b.String()
}

func visibleRows(e *engine.Engine, table string) int {
	tb, ok := e.Snapshot().Table(table)
	if !ok {
		return -1
	}
	return tb.Len()
}

func hiddenTables(e *engine.Engine) int {
	s := e.Snapshot()
	return len(s.AllTableNames()) - len(s.TableNames())
}

// TestCopyStaged: a COPY larger than the bound goes to raft in several
// bounded entries into a hidden staging table and becomes visible at once
// with the last one; a reader between the entries sees none of the rows.
func TestCopyStaged(t *testing.T) {
	var e *engine.Engine
	counting := false
	var entries, seenBetween, biggest int
	db, e := stagedCopyDB(t, func(n int, cs *engine.ChangeSet) error {
		if !counting {
			return nil
		}
		entries++
		biggest = max(biggest, len(cs.Encode(nil)))
		// What a concurrent reader sees before this entry applies: the
		// old row alone (staging is hidden), or every row after the last.
		if got := visibleRows(e, "c"); got != 1 {
			t.Errorf("entry %d: a reader sees %d rows of c before the COPY's last entry", n, got)
		}
		if hiddenTables(e) == 1 {
			seenBetween++
		}
		return nil
	})
	s := db.NewLocalSession()
	mustExec(t, s, "CREATE TABLE c (id int PRIMARY KEY, v text)")
	mustExec(t, s, "INSERT INTO c VALUES (0, 'before')")
	counting = true
	tag, err := copyIn(t, s, "COPY c FROM STDIN", copyRowsInput(1, 2000))
	if err != nil || tag != "COPY 2000" {
		t.Fatal(tag, err)
	}
	if got := visibleRows(e, "c"); got != 2001 {
		t.Fatalf("c holds %d rows, want 2001", got)
	}
	if entries < 5 {
		t.Fatalf("the COPY went out in %d entries: not staged in bounded entries", entries)
	}
	if biggest > copyStageBytes+256 {
		t.Fatalf("an entry of %d bytes, over the %d-byte bound", biggest, copyStageBytes)
	}
	if seenBetween != entries-1 {
		t.Fatalf("%d of %d entries met the staging table, want all but the first", seenBetween, entries)
	}
	counting = false
	if h := hiddenTables(e); h != 0 {
		t.Fatalf("%d hidden tables left after the COPY", h)
	}
	// The rows are the table's like any others: a duplicate key fails a
	// later staged COPY at the promote, which leaves nothing behind.
	if _, err := copyIn(t, s, "COPY c FROM STDIN", copyRowsInput(1990, 3500)); sqlState(err) != codeUnique {
		t.Fatalf("want 23505 for a duplicate key, got %v", err)
	}
	if got := visibleRows(e, "c"); got != 2001 {
		t.Fatalf("a failed COPY changed c: %d rows", got)
	}
	if h := hiddenTables(e); h != 0 {
		t.Fatalf("%d hidden tables left after a failed COPY", h)
	}
	out := copyOut(t, s, "COPY (SELECT count(*), min(id), max(id) FROM c) TO STDOUT")
	if out != "2001\t0\t2000\n" {
		t.Fatalf("count/min/max: %q", out)
	}
}

// TestCopyStagedFailsMidway: a proposal failing between the staging
// entries fails the COPY, leaves the table as it was and drops the
// staging table.
func TestCopyStagedFailsMidway(t *testing.T) {
	fail := 0
	db, e := stagedCopyDB(t, func(n int, cs *engine.ChangeSet) error {
		if fail > 0 && n == fail {
			return errorf("08006", "injected: the connection to the leader was lost")
		}
		return nil
	})
	s := db.NewLocalSession()
	mustExec(t, s, "CREATE TABLE c (id int PRIMARY KEY, v text)")
	fail = 2 + 4 // the create table, then the 4th proposal of the COPY
	if _, err := copyIn(t, s, "COPY c FROM STDIN", copyRowsInput(1, 2000)); err == nil {
		t.Fatal("the COPY succeeded although a proposal failed")
	}
	if got := visibleRows(e, "c"); got != 0 {
		t.Fatalf("a failed COPY left %d rows", got)
	}
	if h := hiddenTables(e); h != 0 {
		t.Fatalf("%d hidden tables left after a failed COPY", h)
	}
	// Small COPYs are one entry as before.
	fail = 0
	before := e.LSN()
	if _, err := copyIn(t, s, "COPY c FROM STDIN", "1\ta\n2\tb\n"); err != nil {
		t.Fatal(err)
	}
	if e.LSN() != before+1 {
		t.Fatalf("a small COPY took %d entries", e.LSN()-before)
	}
}

// TestCopyStagedConflictAtPromote: a row inserted by another session
// while a staged COPY is in flight, with a key the COPY also has, fails
// the COPY at its promote (23505) and leaves only the other row.
func TestCopyStagedConflictAtPromote(t *testing.T) {
	var racer *Session
	var e *engine.Engine
	raced := false
	db, e := stagedCopyDB(t, func(n int, cs *engine.ChangeSet) error {
		if racer != nil && !raced && hiddenTables(e) == 1 {
			raced = true
			mustExec(t, racer, "INSERT INTO c VALUES (1500, 'racer')")
		}
		return nil
	})
	s := db.NewLocalSession()
	mustExec(t, s, "CREATE TABLE c (id int PRIMARY KEY, v text)")
	racer = db.NewLocalSession()
	_, err := copyIn(t, s, "COPY c FROM STDIN", copyRowsInput(1, 2000))
	if !raced {
		t.Fatal("the racing insert did not run")
	}
	if sqlState(err) != codeUnique {
		t.Fatalf("want 23505 at the promote, got %v", err)
	}
	if got := visibleRows(e, "c"); got != 1 {
		t.Fatalf("c holds %d rows, want the racer's only", got)
	}
	if h := hiddenTables(e); h != 0 {
		t.Fatalf("%d hidden tables left", h)
	}
}

// TestCopyStagedHiddenRowIDCollision: in a table without a primary key,
// another writer (as another node after a leader change would) takes a
// hidden row id that a staged COPY chose. That is not the user's
// duplicate: the COPY retries with fresh ids and every row lands.
func TestCopyStagedHiddenRowIDCollision(t *testing.T) {
	var e *engine.Engine
	var local func(context.Context, *engine.ChangeSet) (uint64, error)
	raced := false
	db, e := stagedCopyDB(t, func(n int, cs *engine.ChangeSet) error {
		if raced || hiddenTables(e) != 1 || len(cs.Ops) == 0 || cs.Ops[0].Kind != engine.OpInsert {
			return nil
		}
		raced = true
		op := cs.Ops[0]
		op.Table = "h"
		if _, err := local(context.Background(), &engine.ChangeSet{Ops: []engine.Op{op}}); err != nil {
			t.Errorf("racing insert: %v", err)
		}
		return nil
	})
	local = NewLocalConfig(e).Propose
	s := db.NewLocalSession()
	mustExec(t, s, "CREATE TABLE h (id int, v text)")
	if _, err := copyIn(t, s, "COPY h FROM STDIN", copyRowsInput(1, 2000)); err != nil {
		t.Fatalf("the COPY failed instead of retrying with fresh row ids: %v", err)
	}
	if !raced {
		t.Fatal("the racing insert did not run")
	}
	if got := visibleRows(e, "h"); got != 2001 {
		t.Fatalf("h holds %d rows, want the COPY's 2000 and the racer's", got)
	}
	if h := hiddenTables(e); h != 0 {
		t.Fatalf("%d hidden tables left", h)
	}
}
