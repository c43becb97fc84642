package engine

import (
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"
	"unsafe"
)

// TestIdxTreeRandom checks index trees against a map under random inserts,
// runs of inserts in key order (the finger), appends after every key,
// deletes and runs of deletes in key order, with keys of every size (some
// over a leaf's byte bound, some over 64 KB), and that every copy taken along the way still
// holds exactly what it held when taken. After every phase the trees'
// shape is checked: keys in order within their separators, every leaf at
// the same depth, node sizes within bounds, Len the number of keys.
func TestIdxTreeRandom(t *testing.T) {
	rng := rand.New(rand.NewSource(testSeed(t)))
	for _, tc := range []struct {
		keys, ops int
		pad       func() string
	}{
		{20000, 120000, func() string { return "" }},
		{3000, 30000, func() string { return strings.Repeat("y", rng.Intn(200)) }},
		{400, 6000, func() string { return strings.Repeat("z", rng.Intn(4)*900) }},
		// Keys over 64 KB: leaves with 32-bit offsets.
		{60, 1500, func() string { return strings.Repeat("w", rng.Intn(3)/2*70000+rng.Intn(40)) }},
	} {
		checkIdxTreeRandom(t, rng, tc.keys, tc.ops, tc.pad)
	}
}

func checkIdxTreeRandom(t *testing.T, rng *rand.Rand, keys, ops int, pad func() string) {
	t.Helper()
	tr := newIdxTree()
	ref := map[string]bool{}
	padOf := map[int]string{} // one padding per key number, so keys are stable
	key := func(i int) string {
		p, ok := padOf[i]
		if !ok {
			p = pad()
			padOf[i] = p
		}
		return fmt.Sprintf("k%07d", i) + p
	}
	type frozen struct {
		tree *idxTree
		keys []string
	}
	var copies []frozen
	sorted := func() []string {
		ks := make([]string, 0, len(ref))
		for k := range ref {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		return ks
	}
	insert := func(k string) {
		if added := tr.Set(idxItem(k)); added == ref[k] {
			t.Fatalf("Set(%.12s) added=%v, present before: %v", k, added, ref[k])
		}
		ref[k] = true
	}
	del := func(k string) {
		if ok := tr.Delete(k); ok != ref[k] {
			t.Fatalf("Delete(%.12s)=%v, want %v", k, ok, ref[k])
		}
		delete(ref, k)
	}
	next := 0
	for i := 0; i < ops; i++ {
		switch op := rng.Intn(14); {
		case op < 3:
			insert(key(rng.Intn(keys)))
		case op < 5: // a run in key order from a random place
			base := rng.Intn(keys)
			for j := 0; j < 10; j++ {
				insert(key(base + j))
			}
		case op < 7: // appends after every key (Load)
			next++
			k := key(keys + next)
			tr.Load(idxItem(k))
			ref[k] = true
		case op < 10:
			del(key(rng.Intn(keys + next)))
		case op < 12: // a run of deletes in key order
			base := rng.Intn(keys + next)
			for j := 0; j < 12; j++ {
				del(key(base + j))
			}
		default:
			k := key(rng.Intn(keys + next))
			if tr.Has(k) != ref[k] {
				t.Fatalf("Has(%.12s)=%v, want %v", k, !ref[k], ref[k])
			}
		}
		if i%(ops/10) == 0 {
			checkIdxShape(t, tr)
			copies = append(copies, frozen{tr, sorted()})
			tr = tr.Copy()
		}
	}
	// Delete most keys, so nodes merge up to the root.
	for _, k := range sorted() {
		if rng.Intn(10) != 0 {
			del(k)
		}
	}
	checkIdxShape(t, tr)
	copies = append(copies, frozen{tr, sorted()})
	for ci, c := range copies {
		var got []string
		c.tree.Scan(func(k string) bool { got = append(got, k); return true })
		if !slices.Equal(got, c.keys) || c.tree.Len() != len(c.keys) {
			t.Fatalf("copy %d: %d keys (Len %d), want %d", ci, len(got), c.tree.Len(), len(c.keys))
		}
		checkIdxShape(t, c.tree)
		if len(c.keys) > 10 {
			m := len(c.keys) / 2
			for j, from := range []string{c.keys[m], c.keys[m] + "\x00"} {
				var asc []string
				c.tree.Ascend(from, func(k string) bool { asc = append(asc, k); return len(asc) < 5 })
				if !slices.Equal(asc, c.keys[m+j:m+j+5]) {
					t.Fatalf("copy %d: Ascend(%.12q) = %.12q", ci, from, asc)
				}
			}
		}
	}
}

// checkIdxShape checks the structure of an index tree.
func checkIdxShape(t *testing.T, tr *idxTree) {
	t.Helper()
	if tr.root == nil {
		if tr.count != 0 {
			t.Fatalf("empty tree with Len %d", tr.count)
		}
		return
	}
	count := 0
	var walk func(p unsafe.Pointer, h int, lo, hi bound)
	walk = func(p unsafe.Pointer, h int, lo, hi bound) {
		if h == 0 {
			l := (*idxLeaf)(p)
			if l.n > idxLeafMax || l.off(0) != 0 || l.used() > int(l.dcap) {
				t.Fatalf("leaf of %d keys, %d/%d bytes", l.n, l.used(), l.dcap)
			}
			for i := 0; i < int(l.n); i++ {
				k := l.key(i)
				if lo.ok() && k < lo.key() || hi.ok() && k >= hi.key() || i > 0 && l.key(i-1) >= k {
					t.Fatalf("leaf key %.12s out of order or bounds", k)
				}
			}
			count += int(l.n)
			return
		}
		n := (*idxInner)(p)
		if len(n.kids) == 0 || len(n.kids) > idxKidsMax || int(n.seps.n) != len(n.kids)-1 || n.seps.used() > int(n.seps.dcap) {
			t.Fatalf("inner node of %d children, %d separators", len(n.kids), n.seps.n)
		}
		for i := range n.kids {
			clo, chi := n.bounds(i, lo, hi)
			if clo.ok() && chi.ok() && clo.key() >= chi.key() {
				t.Fatalf("separators out of order")
			}
			walk(n.kids[i], h-1, clo, chi)
		}
	}
	walk(tr.root, tr.height, bound{}, bound{})
	if count != tr.count {
		t.Fatalf("%d keys, Len %d", count, tr.count)
	}
}
