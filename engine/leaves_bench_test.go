package engine

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
)

// BenchmarkLeafUpkeep measures what keeping the anti-entropy leaves costs
// Apply: the same change sets are applied by Engine.Apply, then replayed
// over a copy of the table's leaves doing exactly the leaf work Apply does
// (one clone of the leaf set per change set, as tableState.clone does; per
// row LeafOf over the key and leafSet.add, whose first write to a chunk
// copies it). Reported per row, in process CPU time (garbage collection
// included): apply-ns/row (whole Apply, leaves included), leaf-ns/row,
// and leaf-% = leaf / apply; leaf-alloc-% is the same ratio of bytes
// allocated (exact, unaffected by noise; garbage collection costs follow
// it). Cross-check with a CPU profile: the share of
// leafSet.add and LeafOf under Engine.Apply
// (go tool pprof -top -cum -focus 'Engine..Apply$'). Inserts append
// increasing keys; updates rewrite uniformly random rows of a table of
// HELIOS_BENCH_ROWS/5 rows (default 200k), so every change set touches
// random leaves. Batch is rows per change set (one raft entry).
//
//	go test -run '^$' -bench LeafUpkeep -benchtime 200000x ./engine/
func BenchmarkLeafUpkeep(b *testing.B) {
	for _, kind := range []string{"insert", "update"} {
		for _, batch := range []int{1, 10, 1000} {
			b.Run(fmt.Sprintf("%s/batch=%d", kind, batch), func(b *testing.B) {
				benchLeafUpkeep(b, kind, batch)
			})
		}
	}
}

// cpuNow is the process CPU time, or wall time where it is unavailable.
func cpuNow() time.Duration {
	if c := processCPU(); c > 0 {
		return c
	}
	return time.Duration(time.Now().UnixNano())
}

// leafSink keeps the replayed leaves observable.
var leafSink uint64

func benchLeafUpkeep(b *testing.B, kind string, batch int) {
	var e *Engine
	var def *TableDef
	base := 0
	if kind == "update" {
		base = benchRows() / 5
		e, def = loadRows(b, base, 0)
	} else {
		def = benchDef(0)
		e = New()
		if err := e.Apply(create(def), 1); err != nil {
			b.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	sets := make([]*ChangeSet, 0, b.N/batch+1)
	for s := 0; s < b.N; s += batch {
		cs := &ChangeSet{Ops: make([]Op, 0, batch)}
		for i := s; i < min(s+batch, b.N); i++ {
			id := int64(base + i)
			if kind == "update" {
				id = rng.Int64N(int64(base))
			}
			r := benchRow(id)
			if kind == "update" {
				r[2] = fmt.Sprint("updated-", i)
			}
			cs.Ops = append(cs.Ops, insertOp(b, def, r))
			if kind == "update" {
				cs.Ops[len(cs.Ops)-1].Kind = OpUpsert
			}
		}
		sets = append(sets, cs)
	}
	// Apply and the leaf-only replay alternate in groups of change sets,
	// each timed in process CPU (the machine is shared: wall time would
	// measure the neighbours), so drift affects both alike.
	ls := e.Snapshot().tables[def.Name].leaves
	lsn := e.LSN()
	const group = 256
	var applyDur, leafDur time.Duration
	var applyB, leafB uint64
	var ms runtime.MemStats
	allocated := func() uint64 { runtime.ReadMemStats(&ms); return ms.TotalAlloc }
	b.ResetTimer()
	for g := 0; g < len(sets); g += group {
		part := sets[g:min(g+group, len(sets))]
		a0, t0 := allocated(), cpuNow()
		for _, cs := range part {
			lsn++
			if err := e.Apply(cs, lsn); err != nil {
				b.Fatal(err)
			}
		}
		t1, a1 := cpuNow(), allocated()
		for si, cs := range part {
			ls = ls.clone()
			for oi := range cs.Ops {
				ls.add(LeafOf(cs.Ops[oi].Key), uint64(g+si)<<20|uint64(oi))
			}
		}
		t2, a2 := cpuNow(), allocated()
		applyDur += t1 - t0
		leafDur += t2 - t1
		applyB += a1 - a0
		leafB += a2 - a1
	}
	b.StopTimer()
	leafSink = ls.get(0)
	rows := float64(b.N)
	b.ReportMetric(float64(applyDur.Nanoseconds())/rows, "apply-ns/row")
	b.ReportMetric(float64(leafDur.Nanoseconds())/rows, "leaf-ns/row")
	b.ReportMetric(100*float64(leafDur)/float64(applyDur), "leaf-%")
	b.ReportMetric(100*float64(leafB)/float64(applyB), "leaf-alloc-%")
}
