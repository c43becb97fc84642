package engine

import (
	"fmt"
	"math"
	"math/rand"
	"slices"
	"strings"
	"testing"
)

// TestCowTreeRandom checks the copy-on-write B-tree against a map under
// random sets, appends and deletes with small nodes (many splits and
// merges), and that every copy taken along the way still holds exactly
// what it held when it was taken. Tombstone and row trees (recs,
// searchRecs) are checked the same way, with more keys so that their
// 127-item nodes split and merge. Index trees (idxTree) have their own
// test, TestIdxTreeRandom.
func TestCowTreeRandom(t *testing.T) {
	rng := rand.New(rand.NewSource(testSeed(t)))
	id := func(s string) string { return s }
	for _, maxItems := range []int{3, 4, 7, 63} {
		checkCowTreeRandom(t, rng, newCowTree(maxItems, id), id, id, 800, 6000, "")
	}
	mkRec := func(k string) rec { return newRec(k, "", 1) }
	checkCowTreeRandom(t, rng, newTombTree(), mkRec, rec.key, 8000, 60000, "")
	// Keys of 128 bytes and more take searchRecs' other path.
	checkCowTreeRandom(t, rng, newTombTree(), mkRec, rec.key, 2000, 10000, strings.Repeat("x", 130))
	mkRow := func(k string) rowItem { return rowItem{r: newRec(k, "\x01\x00\x00", 1)} }
	checkCowTreeRandom(t, rng, newRowTree(), mkRow, rowItem.key, 8000, 30000, "")
	checkCowTreeRandom(t, rng, newRowTree(), mkRow, rowItem.key, 2000, 10000, strings.Repeat("x", 130))
}

func checkCowTreeRandom[T any](t *testing.T, rng *rand.Rand, tr *cowTree[T], mk func(string) T, keyOf func(T) string, keys, ops int, pad string) {
	t.Helper()
	maxItems := tr.max
	ref := map[string]bool{}
	type frozen struct {
		tree *cowTree[T]
		keys []string
	}
	var copies []frozen
	sorted := func(m map[string]bool) []string {
		var ks []string
		for k := range m {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		return ks
	}
	items := func(tr *cowTree[T]) []string {
		var out []string
		tr.Scan(func(it T) bool { out = append(out, keyOf(it)); return true })
		return out
	}
	next := 0
	for i := 0; i < ops; i++ {
		switch op := rng.Intn(12); {
		case op == 10: // a run of keys in order from a random place (the finger)
			base := rng.Intn(keys)
			for j := 0; j < 8; j++ {
				k := fmt.Sprintf("k%06d", base+j) + pad
				if _, replaced := tr.Set(mk(k)); replaced != ref[k] {
					t.Fatalf("max %d: Set(%s) replaced=%v, want %v", maxItems, k, replaced, ref[k])
				}
				ref[k] = true
			}
		case op == 11:
			k := fmt.Sprintf("k%06d", rng.Intn(keys+next)) + pad
			if got, ok := tr.Get(k); ok != ref[k] || ok && keyOf(got) != k {
				t.Fatalf("max %d: Get(%s)=%q,%v, want %v", maxItems, k, keyOf(got), ok, ref[k])
			}
		case op < 3: // sequential append
			next++
			k := fmt.Sprintf("k%06d", keys*5/8+next) + pad
			tr.Load(mk(k))
			ref[k] = true
		case op < 6:
			k := fmt.Sprintf("k%06d", rng.Intn(keys)) + pad
			_, replaced := tr.Set(mk(k))
			if replaced != ref[k] {
				t.Fatalf("max %d: Set(%s) replaced=%v, want %v", maxItems, k, replaced, ref[k])
			}
			ref[k] = true
		case op < 8:
			k := fmt.Sprintf("k%06d", rng.Intn(keys+next)) + pad
			if _, ok := tr.Delete(k); ok != ref[k] {
				t.Fatalf("max %d: Delete(%s)=%v, want %v", maxItems, k, ok, ref[k])
			}
			delete(ref, k)
		default:
			k := fmt.Sprintf("k%06d", rng.Intn(keys+next)) + pad
			root := tr.root
			if got, ok := tr.DeleteIfPresent(k); ok != ref[k] || ok && keyOf(got) != k {
				t.Fatalf("max %d: DeleteIfPresent(%s)=%q,%v, want %v", maxItems, k, keyOf(got), ok, ref[k])
			}
			if !ref[k] && tr.root != root {
				t.Fatalf("max %d: DeleteIfPresent of absent %s copied the root", maxItems, k)
			}
			delete(ref, k)
		}
		if i%(ops/12) == 0 {
			copies = append(copies, frozen{tr, sorted(ref)})
			tr = tr.Copy()
		}
	}
	want := sorted(ref)
	if got := items(tr); !slices.Equal(got, want) || tr.Len() != len(want) {
		t.Fatalf("max %d: tree has %d items (Len %d), want %d", maxItems, len(got), tr.Len(), len(want))
	}
	for _, k := range want {
		if _, ok := tr.Get(k); !ok {
			t.Fatalf("max %d: Get(%s) missing", maxItems, k)
		}
	}
	var rev []string
	tr.Reverse(func(it T) bool { rev = append(rev, keyOf(it)); return true })
	slices.Reverse(rev)
	if !slices.Equal(rev, want) {
		t.Fatalf("max %d: Reverse differs", maxItems)
	}
	if len(want) > 10 {
		from := want[len(want)/2]
		var asc []string
		tr.Ascend(from+"\x00", func(it T) bool { asc = append(asc, keyOf(it)); return true })
		if !slices.Equal(asc, want[len(want)/2+1:]) {
			t.Fatalf("max %d: Ascend differs", maxItems)
		}
	}
	for i, c := range copies {
		if got := items(c.tree); !slices.Equal(got, c.keys) || c.tree.Len() != len(c.keys) {
			t.Fatalf("max %d: copy %d changed after later writes", maxItems, i)
		}
	}
}

// TestKeyFromRowMatchesEncodeKey: keys built from row encodings are the
// EncodeKey of the decoded values, for every type and NULL, and pkOf
// splits index entries at the right place.
func TestKeyFromRowMatchesEncodeKey(t *testing.T) {
	row := Row{int64(-5), 2.5, Numeric("-12.50"), true, "a\x00b", []byte{0, 1, 0xff}, Date(-3), Timestamp(1_700_000_000_000_000),
		UUID{1, 2, 3}, nil, math.NaN(), "", int64(math.MaxInt64)}
	b := enc(t, row)
	off, err := rowFields(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	for ci := range row {
		for cj := range row {
			cols := []int{ci, cj}
			got, hasNull := appendKeyFromRow(nil, b, off, cols)
			want := EncodeKey(nil, row[ci], row[cj])
			if string(got) != string(want) || hasNull != (row[ci] == nil || row[cj] == nil) {
				t.Fatalf("columns %v: key %x, want %x", cols, got, want)
			}
			pk := key(int64(7), "pk\x00")
			if p := pkOf(string(got)+pk, 2); p != pk {
				t.Fatalf("columns %v: pkOf = %x, want %x", cols, p, pk)
			}
		}
	}
}

// TestChangesSinceLogMatchesScan: the change-log path of ChangesSince
// returns exactly what a scan of the table returns, for every snapshot
// and LSN of a random workload long enough for the log to drop chunks,
// across tombstone pruning.
func TestChangesSinceLogMatchesScan(t *testing.T) {
	rng := rand.New(rand.NewSource(testSeed(t)))
	sets := randomChangeSets(t, rng, 4000)
	e := New()
	var snaps []*State
	logUsed := 0
	for i, cs := range sets {
		_ = e.Apply(cs, uint64(i+1))
		if i%250 == 0 {
			snaps = append(snaps, e.Snapshot())
		}
		if i == 2500 {
			e.PruneTombstones(1200)
		}
	}
	snaps = append(snaps, e.Snapshot())
	for _, s := range snaps {
		for since := s.horizon; since <= s.lsn; since += 1 + uint64(rng.Intn(40)) {
			for _, name := range s.names {
				tb := s.tables[name]
				if tb.createdLSN > since {
					continue
				}
				var viaLog, viaScan TableChanges
				if !tb.changesFromLog(since, &viaLog) {
					continue
				}
				logUsed++
				tb.changesByScan(since, &viaScan)
				if fmt.Sprint(viaLog.Rows, viaLog.Tombstones) != fmt.Sprint(viaScan.Rows, viaScan.Tombstones) {
					t.Fatalf("table %s at LSN %d since %d: log gives %d rows %d tombstones, scan %d rows %d tombstones",
						name, s.lsn, since, len(viaLog.Rows), len(viaLog.Tombstones), len(viaScan.Rows), len(viaScan.Tombstones))
				}
			}
		}
	}
	if logUsed == 0 {
		t.Fatal("the change log was never used")
	}
}

// TestChangeLogBounded: the change log of a small table of large rows that
// are updated often does not keep their old versions alive without bound,
// and ChangesSince stays right whether it reads the log or scans.
func TestChangeLogBounded(t *testing.T) {
	db := newTestDB(t)
	def := &TableDef{Name: "big", Columns: []ColumnDef{{Name: "id", Type: TypeInt8, NotNull: true}, {Name: "v", Type: TypeText}}, PrimaryKey: []int{0}}
	db.must(create(def))
	big := string(make([]byte, 100_000))
	for i := 0; i < 300; i++ {
		op := insertOp(t, def, Row{int64(i % 3), fmt.Sprint(i) + big})
		op.Kind = OpUpsert
		db.must(&ChangeSet{Ops: []Op{op}})
		tb := db.e.Snapshot().tables["big"]
		if tb.log.bytes > 2*logMinBytes {
			t.Fatalf("after %d writes the log references %d bytes", i+1, tb.log.bytes)
		}
	}
	s := db.e.Snapshot()
	for since := uint64(1); since <= s.LSN(); since++ {
		tc, err := s.ChangesSince(since)
		if err != nil {
			t.Fatal(err)
		}
		var scan TableChanges
		s.tables["big"].changesByScan(since, &scan)
		if fmt.Sprint(tc[0].Rows) != fmt.Sprint(scan.Rows) {
			t.Fatalf("since %d: log and scan disagree", since)
		}
	}
}

// TestCowCopySharesItems: a write through a copy copies the nodes on its
// path, but the inner nodes share their item arrays with the originals
// until they are written (only the leaf's items change), and the original
// keeps its items.
func TestCowCopySharesItems(t *testing.T) {
	tr := newCowTree(7, func(s string) string { return s })
	for i := 0; i < 1000; i++ {
		tr.Set(fmt.Sprintf("k%04d", i))
	}
	leaf := tr.root
	for !leaf.leaf() {
		leaf = leaf.children[0]
	}
	k := leaf.items[0] // in a leaf: replacing it writes only the leaf's items
	cp := tr.Copy()
	cp.Set(k)
	n, orig := cp.root, tr.root
	for !n.leaf() {
		if n.iso != cp.iso || !n.shared || &n.items[0] != &orig.items[0] {
			t.Fatalf("inner node on the path: copied %v, shares items %v", n.iso == cp.iso, n.shared && &n.items[0] == &orig.items[0])
		}
		n, orig = n.children[0], orig.children[0]
	}
	if n.iso != cp.iso || n.shared || &n.items[0] == &orig.items[0] {
		t.Fatalf("leaf written through the copy still shares its items")
	}
	cp.Set("k0000x") // an insert into the same leaf leaves the original leaf as it was
	if orig != leaf || slices.Contains(orig.items, "k0000x") {
		t.Fatalf("original leaf changed: %q", orig.items)
	}
	var got []string
	tr.Scan(func(s string) bool { got = append(got, s); return true })
	if len(got) != 1000 || slices.Contains(got, "k0000x") {
		t.Fatalf("original tree changed: %d items", len(got))
	}
}
