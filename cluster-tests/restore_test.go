package clustertests

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heliosdb/heliosdb-lite/internal/proctest"
)

// The restore CLI pointed at a follower restores through the leader: the
// leader makes the dump the cluster's snapshot in one step (raft's user
// restore) instead of the follower staging every batch through the log,
// and every node ends with exactly the dump's rows.
func TestRestoreThroughFollower(t *testing.T) {
	skipShort(t)
	c := NewCluster(t, 3, Options{})
	leader := c.Leader(10 * time.Second)
	mustExec(t, leader, "create table rt(id int primary key, v text)")
	mustExec(t, leader, "insert into rt select g, 'v' || g from generate_series(1, 3000) g")
	f := c.others(leader)[0]
	bin := proctest.Binary(t)
	cli := func(args ...string) (stdout, stderr string) {
		t.Helper()
		var o, e bytes.Buffer
		cmd := exec.Command(bin, append(args, "--host", "127.0.0.1", "--port", strconv.Itoa(f.PGPort))...)
		cmd.Stdout, cmd.Stderr = &o, &e
		if err := cmd.Run(); err != nil {
			t.Fatalf("heliosdb-lite %s: %v\n%s%s", strings.Join(args, " "), err, o.String(), e.String())
		}
		return o.String(), e.String()
	}
	file := filepath.Join(t.TempDir(), "rt.heliodump")
	cli("dump", "--output", file, "--compress", "lz4")
	mustExec(t, leader, "delete from rt where id > 1000")
	mustExec(t, leader, "insert into rt values (9000, 'after the dump')")

	out, errOut := cli("restore", "--input", file)
	if !strings.Contains(errOut, f.ID+" is a follower: restoring through the leader "+leader.ID) {
		t.Fatalf("restore did not go through the leader; stderr:\n%s", errOut)
	}
	if !strings.Contains(out, "Row-hash check: PASSED") {
		t.Fatalf("restore output:\n%s", out)
	}
	if !strings.Contains(leader.log(), "installed through raft's user restore") {
		t.Fatalf("the leader did not take the user-restore path:\n%s", tail(leader.log(), 3000))
	}
	// Raft ends a user restore with a no-op entry the FSM never sees, so
	// a node's applied index stays one below the commit index until the
	// next write (reads are not held up: they skip such entries).
	mustExec(t, leader, "create table after_restore(a int)")
	c.WaitForApplied(30 * time.Second)
	c.EnsureSame()
	conn, err := f.Connect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n, later int
	if err := conn.QueryRow(context.Background(), "select count(*), count(*) filter (where id = 9000) from rt").Scan(&n, &later); err != nil {
		t.Fatal(err)
	}
	if n != 3000 || later != 0 {
		t.Fatalf("after the restore the follower has %d rows (%d written after the dump), want the dump's 3000", n, later)
	}
	// The node id a session sees is the server's, and read-only.
	var id string
	if err := conn.QueryRow(context.Background(), "show heliosdb.node_id").Scan(&id); err != nil || id != f.ID {
		t.Fatalf("SHOW heliosdb.node_id = %q, %v; want %s", id, err, f.ID)
	}
	if _, err := conn.Exec(context.Background(), "set heliosdb.node_id = 'x'"); err == nil {
		t.Fatal("SET heliosdb.node_id succeeded")
	}
}
