package fsm

import (
	"bytes"
	"context"
	"io"
	"math"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/heliosdb/heliosdb-lite/snapshot"
)

// gcSettings is the collector's GOGC and memory limit, read without
// changing them.
func gcSettings() (int, int64) { return gcPercent(), debug.SetMemoryLimit(-1) }

// withGCSettings sets GOGC and the memory limit for a test and puts the
// process's back after it.
func withGCSettings(t *testing.T, pct int, limit int64) {
	t.Helper()
	oldPct, oldLimit := debug.SetGCPercent(pct), debug.SetMemoryLimit(limit)
	t.Cleanup(func() {
		debug.SetGCPercent(oldPct)
		debug.SetMemoryLimit(oldLimit)
	})
}

func wantSettings(t *testing.T, when string, pct int, limit int64) {
	t.Helper()
	if p, l := gcSettings(); p != pct || l != limit {
		t.Fatalf("%s: GOGC %d, memory limit %d; want %d, %d", when, p, l, pct, limit)
	}
}

// TestRestoreGCHold: a hold switches the collector off and sets a memory
// limit that rises with the bytes read; the last of overlapping holds puts
// both settings back; a limit the operator set is never raised; a
// collector that is off stays off; a GOGC changed by someone else during
// the hold stays as they set it; a collection during the hold (the limit
// was reached) ends the hold's effect at once.
func TestRestoreGCHold(t *testing.T) {
	withGCSettings(t, 100, math.MaxInt64)

	h1 := holdRestoreGC()
	pct, l0 := gcSettings()
	if pct != -1 || l0 == math.MaxInt64 || l0 < restoreGCSlack {
		t.Fatalf("during a hold: GOGC %d, memory limit %d; want off and a limit above the slack", pct, l0)
	}
	h1.progress(10 << 20)
	if _, l1 := gcSettings(); l1 != l0+restoreGCPerByte*(10<<20) {
		t.Fatalf("after 10 MiB read the limit is %d, want %d", l1, l0+restoreGCPerByte*(10<<20))
	}
	h2 := holdRestoreGC()
	h1.release()
	h1.release() // twice: no effect
	if pct, _ := gcSettings(); pct != -1 {
		t.Fatalf("one of two holds released: GOGC %d, want still off", pct)
	}
	h2.release()
	wantSettings(t, "after the last hold", 100, math.MaxInt64)

	// The operator's limit is lower than the hold's: it stays.
	debug.SetMemoryLimit(64 << 20)
	h := holdRestoreGC()
	h.progress(1 << 30)
	wantSettings(t, "a hold under GOMEMLIMIT=64MiB", -1, 64<<20)
	h.release()
	wantSettings(t, "after it", 100, 64<<20)
	debug.SetMemoryLimit(math.MaxInt64)

	// GOGC=off: nothing is touched.
	debug.SetGCPercent(-1)
	h = holdRestoreGC()
	wantSettings(t, "a hold with GOGC=off", -1, math.MaxInt64)
	h.release()
	wantSettings(t, "after it", -1, math.MaxInt64)
	debug.SetGCPercent(100)

	// Someone else sets GOGC during the hold (snapshot.Load ending its own
	// hold): theirs stays.
	h = holdRestoreGC()
	debug.SetGCPercent(150)
	h.release()
	wantSettings(t, "GOGC set to 150 during a hold", 150, math.MaxInt64)
	debug.SetGCPercent(100)

	// A collection during the hold: the next progress gives the hold up.
	h = holdRestoreGC()
	runtime.GC()
	h.progress(1 << 20)
	wantSettings(t, "a collection ran during the hold", 100, math.MaxInt64)
	h.release()
	wantSettings(t, "after it", 100, math.MaxInt64)
}

// TestRestoreGCAroundLoads: Restore, a snapshot received and loaded while
// it arrives, and a cancelled receive all load with the collector off, and
// leave GOGC and the memory limit as they found them, also when the
// snapshot is refused.
func TestRestoreGCAroundLoads(t *testing.T) {
	withGCSettings(t, 100, 3<<30)
	_, lte, def := chainFixture(t, filepath.Join(t.TempDir(), "leader"))
	writeRows(lte, def, 0, 20000, "a")
	var file bytes.Buffer
	if _, err := snapshot.WriteFull(context.Background(), &file, lte.f.eng.Snapshot(), snapshot.DefaultWriterOptions()); err != nil {
		t.Fatal(err)
	}
	store, te, _ := chainFixture(t, filepath.Join(t.TempDir(), "follower"))
	f := te.f

	// Restore from a stream: the collector is off while Load reads it.
	var during []int
	rc := io.NopCloser(&watchReader{r: bytes.NewReader(file.Bytes()), seen: &during})
	if err := f.Restore(rc); err != nil {
		t.Fatal(err)
	}
	if len(during) == 0 || during[len(during)/2] != -1 {
		t.Fatalf("GOGC while Restore read the stream: %v; want off", during)
	}
	wantSettings(t, "after Restore", 100, 3<<30)
	if rs := f.RestoreStats(); rs.LastBytes != int64(file.Len()) || rs.LastRows != 20000 {
		t.Fatalf("restore stats %+v: want %d bytes, 20000 rows", rs, file.Len())
	}

	// A damaged stream is refused; the settings are put back all the same.
	bad := bytes.Clone(file.Bytes())
	bad[len(bad)/2] ^= 0xff
	if err := f.Restore(io.NopCloser(bytes.NewReader(bad))); err == nil {
		t.Fatal("a damaged snapshot was restored")
	}
	wantSettings(t, "after a refused Restore", 100, 3<<30)

	// Received from a leader: off between the first byte and Close.
	sink, err := store.Create(1, 99, 1, raft.Configuration{}, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sink.Write(file.Bytes()[:file.Len()/2]); err != nil {
		t.Fatal(err)
	}
	if pct, _ := gcSettings(); pct != -1 {
		t.Fatalf("GOGC %d while a snapshot is received and loaded; want off", pct)
	}
	if _, err := sink.Write(file.Bytes()[file.Len()/2:]); err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	wantSettings(t, "after the receive", 100, 3<<30)
	if rs := f.rstats.pending; rs == nil || rs.LastLoadCPU < 0 {
		t.Fatalf("received snapshot's figures not noted: %+v", rs)
	}

	// A cancelled receive.
	if err := receive(t, store, f, file.Bytes(), true); err != nil {
		t.Fatal(err)
	}
	wantSettings(t, "after a cancelled receive", 100, 3<<30)
}

// watchReader records GOGC at each read.
type watchReader struct {
	r    io.Reader
	seen *[]int
}

func (w *watchReader) Read(p []byte) (int, error) {
	*w.seen = append(*w.seen, gcPercent())
	return w.r.Read(p)
}
