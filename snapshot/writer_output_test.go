package snapshot

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/heliosdb/heliosdb-lite/engine"
)

// fullAfterWriter accepts limit bytes, then fails every write as a full
// disk does, and counts the writes it was asked for after the failure.
type fullAfterWriter struct {
	buf        bytes.Buffer
	limit      int
	afterFails int
}

func (w *fullAfterWriter) Write(p []byte) (int, error) {
	if w.buf.Len() >= w.limit {
		w.afterFails++
		return 0, syscall.ENOSPC
	}
	n := min(len(p), w.limit-w.buf.Len())
	w.buf.Write(p[:n])
	if n < len(p) {
		return n, syscall.ENOSPC
	}
	return n, nil
}

// TestWriterWriteErrorStopsOutput: when the output fails in the middle of
// a dump (here: a full disk after 100 KB), WriteFull returns that error,
// and the output goroutine writes nothing after the failed write.
func TestWriterWriteErrorStopsOutput(t *testing.T) {
	d := newDB(t)
	def := genDef("t")
	d.create(def)
	fill(d, def, rand.New(rand.NewPCG(testSeed(t), 1)), 0, 20_000)
	for _, c := range []Compression{CompressNone, CompressLZ4, CompressZstd} {
		w := &fullAfterWriter{limit: 100 << 10}
		o := fixedOpts(c)
		o.BatchSize = 64 << 10
		_, err := WriteFull(context.Background(), w, d.snap(), o)
		if !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("%s: WriteFull = %v, want the write error (ENOSPC)", c, err)
		}
		if w.afterFails != 0 {
			t.Fatalf("%s: %d writes were attempted after the failed one", c, w.afterFails)
		}
	}
}

// gateWriter blocks the first write of at least big bytes until open is
// closed, and records every write.
type gateWriter struct {
	big     int
	open    chan struct{}
	blocked chan struct{}
	mu      sync.Mutex
	writes  int
	once    sync.Once
}

func (w *gateWriter) Write(p []byte) (int, error) {
	if len(p) >= w.big {
		w.once.Do(func() {
			close(w.blocked)
			<-w.open
		})
	}
	w.mu.Lock()
	w.writes++
	w.mu.Unlock()
	return len(p), nil
}

// TestWriterCloseAbandonsPending: Close inside a segment (a dump given
// up, e.g. on a cancelled context) waits for the write in progress but
// writes none of the batches still pending, so a stalled or dead
// destination does not receive (or block on) the rest of the dump.
func TestWriterCloseAbandonsPending(t *testing.T) {
	d := newDB(t)
	def := genDef("t")
	d.create(def)
	fill(d, def, rand.New(rand.NewPCG(testSeed(t), 2)), 0, 20_000)
	tb, _ := d.snap().Table("t")
	w := &gateWriter{big: 32 << 10, open: make(chan struct{}), blocked: make(chan struct{})}
	o := fixedOpts(CompressNone)
	wr, err := NewWriter(w, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := wr.BeginSegment(SegmentHeader{Mode: ModeFull, LastLSN: d.snap().LSN()}, []TableSchema{{Def: tb.Def(), Meta: tb.Meta(), Full: true}}); err != nil {
		t.Fatal(err)
	}
	// Fill batches until the first one is stuck in its write and more
	// are pending behind it.
	submitted := 0
	tb.ScanRecords(func(run engine.RecordRun) bool {
		if err = wr.writeRecords(0, run); err != nil {
			return false
		}
		submitted = len(wr.pending)
		return submitted < 3
	})
	if err != nil {
		t.Fatal(err)
	}
	<-w.blocked
	w.mu.Lock()
	before := w.writes
	w.mu.Unlock()
	closed := make(chan error, 1)
	go func() { closed <- wr.Close() }()
	for deadline := time.Now().Add(10 * time.Second); !wr.abandon.Load(); {
		if time.Now().After(deadline) {
			t.Fatal("Close did not abandon the pending batches within 10s")
		}
		time.Sleep(time.Millisecond)
	}
	close(w.open)
	if err := <-closed; err == nil {
		t.Fatal("Close inside a segment returned no error")
	}
	// The section in progress is completed (its body, then its CRC
	// trailer: two writes) and no later batch is written.
	if got := w.writes - before; got != 2 {
		t.Fatalf("%d writes after Close began, want 2 (the rest of the section in progress); %d batches were pending", got, submitted)
	}
}

// panicWriter panics on its first write of a batch-sized buffer.
type panicWriter struct{ big int }

func (w *panicWriter) Write(p []byte) (int, error) {
	if len(p) >= w.big {
		panic("destination broke")
	}
	return len(p), nil
}

// TestWriterDestinationPanicIsAnError: a destination whose Write panics
// (written to from the output goroutine) fails the dump with an error that
// says so; the process goes on.
func TestWriterDestinationPanicIsAnError(t *testing.T) {
	d := newDB(t)
	def := genDef("t")
	d.create(def)
	fill(d, def, rand.New(rand.NewPCG(testSeed(t), 3)), 0, 5_000)
	_, err := WriteFull(context.Background(), &panicWriter{big: 16 << 10}, d.snap(), fixedOpts(CompressNone))
	if err == nil || !strings.Contains(err.Error(), "write panicked: destination broke") {
		t.Fatalf("WriteFull = %v, want the destination's panic as an error", err)
	}
}

// putSpan copies spans of every length as copy does, and writes nothing
// past them.
func TestPutSpan(t *testing.T) {
	src := make([]byte, 40)
	for i := range src {
		src[i] = byte(i + 1)
	}
	for n := 0; n <= len(src); n++ {
		d := bytes.Repeat([]byte{0xee}, 48)
		putSpan(d, string(src[:n]))
		if !bytes.Equal(d[:n], src[:n]) || bytes.Count(d[n:], []byte{0xee}) != len(d)-n {
			t.Fatalf("span of %d: %x", n, d)
		}
	}
}
