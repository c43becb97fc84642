package engine

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

// TestLeafSetCopyOnWrite checks the leaf sums of every state in a branching
// history of clones against plain arrays: single-row and large change sets
// (pending deltas, folds, owned chunks), clones of old states (copied
// pending prefixes) and two clones of one state extended concurrently
// (run under -race).
func TestLeafSetCopyOnWrite(t *testing.T) {
	seed := uint64(rand.Int64())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	type version struct {
		l    leafSet
		want []uint64
	}
	hist := []version{{want: make([]uint64, NumLeaves)}}
	for step := 0; step < 1000; step++ {
		base := hist[len(hist)-1]
		if rng.IntN(10) == 0 {
			base = hist[rng.IntN(len(hist))]
		}
		v := version{l: base.l.clone(), want: append([]uint64(nil), base.want...)}
		n := 1
		switch rng.IntN(20) {
		case 0:
			n = 1 + rng.IntN(2000)
		case 1, 2:
			n = 1 + rng.IntN(50)
		}
		for range n {
			i, d := rng.IntN(NumLeaves), rng.Uint64()
			v.l.add(i, d)
			v.want[i] += d
		}
		hist = append(hist, v)
	}
	check := func(name string, l leafSet, want []uint64) {
		t.Helper()
		got := l.all()
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%s: leaf %d: all() %d want %d", name, i, got[i], want[i])
			}
		}
		for range 16 {
			if i := rng.IntN(NumLeaves); l.get(i) != want[i] {
				t.Fatalf("%s: leaf %d: get %d want %d", name, i, l.get(i), want[i])
			}
		}
	}
	for k, v := range hist {
		check(fmt.Sprintf("version %d", k), v.l, v.want)
	}

	// Two writers extend clones of the same state at once: each must see
	// only its own deltas.
	base := hist[len(hist)-1]
	var wg sync.WaitGroup
	res := make([]version, 2)
	for w := range res {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, uint64(w)))
			v := version{l: base.l.clone(), want: append([]uint64(nil), base.want...)}
			for range 500 {
				i, d := r.IntN(NumLeaves), r.Uint64()
				v.l.add(i, d)
				v.want[i] += d
			}
			res[w] = v
		}()
	}
	wg.Wait()
	for _, v := range res {
		check("concurrent clone", v.l, v.want)
	}
	check("base after concurrent clones", base.l, base.want)
}
