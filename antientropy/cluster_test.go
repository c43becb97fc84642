package antientropy_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heliosdb/heliosdb-lite/antientropy"
	"github.com/heliosdb/heliosdb-lite/engine"
	"github.com/heliosdb/heliosdb-lite/replication"
)

func seed(t testing.TB) uint64 {
	s := uint64(time.Now().UnixNano())
	if v := os.Getenv("AE_SEED"); v != "" {
		s, _ = strconv.ParseUint(v, 10, 64)
	}
	t.Logf("seed %d (replay with AE_SEED=%d)", s, s)
	return s
}

// writer upserts random keys in [0, keys) through a random node until
// stopped, remembering the last acknowledged value of every key.
type writer struct {
	c      *tcluster
	offset int64 // added to every key
	keys   int64
	stop   chan struct{}
	done   sync.WaitGroup
	acked  sync.Map // id -> value
	n      atomic.Int64
}

func startWriters(c *tcluster, keys, offset int64, workers int, s uint64) *writer {
	w := &writer{c: c, keys: keys, offset: offset, stop: make(chan struct{})}
	for g := range workers {
		w.done.Add(1)
		go func() {
			defer w.done.Done()
			rng := rand.New(rand.NewPCG(s, uint64(g)))
			for seq := 0; ; seq++ {
				select {
				case <-w.stop:
					return
				default:
				}
				// Each worker owns the keys congruent to g, so the last
				// acknowledged value per key is well defined.
				id := int64(rng.IntN(int(keys)/workers))*int64(workers) + int64(g) + w.offset
				v := fmt.Sprintf("w%d-%d", g, seq)
				via := c.nodes[rng.IntN(len(c.nodes))]
				if _, err := c.apply(via, &engine.ChangeSet{Ops: []engine.Op{upsert(c.t, id, v)}}); err == nil {
					w.acked.Store(id, v)
					w.n.Add(1)
				} else {
					w.acked.Delete(id) // outcome unknown: nothing to check
				}
			}
		}()
	}
	return w
}

func (w *writer) halt() { close(w.stop); w.done.Wait() }

// checkAcked verifies every acknowledged write is on every node.
func (w *writer) checkAcked(t *testing.T) {
	t.Helper()
	w.acked.Range(func(k, v any) bool {
		for _, tn := range w.c.nodes {
			tab, _ := tn.eng.Snapshot().Table("kv")
			r, ok := tab.Get(kvKey(k.(int64)))
			if !ok {
				t.Fatalf("%s: acknowledged write to %d lost (row absent)", tn.id, k)
			}
			row, _ := r.Decode()
			if row[1] != v {
				t.Fatalf("%s: acknowledged write to %d lost: have %v want %v", tn.id, k, row[1], v)
			}
		}
		return true
	})
}

func mustRound(t *testing.T, tn *tnode) *antientropy.Report {
	t.Helper()
	rep, err := tn.runner.RunNow(ctxT(t, 60*time.Second))
	if err != nil {
		t.Fatalf("round on %s: %v", tn.id, err)
	}
	return rep
}

func assertClean(t *testing.T, rep *antientropy.Report) {
	t.Helper()
	if len(rep.Differences) != 0 || rep.Error != "" {
		t.Fatalf("expected a clean round, got %d differences (%v), error %q", len(rep.Differences), rep.DiffKeys(), rep.Error)
	}
	var root uint64
	for i, n := range rep.Nodes {
		if n.Status != antientropy.StatusOK {
			t.Fatalf("node %s status %s", n.ID, n.Status)
		}
		if i == 0 {
			root = n.Roots["kv"]
		} else if n.Roots["kv"] != root {
			t.Fatalf("roots differ in a clean round: %+v", rep.Nodes)
		}
	}
}

func TestCorruptFollowerRepairedUnderWrites(t *testing.T) {
	c := newCluster(t, 3)
	c.load(3000)
	l := c.leader()
	bad := c.follower()
	// Behind raft's back: change 3 rows, delete 2, add 2.
	for _, id := range []int64{10, 20, 30} {
		if err := bad.eng.DebugPutRow("kv", kvKey(id), kvRow(t, id, "corrupt"), false); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []int64{40, 50} {
		if err := bad.eng.DebugDeleteRow("kv", kvKey(id)); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []int64{100001, 100002} {
		if err := bad.eng.DebugPutRow("kv", kvKey(id), kvRow(t, id, "ghost"), false); err != nil {
			t.Fatal(err)
		}
	}
	// Writers keep going during detection and repair (on keys 0..255 of
	// their own, offset past the corrupted ones).
	w := startWriters(c, 256, 1000, 4, seed(t))
	// A write to a corrupted key after the marker, before the repair: the
	// repair must leave it alone on every node.
	var afterMarker uint64
	antientropy.SetBeforeRepair(l.runner, func(uint64) {
		idx, err := c.apply(l, &engine.ChangeSet{Ops: []engine.Op{upsert(t, 30, "after-marker")}})
		if err != nil {
			t.Error(err)
		}
		afterMarker = idx
	})
	time.Sleep(50 * time.Millisecond)
	rep := mustRound(t, l)
	rep.WriteText(testWriter{t})
	want := hexKeys(10, 20, 30, 40, 50, 100001, 100002)
	if got := rep.DiffKeys(); !slices.Equal(got, want) {
		t.Fatalf("differing keys %v, want %v", got, want)
	}
	for _, d := range rep.Differences {
		if d.Action != "repaired" {
			t.Fatalf("key %s: action %q", d.Key, d.Action)
		}
	}
	if rep.Repaired != len(want) {
		t.Fatalf("repaired %d, want %d", rep.Repaired, len(want))
	}
	time.Sleep(50 * time.Millisecond)
	w.halt()
	t.Logf("%d writes acknowledged during the round", w.n.Load())
	assertClean(t, mustRound(t, c.leader()))
	c.ensureSame()
	w.checkAcked(t)
	for _, tn := range c.nodes {
		tab, _ := tn.eng.Snapshot().Table("kv")
		r, _ := tab.Get(kvKey(30))
		row, _ := r.Decode()
		if row[1] != "after-marker" || r.LSN != afterMarker {
			t.Fatalf("%s: key 30 = %v at LSN %d; the write after the marker (LSN %d) must survive the repair", tn.id, row[1], r.LSN, afterMarker)
		}
	}
}

func TestHealthyClusterNoFalseAlarms(t *testing.T) {
	c := newCluster(t, 3)
	c.load(2000)
	w := startWriters(c, 5000, 0, 4, seed(t))
	rounds := 12
	if testing.Short() {
		rounds = 4
	}
	for i := range rounds {
		var rep *antientropy.Report
		var err error
		// A round that fails because leadership moved (a loaded machine
		// misses heartbeats) is not a false alarm: run it on the new leader.
		for try := 0; try < 5; try++ {
			if i%3 == 2 {
				rep, err = c.leader().runner.RunRebuild(ctxT(t, 60*time.Second))
			} else {
				rep, err = c.leader().runner.RunNow(ctxT(t, 60*time.Second))
			}
			if !replication.IsRetryable(err) && !errors.Is(err, antientropy.ErrNotLeader) {
				break
			}
			t.Logf("round %d: %v; retrying on the current leader", i, err)
		}
		if err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		if len(rep.Differences) != 0 || len(rep.Fenced) != 0 {
			t.Fatalf("round %d: false alarm: %v", i, rep.DiffKeys())
		}
		for _, n := range rep.Nodes {
			if len(n.Corrupt) != 0 {
				t.Fatalf("round %d: %s reports corrupt tables %v", i, n.ID, n.Corrupt)
			}
			if i == 0 && n.Bytes > 1024 {
				t.Errorf("clean round exchanged %d bytes with %s (target < 1 KB)", n.Bytes, n.ID)
			}
		}
	}
	w.halt()
	t.Logf("%d writes during %d rounds", w.n.Load(), rounds)
	c.ensureSame()
}

func TestDivergentLeader(t *testing.T) {
	c := newCluster(t, 3)
	c.load(1000)
	old := c.leader()
	for _, id := range []int64{7, 8} {
		if err := old.eng.DebugPutRow("kv", kvKey(id), kvRow(t, id, "leader-corrupt"), false); err != nil {
			t.Fatal(err)
		}
	}
	rep := mustRound(t, old)
	if rep.TransferredTo == "" || rep.TransferredTo == old.id {
		t.Fatalf("expected a leadership transfer, report: %+v", rep)
	}
	if got, want := rep.DiffKeys(), hexKeys(7, 8); !slices.Equal(got, want) {
		t.Fatalf("differing keys %v, want %v", got, want)
	}
	var nl *tnode
	for _, tn := range c.nodes {
		if tn.id == rep.TransferredTo {
			nl = tn
		}
	}
	// The new leader was triggered; wait for its repair round.
	eventually(t, 30*time.Second, "the new leader's repair round", func() bool {
		last := nl.runner.Last()
		return last != nil && last.Repaired == 2
	})
	eventually(t, 30*time.Second, "a clean round", func() bool {
		l := c.leaderNow()
		if l == nil {
			return false
		}
		rep, err := l.runner.RunNow(ctxT(t, 30*time.Second))
		return err == nil && len(rep.Differences) == 0
	})
	c.ensureSame()
}

func TestNoMajorityFences(t *testing.T) {
	c := newCluster(t, 3)
	c.load(500)
	l := c.leader()
	var followers []*tnode
	for _, tn := range c.nodes {
		if tn != l {
			followers = append(followers, tn)
		}
	}
	for i, f := range followers {
		if err := f.eng.DebugPutRow("kv", kvKey(5), kvRow(t, 5, fmt.Sprintf("split-%d", i)), false); err != nil {
			t.Fatal(err)
		}
	}
	rep := mustRound(t, l)
	if got, want := rep.DiffKeys(), hexKeys(5); !slices.Equal(got, want) {
		t.Fatalf("differing keys %v, want %v", got, want)
	}
	if rep.Differences[0].Majority != "" || rep.Repaired != 0 {
		t.Fatalf("expected no majority and no repair: %+v", rep.Differences[0])
	}
	want := []string{followers[0].id, followers[1].id}
	slices.Sort(want)
	if !slices.Equal(rep.Fenced, want) {
		t.Fatalf("fenced %v, want %v", rep.Fenced, want)
	}
	for _, f := range followers {
		if on, reason := f.replica.Fenced(); !on {
			t.Fatalf("%s not fenced", f.id)
		} else {
			t.Logf("%s fenced: %s", f.id, reason)
		}
	}
	if on, _ := l.replica.Fenced(); on {
		t.Fatal("leader fenced")
	}
	// An operator fixes the row by writing it through the log; the next
	// clean round lifts the fences.
	if _, err := c.apply(l, &engine.ChangeSet{Ops: []engine.Op{upsert(t, 5, "fixed")}}); err != nil {
		t.Fatal(err)
	}
	rep = mustRound(t, l)
	assertClean(t, rep)
	if !slices.Equal(rep.Unfenced, want) {
		t.Fatalf("unfenced %v, want %v", rep.Unfenced, want)
	}
	for _, f := range followers {
		if on, _ := f.replica.Fenced(); on {
			t.Fatalf("%s still fenced", f.id)
		}
	}
}

func TestRestoredFromOldState(t *testing.T) {
	c := newCluster(t, 3)
	c.load(2000)
	bad := c.follower()
	old := bad.eng.Snapshot()
	// 600 rows change after the "dump".
	l := c.leader()
	cs := &engine.ChangeSet{}
	for i := range 600 {
		cs.Ops = append(cs.Ops, upsert(t, int64(i*3), "newer"))
	}
	if _, err := c.apply(l, cs); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "bad node caught up", func() bool { return bad.eng.LSN() >= l.eng.LSN() })
	if err := bad.eng.DebugRestoreRows(old); err != nil {
		t.Fatal(err)
	}
	rep := mustRound(t, l)
	if len(rep.Differences) != 600 || rep.Repaired != 600 {
		t.Fatalf("differences %d repaired %d, want 600", len(rep.Differences), rep.Repaired)
	}
	assertClean(t, mustRound(t, l))
	c.ensureSame()
}

func TestBitRotFoundByRebuild(t *testing.T) {
	c := newCluster(t, 3)
	c.load(1000)
	l := c.leader()
	bad := c.follower()
	// Stored bytes change but the stored hash and leaves do not: only a
	// rebuild from the rows can see it.
	if err := bad.eng.DebugPutRow("kv", kvKey(77), kvRow(t, 77, "rotten"), true); err != nil {
		t.Fatal(err)
	}
	if rep := mustRound(t, l); len(rep.Differences) != 0 {
		t.Fatalf("incremental round should not see bit rot, found %v", rep.DiffKeys())
	}
	rep, err := l.runner.RunRebuild(ctxT(t, 60*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rep.DiffKeys(), hexKeys(77); !slices.Equal(got, want) {
		t.Fatalf("differing keys %v, want %v", got, want)
	}
	var corrupt []string
	for _, n := range rep.Nodes {
		if len(n.Corrupt) > 0 {
			corrupt = append(corrupt, n.ID)
		}
	}
	if !slices.Equal(corrupt, []string{bad.id}) {
		t.Fatalf("nodes reporting local corruption %v, want [%s]", corrupt, bad.id)
	}
	rep, err = l.runner.RunRebuild(ctxT(t, 60*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	assertClean(t, rep)
	c.ensureSame()
}

// TestPacedRebuildUnderWrites: rebuild rounds whose rescans are paced
// (here about a second per scan) still pin a rotten row exactly, repair it,
// raise no false alarm for the rows written while they crawl, and lose no
// acknowledged write.
func TestPacedRebuildUnderWrites(t *testing.T) {
	c := newCluster(t, 3)
	c.load(2000)
	for _, tn := range c.nodes {
		tn.replica.SetRebuildRate(1000)
	}
	l := c.leader()
	bad := c.follower()
	if err := bad.eng.DebugPutRow("kv", kvKey(1500), kvRow(t, 1500, "rotten"), true); err != nil {
		t.Fatal(err)
	}
	w := startWriters(c, 256, 5000, 4, seed(t))
	rep, err := l.runner.RunRebuild(ctxT(t, 2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rep.DiffKeys(), hexKeys(1500); !slices.Equal(got, want) {
		t.Fatalf("differing keys %v, want %v", got, want)
	}
	if rep.Repaired != 1 {
		t.Fatalf("repaired %d, want 1", rep.Repaired)
	}
	rep, err = l.runner.RunRebuild(ctxT(t, 2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	w.halt()
	assertClean(t, rep)
	for _, tn := range c.nodes {
		// 2000+ rows at 1000 rows/s: every node was ahead of its schedule
		// at the first check (1024 rows) of every rescan, so it waited.
		if tn.replica.RebuildPaused() <= 0 {
			t.Fatalf("%s: rebuild scans never paused", tn.id)
		}
	}
	c.ensureSame()
	w.checkAcked(t)
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

var _ = context.Background

// TestLargeDifferenceAsksForReinstall: a follower differing in at least
// ReinstallThreshold keys is asked to reinstall itself and its keys are
// not repaired through the log; one that refuses (or cannot) is repaired
// row by row; below the threshold rows are repaired as before. (The
// reinstall itself, a real process leaving and rejoining empty, is tested
// in cluster-tests/ae_reinstall_test.go.)
func TestLargeDifferenceAsksForReinstall(t *testing.T) {
	c := newClusterWith(t, 3, func(_ *replication.Config, ac *antientropy.Config) {
		if ac != nil {
			ac.ReinstallThreshold = 50
		}
	})
	c.load(1000)
	l := c.leader()
	bad := c.follower()
	var asked []antientropy.ReinstallRequest
	var mu sync.Mutex
	bad.replica.SetReinstaller(func(q antientropy.ReinstallRequest) error {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, q)
		bad.replica.SetFence(true, q.Reason)
		return nil
	})
	corrupt := func(from, n int) {
		for id := from; id < from+n; id++ {
			if err := bad.eng.DebugPutRow("kv", kvKey(int64(id)), kvRow(t, int64(id), "corrupt"), false); err != nil {
				t.Fatal(err)
			}
		}
	}

	// Below the threshold: repaired through the log, no reinstall.
	corrupt(0, 49)
	rep := mustRound(t, l)
	if len(rep.Differences) != 49 || rep.Repaired != 49 || len(rep.Reinstalled) != 0 {
		t.Fatalf("49 differing rows: differences %d repaired %d reinstalled %v", len(rep.Differences), rep.Repaired, rep.Reinstalled)
	}
	assertClean(t, mustRound(t, l))

	// At the threshold: the node is asked to reinstall, nothing repaired.
	corrupt(100, 50)
	rep = mustRound(t, l)
	rep.WriteText(testWriter{t})
	if !slices.Equal(rep.Reinstalled, []string{bad.id}) || rep.Repaired != 0 || len(rep.Differences) != 50 {
		t.Fatalf("50 differing rows: reinstalled %v repaired %d differences %d", rep.Reinstalled, rep.Repaired, len(rep.Differences))
	}
	for _, d := range rep.Differences {
		if !strings.Contains(d.Action, "reinstalled") {
			t.Fatalf("key %s: action %q", d.Key, d.Action)
		}
	}
	mu.Lock()
	if len(asked) != 1 || asked[0].Leader != l.id || asked[0].Rows != 50 || asked[0].LSN != rep.LSN {
		t.Fatalf("reinstall requests %+v (leader %s, round LSN %d)", asked, l.id, rep.LSN)
	}
	mu.Unlock()
	if on, _ := bad.replica.Fenced(); !on || !slices.Contains(rep.Fenced, bad.id) {
		t.Fatalf("reinstalled node fenced %v, report fenced %v", on, rep.Fenced)
	}
	var m bytes.Buffer
	l.runner.WriteMetrics(&m)
	if !strings.Contains(m.String(), "heliosdb_antientropy_reinstalled_total 1\n") {
		t.Fatalf("metrics:\n%s", m.String())
	}

	// A node that cannot reinstall itself is repaired row by row; the
	// next clean round lifts its fence.
	bad.replica.SetReinstaller(nil)
	rep = mustRound(t, l)
	if len(rep.Reinstalled) != 0 || rep.Repaired != 50 {
		t.Fatalf("refused reinstall: reinstalled %v repaired %d", rep.Reinstalled, rep.Repaired)
	}
	rep = mustRound(t, l)
	assertClean(t, rep)
	if on, _ := bad.replica.Fenced(); on || !slices.Contains(rep.Unfenced, bad.id) {
		t.Fatalf("fence not lifted by the clean round: fenced %v, unfenced %v", on, rep.Unfenced)
	}
	c.ensureSame()
}
