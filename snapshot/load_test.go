package snapshot

import (
	"bytes"
	"context"
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"testing"

	"github.com/heliosdb/heliosdb-lite/engine"
)

// gcProbe is a context whose Err (which Load calls before every item)
// records the garbage collector's target while the load runs.
type gcProbe struct {
	context.Context
	mu   sync.Mutex
	seen map[int]bool
}

func (p *gcProbe) Err() error {
	v := gcPercent()
	p.mu.Lock()
	p.seen[v] = true
	p.mu.Unlock()
	return nil
}

// A large load raises the collector's target while it runs and restores
// the previous one afterwards, also when loads overlap; a collector that
// is off stays off.
func TestLoadRaisesGCTarget(t *testing.T) {
	d := newDB(t)
	def := genDef("g")
	d.create(def)
	rng := rand.New(rand.NewPCG(testSeed(t), 7))
	var rows []engine.Row
	for i := range 3000 {
		rows = append(rows, genRow(rng, int64(i)))
	}
	d.insert(def, rows...)
	var buf bytes.Buffer
	if _, err := WriteFull(context.Background(), &buf, d.snap(), WriterOptions{Compression: CompressNone, BatchSize: 64 << 10}); err != nil {
		t.Fatal(err)
	}
	old := bulkGCAfter
	bulkGCAfter = 1
	defer func() { bulkGCAfter = old }()
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)

	probe := &gcProbe{Context: context.Background(), seen: map[int]bool{}}
	if _, err := Load(probe, bytes.NewReader(buf.Bytes()), nil); err != nil {
		t.Fatal(err)
	}
	if !probe.seen[bulkGCPercent] {
		t.Fatalf("targets seen during the load: %v, want %d among them", probe.seen, bulkGCPercent)
	}
	if v := debug.SetGCPercent(100); v != 100 {
		t.Fatalf("target after the load: %d, want 100", v)
	}

	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := Load(context.Background(), bytes.NewReader(buf.Bytes()), nil); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if v := debug.SetGCPercent(100); v != 100 {
		t.Fatalf("target after overlapping loads: %d, want 100", v)
	}

	debug.SetGCPercent(-1)
	probe = &gcProbe{Context: context.Background(), seen: map[int]bool{}}
	if _, err := Load(probe, bytes.NewReader(buf.Bytes()), nil); err != nil {
		t.Fatal(err)
	}
	if v := debug.SetGCPercent(100); v != -1 || len(probe.seen) != 1 || !probe.seen[-1] {
		t.Fatalf("collector off: %d after the load, seen %v", v, probe.seen)
	}
}
