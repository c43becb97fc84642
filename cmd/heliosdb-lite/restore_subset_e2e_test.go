package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/heliosdb/heliosdb-lite/internal/proctest"
)

// TestRestoreSubsetKeepsOtherTables: docs/operations.md's "Excluding
// tables" workflow (one --tables file per table, restored one after the
// other) must end with every dumped table on the target, and a table of
// the target that no dump names must survive (pg_restore --clean of a
// pg_dump -t file). Increments of such a file (appended segments, and a
// separate BASE.inc1) are subsets too. A dump of the whole database still
// makes the target exactly the dump's content.
func TestRestoreSubsetKeepsOtherTables(t *testing.T) {
	src := proctest.Start(t, "src", "--memory")
	psql(t, src, `create table q(id int primary key, v text); create table q2(id int primary key, v text); create table mq(id int primary key, v text);
		insert into q select g, 'q' || g from generate_series(1, 300) g;
		insert into q2 select g, 'q2-' || g from generate_series(1, 200) g;
		insert into mq select g, 'mq' || g from generate_series(1, 100) g`)
	dst := proctest.Start(t, "dst", "--memory")
	psql(t, dst, `create table other(id int primary key, v text); insert into other values (1, 'keep'), (2, 'me');
		create table q(id int primary key, v text); insert into q values (999, 'stale')`)

	dir := t.TempDir()
	file := func(name string) string { return filepath.Join(dir, "prod-"+name+".heliodump") }
	for _, tb := range []string{"q", "q2", "mq"} {
		cli(t, src, 0, "dump", "--output", file(tb), "--tables", tb)
	}
	if out, _ := cli(t, nil, 0, "inspect", "--input", file("q")); !strings.Contains(out, "Segment 1: full (tables subset)") {
		t.Fatalf("inspect of a --tables dump does not say it is a subset:\n%s", out)
	}
	if out, _ := cli(t, nil, 0, "restore", "--dry-run", "--input", file("q")); !strings.Contains(out, "Tables: q\n") || !strings.Contains(out, "Subset: yes") || !strings.Contains(out, "Validation: PASSED") {
		t.Fatalf("restore --dry-run of a --tables dump:\n%s", out)
	}
	for _, tb := range []string{"q", "q2", "mq"} {
		cli(t, dst, 0, "restore", "--input", file(tb))
	}
	sameContents(t, src, dst, "q", "q2", "mq")
	if got := psql(t, dst, "select string_agg(id || v, ',' order by id) from other"); got != "1keep,2me" {
		t.Fatalf("table other, in no dump, after restoring the subsets: %q", got)
	}

	// Increments: appended to prod-q, and a separate prod-q2.heliodump.inc1.
	psql(t, src, "delete from q where id <= 50; update q set v = 'changed' where id = 100; insert into q values (1000, 'new'); insert into q2 values (1000, 'new2'); delete from q2 where id = 7")
	cli(t, src, 0, "dump", "--output", file("q"), "--append")
	cli(t, src, 0, "dump", "--output", file("q2")+".inc1", "--append")
	out, _ := cli(t, nil, 0, "inspect", "--input", file("q"))
	if !strings.Contains(out, "Segment 2: incremental (tables subset)") {
		t.Fatalf("inspect: the increment of a subset is not marked as a subset:\n%s", out)
	}
	if out, _ := cli(t, nil, 0, "inspect", "--input", file("q2")+".inc1"); !strings.Contains(out, "Segment 1: incremental (tables subset)") {
		t.Fatalf("inspect: BASE.inc1 of a subset is not marked as a subset:\n%s", out)
	}
	psql(t, dst, "insert into other values (3, 'too')")
	cli(t, dst, 0, "restore", "--input", file("q")) // base + appended increment, clean
	cli(t, dst, 0, "restore", "--input", file("q2"))
	cli(t, dst, 0, "restore", "--input", file("q2")+".inc1", "--mode", "append") // a delta of the chain
	sameContents(t, src, dst, "q", "q2", "mq")
	if got := psql(t, dst, "select string_agg(id || v, ',' order by id) from other"); got != "1keep,2me,3too" {
		t.Fatalf("table other after restoring subset chains: %q", got)
	}

	// A dump of every table still replaces the whole database.
	all := filepath.Join(dir, "all.heliodump")
	cli(t, src, 0, "dump", "--output", all)
	if out, _ := cli(t, nil, 0, "inspect", "--input", all); strings.Contains(out, "subset") {
		t.Fatalf("a dump of every table is marked as a subset:\n%s", out)
	}
	cli(t, dst, 0, "restore", "--input", all)
	sameContents(t, src, dst, "q", "q2", "mq")
	if got := psql(t, dst, "select count(*) from information_schema.tables where table_name = 'other'"); got != "0" {
		t.Fatal("a clean restore of a whole-database dump kept a table the dump lacks")
	}
}
