package clustertests

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heliosdb/heliosdb-lite/internal/proctest"
)

// TestDumpDatabaseIDShared: every node of a cluster records the same
// database id in its dumps, across a leader change, so an increment taken
// from any node continues a file dumped from another (the id is created on
// the first dump, here on a follower, and replicated).
func TestDumpDatabaseIDShared(t *testing.T) {
	skipShort(t)
	c := NewCluster(t, 3, Options{})
	leader := c.Leader(10 * time.Second)
	mustExec(t, leader, "create table d(id int primary key, v text)")
	mustExec(t, leader, "insert into d select g, 'v' || g from generate_series(1, 500) g")
	bin := proctest.Binary(t)
	cli := func(nd *Node, args ...string) string {
		t.Helper()
		var o, e bytes.Buffer
		cmd := exec.Command(bin, append(args, "--host", "127.0.0.1", "--port", strconv.Itoa(nd.PGPort))...)
		cmd.Stdout, cmd.Stderr = &o, &e
		if err := cmd.Run(); err != nil {
			t.Fatalf("heliosdb-lite %s on %s: %v\n%s%s", strings.Join(args, " "), nd.ID, err, o.String(), e.String())
		}
		return o.String()
	}
	others := c.others(leader)
	file := filepath.Join(t.TempDir(), "d.heliodump")
	cli(others[0], "dump", "--output", file)
	mustExec(t, leader, "insert into d values (1000, 'x')")
	cli(others[1], "dump", "--output", file, "--append")
	leader.Kill()
	next := c.Leader(30 * time.Second)
	mustExec(t, next, "insert into d values (1001, 'y')")
	cli(next, "dump", "--output", file, "--append")

	out, err := exec.Command(bin, "inspect", "--input", file).CombinedOutput()
	if err != nil {
		t.Fatalf("inspect: %v\n%s", err, out)
	}
	var ids []string
	for _, m := range regexp.MustCompile(`Source: cluster "([^"]*)"`).FindAllStringSubmatch(string(out), -1) {
		ids = append(ids, m[1])
	}
	if len(ids) != 3 || ids[0] == "" || ids[1] != ids[0] || ids[2] != ids[0] {
		t.Fatalf("database ids of the segments dumped from three nodes: %q\n%s", ids, out)
	}
}
