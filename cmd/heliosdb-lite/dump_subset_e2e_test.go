package main

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/heliosdb/heliosdb-lite/internal/proctest"
)

// TestAppendToTableSubset: increments appended to a --tables dump keep to
// the tables that dump holds (plus tables created after it), so the chain
// restores; and the dirty-byte counters fall to 0 only when the chain
// holds every table.
func TestAppendToTableSubset(t *testing.T) {
	src := proctest.Start(t, "src", "--memory")
	psql(t, src, "create table a(id int primary key, v text); create table b(id int primary key); insert into a values (1, 'x'); insert into b values (1)")
	dir := t.TempDir()
	f := filepath.Join(dir, "a.heliodump")
	cli(t, src, 0, "dump", "--output", f, "--tables", "a")
	psql(t, src, "insert into a values (2, 'y'); insert into b values (2)")
	cli(t, src, 0, "dump", "--output", f, "--append")
	// b's rows are in no dump: still dirty.
	if got := psql(t, src, "select pg_table_dirty_bytes('b') > 0, pg_stat_get_dirty_bytes() > 0"); got != "t|t" {
		t.Fatalf("after an increment of a chain without b: dirty (b, all) = %s", got)
	}
	psql(t, src, "update a set v = 'z' where id = 1; create table c(k int primary key, v text); insert into c values (7, 'c')")
	cli(t, src, 0, "dump", "--output", f, "--append")
	cli(t, nil, 0, "verify", "--input", f)

	dst := proctest.Start(t, "dst", "--memory")
	out, _ := cli(t, dst, 0, "restore", "--input", f)
	if !strings.Contains(out, "row-hash sums equal the dump footer's") {
		t.Fatalf("restore of the subset chain:\n%s", out)
	}
	sameContents(t, src, dst, "a", "c")
	if got := psql(t, dst, "select count(*) from information_schema.tables where table_name = 'b'"); got != "0" {
		t.Fatal("table b, never in the chain, was restored")
	}

	// A chain of every table: an increment makes everything clean.
	all := filepath.Join(dir, "all.heliodump")
	cli(t, src, 0, "dump", "--output", all)
	psql(t, src, "insert into b values (3)")
	cli(t, src, 0, "dump", "--output", all, "--append")
	if got := psql(t, src, "select pg_stat_get_dirty_bytes()"); got != "0" {
		t.Fatalf("after an increment of a chain of every table: dirty %s", got)
	}
}

// TestIncrementOnChangedTableRefused: a table changed after the chain's
// base was restored would match neither the old data nor the dump once
// the increment is applied: the restore is refused before anything
// changes, and succeeds once the base is restored again.
func TestIncrementOnChangedTableRefused(t *testing.T) {
	src := proctest.Start(t, "src", "--memory")
	psql(t, src, "create table a(id int primary key, v text); insert into a select g, 'v' || g from generate_series(1, 5000) g")
	dir := t.TempDir()
	base := filepath.Join(dir, "base.heliodump")
	cli(t, src, 0, "dump", "--output", base)
	psql(t, src, "update a set v = 'new' where id <= 10; delete from a where id > 4990; insert into a values (10000, 'added')")
	// --dry-run --append estimates the increment, not a full dump.
	full, _ := cli(t, src, 0, "dump", "--output", filepath.Join(dir, "x.heliodump"), "--dry-run", "--compress", "none")
	inc, _ := cli(t, src, 0, "dump", "--output", base+".inc1", "--append", "--dry-run", "--compress", "none")
	if fb, ib := estimatedBytes(t, full), estimatedBytes(t, inc); ib <= 0 || ib*5 > fb {
		t.Fatalf("increment estimate %.0f bytes vs full %.0f bytes:\n%s\n%s", ib, fb, inc, full)
	}
	cli(t, src, 0, "dump", "--output", base+".inc1", "--append")

	dst := proctest.Start(t, "dst", "--memory")
	cli(t, dst, 0, "restore", "--input", base)
	psql(t, dst, "insert into a values (20000, 'local change')")
	before := psql(t, dst, "select count(*), md5(string_agg(id || v, ',' order by id)) from a")
	_, se := cli(t, dst, 1, "restore", "--input", base+".inc1", "--mode", "append")
	if !strings.Contains(se, `table "a" changed since the dump chain's base was restored`) || !strings.Contains(se, "nothing was changed") {
		t.Fatalf("increment on a changed table: %s", se)
	}
	if got := psql(t, dst, "select count(*), md5(string_agg(id || v, ',' order by id)) from a"); got != before {
		t.Fatalf("the refused increment changed the table: %s, was %s", got, before)
	}
	cli(t, dst, 0, "restore", "--input", base)
	cli(t, dst, 0, "restore", "--input", base+".inc1", "--mode", "append")
	sameContents(t, src, dst, "a")
}

// estimatedBytes reads "Estimated dump size: 12.3 KB (...)" back.
func estimatedBytes(t *testing.T, out string) float64 {
	t.Helper()
	_, rest, ok := strings.Cut(out, "Estimated dump size: ")
	f := strings.Fields(rest)
	if !ok || len(f) < 2 {
		t.Fatalf("no estimate in %q", out)
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v * map[string]float64{"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9}[f[1]]
}
