package main

import (
	"os"
	"path/filepath"
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

// A single node lists itself in heliosdb.members with the address clients
// reach it at (it has no gossip metadata to take it from).
func TestSingleNodeMembersAddr(t *testing.T) {
	n := proctest.Start(t, "single", "--memory")
	got := psql(t, n, "select node_id, role, pg_addr, healthy from heliosdb.members")
	if want := "node1|leader|" + n.Addr() + "|t"; got != want {
		t.Fatalf("heliosdb.members: %q, want %q", got, want)
	}
}
