package fsm

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/heliosdb/heliosdb-lite/engine"
	"github.com/heliosdb/heliosdb-lite/snapshot"
)

// receive plays raft's InstallSnapshot on a follower's store: the leader's
// bytes are written to a new sink in pieces, the sink is closed (or
// cancelled), and the follower's FSM restores from the stored snapshot.
func receive(t *testing.T, store *ChainStore, f *FSM, file []byte, cancel bool) error {
	t.Helper()
	sink, err := store.Create(1, 99, 1, raft.Configuration{}, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	for p := file; len(p) > 0; {
		n := min(len(p), 7001)
		if _, err := sink.Write(p[:n]); err != nil {
			t.Fatal(err)
		}
		p = p[n:]
	}
	if cancel {
		return sink.Cancel()
	}
	if err := sink.Close(); err != nil {
		return err
	}
	_, rc, err := store.Open(sink.ID())
	if err != nil {
		t.Fatal(err)
	}
	return f.Restore(rc)
}

func parked(f *FSM) *engine.State {
	f.prep.mu.Lock()
	defer f.prep.mu.Unlock()
	return f.prep.state
}

// TestReceiveLoad: a full snapshot received from a leader is loaded while
// it arrives, and Restore installs that state (it is consumed: nothing
// stays parked) equal to the leader's; a cancelled receive parks nothing;
// a damaged snapshot is refused by Restore as before; the node's own
// snapshots (Persist) start no load.
func TestReceiveLoad(t *testing.T) {
	// The leader.
	_, lte, def := chainFixture(t, filepath.Join(t.TempDir(), "leader"))
	writeRows(lte, def, 0, 4000, "a")
	var file bytes.Buffer
	if _, err := snapshot.WriteFull(context.Background(), &file, lte.f.eng.Snapshot(), snapshot.DefaultWriterOptions()); err != nil {
		t.Fatal(err)
	}
	want := engine.Canonical(lte.f.eng.Snapshot())

	// The follower, holding something else.
	store, te, _ := chainFixture(t, filepath.Join(t.TempDir(), "follower"))
	f := te.f
	writeRows(te, def, 0, 10, "old")

	if err := receive(t, store, f, file.Bytes(), true); err != nil {
		t.Fatal(err)
	}
	if parked(f) != nil {
		t.Fatal("a cancelled receive parked a state")
	}

	// Watch the parked state between Close and Restore.
	sink, _ := store.Create(1, 99, 1, raft.Configuration{}, 0, nil)
	if _, err := sink.Write(file.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	pre := parked(f)
	if pre == nil || !bytes.Equal(engine.Canonical(pre), want) {
		t.Fatal("the received snapshot was not loaded while it arrived")
	}
	_, rc, err := store.Open(sink.ID())
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Restore(rc); err != nil {
		t.Fatal(err)
	}
	if parked(f) != nil || !bytes.Equal(engine.Canonical(f.eng.Snapshot()), want) {
		t.Fatal("Restore did not install the state loaded while receiving")
	}
	rs := f.RestoreStats()
	if rs.Restores != 1 || !rs.LastReceived || rs.LastBytes != int64(file.Len()) || rs.LastRows != 4000 ||
		rs.LastLSN != lte.f.eng.Snapshot().LSN() || rs.LastLoad <= 0 || rs.LastReceive < 0 {
		t.Fatalf("restore stats after a received snapshot: %+v (file %d bytes)", rs, file.Len())
	}

	// The same through receive, in pieces.
	writeRows(te, def, 0, 10, "old2")
	if err := receive(t, store, f, file.Bytes(), false); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(engine.Canonical(f.eng.Snapshot()), want) || parked(f) != nil {
		t.Fatal("received snapshot not installed")
	}

	// A damaged snapshot: the load beside it fails, nothing is parked, and
	// Restore, loading the file itself, refuses it.
	bad := bytes.Clone(file.Bytes())
	bad[len(bad)/2] ^= 0xff
	if err := receive(t, store, f, bad, false); err == nil {
		t.Fatal("a damaged snapshot was restored")
	}
	if parked(f) != nil {
		t.Fatal("a damaged snapshot parked a state")
	}
	if rs := f.RestoreStats(); rs.Restores != 2 {
		t.Fatalf("a refused snapshot was counted as restored: %+v", rs)
	}

	// Restore of a stream no receive loaded (a node's own snapshot at
	// start) loads it itself and counts its bytes.
	if err := f.Restore(io.NopCloser(bytes.NewReader(file.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if rs := f.RestoreStats(); rs.Restores != 3 || rs.LastReceived || rs.LastReceive != 0 ||
		rs.LastBytes != int64(file.Len()) || rs.LastRows != 4000 || rs.LastLoad <= 0 {
		t.Fatalf("restore stats after a local restore: %+v (file %d bytes)", rs, file.Len())
	}

	// The node's own snapshot starts no load.
	te.persist(store)
	if parked(f) != nil {
		t.Fatal("persisting the node's own snapshot loaded it")
	}
}
