package node

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/heliosdb/heliosdb-lite/snapshot"
)

func TestDueTick(t *testing.T) {
	spec, err := parseCron("0 */6 * * *")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 21, 13, 5, 0, 0, time.UTC)
	if got := dueTick(spec, now); !got.Equal(time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)) {
		t.Fatalf("due = %v", got)
	}
	at := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	if got := dueTick(spec, at); !got.Equal(at) {
		t.Fatalf("a tick is due at its own minute: %v", got)
	}
}

func backupFiles(t *testing.T, dir string) []string {
	t.Helper()
	fs, err := filepath.Glob(filepath.Join(dir, "*.heliodump"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range fs {
		fs[i] = filepath.Base(fs[i])
	}
	sort.Strings(fs)
	return fs
}

// TestScheduledClusterDump: with a schedule, the leader (alone) proposes one
// cluster dump for the due tick and every node writes the same file; a
// second marker for the same tick (a deposed leader's) is ignored on every
// node; after a leader change the new leader does not repeat the tick.
func TestScheduledClusterDump(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	nodes, _ := startCluster(t, 3, func(c *Config) { c.Dump.Schedule = "* * * * *" })
	for _, n := range nodes {
		if err := n.StartDumpSchedule(); err != nil && n.cfg.Dump.Schedule == "" {
			t.Fatal(err)
		}
	}
	waitFor(t, 30*time.Second, "one scheduled dump on every node", func() bool {
		for _, n := range nodes {
			if len(backupFiles(t, n.cfg.Dump.BackupDir)) == 0 {
				return false
			}
		}
		return true
	})
	tick := nodes[0].sched.lastTick.Load()
	for _, n := range nodes {
		if n.sched.lastTick.Load() != tick {
			t.Fatalf("nodes disagree on the last tick")
		}
	}
	// A second marker for the same tick: skipped everywhere, no new file.
	before := backupFiles(t, nodes[0].cfg.Dump.BackupDir)
	var leader *Node
	for _, n := range nodes {
		if n.repl.IsLeader() {
			leader = n
		}
	}
	res, err := leader.ClusterDump(context.Background(), ClusterDumpOptions{Compression: "lz4", Wait: 20 * time.Second, ScheduledTick: tick})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Records {
		if r.Status != "skipped" {
			t.Fatalf("duplicate tick not skipped on %s: %+v", r.Node, r)
		}
	}
	// Same files on every node; the duplicate wrote nothing. Each file
	// records the database id (dump --append refuses another database's
	// file by it).
	dbid := databaseID(nodes[0].eng.Snapshot())
	if dbid == "" {
		t.Fatal("a cluster dump left the database without an id")
	}
	for _, n := range nodes {
		got := backupFiles(t, n.cfg.Dump.BackupDir)
		if len(got) < len(before) || got[0] != before[0] {
			t.Fatalf("%s holds %v, n1 held %v", n.cfg.Server.NodeID, got, before)
		}
		f, err := os.Open(filepath.Join(n.cfg.Dump.BackupDir, got[0]))
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := f.Stat()
		sr, err := snapshot.ScanSegments(f, fi.Size())
		f.Close()
		if err != nil || len(sr.Segments) == 0 || sr.Segments[0].Header.ClusterID != dbid {
			t.Fatalf("%s's %s: database id not recorded (want %s): %+v %v", n.cfg.Server.NodeID, got[0], dbid, sr, err)
		}
	}
	// Leader change: the new leader sees the tick as done.
	_ = leader.Close()
	var newLeader *Node
	waitFor(t, 20*time.Second, "a new leader", func() bool {
		for _, n := range nodes {
			if n != leader && n.repl.IsLeader() {
				newLeader = n
				return true
			}
		}
		return false
	})
	newLeader.clusterScheduleTick(mustCron(t, "* * * * *"), time.Unix(tick, 0).Add(30*time.Second))
	if got := backupFiles(t, newLeader.cfg.Dump.BackupDir); len(got) != len(backupFiles(t, newLeader.cfg.Dump.BackupDir)) || newLeader.sched.lastTick.Load() != tick {
		t.Fatalf("new leader repeated the tick: %v", got)
	}
}

func mustCron(t *testing.T, s string) *cronSpec {
	t.Helper()
	c, err := parseCron(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
