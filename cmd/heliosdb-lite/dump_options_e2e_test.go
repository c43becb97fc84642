package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heliosdb/heliosdb-lite/internal/proctest"
)

// TestDumpOptionErrors: a compression level out of the codec's range is a
// usage error (exit 2) before anything is written, and a table the
// database lacks is named with SQLSTATE 42P01, by dump and dump --dry-run
// alike; the server's own message for a bad level says it once.
func TestDumpOptionErrors(t *testing.T) {
	src := proctest.Start(t, "src", "--memory")
	psql(t, src, fillSQL)
	out := filepath.Join(t.TempDir(), "x.heliodump")
	for _, args := range [][]string{
		{"--compression-level", "20"},
		{"--compression-level", "-1"},
		{"--compress", "lz4", "--compression-level", "10"},
	} {
		_, se := cli(t, src, 2, append([]string{"dump", "--output", out}, args...)...)
		if !strings.Contains(se, "--compression-level "+args[len(args)-1]+": ") || !strings.Contains(se, "out of range") || strings.Contains(se, "options: snapshot") {
			t.Fatalf("dump %v: %s", args, se)
		}
	}
	if _, se := cli(t, src, 2, "dump", "--output", out, "--compress", "none", "--compression-level", "5"); !strings.Contains(se, "does nothing with --compress none") {
		t.Fatalf("a level with --compress none: %s", se)
	}
	// Flags given with their "absent" value are usage errors, not the
	// default: level 0, and a --tables that names nothing (a filter in a
	// script that matched no table must not become a full dump).
	for _, args := range [][]string{
		{"--compression-level", "0"},
		{"--compress", "lz4", "--compression-level", "0"},
		{"--tables", ""},
		{"--tables", ","},
	} {
		_, se := cli(t, src, 2, append([]string{"dump", "--output", out}, args...)...)
		if !strings.Contains(se, args[len(args)-2]) {
			t.Fatalf("dump %q: %s", args, se)
		}
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused dump wrote %s: %v", out, err)
	}
	for _, dry := range []bool{false, true} {
		args := []string{"dump", "--output", out, "--tables", "users,nosuch"}
		if dry {
			args = append(args, "--dry-run")
		}
		_, se := cli(t, src, 1, args...)
		if !strings.Contains(se, `no table "nosuch"`) || !strings.Contains(se, "SQLSTATE 42P01") {
			t.Fatalf("dump --tables users,nosuch (dry run %v): %s", dry, se)
		}
	}
	msg, err := execPsql(src.Port, "COPY heliosdb.dump TO STDOUT WITH (compress 'zstd', level '20')")
	if err == nil || !strings.Contains(msg, "invalid dump options: zstd level 20 out of range 1-19") || strings.Contains(msg, "snapshot:") {
		t.Fatalf("server message for level 20: %v %s", err, msg)
	}
}
