package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/heliosdb/heliosdb-lite/engine"
	"github.com/heliosdb/heliosdb-lite/internal/proctest"
	"github.com/heliosdb/heliosdb-lite/snapshot"
)

// fileDatabaseIDs returns the database ids (cluster_id) that inspect
// shows for each segment of a file.
func fileDatabaseIDs(t *testing.T, path string) []string {
	t.Helper()
	out, _ := cli(t, nil, 0, "inspect", "--input", path)
	var ids []string
	for _, m := range regexp.MustCompile(`Source: cluster "([^"]*)"`).FindAllStringSubmatch(out, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

// TestAppendRefusesOtherDatabase: an increment is refused, before
// anything is written, when the file it continues came from another
// database (its LSNs mean nothing there, and the appended segment would
// make the whole file unrestorable): in place, as BASE.inc1, and from a
// database restored from the file (a new lineage). The same database
// still appends.
func TestAppendRefusesOtherDatabase(t *testing.T) {
	a := proctest.Start(t, "a", "--memory")
	b := proctest.Start(t, "b", "--memory")
	psql(t, a, "create table t(id int primary key, v text); insert into t select g, 'a' || g from generate_series(1, 50) g")
	psql(t, b, "create table t(id int primary key, v text); insert into t select g, 'b' || g from generate_series(1, 80) g; update t set v = 'bb' where id < 40")
	dir := t.TempDir()
	f := filepath.Join(dir, "a.heliodump")
	cli(t, a, 0, "dump", "--output", f)
	ids := fileDatabaseIDs(t, f)
	if len(ids) != 1 || len(ids[0]) != 36 {
		t.Fatalf("the dump records database ids %q, want one UUID", ids)
	}
	idA := ids[0]
	before, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}

	refused := func(node *proctest.Node, out string) {
		t.Helper()
		_, se := cli(t, node, 1, "dump", "--output", out, "--append")
		if !strings.Contains(se, "55000") || !strings.Contains(se, idA) || !strings.Contains(se, "take a full dump") {
			t.Fatalf("append from another database: %s", se)
		}
		if after, err := os.ReadFile(f); err != nil || !bytes.Equal(after, before) {
			t.Fatalf("the refused append changed %s (%d -> %d bytes, %v)", f, len(before), len(after), err)
		}
	}
	refused(b, f)
	// B's own id (created by its first dump) is named too.
	cli(t, b, 0, "dump", "--output", filepath.Join(dir, "b.heliodump"))
	idB := fileDatabaseIDs(t, filepath.Join(dir, "b.heliodump"))[0]
	if idB == idA {
		t.Fatalf("two databases got the same id %s", idA)
	}
	_, se := cli(t, b, 1, "dump", "--output", f, "--append")
	if !strings.Contains(se, idB) {
		t.Fatalf("the refusal does not name the server's database id %s: %s", idB, se)
	}
	refused(b, f+".inc1")
	if _, err := os.Stat(f + ".inc1"); !os.IsNotExist(err) {
		t.Fatalf("a refused BASE.inc1 was written: %v", err)
	}
	cli(t, b, 1, "dump", "--output", f, "--append", "--dry-run")
	out, _ := cli(t, nil, 0, "verify", "--input", f)
	if !strings.Contains(out, "PASSED") {
		t.Fatalf("verify after the refused appends:\n%s", out)
	}

	// A database restored from the file is another lineage: appending
	// from it to the original file is refused too.
	c := proctest.Start(t, "c", "--memory")
	cli(t, c, 0, "restore", "--input", f)
	psql(t, c, "insert into t values (1000, 'c')")
	refused(c, f)

	// So is one restored through staging (--tables): it keeps its own id.
	e := proctest.Start(t, "e", "--memory")
	cli(t, e, 0, "restore", "--input", f, "--tables", "t")
	refused(e, f)

	// The source itself appends (in place and as BASE.inc1), and the
	// chain restores to its contents.
	psql(t, a, "insert into t values (500, 'x'); delete from t where id = 3")
	cli(t, a, 0, "dump", "--output", f, "--append")
	psql(t, a, "update t set v = 'y' where id = 4")
	cli(t, a, 0, "dump", "--output", f+".inc1", "--append")
	if got := fileDatabaseIDs(t, f); len(got) != 2 || got[0] != idA || got[1] != idA {
		t.Fatalf("ids of the chain's segments: %q, want %s twice", got, idA)
	}
	d := proctest.Start(t, "d", "--memory")
	cli(t, d, 0, "restore", "--input", f)
	cli(t, d, 0, "restore", "--input", f+".inc1", "--mode", "append")
	sameContents(t, a, d, "t")
}

// TestDatabaseIDStable: the database id survives a restart, so a chain
// started before it is continued after it.
func TestDatabaseIDStable(t *testing.T) {
	a := proctest.Start(t, "a", "--data-dir", filepath.Join(t.TempDir(), "data"))
	psql(t, a, "create table t(id int primary key, v text); insert into t select g, 'a' || g from generate_series(1, 50) g")
	f := filepath.Join(t.TempDir(), "a.heliodump")
	cli(t, a, 0, "dump", "--output", f)
	a.Stop()
	a.Restart()
	psql(t, a, "insert into t values (100, 'after restart')")
	cli(t, a, 0, "dump", "--output", f, "--append")
	ids := fileDatabaseIDs(t, f)
	if len(ids) != 2 || ids[0] == "" || ids[0] != ids[1] {
		t.Fatalf("database ids before and after a restart: %q", ids)
	}
	d := proctest.Start(t, "d", "--memory")
	cli(t, d, 0, "restore", "--input", f)
	sameContents(t, a, d, "t")
}

// TestAppendAheadOfServer: a file of an older build records no database
// id; when it ends at an LSN the server has not reached, the refusal says
// the file is probably another database's and to take a full dump.
func TestAppendAheadOfServer(t *testing.T) {
	e := engine.New()
	def := &engine.TableDef{Name: "t", PrimaryKey: []int{0}, Columns: []engine.ColumnDef{{Name: "id", Type: engine.TypeInt8, NotNull: true}}}
	if err := e.Apply(&engine.ChangeSet{Ops: []engine.Op{{Kind: engine.OpCreateTable, Table: "t", Def: def}}}, 1_000_000); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "old.heliodump")
	out, err := os.Create(f)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := snapshot.WriteFull(context.Background(), out, e.Snapshot(), snapshot.DefaultWriterOptions()); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	if ids := fileDatabaseIDs(t, f); len(ids) != 0 && ids[0] != "" {
		t.Fatalf("the hand-made file records a database id %q", ids)
	}
	n := proctest.Start(t, "n", "--memory")
	psql(t, n, "create table t(id int primary key)")
	_, se := cli(t, n, 1, "dump", "--output", f, "--append")
	if !strings.Contains(se, "ends at LSN 1000000") || !strings.Contains(se, "probably a dump of another database") || !strings.Contains(se, "take a full dump") {
		t.Fatalf("append of a file ahead of the server: %s", se)
	}
}

// TestAppendAfterRestoreIntoSource: a database restored from its own dump
// stays in its lineage when the restore is staged (its id is kept, and the
// restore's replacements are changes after the file's end): the next
// increment continues the file correctly. A restore that replaces the
// whole state (the snapshot path) starts a new lineage: the append is
// refused and a full dump is needed.
func TestAppendAfterRestoreIntoSource(t *testing.T) {
	a := proctest.Start(t, "a", "--memory")
	psql(t, a, "create table t(id int primary key, v text); create table u(id int primary key, w int); insert into t select g, 'a' || g from generate_series(1, 50) g; insert into u values (1, 1)")
	f := filepath.Join(t.TempDir(), "a.heliodump")
	cli(t, a, 0, "dump", "--output", f)
	psql(t, a, "delete from t where id > 40; insert into t values (100, 'gone after the restore'); insert into u values (2, 2)")
	cli(t, a, 0, "restore", "--input", f, "--tables", "t") // staged
	psql(t, a, "insert into t values (200, 'after the restore'); update t set v = 'z' where id = 5")
	cli(t, a, 0, "dump", "--output", f, "--append")
	d := proctest.Start(t, "d", "--memory")
	cli(t, d, 0, "restore", "--input", f)
	sameContents(t, a, d, "t", "u")

	cli(t, a, 0, "restore", "--input", f) // the whole state: a new lineage
	psql(t, a, "insert into t values (300, 'x')")
	before, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	if _, se := cli(t, a, 1, "dump", "--output", f, "--append"); !strings.Contains(se, "55000") {
		t.Fatalf("append after a whole-state restore: %s", se)
	}
	if after, _ := os.ReadFile(f); !bytes.Equal(after, before) {
		t.Fatal("the refused append changed the file")
	}
}
