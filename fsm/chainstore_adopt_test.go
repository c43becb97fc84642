package fsm

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/heliosdb/heliosdb-lite/engine"
	"github.com/heliosdb/heliosdb-lite/snapshot"
)

// TestChainSinkAdoptFile: a full dump spooled next to the store becomes a
// snapshot by a hard link, not a copy: the snapshot opens to the dump's
// state, survives the spool's removal, and later snapshots extend its
// chain. A sink refuses a file that is not a full dump, whose size is not
// the one given, or once bytes were written to it, and then nothing is
// left in the store.
func TestChainSinkAdoptFile(t *testing.T) {
	dir := t.TempDir()
	store, te, def := chainFixture(t, filepath.Join(dir, "snapshots"))
	f := te.f
	writeRows(te, def, 0, 3000, "a")

	// The spool: a full dump of the state, in the data directory.
	var dump bytes.Buffer
	if _, err := snapshot.WriteFull(context.Background(), &dump, f.eng.Snapshot(), snapshot.DefaultWriterOptions()); err != nil {
		t.Fatal(err)
	}
	spool := filepath.Join(dir, "restore-1.heliodump.tmp")
	if err := os.WriteFile(spool, dump.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	size := int64(dump.Len())
	chains := func() int {
		ents, _ := os.ReadDir(store.chainsDir())
		return len(ents)
	}
	sinkFor := func() *chainSink {
		s, err := store.Create(1, te.lsn, 1, raft.Configuration{}, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		return s.(*chainSink)
	}

	// Refusals leave nothing behind.
	notDump := filepath.Join(dir, "not-a-dump")
	if err := os.WriteFile(notDump, bytes.Repeat([]byte{'x'}, 64), 0o600); err != nil {
		t.Fatal(err)
	}
	if k := sinkFor(); k.AdoptFile(notDump, 64, nil) || k.AdoptFile(spool, size-1, nil) || k.AdoptFile(filepath.Join(dir, "missing"), size, nil) {
		t.Fatal("adopted a file that is not a full dump of that size")
	} else if err := k.Cancel(); err != nil || chains() != 0 {
		t.Fatalf("refused adoptions left %d files (cancel: %v)", chains(), err)
	}
	k := sinkFor()
	if _, err := k.Write(dump.Bytes()[:100]); err != nil {
		t.Fatal(err)
	}
	if k.AdoptFile(spool, size, nil) {
		t.Fatal("adopted a file into a sink that already has bytes")
	}
	_ = k.Cancel()

	// Adoption, as raft's user restore does it: io.Copy(sink, reader).
	k = sinkFor()
	if !k.AdoptFile(spool, size, nil) {
		t.Fatal("a full dump on the same file system was not adopted")
	}
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(spool); err != nil { // the restore removes its spool
		t.Fatal(err)
	}
	tip, ok := store.Tip()
	if !ok || tip.Length != size || tip.Segments != 1 || tip.LastLSN != te.lsn {
		t.Fatalf("adopted snapshot recorded as %+v (size %d, lsn %d)", tip, size, te.lsn)
	}
	_, rc, err := store.Open(k.ID())
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, dump.Bytes()) {
		t.Fatal("the adopted snapshot does not read back as the spooled dump")
	}

	// Facts given with the file are recorded as they are (no read back).
	spool2 := filepath.Join(dir, "restore-2.heliodump.tmp")
	if err := os.WriteFile(spool2, dump.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	facts := ChainFacts{LastLSN: tip.LastLSN, Segments: tip.Segments, BaseBytes: tip.BaseBytes}
	k2 := sinkFor()
	if !k2.AdoptFile(spool2, size, &facts) {
		t.Fatal("not adopted with facts")
	}
	if err := k2.Close(); err != nil {
		t.Fatal(err)
	}
	_ = os.Remove(spool2)
	if tip2, _ := store.Tip(); tip2.Meta.ID != k2.ID() || tip2.LastLSN != facts.LastLSN || tip2.Segments != facts.Segments || tip2.BaseBytes != facts.BaseBytes || tip2.Length != size {
		t.Fatalf("adopted with facts %+v: recorded %+v", facts, tip2)
	}
	tip, _ = store.Tip()

	// The next snapshot appends an increment to the adopted chain.
	writeRows(te, def, 0, 20, "b")
	id := te.persist(store)
	if tip2, _ := store.Tip(); tip2.Chain != tip.Chain || tip2.Segments != 2 {
		t.Fatalf("next snapshot did not extend the adopted chain: %+v", tip2)
	}
	if g := engine.Canonical(loadSnapshot(t, store, id)); !bytes.Equal(g, engine.Canonical(f.eng.Snapshot())) {
		t.Fatal("the extended chain does not restore the current state")
	}
}
