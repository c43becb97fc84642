package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/heliosdb/heliosdb-lite/internal/proctest"
)

// The guide's DR drill starts `--memory --data-dir DIR`: memory wins, the
// node says that the data dir is not used, and nothing is written there.
func TestStartMemoryWithDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	n := proctest.Start(t, "drill", "--memory", "--data-dir", dir)
	psql(t, n, "create table t (id int primary key); insert into t values (1)")
	log, err := os.ReadFile(n.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), "--memory keeps nothing on disk: data dir \""+dir+"\" is not used") {
		t.Fatalf("no note that the data dir is unused:\n%s", log)
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		t.Fatalf("--memory wrote into the data dir: %v", entries)
	}
}

// A single node lists itself, in heliosdb.members and in `members` (the
// admin API), with the address clients reach it at: it has no gossip
// metadata to take it from (the CLI showed "-").
func TestSingleNodeMembersAddr(t *testing.T) {
	admin := "127.0.0.1:" + strconv.Itoa(proctest.FreePort(t))
	n := proctest.Start(t, "single", "--memory", "--http-addr", admin)
	got := psql(t, n, "select node_id, role, pg_addr, healthy from heliosdb.members")
	if want := "node1|leader|" + n.Addr() + "|t"; got != want {
		t.Fatalf("heliosdb.members: %q, want %q", got, want)
	}
	out, _ := cli(t, nil, 0, "members", "--http-addr", admin)
	if !strings.Contains(out, n.Addr()) {
		t.Fatalf("members does not show the PostgreSQL address %s:\n%s", n.Addr(), out)
	}
}

// A server that refuses the login is running: the CLI says it refused and
// why, and does not suggest starting one.
func TestDumpWrongPassword(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(cfg, []byte("[auth]\ntrust = \"none\"\n[[auth.users]]\nname = \"postgres\"\nmethod = \"trust\"\n[[auth.users]]\nname = \"app\"\npassword = \"right\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	n := proctest.Start(t, "auth", "--memory", "--config", cfg)
	out := filepath.Join(t.TempDir(), "x.heliodump")
	_, se := cli(t, n, 1, "dump", "--output", out, "--user", "app", "--password", "wrong")
	if !strings.Contains(se, "refused the connection") || !strings.Contains(se, "28P01") || !strings.Contains(se, "--password") || strings.Contains(se, "is it running") {
		t.Fatalf("wrong password: %s", se)
	}
	cli(t, n, 0, "dump", "--output", out, "--user", "app", "--password", "right")
}
