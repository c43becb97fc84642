package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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

// TestRestoreFromStandardInput: `--input -` reads the dump from standard
// input, so `dump --output - | restore --input -` copies a database;
// --dry-run reads it too; --salvage, which reads its input twice, asks
// for a file.
func TestRestoreFromStandardInput(t *testing.T) {
	src := proctest.Start(t, "src", "--memory")
	psql(t, src, fillSQL)
	dst := proctest.Start(t, "dst", "--memory")
	bin := proctest.Binary(t)
	run := func(script string, want int) string {
		t.Helper()
		cmd := exec.Command("bash", "-c", "set -o pipefail; "+script)
		cmd.Env = append(os.Environ(), "BIN="+bin, "SRC="+strconv.Itoa(src.Port), "DST="+strconv.Itoa(dst.Port))
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != want {
			t.Fatalf("%s: exit %d, want %d\n%s", script, code, want, out)
		}
		return string(out)
	}
	out := run(`"$BIN" dump --host 127.0.0.1 --port $SRC --output - | "$BIN" restore --host 127.0.0.1 --port $DST --input -`, 0)
	if !strings.Contains(out, "from standard input") || !strings.Contains(out, "Row-hash check: PASSED") {
		t.Fatalf("dump | restore:\n%s", out)
	}
	sameContents(t, src, dst, allTables...)
	out = run(`"$BIN" dump --host 127.0.0.1 --port $SRC --output - --tables users | "$BIN" restore --input - --dry-run`, 0)
	if !strings.Contains(out, "Tables: users") || !strings.Contains(out, "Validation: PASSED") {
		t.Fatalf("dump | restore --dry-run:\n%s", out)
	}
	out = run(`"$BIN" dump --host 127.0.0.1 --port $SRC --output - | "$BIN" restore --host 127.0.0.1 --port $DST --input - --salvage`, 2)
	if !strings.Contains(out, "--salvage reads the file twice") {
		t.Fatalf("salvage from a pipe:\n%s", out)
	}
	// A damaged file through a pipe: refused, exit 3 like a file.
	bad := filepath.Join(t.TempDir(), "bad.heliodump")
	run(`"$BIN" dump --host 127.0.0.1 --port $SRC --output `+bad+` --compress none`, 0)
	b, err := os.ReadFile(bad)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x5a
	if err := os.WriteFile(bad, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out = run(`cat `+bad+` | "$BIN" restore --host 127.0.0.1 --port $DST --input -`, 3)
	if !strings.Contains(out, "refused standard input as damaged") || strings.Count(out, "nothing was changed") != 1 {
		t.Fatalf("damaged dump through a pipe:\n%s", out)
	}
	sameContents(t, src, dst, allTables...)
}
