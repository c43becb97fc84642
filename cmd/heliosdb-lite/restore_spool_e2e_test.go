package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/heliosdb/heliosdb-lite/internal/proctest"
)

// TestCrashedRestoreSpoolRemovedAtStart: a server killed (-9) while a
// restore spools the incoming dump into its data directory leaves the
// spool file behind; the next start removes it, and nothing else.
func TestCrashedRestoreSpoolRemovedAtStart(t *testing.T) {
	src := proctest.Start(t, "src", "--memory")
	psql(t, src, "create table big(id int primary key, pad text); insert into big select g, repeat(md5(g::text), 4) from generate_series(1, 150000) g")
	dir := t.TempDir()
	f := filepath.Join(dir, "big.heliodump")
	cli(t, src, 0, "dump", "--output", f, "--compress", "none")

	data := filepath.Join(dir, "data")
	dst := proctest.Start(t, "dst", "--data-dir", data)
	other := filepath.Join(data, "restore-notes.txt") // not a spool: stays
	if err := os.WriteFile(other, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	spools := func() []string {
		m, _ := filepath.Glob(filepath.Join(data, "restore-*.heliodump.tmp"))
		return m
	}
	// The restore client is stopped once the server has begun spooling,
	// so the server is mid-restore, waiting for the rest, when it dies.
	cmd := exec.Command(proctest.Binary(t), "restore", "--input", f, "--host", "127.0.0.1", "--port", strconv.Itoa(dst.Port))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for len(spools()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the restore never spooled into the data directory")
		}
		time.Sleep(time.Millisecond)
	}
	_ = cmd.Process.Signal(syscall.SIGSTOP)
	time.Sleep(200 * time.Millisecond)
	if len(spools()) == 0 {
		t.Fatal("the restore finished before the client was stopped: use a larger dump")
	}
	dst.Kill()
	left := spools()
	if len(left) == 0 {
		t.Fatal("the killed server left no spool file: nothing to check")
	}
	dst.Restart()
	if m := spools(); len(m) != 0 {
		t.Fatalf("spool files of the crashed restore survive a restart: %v", m)
	}
	if _, err := os.Stat(other); err != nil {
		t.Fatalf("a file that is no spool was removed: %v", err)
	}
	// The interrupted restore changed nothing; a new one works.
	if got := psql(t, dst, "select count(*) from information_schema.tables where table_schema = 'public'"); got != "0" {
		t.Fatalf("tables after the crashed restore: %s", got)
	}
	cli(t, dst, 0, "restore", "--input", f)
	sameContents(t, src, dst, "big")
}
