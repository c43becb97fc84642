package engine

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"
)

// PutRowsChecked builds the same state as Apply, whether the batches
// carry their leaf sums or not, and whether a batch is cut short by a row
// out of key order (the rows after it take the slow path; the leaves of
// the rows before it must still be counted) or not.
func TestPutRowsCheckedMatchesApply(t *testing.T) {
	def := benchDef(2)
	e, _ := loadRows(t, 3000, 2)
	src := e.Snapshot()
	tb, _ := src.Table("b")
	var all []LoadRow
	tb.Scan(func(r RowRef) bool {
		all = append(all, LoadRow{Key: []byte(r.Key), Enc: []byte(r.Enc), LSN: r.LSN, Hash: r.Hash})
		return true
	})
	for _, withLeaves := range []bool{false, true} {
		for _, size := range []int{1, 7, 1000, len(all)} {
			b := NewBuilder(src.LSN())
			b.TrustRows()
			if err := b.CreateTable(def, tb.Meta()); err != nil {
				t.Fatal(err)
			}
			for start := 0; start < len(all); start += size {
				batch := all[start:min(start+size, len(all))]
				var ls *LeafSums
				if withLeaves {
					ls = new(LeafSums)
					for _, r := range batch {
						ls[LeafOf(string(r.Key))] += r.Hash
					}
				}
				n, err := b.PutRowsChecked("b", batch, ls)
				if err != nil || n != len(batch) {
					t.Fatalf("batch at %d: %d of %d rows, %v", start, n, len(batch), err)
				}
			}
			got := b.Finish()
			gt, _ := got.Table("b")
			if gt.HashSum() != tb.HashSum() || !slices.Equal(gt.Leaves(), tb.Leaves()) || gt.Bytes() != tb.Bytes() || gt.Len() != tb.Len() {
				t.Fatalf("leaves %v, batch size %d: hash, leaf sums, bytes or count differ", withLeaves, size)
			}
			if !bytes.Equal(Canonical(got), Canonical(src)) {
				t.Fatalf("leaves %v, batch size %d: canonical encodings differ", withLeaves, size)
			}
		}
	}
}

// A batch whose rows stop increasing leaves the fast path at that row:
// the rows before it keep their leaves, the rows from it on are applied
// as Put does (a repeated key replaces the row), and the result is what
// Apply builds from the same rows.
func TestPutRowsCheckedOutOfOrder(t *testing.T) {
	def := benchDef(1)
	mk := func(i int64) LoadRow {
		enc, _ := EncodeRow(nil, benchRow(i))
		k := key(i)
		return LoadRow{Key: []byte(k), Enc: enc, LSN: 3, Hash: RowHash("b", k, string(enc))}
	}
	batch := []LoadRow{mk(5), mk(7), mk(9), mk(6), mk(7), mk(8)}
	ls := new(LeafSums)
	for _, r := range batch {
		ls[LeafOf(string(r.Key))] += r.Hash
	}
	b := NewBuilder(10)
	b.TrustRows()
	if err := b.CreateTable(def, TableMeta{}); err != nil {
		t.Fatal(err)
	}
	if n, err := b.PutRowsChecked("b", batch, ls); err != nil || n != len(batch) {
		t.Fatalf("%d rows, %v", n, err)
	}
	st := b.Finish()
	tb, _ := st.Table("b")
	e := New()
	_ = e.Apply(create(def), 1)
	cs := &ChangeSet{}
	for _, i := range []int64{5, 6, 7, 8, 9} {
		cs.Ops = append(cs.Ops, insertOp(t, def, benchRow(i)))
	}
	_ = e.Apply(cs, 2)
	ref, _ := e.Snapshot().Table("b")
	if tb.Len() != 5 || ref.HashSum() != tb.HashSum() || !slices.Equal(ref.Leaves(), tb.Leaves()) {
		t.Fatalf("%d rows; sums differ from Apply", tb.Len())
	}
}

// A row the fast path refuses (wrong column count) stops the batch: the
// count says how many rows were added, and those rows are in the state
// with their leaves.
func TestPutRowsCheckedError(t *testing.T) {
	def := benchDef(0)
	b := NewBuilder(10)
	b.TrustRows()
	if err := b.CreateTable(def, TableMeta{}); err != nil {
		t.Fatal(err)
	}
	var batch []LoadRow
	for i := int64(1); i <= 4; i++ {
		row := benchRow(i)
		if i == 3 {
			row = row[:len(row)-1]
		}
		enc, _ := EncodeRow(nil, row)
		k := key(i)
		batch = append(batch, LoadRow{Key: []byte(k), Enc: enc, LSN: 2, Hash: RowHash("b", k, string(enc))})
	}
	ls := new(LeafSums)
	var want LeafSums
	for i, r := range batch {
		ls[LeafOf(string(r.Key))] += r.Hash
		if i < 2 {
			want[LeafOf(string(r.Key))] += r.Hash
		}
	}
	n, err := b.PutRowsChecked("b", batch, ls)
	if n != 2 || sqlstate(err) != CodeDataCorrupted {
		t.Fatalf("%d rows, %v; want 2 and %s", n, err, CodeDataCorrupted)
	}
	tb, _ := b.Finish().Table("b")
	if tb.Len() != 2 || !slices.Equal(tb.Leaves(), want[:]) || tb.HashSum() != batch[0].Hash+batch[1].Hash {
		t.Fatalf("%d rows; leaves or hash sum are not those of the first two", tb.Len())
	}
}

// keyAfter is string(key) > last for keys of every length around its
// word compare (8 to 16 bytes, equal lengths) and beside it.
func TestKeyAfter(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 0; n <= 20; n++ {
		for m := max(0, n-1); m <= n+1; m++ {
			for range 2000 {
				a, b := make([]byte, n), make([]byte, m)
				for i := range a {
					a[i] = byte(rng.IntN(3)) // few values: long common prefixes
				}
				for i := range b {
					b[i] = byte(rng.IntN(3))
				}
				if got, want := keyAfter(a, string(b)), string(a) > string(b); got != want {
					t.Fatalf("keyAfter(%x, %x) = %v, want %v", a, b, got, want)
				}
			}
		}
	}
}
