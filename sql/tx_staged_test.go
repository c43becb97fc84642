package sql

import (
	"context"
	"testing"

	"github.com/heliosdb/heliosdb-lite/engine"
)

// TestTxStaged: a transaction block larger than the bound commits in
// bounded entries: its inserts into a table it created and into an
// existing table it only inserts into are staged, a table it also updates
// keeps its ops in the final entry, and no reader sees any of the block
// before that entry.
func TestTxStaged(t *testing.T) {
	var e *engine.Engine
	counting := false
	var entries, biggest int
	db, e := stagedCopyDB(t, func(n int, cs *engine.ChangeSet) error {
		if !counting {
			return nil
		}
		entries++
		biggest = max(biggest, len(cs.Encode(nil)))
		if got := visibleRows(e, "big"); got != 1 {
			t.Errorf("entry %d: a reader sees %d rows of big before the block's last entry", n, got)
		}
		if got := visibleRows(e, "fresh"); got != -1 {
			t.Errorf("entry %d: table fresh visible before the block's last entry", n)
		}
		return nil
	})
	s := db.NewLocalSession()
	mustExec(t, s, "CREATE TABLE big (id int PRIMARY KEY, v text)")
	mustExec(t, s, "CREATE TABLE small (id int PRIMARY KEY, v text)")
	mustExec(t, s, "INSERT INTO big VALUES (0, 'before'); INSERT INTO small VALUES (1, 'old')")
	counting = true
	mustExec(t, s, "BEGIN")
	mustExec(t, s, "CREATE TABLE fresh (id serial PRIMARY KEY, v text)")
	if _, err := copyIn(t, s, "COPY big FROM STDIN", copyRowsInput(1, 1500)); err != nil {
		t.Fatal(err)
	}
	mustExec(t, s, "INSERT INTO fresh (v) SELECT v FROM big WHERE id > 0")
	mustExec(t, s, "UPDATE small SET v = 'new' WHERE id = 1; INSERT INTO small VALUES (2, 'added')")
	if entries != 0 {
		t.Fatalf("%d entries proposed before COMMIT", entries)
	}
	mustExec(t, s, "COMMIT")
	if got := visibleRows(e, "big"); got != 1501 {
		t.Fatalf("big holds %d rows, want 1501", got)
	}
	if got := visibleRows(e, "fresh"); got != 1500 {
		t.Fatalf("fresh holds %d rows, want 1500", got)
	}
	if entries < 5 {
		t.Fatalf("the block went out in %d entries: not staged", entries)
	}
	if biggest > 2*copyStageBytes {
		t.Fatalf("an entry of %d bytes, over twice the %d-byte bound", biggest, copyStageBytes)
	}
	counting = false
	if h := hiddenTables(e); h != 0 {
		t.Fatalf("%d hidden tables left after the block", h)
	}
	if out := copyOut(t, s, "COPY (SELECT v FROM small ORDER BY id) TO STDOUT"); out != "new\nadded\n" {
		t.Fatalf("small: %q", out)
	}
	// The serial column's sequence went with the block.
	mustExec(t, s, "INSERT INTO fresh (v) VALUES ('next')")
	if out := copyOut(t, s, "COPY (SELECT max(id) FROM fresh) TO STDOUT"); out != "1501\n" {
		t.Fatalf("fresh's sequence after the block: max(id) %q", out)
	}

	// An autocommit INSERT ... SELECT as large is staged too.
	mustExec(t, s, "CREATE TABLE copy2 (id int PRIMARY KEY, v text)")
	before := e.LSN()
	mustExec(t, s, "INSERT INTO copy2 SELECT id, v FROM big")
	if got := visibleRows(e, "copy2"); got != 1501 {
		t.Fatalf("copy2 holds %d rows, want 1501", got)
	}
	if n := e.LSN() - before; n < 5 {
		t.Fatalf("a large INSERT ... SELECT went out in %d entries: not staged", n)
	}
	if h := hiddenTables(e); h != 0 {
		t.Fatalf("%d hidden tables left after the INSERT ... SELECT", h)
	}

	// A small block is one entry as before.
	before = e.LSN()
	mustExec(t, s, "BEGIN; INSERT INTO big VALUES (5000, 'x'); INSERT INTO small VALUES (3, 'y'); COMMIT")
	if e.LSN() != before+1 {
		t.Fatalf("a small block took %d entries", e.LSN()-before)
	}
}

// TestTxStagedConflictAtPromote: another session inserts a key the block
// also inserts while the block is being staged: the COMMIT fails with
// 23505 and nothing of the block is visible, not even its other tables'
// changes; no staging table is left.
func TestTxStagedConflictAtPromote(t *testing.T) {
	var racer *Session
	var e *engine.Engine
	raced := false
	db, e := stagedCopyDB(t, func(n int, cs *engine.ChangeSet) error {
		if racer != nil && !raced && hiddenTables(e) > 0 {
			raced = true
			mustExec(t, racer, "INSERT INTO big VALUES (700, 'racer')")
		}
		return nil
	})
	s := db.NewLocalSession()
	mustExec(t, s, "CREATE TABLE big (id int PRIMARY KEY, v text)")
	mustExec(t, s, "CREATE TABLE small (id int PRIMARY KEY, v text)")
	mustExec(t, s, "INSERT INTO small VALUES (1, 'old')")
	racer = db.NewLocalSession()
	mustExec(t, s, "BEGIN")
	if _, err := copyIn(t, s, "COPY big FROM STDIN", copyRowsInput(1, 1500)); err != nil {
		t.Fatal(err)
	}
	mustExec(t, s, "UPDATE small SET v = 'new' WHERE id = 1")
	_, err := s.Exec(context.Background(), "COMMIT")
	if !raced {
		t.Fatal("the racing insert did not run")
	}
	if sqlState(err) != codeUnique {
		t.Fatalf("want 23505 at the promote, got %v", err)
	}
	if got := visibleRows(e, "big"); got != 1 {
		t.Fatalf("big holds %d rows, want the racer's only", got)
	}
	if out := copyOut(t, s, "COPY (SELECT v FROM small) TO STDOUT"); out != "old\n" {
		t.Fatalf("the failed block changed small: %q", out)
	}
	if h := hiddenTables(e); h != 0 {
		t.Fatalf("%d hidden tables left", h)
	}
}
