package clienttests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/heliosdb/heliosdb-lite/internal/proctest"
)

const pg15Bin = "/usr/lib/postgresql/15/bin"

// startPG15 starts a throwaway PostgreSQL 15 cluster (fsync on) on a free
// port and returns the port; it is stopped and removed when the test ends.
// initdb refuses to run as root, so as root the server runs as postgres.
func startPG15(t *testing.T) int {
	t.Helper()
	need(t, filepath.Join(pg15Bin, "initdb"))
	dir, err := os.MkdirTemp("", "pg15-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	asPG := func(args ...string) []string { return args }
	if os.Geteuid() == 0 {
		if err := exec.Command("chown", "postgres", dir).Run(); err != nil {
			t.Fatal(err)
		}
		asPG = func(args ...string) []string { return append([]string{"runuser", "-u", "postgres", "--"}, args...) }
	}
	port := proctest.FreePort(t)
	data := filepath.Join(dir, "data")
	run := func(args ...string) {
		t.Helper()
		a := asPG(args...)
		mustRun(t, 2*time.Minute, dir, os.Environ(), a[0], a[1:]...)
	}
	run(filepath.Join(pg15Bin, "initdb"), "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8")
	run(filepath.Join(pg15Bin, "pg_ctl"), "-D", data, "-l", filepath.Join(dir, "log"), "-w", "-o",
		"-p "+strconv.Itoa(port)+" -k "+dir+" -c listen_addresses=127.0.0.1 -c timezone=UTC", "start")
	t.Cleanup(func() {
		a := asPG(filepath.Join(pg15Bin, "pg_ctl"), "-D", data, "-m", "fast", "-w", "stop")
		_ = exec.Command(a[0], a[1:]...).Run()
	})
	return port
}
