package engine

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// The PutHashed fast path builds the same state as Apply: rows, index
// entries, hash sums and leaf sums, with a slow-path row after it.
// PutChecked (rows validated by the caller with CheckRow) builds the same.
func TestBuilderPutHashedMatchesApply(t *testing.T) {
	for _, checked := range []bool{false, true} {
		testBuilderPutHashed(t, checked)
	}
}

// bulkCopy builds src's table "b" (defined by def) again through a
// Builder's fast path: PutChecked after CheckRow when checked, else
// PutHashed.
func bulkCopy(t *testing.T, src *State, def *TableDef, checked bool) *State {
	t.Helper()
	tb, _ := src.Table("b")
	b := NewBuilder(src.LSN())
	b.TrustRows()
	if err := b.CreateTable(def, tb.Meta()); err != nil {
		t.Fatal(err)
	}
	tb.Scan(func(r RowRef) bool {
		put := b.PutHashed
		if checked {
			if err := CheckRow([]byte(r.Enc)); err != nil {
				t.Fatal(err)
			}
			put = b.PutChecked
		}
		if err := put("b", []byte(r.Key), []byte(r.Enc), r.LSN, r.Hash); err != nil {
			t.Fatal(err)
		}
		return true
	})
	return b.Finish()
}

func testBuilderPutHashed(t *testing.T, checked bool) {
	def := benchDef(3)
	e, _ := loadRows(t, 5000, 3)
	src := e.Snapshot()
	tb, _ := src.Table("b")
	got := bulkCopy(t, src, def, checked)
	gt, _ := got.Table("b")
	if gt.HashSum() != tb.HashSum() || !slices.Equal(gt.Leaves(), tb.Leaves()) || gt.Bytes() != tb.Bytes() {
		t.Fatal("hash, leaf sums or bytes differ")
	}
	if !bytes.Equal(Canonical(got), Canonical(src)) {
		t.Fatal("canonical encodings differ")
	}
	for ix := range def.Indexes {
		var a, c []string
		tb.IndexScan(ix, nil, nil, func(r RowRef) bool { a = append(a, r.Key); return true })
		gt.IndexScan(ix, nil, nil, func(r RowRef) bool { c = append(c, r.Key); return true })
		if !slices.Equal(a, c) {
			t.Fatalf("index %d differs", ix)
		}
	}
}

func TestBuilderPutHashedOutOfOrder(t *testing.T) {
	def := benchDef(1)
	b := NewBuilder(10)
	b.TrustRows()
	if err := b.CreateTable(def, TableMeta{}); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int64{5, 7, 6, 7} {
		enc, _ := EncodeRow(nil, benchRow(i))
		k := key(i)
		if err := b.PutHashed("b", []byte(k), enc, 3, RowHash("b", k, string(enc))); err != nil {
			t.Fatal(err)
		}
	}
	st := b.Finish()
	tb, _ := st.Table("b")
	n := 0
	tb.IndexScan(0, nil, nil, func(RowRef) bool { n++; return true })
	if tb.Len() != 3 || n != 3 {
		t.Fatalf("rows %d, index entries %d; want 3", tb.Len(), n)
	}
	e := New()
	_ = e.Apply(create(def), 1)
	cs := &ChangeSet{}
	for _, i := range []int64{5, 6, 7} {
		cs.Ops = append(cs.Ops, insertOp(t, def, benchRow(i)))
	}
	_ = e.Apply(cs, 2)
	ref, _ := e.Snapshot().Table("b")
	if ref.HashSum() != tb.HashSum() || !slices.Equal(ref.Leaves(), tb.Leaves()) {
		t.Fatal("sums differ from Apply")
	}
}

// CheckRow accepts what EncodeRow writes and refuses what DecodeRow
// refuses.
func TestCheckRow(t *testing.T) {
	good, err := EncodeRow(nil, Row{int64(1), nil, "x", Date(3), true, 2.5})
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckRow(good); err != nil {
		t.Fatal(err)
	}
	bad := [][]byte{
		nil,
		good[:len(good)-1], // truncated
		{1, 0x02},          // stray bit in the NULL bitmap past column 0
		{1, 0, tagBool, 2}, // bool neither 0 nor 1
		{1, 0, 0x7f},       // unknown tag
		{1, 0, tagDate, 0x80, 0x80, 0x80, 0x80, 0x20}, // date out of range
	}
	for i, b := range bad {
		_, _, derr := DecodeRow(b)
		if derr == nil {
			t.Fatalf("case %d: DecodeRow accepts %x", i, b)
		}
		if err := CheckRow(b); err == nil {
			t.Fatalf("case %d: CheckRow accepts %x", i, b)
		}
	}
}

// treeBuilder builds valid trees: every node within the node maximum,
// inner nodes one child more than items, keys in order, and the tree
// behaves under Get, Set and Delete as one built by Set. (Node maxima from
// 3: with 2, cowTree's own rebalancing leaves empty nodes.)
func TestTreeBuilder(t *testing.T) {
	id := func(s string) string { return s }
	key := func(i int) string { return fmt.Sprintf("k%08d", i*2) }
	for _, maxItems := range []int{3, 4, 7, 31, 127} {
		for n := 0; n < 700; n += 1 + n/7 {
			tr := newCowTree[string](maxItems, id)
			tb := newTreeBuilder[string](maxItems)
			for i := 0; i < n; i++ {
				tb.add(key(i))
			}
			tb.build(tr)
			if tr.Len() != n {
				t.Fatalf("max %d n %d: Len %d", maxItems, n, tr.Len())
			}
			checkTree(t, tr, n)
			ref := newCowTree[string](maxItems, id)
			for i := 0; i < n; i++ {
				ref.Set(key(i))
			}
			rng := rand.New(rand.NewPCG(uint64(n), uint64(maxItems)))
			for j := 0; j < n; j++ {
				k := key(rng.IntN(n + 5))
				if j%3 == 0 {
					k = fmt.Sprintf("k%08d", rng.IntN(2*n+10)|1) // between existing keys
				}
				if rng.IntN(2) == 0 {
					_, b := ref.Delete(k)
					_, a := tr.Delete(k)
					if a != b {
						t.Fatalf("max %d n %d: Delete(%s) %v vs %v", maxItems, n, k, a, b)
					}
				} else {
					tr.Set(k)
					ref.Set(k)
				}
			}
			var got, want []string
			tr.Scan(func(s string) bool { got = append(got, s); return true })
			ref.Scan(func(s string) bool { want = append(want, s); return true })
			if !slices.Equal(got, want) || tr.Len() != ref.Len() {
				t.Fatalf("max %d n %d: after writes %d items, want %d", maxItems, n, len(got), len(want))
			}
			for _, k := range want {
				if _, ok := tr.Get(k); !ok {
					t.Fatalf("max %d n %d: Get(%s) missing", maxItems, n, k)
				}
			}
		}
	}
}

func checkTree(t *testing.T, tr *cowTree[string], n int) {
	t.Helper()
	var prev string
	seen := 0
	var walk func(nd *cowNode[string], depth int) int
	walk = func(nd *cowNode[string], depth int) int {
		if nd.iso != tr.iso || len(nd.items) == 0 || len(nd.items) > tr.max || cap(nd.items) > max(4, tr.max) {
			t.Fatalf("n %d: bad node: iso %v, %d items (cap %d), max %d", n, nd.iso == tr.iso, len(nd.items), cap(nd.items), tr.max)
		}
		visit := func(s string) {
			if seen > 0 && s <= prev {
				t.Fatalf("n %d: %q after %q", n, s, prev)
			}
			prev = s
			seen++
		}
		if nd.leaf() {
			for _, s := range nd.items {
				visit(s)
			}
			return depth
		}
		if len(nd.children) != len(nd.items)+1 {
			t.Fatalf("n %d: inner node with %d items, %d children", n, len(nd.items), len(nd.children))
		}
		d := walk(nd.children[0], depth+1)
		for i, s := range nd.items {
			visit(s)
			if walk(nd.children[i+1], depth+1) != d {
				t.Fatalf("n %d: leaves at different depths", n)
			}
		}
		return d
	}
	if tr.root != nil {
		walk(tr.root, 0)
	}
	if seen != n {
		t.Fatalf("walked %d items, want %d", seen, n)
	}
}

// CheckRow accepts exactly the encodings DecodeRow accepts: random rows of
// every type, truncated and with bytes changed at random.
func TestCheckRowAgreesWithDecodeRow(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	value := func() Value {
		switch rng.IntN(9) {
		case 0:
			return nil
		case 1:
			return int64(rng.Uint64()) >> rng.IntN(64)
		case 2:
			return Timestamp(int64(rng.Uint64()) >> rng.IntN(64))
		case 3:
			return Date(int32(rng.Uint32()) >> rng.IntN(32))
		case 4:
			return string(make([]byte, rng.IntN(300)))
		case 5:
			return []byte("bytes")
		case 6:
			return rng.IntN(2) == 0
		case 7:
			return rng.Float64()
		}
		return UUID{1, 2, 3}
	}
	accepted, refused := 0, 0
	for i := 0; i < 20000; i++ {
		row := make(Row, 1+rng.IntN(12))
		for j := range row {
			row[j] = value()
		}
		enc, err := EncodeRow(nil, row)
		if err != nil {
			t.Fatal(err)
		}
		switch rng.IntN(3) {
		case 0:
			enc = enc[:rng.IntN(len(enc)+1)]
		case 1:
			for range 1 + rng.IntN(3) {
				enc[rng.IntN(len(enc))] = byte(rng.Uint32())
			}
		}
		_, _, derr := DecodeRow(enc)
		cerr := CheckRow(enc)
		if (derr == nil) != (cerr == nil) {
			t.Fatalf("%x: DecodeRow %v, CheckRow %v", enc, derr, cerr)
		}
		if cerr == nil {
			accepted++
		} else {
			refused++
		}
	}
	if accepted < 1000 || refused < 1000 {
		t.Fatalf("accepted %d, refused %d: the cases do not cover both", accepted, refused)
	}
}

// The fast path refuses a NULL in a NOT NULL column and a row with the
// wrong column count, as Apply does.
func TestBuilderPutCheckedConstraints(t *testing.T) {
	def := &TableDef{Name: "c", PrimaryKey: []int{0}, Columns: []ColumnDef{
		{Name: "id", Type: TypeInt8, NotNull: true}, {Name: "w", Type: TypeText}, {Name: "v", Type: TypeText, NotNull: true}}}
	b := NewBuilder(1)
	b.TrustRows()
	if err := b.CreateTable(def, TableMeta{}); err != nil {
		t.Fatal(err)
	}
	put := func(id int64, row Row) error {
		enc, err := EncodeRow(nil, row)
		if err != nil {
			t.Fatal(err)
		}
		key := EncodeKey(nil, id)
		return b.PutChecked("c", key, enc, 1, RowHash("c", string(key), string(enc)))
	}
	if err := put(1, Row{int64(1), nil, "a"}); err != nil {
		t.Fatal(err)
	}
	if got := sqlstate(put(2, Row{int64(2), "x", nil})); got != CodeNotNullViolation {
		t.Fatalf("NULL in NOT NULL column v: %q, want %q", got, CodeNotNullViolation)
	}
	if got := sqlstate(put(3, Row{int64(3), "x"})); got != CodeDataCorrupted {
		t.Fatalf("two columns for three: %q, want %q", got, CodeDataCorrupted)
	}
	if tb, _ := b.Finish().Table("c"); tb.Len() != 1 {
		t.Fatalf("%d rows, want 1", tb.Len())
	}
}

// TestBulkRecordsFromSlabs: bulk-loaded records carved from shared slabs
// (sizes on both sides of recSlabMax, slabs filled to their last byte)
// read back exactly as rows applied one by one, and later updates and
// deletes of some of them leave the others intact.
func TestBulkRecordsFromSlabs(t *testing.T) {
	def := benchDef(1)
	e := New()
	if err := e.Apply(create(def), 1); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	cs := &ChangeSet{}
	for i := int64(0); i < 3000; i++ {
		r := benchRow(i)
		r[2] = strings.Repeat("x", rng.IntN(2*recSlabMax))
		cs.Ops = append(cs.Ops, insertOp(t, def, r))
	}
	if err := e.Apply(cs, 2); err != nil {
		t.Fatal(err)
	}
	src := e.Snapshot()
	loaded := New()
	loaded.Install(bulkCopy(t, src, def, false))
	if !bytes.Equal(Canonical(loaded.Snapshot()), Canonical(src)) {
		t.Fatal("bulk-loaded rows differ from the applied ones")
	}
	// The same changes on both engines: every third row updated, every
	// fifth deleted.
	for i, eng := range []*Engine{e, loaded} {
		ch := &ChangeSet{}
		for id := int64(0); id < 3000; id++ {
			switch {
			case id%5 == 0:
				op := insertOp(t, def, benchRow(id))
				op.Kind, op.Row = OpDelete, nil
				ch.Ops = append(ch.Ops, op)
			case id%3 == 0:
				r := benchRow(id)
				r[2] = "changed"
				op := insertOp(t, def, r)
				op.Kind = OpUpdate
				ch.Ops = append(ch.Ops, op)
			}
		}
		if err := eng.Apply(ch, 3); err != nil {
			t.Fatalf("engine %d: %v", i, err)
		}
	}
	if !bytes.Equal(Canonical(loaded.Snapshot()), Canonical(e.Snapshot())) {
		t.Fatal("after updates and deletes the bulk-loaded engine differs")
	}
}
