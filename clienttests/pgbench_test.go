package clienttests

import (
	"context"
	"regexp"
	"strconv"
	"testing"
	"time"
)

const pgbenchBin = "/usr/bin/pgbench"

var failedRE = regexp.MustCompile(`number of failed transactions: (\d+)`)
var processedRE = regexp.MustCompile(`number of transactions actually processed: (\d+)`)

// pgbenchRun runs pgbench and checks it processed transactions with none
// failed. It returns the output (TPS figures are logged, never asserted).
func pgbenchRun(t *testing.T, port int, args ...string) string {
	t.Helper()
	out := mustRun(t, 2*time.Minute, "", pgEnv(port), pgbenchBin, args...)
	if m := failedRE.FindStringSubmatch(out); m == nil || m[1] != "0" {
		t.Errorf("pgbench %v: failed transactions:\n%s", args, out)
	}
	if m := processedRE.FindStringSubmatch(out); m == nil || m[1] == "0" {
		t.Errorf("pgbench %v: nothing processed:\n%s", args, out)
	}
	return out
}

// TestPgbench initializes scale 1, runs the TPC-B-like script with 4
// clients, select-only and prepared mode, then checks the bank invariant:
// every delta in history is applied exactly once to accounts, tellers and
// branches.
func TestPgbench(t *testing.T) {
	need(t, pgbenchBin)
	n := startMemory(t)
	mustRun(t, 2*time.Minute, "", pgEnv(n.Port), pgbenchBin, "-i", "-s", "1", "-q")
	out := pgbenchRun(t, n.Port, "-c", "4", "-j", "2", "-T", "10", "-n")
	t.Logf("TPC-B-like, 4 clients:\n%s", out)
	out = pgbenchRun(t, n.Port, "-c", "4", "-j", "2", "-T", "3", "-S", "-n")
	t.Logf("select-only:\n%s", out)
	out = pgbenchRun(t, n.Port, "-c", "4", "-j", "2", "-T", "3", "-M", "prepared", "-n")
	t.Logf("prepared:\n%s", out)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := n.Connect(ctx)
	var acc, tel, br, hist, nhist, naccts int64
	err := c.QueryRow(ctx, `SELECT (SELECT sum(abalance) FROM pgbench_accounts), (SELECT sum(tbalance) FROM pgbench_tellers),
		(SELECT sum(bbalance) FROM pgbench_branches), (SELECT coalesce(sum(delta), 0) FROM pgbench_history),
		(SELECT count(*) FROM pgbench_history), (SELECT count(*) FROM pgbench_accounts)`).Scan(&acc, &tel, &br, &hist, &nhist, &naccts)
	if err != nil {
		t.Fatal(err)
	}
	if acc != hist || tel != hist || br != hist || nhist == 0 || naccts != 100000 {
		t.Fatalf("invariant broken: accounts %d tellers %d branches %d history %d (%d rows, %d accounts)", acc, tel, br, hist, nhist, naccts)
	}
	t.Logf("invariant holds over %s history rows", strconv.FormatInt(nhist, 10))
}
