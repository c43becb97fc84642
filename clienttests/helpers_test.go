package clienttests

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heliosdb/heliosdb-lite/internal/proctest"
)

var rewrite = flag.Bool("rewrite", false, "rewrite golden files from a throwaway PostgreSQL 15")

// need skips the test when a client program is not installed.
func need(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Skipf("%s not installed (%v); CI installs it through .ci/run", path, err)
	}
}

// startMemory starts an in-memory node for one test.
func startMemory(t *testing.T) *proctest.Node {
	t.Helper()
	return proctest.Start(t, "node", "--memory")
}

// pgEnv is the environment that points libpq clients at host:port.
func pgEnv(port int) []string {
	env := []string{"PGHOST=127.0.0.1", "PGPORT=" + strconv.Itoa(port), "PGUSER=postgres", "PGDATABASE=postgres",
		"PGSSLMODE=disable", "PGCONNECT_TIMEOUT=10", "PSQLRC=/dev/null", "PGTZ=UTC", "LC_ALL=C.UTF-8"}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") && !strings.HasPrefix(kv, "LC_") {
			env = append(env, kv)
		}
	}
	return env
}

// runCmd runs a client program with a deadline, stdout and stderr
// interleaved in one buffer as a terminal would show them.
func runCmd(t *testing.T, timeout time.Duration, dir string, env []string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir, cmd.Env = dir, env
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("%s %v: timed out after %v\n%s", name, args, timeout, out.String())
	}
	return out.String(), err
}

// mustRun is runCmd that fails the test on a non-zero exit.
func mustRun(t *testing.T, timeout time.Duration, dir string, env []string, name string, args ...string) string {
	t.Helper()
	out, err := runCmd(t, timeout, dir, env, name, args...)
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return out
}
