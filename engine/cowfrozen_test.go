package engine

import (
	"fmt"
	"math/rand"
	"testing"
)

// TestCowFrozenValues: a tree copied (published) keeps every item's value,
// not only its keys, whatever the copy's later writes do: replacing items
// through the finger, in-order runs, appends, deletes. Gets on the frozen
// trees (which may use their own finger) return the frozen values.
func TestCowFrozenValues(t *testing.T) {
	rng := rand.New(rand.NewSource(testSeed(t)))
	for round := 0; round < 4; round++ {
		tr := newRowTree()
		ref := map[string]uint64{}
		type frozen struct {
			tree *rowTree
			vals map[string]uint64
		}
		var copies []frozen
		lsn := uint64(1)
		keys := 3000
		for i := 0; i < 40000; i++ {
			lsn++
			switch op := rng.Intn(10); {
			case op < 4: // replace or insert at random
				k := fmt.Sprintf("k%06d", rng.Intn(keys))
				tr.Set(rowItem{r: newRec(k, "\x01\x00\x00", lsn)})
				ref[k] = lsn
			case op < 6: // a run in order (the finger)
				base := rng.Intn(keys)
				for j := 0; j < 6; j++ {
					k := fmt.Sprintf("k%06d", base+j)
					tr.Set(rowItem{r: newRec(k, "\x01\x00\x00", lsn)})
					ref[k] = lsn
				}
			case op < 7:
				k := fmt.Sprintf("k%06d", keys+i)
				tr.Load(rowItem{r: newRec(k, "\x01\x00\x00", lsn)})
				ref[k] = lsn
			case op < 9:
				k := fmt.Sprintf("k%06d", rng.Intn(keys))
				tr.Delete(k)
				delete(ref, k)
			default:
				k := fmt.Sprintf("k%06d", rng.Intn(keys))
				if it, ok := tr.Get(k); ok != (ref[k] != 0) || ok && it.r.lsn() != ref[k] {
					t.Fatalf("round %d op %d: Get(%s) lsn %v/%v, want %d", round, i, k, ok, ok && it.r.lsn() != 0, ref[k])
				}
			}
			if rng.Intn(50) == 0 {
				vals := make(map[string]uint64, len(ref))
				for k, v := range ref {
					vals[k] = v
				}
				copies = append(copies, frozen{tr, vals})
				tr = tr.Copy()
			}
		}
		for ci, c := range copies {
			n := 0
			c.tree.Scan(func(it rowItem) bool {
				k, _, l := it.r.fields()
				if c.vals[k] != l {
					t.Fatalf("round %d copy %d: %s has lsn %d, frozen %d", round, ci, k, l, c.vals[k])
				}
				n++
				return true
			})
			if n != len(c.vals) {
				t.Fatalf("round %d copy %d: %d items, frozen %d", round, ci, n, len(c.vals))
			}
			for k, v := range c.vals {
				if it, ok := c.tree.Get(k); !ok || it.r.lsn() != v {
					t.Fatalf("round %d copy %d: Get(%s) = %v, frozen lsn %d", round, ci, k, ok, v)
				}
			}
		}
	}
}
