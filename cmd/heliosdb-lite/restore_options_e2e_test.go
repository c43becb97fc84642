package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/heliosdb/heliosdb-lite/internal/proctest"
)

// TestRestoreTablesNotInDump: `restore --tables` naming a table the dump
// does not hold fails like `dump --tables` does (SQLSTATE 42P01, the name
// in the message, non-zero exit) and changes nothing, also when the other
// names exist; --dry-run says the same offline.
func TestRestoreTablesNotInDump(t *testing.T) {
	src := proctest.Start(t, "src", "--memory")
	psql(t, src, fillSQL)
	f := filepath.Join(t.TempDir(), "all.heliodump")
	cli(t, src, 0, "dump", "--output", f)

	dst := proctest.Start(t, "dst", "--memory")
	psql(t, dst, "create table canary(a int); insert into canary values (42)")
	for _, tables := range []string{"nosuch", "users,nosuch"} {
		_, se := cli(t, dst, 1, "restore", "--input", f, "--tables", tables)
		if !strings.Contains(se, `no table "nosuch"`) || !strings.Contains(se, "SQLSTATE 42P01") || !strings.Contains(se, "nothing was changed") {
			t.Fatalf("restore --tables %s: %s", tables, se)
		}
		_, se = cli(t, dst, 1, "restore", "--input", f, "--tables", tables, "--mode", "append")
		if !strings.Contains(se, "SQLSTATE 42P01") {
			t.Fatalf("restore --tables %s --mode append: %s", tables, se)
		}
	}
	if got := psql(t, dst, "select table_name from information_schema.tables where table_schema = 'public' order by 1"); got != "canary" {
		t.Fatalf("a refused restore changed the tables: %q", got)
	}
	out, se := cli(t, nil, 1, "restore", "--input", f, "--tables", "users,nosuch", "--dry-run")
	if !strings.Contains(se, `no table "nosuch"`) || !strings.Contains(out, "Validation: PASSED") {
		t.Fatalf("restore --dry-run --tables users,nosuch:\n%s\n%s", out, se)
	}
	cli(t, nil, 0, "restore", "--input", f, "--tables", "users, orders", "--dry-run")
	cli(t, dst, 0, "restore", "--input", f, "--tables", "users")
	sameContents(t, src, dst, "users")
}

// TestRestoreOnConflictNeedsAppend: --on-conflict without --mode append
// is a usage error (exit 2) that changes nothing, not a silent clean
// restore that replaces the table.
func TestRestoreOnConflictNeedsAppend(t *testing.T) {
	src := proctest.Start(t, "src", "--memory")
	psql(t, src, fillSQL)
	f := filepath.Join(t.TempDir(), "users.heliodump")
	cli(t, src, 0, "dump", "--output", f, "--tables", "users")

	dst := proctest.Start(t, "dst", "--memory")
	psql(t, dst, "create table users(id int primary key, email text unique, age int, created_at timestamp); insert into users values (99999, 'mine@x', 1, null)")
	for _, args := range [][]string{
		{"--on-conflict", "skip"},
		{"--on-conflict", "update", "--mode", "clean"},
		{"--on-conflict", "error", "--dry-run"},
	} {
		_, se := cli(t, dst, 2, append([]string{"restore", "--input", f, "--tables", "users"}, args...)...)
		if !strings.Contains(se, "--on-conflict applies to --mode append") {
			t.Fatalf("restore %v: %s", args, se)
		}
	}
	if got := psql(t, dst, "select count(*) from users") + psql(t, dst, "select email from users"); got != "1mine@x" {
		t.Fatalf("a refused restore changed users: %q", got)
	}
	cli(t, dst, 0, "restore", "--input", f, "--tables", "users", "--mode", "append", "--on-conflict", "skip")
	if got := psql(t, dst, "select count(*) from users"); got != "3001" {
		t.Fatalf("append skip: %s rows", got)
	}
}
