package fsm

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/heliosdb/heliosdb-lite/engine"
	"github.com/heliosdb/heliosdb-lite/snapshot"
)

type testEngine struct {
	t   testing.TB
	f   *FSM
	lsn uint64
}

func (te *testEngine) apply(cs *engine.ChangeSet) {
	te.t.Helper()
	te.lsn++
	if r := te.f.Apply(&raft.Log{Index: te.lsn, Type: raft.LogCommand, Data: EncodeChangeSet(cs)}); r != nil {
		te.t.Fatalf("apply: %v", r)
	}
}

func (te *testEngine) persist(store *ChainStore) string {
	te.t.Helper()
	snap, err := te.f.Snapshot()
	if err != nil {
		te.t.Fatal(err)
	}
	sink, err := store.Create(1, te.lsn, 1, raft.Configuration{}, 0, nil)
	if err != nil {
		te.t.Fatal(err)
	}
	if err := snap.Persist(sink); err != nil {
		te.t.Fatal(err)
	}
	return sink.ID()
}

func loadSnapshot(t *testing.T, store *ChainStore, id string) *engine.State {
	t.Helper()
	_, rc, err := store.Open(id)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	res, err := snapshot.Load(context.Background(), rc, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res.State
}

func writeRows(te *testEngine, def *engine.TableDef, from, to int, tag string) {
	cs := &engine.ChangeSet{}
	for i := from; i < to; i++ {
		r := engine.Row{int64(i), fmt.Sprintf("%s-%d", tag, i)}
		k, _ := def.KeyOf(r)
		enc, _ := engine.EncodeRow(nil, r)
		cs.Ops = append(cs.Ops, engine.Op{Kind: engine.OpUpsert, Table: def.Name, Key: k, Row: enc})
	}
	te.apply(cs)
}

// chainFixture is an FSM whose snapshots go to a chain store in dir,
// holding an empty table t (id bigint primary key, v text).
func chainFixture(t testing.TB, dir string) (*ChainStore, *testEngine, *engine.TableDef) {
	t.Helper()
	store, err := OpenChainStore(dir, 2)
	if err != nil {
		t.Fatal(err)
	}
	f := New(engine.New(), Options{})
	f.SetChain(store)
	te := &testEngine{t: t, f: f}
	def := &engine.TableDef{Name: "t", Columns: []engine.ColumnDef{{Name: "id", Type: engine.TypeInt8, NotNull: true}, {Name: "v", Type: engine.TypeText}}, PrimaryKey: []int{0}}
	te.apply(&engine.ChangeSet{Ops: []engine.Op{{Kind: engine.OpCreateTable, Table: "t", Def: def}}})
	return store, te, def
}

// TestChainSnapshots: the first snapshot is a full chain; the next ones
// append incremental segments that are far smaller; each snapshot id opens
// to exactly the state it was taken at; when the increments outweigh the
// base a new full chain starts; retention drops old chains.
func TestChainSnapshots(t *testing.T) {
	dir := t.TempDir()
	store, te, def := chainFixture(t, dir)
	f := te.f
	writeRows(te, def, 0, 5000, "a")
	id1 := te.persist(store)
	tip1, _ := store.Tip()
	if tip1.Segments != 1 || tip1.LastLSN != te.lsn {
		t.Fatalf("first snapshot: %+v", tip1)
	}

	// 1% of rows change and some are deleted.
	writeRows(te, def, 0, 50, "b")
	k, _ := def.KeyOf(engine.Row{int64(4999), nil})
	te.apply(&engine.ChangeSet{Ops: []engine.Op{{Kind: engine.OpDelete, Table: "t", Key: k}}})
	// A restore in progress: a hidden staging table must travel in the
	// increment, or a replica restored from the chain would differ.
	stDef := engine.StagingDef("r1", def)
	te.apply(&engine.ChangeSet{Ops: []engine.Op{{Kind: engine.OpCreateTable, Table: stDef.Name, Def: stDef}}})
	writeRows(te, stDef, 0, 10, "staged")
	id2 := te.persist(store)
	tip2, _ := store.Tip()
	if tip2.Segments != 2 || tip2.Chain != tip1.Chain {
		t.Fatalf("second snapshot should extend the chain: %+v", tip2)
	}
	incBytes := tip2.Length - tip1.Length
	if incBytes*10 > tip1.Length {
		t.Fatalf("increment of 1%% change is %d bytes vs full %d", incBytes, tip1.Length)
	}
	if got := engine.Canonical(loadSnapshot(t, store, id2)); !bytes.Equal(got, engine.Canonical(f.eng.Snapshot())) {
		t.Fatal("chain does not restore the current state")
	}
	// The older snapshot, a prefix of the same chain, still opens to its own state.
	old := loadSnapshot(t, store, id1)
	if tb, _ := old.Table("t"); tb.Len() != 5000 {
		t.Fatalf("old snapshot has %d rows", tb.Len())
	}

	// Rewrite everything: increments outweigh the base, so the next
	// snapshot after that starts a new chain.
	writeRows(te, def, 0, 5000, "c")
	te.persist(store)
	writeRows(te, def, 0, 10, "d")
	id4 := te.persist(store)
	tip4, _ := store.Tip()
	if tip4.Chain == tip1.Chain || tip4.Segments != 1 {
		t.Fatalf("expected compaction into a new chain: %+v", tip4)
	}
	if got := engine.Canonical(loadSnapshot(t, store, id4)); !bytes.Equal(got, engine.Canonical(f.eng.Snapshot())) {
		t.Fatal("compacted chain differs")
	}
	metas, _ := store.List()
	if len(metas) != 2 || metas[0].ID != id4 {
		t.Fatalf("list: %v", metas)
	}
	if _, _, err := store.Open(id1); err == nil {
		t.Fatal("snapshot beyond retention still opens")
	}

	// A reopened store knows its tip; a cancelled append leaves the chain as it was.
	store2, err := OpenChainStore(dir, 2)
	if err != nil {
		t.Fatal(err)
	}
	if tip, _ := store2.Tip(); tip.Meta.ID != id4 {
		t.Fatalf("reopened tip %s", tip.Meta.ID)
	}
	sink, _ := store2.Create(1, 999, 1, raft.Configuration{}, 0, nil)
	_, _ = sink.Write([]byte("not a header, an increment"))
	_ = sink.Cancel()
	f.SetChain(store2)
	if got := engine.Canonical(loadSnapshot(t, store2, id4)); !bytes.Equal(got, engine.Canonical(f.eng.Snapshot())) {
		t.Fatal("cancelled append damaged the chain")
	}
	// Restore through the FSM from the chain.
	_, rc, _ := store2.Open(id4)
	f2 := New(engine.New(), Options{})
	if err := f2.Restore(io.NopCloser(rc)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(engine.Canonical(f2.eng.Snapshot()), engine.Canonical(f.eng.Snapshot())) {
		t.Fatal("FSM restore differs")
	}
}

// TestChainRetentionRemovesOldChains: once no retained snapshot names a
// chain file, the file is deleted (in the background, after the commit:
// WaitRemovals waits for it), and the store's files are exactly the
// retained chain and records.
func TestChainRetentionRemovesOldChains(t *testing.T) {
	dir := t.TempDir()
	store, te, def := chainFixture(t, dir)
	store.retain = 1
	writeRows(te, def, 0, 2000, "a")
	te.persist(store)
	first, _ := store.Tip()
	// Rewriting every row twice makes the increments outweigh the base:
	// the snapshot after that starts a new chain.
	for _, tag := range []string{"b", "c", "d"} {
		writeRows(te, def, 0, 2000, tag)
		te.persist(store)
	}
	last, _ := store.Tip()
	if last.Chain == first.Chain {
		t.Fatalf("no new chain was started: %+v", last)
	}
	store.WaitRemovals()
	ents, err := os.ReadDir(store.chainsDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != last.Chain {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Fatalf("chain files %v, want only the retained %s", names, last.Chain)
	}
	if metas, _ := store.List(); len(metas) != 1 || metas[0].ID != last.Meta.ID {
		t.Fatalf("records: %v", metas)
	}
}
