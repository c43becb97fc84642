package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"unsafe"

	"github.com/heliosdb/heliosdb-lite/snapshot"
)

// writeDumpFile writes path durably, as snapshot.WriteFileAtomic does (a
// temporary file in the same directory, fsynced, renamed over path, the
// directory fsynced; on any error the temporary file is removed and path is
// untouched, and the file header is written last), but puts the bytes on
// disk while the dump is still arriving, so that the final fsync has
// little left to do: written directly (O_DIRECT, see fileSink) where the
// file system allows it, else through the page cache with an fsync started
// in the background every syncEvery bytes. (With one fsync at the end, a
// 1 GB dump waited ~0.7 s for the disk after the last byte came in.)
//
// A symbolic link is followed (the file it points to is replaced); a
// device or pipe such as /dev/null is written into as the bytes come
// (snapshot.OutputPath).
func writeDumpFile(path string, fn func(w io.Writer) error) (err error) {
	path, stream, err := snapshot.OutputPath(path)
	if err != nil {
		return err
	}
	if stream {
		return snapshot.WriteStream(path, fn)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	sw := &syncingWriter{f: tmp, every: syncEvery}
	sink := &fileSink{direct: openDirect(tmp.Name()), sw: sw}
	aw := newAsyncWriter(sink)
	defer func() {
		_ = aw.close()
		sink.close()
		sw.wait()
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	hh := &headHolder{w: aw, n: fileHeaderLen}
	if err = fn(hh); err != nil {
		return err
	}
	if err = aw.close(); err != nil {
		return err
	}
	sink.close()
	if err = sink.finish(); err != nil {
		return err
	}
	if err = sw.wait(); err != nil {
		return fmt.Errorf("fsync %s: %w", tmp.Name(), err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", tmp.Name(), err)
	}
	// The file header goes in last, once everything else is on disk: a
	// dump killed before this point leaves a temporary file that is not
	// a .heliodump at all, never one that verifies as complete.
	if _, err = tmp.WriteAt(hh.head, 0); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", tmp.Name(), err)
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, derr := os.Open(dir)
	if derr != nil {
		return nil // renamed; the directory sync is best effort where it cannot be opened
	}
	defer d.Close()
	if serr := d.Sync(); serr != nil && !errors.Is(serr, os.ErrInvalid) {
		return fmt.Errorf("fsync directory %s: %w", dir, serr)
	}
	return nil
}

// asyncWriter hands the bytes to a goroutine that writes them to w, so
// that writing the file overlaps receiving the next bytes from the server
// instead of pausing it. Writes are copied once, into the current one of
// a few reused buffers (small writes such as a section's header and
// trailer simply accumulate there); a full buffer goes to the goroutine.
// Nothing else buffers in front of it: the copy from the connection's
// buffer into this one is the only copy in user space.
//
// The buffers are outside the Go heap (bufAlloc; see its comment) and
// released by close.
type asyncWriter struct {
	w    io.Writer
	cur  []byte
	work chan []byte
	free chan []byte
	done chan struct{}
	bufs [][]byte // the buffers mapped by bufAlloc, released by close

	mu     sync.Mutex // guards err
	err    error
	closed bool
}

// Full buffers are multiples of directAlign and aligned to it, so that
// fileSink can write them with O_DIRECT; 2 MiB writes reached the disk's
// full speed (dd oflag=direct: 1.4 GB/s, as with 4 MiB; 1.1 GB/s at 1 MiB).
const (
	asyncBufs    = 4
	asyncBufSize = 2 << 20
)

func newAsyncWriter(w io.Writer) *asyncWriter {
	a := &asyncWriter{w: w, work: make(chan []byte, asyncBufs), free: make(chan []byte, asyncBufs), done: make(chan struct{})}
	for range asyncBufs {
		a.free <- nil
	}
	go func() {
		defer close(a.done)
		for b := range a.work {
			if a.failed() == nil {
				if _, err := a.w.Write(b); err != nil {
					a.mu.Lock()
					a.err = err
					a.mu.Unlock()
				}
			}
			a.free <- b[:0]
		}
	}()
	return a
}

func (a *asyncWriter) failed() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

func (a *asyncWriter) Write(p []byte) (int, error) {
	if err := a.failed(); err != nil {
		return 0, err
	}
	if a.closed {
		return 0, errAsyncClosed
	}
	n := len(p)
	for len(p) > 0 {
		if a.cur == nil {
			a.cur = <-a.free
			if cap(a.cur) < asyncBufSize {
				var mapped bool
				if a.cur, mapped = bufAlloc(asyncBufSize); mapped {
					a.bufs = append(a.bufs, a.cur)
				}
			}
		}
		k := min(len(p), cap(a.cur)-len(a.cur))
		a.cur = append(a.cur, p[:k]...)
		p = p[k:]
		if len(a.cur) == cap(a.cur) {
			a.work <- a.cur
			a.cur = nil
		}
	}
	return n, nil
}

// Flush hands the bytes gathered so far to the goroutine (it does not wait
// for them to be written).
func (a *asyncWriter) Flush() error {
	if len(a.cur) > 0 && !a.closed {
		a.work <- a.cur
		a.cur = nil
	}
	return a.failed()
}

// close writes what is left, waits for every write handed over, releases
// the buffers and returns the first error.
func (a *asyncWriter) close() error {
	if !a.closed {
		_ = a.Flush()
		a.closed = true
		close(a.work)
		<-a.done
		for _, b := range a.bufs {
			bufFree(b)
		}
		a.bufs = nil
	}
	return a.failed()
}

var errAsyncClosed = errors.New("write after close")

// directAlign is the alignment of O_DIRECT writes: buffer address, length
// and file offset (4096 covers 512-byte and 4 KiB sector disks).
const directAlign = 4096

// alignedBuf returns an empty buffer of capacity n whose first byte is
// aligned to directAlign.
func alignedBuf(n int) []byte {
	b := make([]byte, n+directAlign)
	o := int(-uintptr(unsafe.Pointer(unsafe.SliceData(b))) & (directAlign - 1))
	return b[o : o : o+n]
}

// pageCacheChunk is the largest write through the page cache: dumps to a
// file written through it in 4 MiB writes took twice as long as with 1 MiB
// or 256 KiB ones (8 alternating runs each; the kernel's copy into the
// page cache was the difference, probably because a 4 MiB source no longer
// fits the core's 2 MiB L2 cache).
const pageCacheChunk = 256 << 10

// fileSink is where the asyncWriter's goroutine writes the dump. Whole
// aligned buffers go straight to the disk through direct, a second
// descriptor of the file opened with O_DIRECT: no copy into the page
// cache, no write-back later, and nothing for the final fsync but the
// tail. The kernel's copy into freshly allocated page-cache pages was most
// of the dump CLI's CPU time (copy_folio_from_iter_atomic, 70% of the
// samples of a 287 MB dump to a file). Anything else (the last, partial
// buffer; a file system that refuses O_DIRECT) goes through the page cache
// by sw, and from the first such write on, everything does.
//
// The last buffer (the dump's tail, normally the only one of a length that
// is not a multiple of directAlign) is written directly too, padded with
// zeros to the next multiple in its own buffer's room, and finish cuts the
// file back to its length: through the page cache, the final fsync had
// the tail (up to 2 MiB) to write out after the last byte came in. (The
// padding goes in the room of the caller's buffer past len(p): the
// asyncWriter's own buffers.)
type fileSink struct {
	direct *os.File // nil: writing through the page cache
	sw     *syncingWriter
	off    int64
	padded bool // a write was padded: the file may be longer than off
}

func (s *fileSink) Write(p []byte) (int, error) {
	if s.direct != nil && s.off%directAlign == 0 && uintptr(unsafe.Pointer(unsafe.SliceData(p)))%directAlign == 0 {
		q, pad := p, false
		if r := len(p) % directAlign; r != 0 && cap(p)-len(p) >= directAlign-r {
			q, pad = p[:len(p)+directAlign-r], true
			clear(q[len(p):])
		}
		if len(q)%directAlign == 0 {
			n, err := s.direct.WriteAt(q, s.off)
			if err == nil || n > 0 || !errors.Is(err, syscall.EINVAL) {
				n = min(n, len(p))
				s.off += int64(n)
				s.padded = s.padded || pad
				return n, err
			}
		}
		// EINVAL with nothing written: the file system does not take
		// this write directly after all; write it as any other.
	}
	if s.direct != nil {
		s.close()
		if _, err := s.sw.f.Seek(s.off, io.SeekStart); err != nil {
			return 0, err
		}
	}
	total := len(p)
	for len(p) > 0 {
		n, err := s.sw.Write(p[:min(len(p), pageCacheChunk)])
		s.off += int64(n)
		if err != nil {
			return total - len(p) + n, err
		}
		p = p[n:]
	}
	return total, nil
}

// finish cuts the file to the bytes written, after the last write, when a
// write was padded.
func (s *fileSink) finish() error {
	if s.padded {
		return s.sw.f.Truncate(s.off)
	}
	return nil
}

// close closes the O_DIRECT descriptor (the file stays open in sw).
func (s *fileSink) close() {
	if s.direct != nil {
		_ = s.direct.Close()
		s.direct = nil
	}
}

// headHolder keeps the first n bytes (the file header) aside and writes
// zeros in their place; writeDumpFile writes them at the very end.
type headHolder struct {
	w    io.Writer
	n    int
	head []byte
}

func (h *headHolder) Write(p []byte) (int, error) {
	total := len(p)
	if k := min(h.n-len(h.head), len(p)); k > 0 {
		h.head = append(h.head, p[:k]...)
		if _, err := h.w.Write(make([]byte, k)); err != nil {
			return 0, err
		}
		p = p[k:]
	}
	if len(p) > 0 {
		if _, err := h.w.Write(p); err != nil {
			return 0, err
		}
	}
	return total, nil
}

// Flush flushes the writer behind (the asyncWriter hands its bytes over).
func (h *headHolder) Flush() error {
	if f, ok := h.w.(interface{ Flush() error }); ok {
		return f.Flush()
	}
	return nil
}

// syncEvery is how many bytes are written between background fsyncs.
const syncEvery = 64 << 20

// syncingWriter writes to f and starts an fsync in the background each
// time another `every` bytes were written (at most one runs at a time).
type syncingWriter struct {
	f     *os.File
	every int64
	n     int64 // bytes written
	last  int64 // n when the last background fsync started

	wg  sync.WaitGroup
	mu  sync.Mutex // guards err and running
	err error
	run bool
}

func (s *syncingWriter) Write(p []byte) (int, error) {
	n, err := s.f.Write(p)
	s.n += int64(n)
	if err == nil && s.n-s.last >= s.every {
		s.mu.Lock()
		if !s.run {
			s.run, s.last = true, s.n
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				serr := s.f.Sync()
				s.mu.Lock()
				s.run = false
				if serr != nil && s.err == nil {
					s.err = serr
				}
				s.mu.Unlock()
			}()
		}
		s.mu.Unlock()
	}
	return n, err
}

// wait waits for a background fsync and returns the first one's error.
func (s *syncingWriter) wait() error {
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}
