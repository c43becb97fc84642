package fsm

import (
	"io"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// The collector during a snapshot restore.
//
// A node that restarts from its store, or rebuilds its state from the
// leader's snapshot, allocates nearly nothing but the state it loads: the
// records and tree nodes it keeps. The collector, paced by GOGC from a
// heap that starts at a few megabytes, still runs about five times during
// a 150 MB load (snapshot.Load raises GOGC to 200 only after 16 MiB), and
// each cycle marks everything loaded so far while the load's goroutines
// assist it and pay the write barrier. A cycle finds almost nothing to
// free.
//
// So while a restore loads, the collector is switched off (GOGC=off) and
// a memory limit takes its place as the bound on the heap: the heap in use
// when the load started, plus restoreGCSlack, plus restoreGCPerByte bytes
// for every byte of snapshot read so far (the limit rises as the bytes
// arrive; a loaded state is ~6 bytes of heap per byte of lz4 file on
// make bench's rows). Garbage that other work makes meanwhile is bounded
// by that limit, not collected early. If the collector still runs during
// the hold (the state outgrew the limit: data far more compressible than
// expected, or a lot of garbage), the hold gives up and puts the previous
// settings back, so that a misjudged limit costs at most one collection
// and never a collector running at a limit the load keeps reaching.
//
// Holds are shared (a restart's Restore and a receive may overlap): the
// first one switches the collector off, the last one puts back what was
// set before, unless something else changed the setting meanwhile
// (snapshot.Load restores its own GOGC=200 hold; a setting found changed
// is left as it is). A memory limit the operator set (GOMEMLIMIT) is
// never raised: a hold's limit is the smaller of the two.
const (
	restoreGCSlack   = 256 << 20
	restoreGCPerByte = 16
)

// restoreGCState is the shared state of the holds.
type restoreGCState struct {
	mu        sync.Mutex // guards the fields below
	holds     int        // holds not released
	active    bool       // the collector is off and the limit set by the holds
	prevPct   int        // GOGC before the first hold
	prevLimit int64      // memory limit before the first hold
	base      int64      // heap in use when the first hold started
	bytes     int64      // snapshot bytes read, summed over the holds
	gcs       uint64     // completed collections when the first hold started
}

var restoreGC restoreGCState

// gcHold is one restore's share of the collector setting.
type gcHold struct {
	done  bool
	bytes int64 // this hold's bytes counted in restoreGC.bytes
}

// holdRestoreGC switches the collector off for a restore (unless it is off
// already) and returns the hold to release when the load ends.
func holdRestoreGC() *gcHold {
	r := &restoreGC
	r.mu.Lock()
	defer r.mu.Unlock()
	r.holds++
	if r.holds > 1 {
		return &gcHold{}
	}
	r.bytes, r.active = 0, false
	r.prevPct = debug.SetGCPercent(-1)
	if r.prevPct < 0 {
		return &gcHold{} // off already: the operator's choice, left alone
	}
	r.prevLimit = debug.SetMemoryLimit(-1)
	r.base, r.gcs, r.active = heapInUse(), gcCycles(), true
	r.setLimitLocked()
	return &gcHold{}
}

// progress notes that the restore holding h has read n bytes of snapshot.
func (h *gcHold) progress(n int64) {
	if h == nil || h.done || n <= h.bytes {
		return
	}
	r := &restoreGC
	r.mu.Lock()
	defer r.mu.Unlock()
	r.bytes += n - h.bytes
	h.bytes = n
	if !r.active {
		return
	}
	if gcCycles() != r.gcs {
		// The limit was reached: the estimate was wrong; give the hold up
		// for everyone rather than collect at a limit the load keeps
		// reaching.
		r.putBackLocked()
		return
	}
	r.setLimitLocked()
}

// release ends the hold; the last one puts the previous settings back.
func (h *gcHold) release() {
	if h == nil || h.done {
		return
	}
	h.done = true
	r := &restoreGC
	r.mu.Lock()
	defer r.mu.Unlock()
	r.holds--
	if r.holds == 0 && r.active {
		r.putBackLocked()
	}
}

func (r *restoreGCState) setLimitLocked() {
	limit := r.base + restoreGCSlack
	if r.bytes > 0 && r.bytes < (math.MaxInt64-limit)/restoreGCPerByte {
		limit += restoreGCPerByte * r.bytes
	}
	debug.SetMemoryLimit(min(limit, r.prevLimit))
}

// putBackLocked restores the settings found by the first hold: GOGC only
// if it is still off (something else, such as snapshot.Load's own hold
// ending, may have set it meanwhile: that setting stays).
func (r *restoreGCState) putBackLocked() {
	r.active = false
	debug.SetMemoryLimit(r.prevLimit)
	if gcPercent() < 0 {
		debug.SetGCPercent(r.prevPct)
	}
}

// gcPercent is the collector's current setting (-1: off), read without
// changing it.
func gcPercent() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 100
	}
	return int(int64(s[0].Value.Uint64()))
}

// holdReader counts the bytes read through it and tells its hold every
// MiB.
type holdReader struct {
	r    io.Reader
	h    *gcHold
	n    int64
	told int64
}

func (hr *holdReader) Read(p []byte) (int, error) {
	n, err := hr.r.Read(p)
	hr.n += int64(n)
	if hr.n-hr.told >= 1<<20 {
		hr.told = hr.n
		hr.h.progress(hr.n)
	}
	return n, err
}

// heapInUse is the memory the Go runtime has mapped and not returned to
// the system (what a memory limit is compared with).
func heapInUse() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 || s[1].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(s[0].Value.Uint64() - s[1].Value.Uint64())
}
