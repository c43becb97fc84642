package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/heliosdb/heliosdb-lite/engine"
	"github.com/heliosdb/heliosdb-lite/snapshot"
)

func dumpOf(t *testing.T, c *pgx.Conn, opts string) []byte {
	t.Helper()
	var buf bytes.Buffer
	q := "COPY heliosdb.dump TO STDOUT"
	if opts != "" {
		q += " WITH (" + opts + ")"
	}
	if _, err := c.PgConn().CopyTo(context.Background(), &buf, q); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func restoreInto(c *pgx.Conn, file []byte, opts string) (string, error) {
	q := "COPY heliosdb.restore FROM STDIN"
	if opts != "" {
		q += " WITH (" + opts + ")"
	}
	tag, err := c.PgConn().CopyFrom(context.Background(), bytes.NewReader(file), q)
	return tag.String(), err
}

func count(t *testing.T, c *pgx.Conn, q string) int64 {
	t.Helper()
	var n int64
	if err := c.QueryRow(context.Background(), q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// stateDigest summarises every table (hidden ones included) of a state.
func stateDigest(s *engine.Snapshot) string {
	var b strings.Builder
	for _, name := range s.AllTableNames() {
		t, _ := s.Table(name)
		fmt.Fprintf(&b, "%s %d/%016x;", name, t.Len(), t.HashSum())
	}
	return b.String()
}

// TestSnapshotRestoreCluster: a clean restore of a whole dump on the leader
// goes through raft's user restore: the old tables are replaced (a table
// the dump lacks is dropped), a concurrent reader sees the old or the new
// table and nothing in between, every replica ends identical (restore
// marker included), writes go on afterwards, an increment restores on top
// of it, an incremental dump since an LSN before the restore is refused,
// and a damaged file changes nothing.
func TestSnapshotRestoreCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	nodes, _ := startCluster(t, 3)
	ctx := context.Background()
	var leader *Node
	waitFor(t, 10*time.Second, "a leader", func() bool {
		for _, n := range nodes {
			if n.repl.IsLeader() {
				leader = n
				return true
			}
		}
		return false
	})
	var follower *Node
	for _, n := range nodes {
		if n != leader {
			follower = n
			break
		}
	}
	c := connect(t, leader)
	for _, q := range []string{
		"create table a (id bigint primary key, v text)",
		"insert into a select g, 'v' || g from generate_series(1, 3000) g",
		"create table b (id int primary key)",
		"insert into b values (1), (2)",
	} {
		if _, err := c.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	base := dumpOf(t, c, "compress 'lz4'")
	oldLSN := leader.eng.LSN()
	// More writes after the dump: more rows in a, a new table, b dropped.
	for _, q := range []string{
		"insert into a select g, 'w' || g from generate_series(3001, 5000) g",
		"create table extra (id int primary key)",
		"insert into extra values (7)",
		"drop table b",
	} {
		if _, err := c.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	inc := dumpOf(t, c, "compress 'none', since_lsn '"+strconv.FormatUint(oldLSN, 10)+"'")
	if _, err := c.Exec(ctx, "insert into a values (9999, 'after the increment')"); err != nil {
		t.Fatal(err)
	}

	// A damaged file changes nothing.
	bad := bytes.Clone(base)
	bad[len(bad)/2] ^= 0xff
	before := stateDigest(leader.eng.Snapshot())
	if _, err := restoreInto(c, bad, ""); err == nil {
		t.Fatal("a damaged dump was restored")
	}
	if got := stateDigest(leader.eng.Snapshot()); got != before {
		t.Fatalf("a refused restore changed the state:\n%s\n%s", before, got)
	}

	// A reader through a follower sees a with 5001 rows, then 3000.
	rc := connect(t, follower)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var seen sync.Map
	var reads atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			var n int64
			if err := rc.QueryRow(ctx, "select count(*) from a").Scan(&n); err == nil {
				seen.Store(n, true)
				reads.Add(1)
			}
		}
	}()
	waitFor(t, 10*time.Second, "reads", func() bool { return reads.Load() > 3 })
	tag, err := restoreInto(c, base, "")
	if err != nil {
		close(stop)
		wg.Wait()
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the follower to see the restore", func() bool {
		_, ok := follower.eng.Snapshot().Table(engine.RestoreStateTable)
		return ok
	})
	r0 := reads.Load()
	waitFor(t, 10*time.Second, "reads after the restore", func() bool { return reads.Load() > r0+3 })
	close(stop)
	wg.Wait()
	seen.Range(func(k, _ any) bool {
		if n := k.(int64); n != 5001 && n != 3000 {
			t.Errorf("a reader saw %d rows in a: half a restore", n)
		}
		return true
	})
	if !strings.Contains(tag, "tables=2 rows=3002 verified=2 mismatched=0") {
		t.Fatalf("tag %q", tag)
	}
	if n := count(t, c, "select count(*) from a"); n != 3000 {
		t.Fatalf("a holds %d rows after the restore, want 3000", n)
	}
	if n := count(t, c, "select count(*) from b"); n != 2 {
		t.Fatalf("b holds %d rows after the restore, want 2", n)
	}
	if _, err := c.Exec(ctx, "select * from extra"); err == nil {
		t.Fatal("table extra survived a clean restore of a dump without it")
	}
	snap := leader.eng.Snapshot()
	if snap.LSN() < oldLSN+restoreIndexGap {
		t.Fatalf("LSN %d after the restore: it did not go through raft's user restore", snap.LSN())
	}
	if at, _, ok := restoredLSN(snap); !ok || at == 0 {
		t.Fatalf("restore marker missing (%d, %v)", at, ok)
	}
	// An incremental dump since before the restore would miss the restore's
	// changes: refused.
	var buf bytes.Buffer
	if _, err := c.PgConn().CopyTo(ctx, &buf, "COPY heliosdb.dump TO STDOUT WITH (since_lsn '"+strconv.FormatUint(oldLSN, 10)+"')"); err == nil {
		t.Fatal("an incremental dump since an LSN before the restore was allowed")
	}

	// The increment applies on top of the restored base.
	if _, err := restoreInto(c, inc, "mode 'append'"); err != nil {
		t.Fatal(err)
	}
	if n := count(t, c, "select count(*) from a"); n != 5000 {
		t.Fatalf("a holds %d rows after the increment, want 5000", n)
	}
	// Writes go on and every replica ends identical.
	if _, err := c.Exec(ctx, "insert into a values (123456, 'after')"); err != nil {
		t.Fatal(err)
	}
	want := leader.eng.Snapshot()
	for _, n := range nodes {
		waitFor(t, 10*time.Second, "replicas to catch up", func() bool { return n.eng.LSN() >= want.LSN() })
		if got, w := stateDigest(n.eng.Snapshot()), stateDigest(want); got != w {
			t.Fatalf("node %s differs:\n%s\n%s", n.cfg.Server.NodeID, got, w)
		}
	}
	// A restore through a follower (the staged path) works too.
	fc := connect(t, follower)
	if tag, err := restoreInto(fc, base, ""); err != nil || !strings.Contains(tag, "mismatched=0") {
		t.Fatalf("restore through a follower: %q %v", tag, err)
	}
	if n := count(t, c, "select count(*) from a"); n != 3000 {
		t.Fatalf("a holds %d rows after the follower's restore, want 3000", n)
	}
}

// diskNodeWithRows starts a single node with a data directory, waits for
// it to lead and fills table a (id bigint primary key, v text) with rows
// 1..rows.
func diskNodeWithRows(t *testing.T, rows int) (Config, *Node, *pgx.Conn) {
	t.Helper()
	c := DefaultConfig()
	c.Server.Port = 0
	c.Server.DataDir = t.TempDir()
	n := startNode(t, c)
	waitFor(t, 10*time.Second, "leader", n.repl.IsLeader)
	conn := connect(t, n)
	for _, q := range []string{
		"create table a (id bigint primary key, v text)",
		"insert into a select g, 'v' || g from generate_series(1, " + strconv.Itoa(rows) + ") g",
	} {
		if _, err := conn.Exec(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	}
	return c, n, conn
}

// TestSnapshotRestoreSurvivesRestart: a single node with a data directory
// restores a dump through raft's user restore, takes writes, restarts
// from its snapshot store and log, and holds the same state.
func TestSnapshotRestoreSurvivesRestart(t *testing.T) {
	c, n, conn := diskNodeWithRows(t, 2000)
	ctx := context.Background()
	file := dumpOf(t, conn, "compress 'zstd'")
	if _, err := conn.Exec(ctx, "insert into a values (5000, 'gone after the restore')"); err != nil {
		t.Fatal(err)
	}
	before := n.eng.LSN()
	if _, err := restoreInto(conn, file, ""); err != nil {
		t.Fatal(err)
	}
	if n.eng.LSN() < before+restoreIndexGap {
		t.Fatalf("LSN %d: the restore did not go through raft's user restore", n.eng.LSN())
	}
	// The snapshot record of the adopted spool holds what its segments
	// say (given by the restore, not read back).
	tip, ok := n.chains.Tip()
	if !ok {
		t.Fatal("no snapshot recorded")
	}
	cf, err := os.Open(filepath.Join(c.Server.DataDir, "snapshots", "chains", tip.Chain))
	if err != nil {
		t.Fatal(err)
	}
	scan, err := snapshot.ScanSegments(cf, tip.Length)
	cf.Close()
	if err != nil || len(scan.Segments) != tip.Segments || scan.Segments[0].End != tip.BaseBytes || scan.Segments[len(scan.Segments)-1].Header.LastLSN != tip.LastLSN {
		t.Fatalf("snapshot record %+v, the file's segments %+v (%v)", tip, scan, err)
	}
	if _, err := conn.Exec(ctx, "insert into a values (6000, 'after the restore')"); err != nil {
		t.Fatal(err)
	}
	want := stateDigest(n.eng.Snapshot())
	wantLSN := n.eng.LSN()
	conn.Close(ctx)
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	n2 := startNode(t, c)
	waitFor(t, 10*time.Second, "leader after restart", n2.repl.IsLeader)
	waitFor(t, 10*time.Second, "the log replayed", func() bool { return n2.eng.LSN() >= wantLSN })
	if got := stateDigest(n2.eng.Snapshot()); got != want {
		t.Fatalf("after restart:\n%s\nwant\n%s", got, want)
	}
	c2 := connect(t, n2)
	if got := count(t, c2, "select count(*) from a"); got != 2001 {
		t.Fatalf("a holds %d rows after restart, want 2001", got)
	}
}

// TestRestoreDiskFull: a disk that fills up while the server keeps the
// incoming dump fails the restore with SQLSTATE 53100 and a message about
// this server's disk (not a damaged file), changes nothing, and leaves no
// spool file behind; with room again the same restore succeeds.
func TestRestoreDiskFull(t *testing.T) {
	c, _, conn := diskNodeWithRows(t, 20000)
	ctx := context.Background()
	file := dumpOf(t, conn, "compress 'none'")
	if _, err := conn.Exec(ctx, "delete from a where id > 10"); err != nil {
		t.Fatal(err)
	}
	spoolTestLimit = int64(len(file) / 2)
	_, err := restoreInto(conn, file, "")
	spoolTestLimit = 0
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "53100" || !strings.Contains(pe.Message, "could not keep the incoming dump") || !strings.Contains(pe.Message, "no space left on device") {
		t.Fatalf("restore onto a full disk: %v, want SQLSTATE 53100 about the server's disk", err)
	}
	if got := count(t, conn, "select count(*) from a"); got != 10 {
		t.Fatalf("a holds %d rows after the failed restore, want the 10 it had", got)
	}
	if left, _ := filepath.Glob(filepath.Join(c.Server.DataDir, "restore-*")); len(left) != 0 {
		t.Fatalf("spool files left behind: %v", left)
	}
	if _, err := restoreInto(conn, file, ""); err != nil {
		t.Fatal(err)
	}
	if got := count(t, conn, "select count(*) from a"); got != 20000 {
		t.Fatalf("a holds %d rows after the restore, want 20000", got)
	}
}
