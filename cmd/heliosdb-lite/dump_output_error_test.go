package main

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/heliosdb/heliosdb-lite/internal/proctest"
)

// TestDumpOutputFull: when the output fills up (standard output on
// /dev/full, which fails every write with ENOSPC) in the middle of a
// dump, the error names the output and the disk error, not the
// connection, and the exit code is non-zero.
func TestDumpOutputFull(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("no /dev/full on this system: %v", err)
	}
	defer full.Close()
	n := proctest.Start(t, "src", "--memory")
	if out, err := execPsql(n.Port, "create table t(id int primary key, s text); insert into t select g, md5(g::text) || md5((g+1)::text) from generate_series(1, 60000) g"); err != nil {
		t.Fatalf("psql: %v\n%s", err, out)
	}
	cmd := exec.Command(proctest.Binary(t), "dump", "--output", "-", "--compress", "none", "--host", "127.0.0.1", "--port", strconv.Itoa(n.Port))
	var se strings.Builder
	cmd.Stdout, cmd.Stderr = full, &se
	err = cmd.Run()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() == 0 {
		t.Fatalf("dump to a full output: %v, want a non-zero exit\nstderr:\n%s", err, se.String())
	}
	if msg := se.String(); !strings.Contains(msg, "writing to standard output failed") || !strings.Contains(msg, "no space left") || strings.Contains(msg, "connection") {
		t.Fatalf("dump to a full output said:\n%s", msg)
	}
}
