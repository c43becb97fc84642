//go:build linux

package node

import (
	"errors"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// Direct I/O for the restore spool (see spool). Blocks are written and
// read whole (spoolBlock bytes, aligned) by a goroutine beside the
// restore; the unaligned end of the file is written through the page
// cache after the direct part.
const (
	spoolBlock  = 4 << 20
	spoolAlign  = 4096
	spoolBlocks = 3 // buffers in rotation
)

// The blocks of a finished spool are kept for the next restore for a
// while (spoolKeepFor) instead of being left to the collector: restores
// in a row (a chain of dump files, a script, a benchmark) would otherwise
// allocate spoolBlocks*spoolBlock bytes each, an eighth of all that a
// 70 MB restore allocates besides the state it builds, and so bring the
// next collection nearer. An idle server drops them.
var spoolKeep struct {
	mu     sync.Mutex
	blocks [][]byte
	gen    uint64 // bumped by every keepBlocks: a drop timer of an older one does nothing
}

const spoolKeepFor = 30 * time.Second

// takeBlock returns a kept block, or a new one.
func takeBlock() []byte {
	spoolKeep.mu.Lock()
	defer spoolKeep.mu.Unlock()
	if n := len(spoolKeep.blocks); n > 0 {
		b := spoolKeep.blocks[n-1]
		spoolKeep.blocks[n-1] = nil
		spoolKeep.blocks = spoolKeep.blocks[:n-1]
		return b[:0]
	}
	return alignedBlock()
}

// keepBlocks keeps up to spoolBlocks blocks for spoolKeepFor.
func keepBlocks(bs [][]byte) {
	spoolKeep.mu.Lock()
	defer spoolKeep.mu.Unlock()
	for _, b := range bs {
		if len(spoolKeep.blocks) < spoolBlocks && cap(b) == spoolBlock {
			spoolKeep.blocks = append(spoolKeep.blocks, b[:0])
		}
	}
	spoolKeep.gen++
	gen := spoolKeep.gen
	time.AfterFunc(spoolKeepFor, func() {
		spoolKeep.mu.Lock()
		defer spoolKeep.mu.Unlock()
		if spoolKeep.gen == gen {
			spoolKeep.blocks = nil
		}
	})
}

func alignedBlock() []byte {
	b := make([]byte, spoolBlock+spoolAlign)
	off := int(spoolAlign - uintptr(unsafe.Pointer(unsafe.SliceData(b)))%spoolAlign)
	return b[off : off : off+spoolBlock]
}

func setDirect(f *os.File, on bool) error {
	fl, _, e := syscall.Syscall(syscall.SYS_FCNTL, f.Fd(), syscall.F_GETFL, 0)
	if e != 0 {
		return e
	}
	if on {
		fl |= syscall.O_DIRECT
	} else {
		fl &^= syscall.O_DIRECT
	}
	if _, _, e := syscall.Syscall(syscall.SYS_FCNTL, f.Fd(), syscall.F_SETFL, fl); e != 0 {
		return e
	}
	return nil
}

// directWriter writes a file sequentially with O_DIRECT from a goroutine.
type directWriter struct {
	f    *os.File
	buf  []byte // being filled
	free chan []byte
	full chan []byte
	done chan struct{}

	mu  sync.Mutex
	err error // first write error
	off bool  // O_DIRECT was refused: the goroutine writes through the page cache
}

// spoolDirect returns a direct writer for the empty file f, or nil if the
// file system refuses O_DIRECT.
func spoolDirect(f *os.File) spoolSink {
	if setDirect(f, true) != nil {
		return nil
	}
	d := &directWriter{f: f, free: make(chan []byte, spoolBlocks), full: make(chan []byte, spoolBlocks), done: make(chan struct{})}
	for range spoolBlocks - 1 {
		d.free <- takeBlock()
	}
	d.buf = takeBlock()
	go d.run(d.full)
	return d
}

func (d *directWriter) run(full <-chan []byte) {
	defer close(d.done)
	for b := range full {
		if d.failed() == nil {
			d.fail(d.writeBlock(b))
		}
		d.free <- b[:0]
	}
}

func (d *directWriter) writeBlock(b []byte) error {
	_, err := d.f.Write(b)
	if err != nil && errors.Is(err, syscall.EINVAL) && !d.off {
		// Some file systems accept the flag and refuse the writes: go on
		// through the page cache (nothing of b was written).
		d.off = true
		if setDirect(d.f, false) == nil {
			_, err = d.f.Write(b)
		}
	}
	return err
}

func (d *directWriter) fail(err error) {
	if err != nil {
		d.mu.Lock()
		if d.err == nil {
			d.err = err
		}
		d.mu.Unlock()
	}
}

func (d *directWriter) failed() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}

func (d *directWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		if len(d.buf) == cap(d.buf) {
			if err := d.failed(); err != nil {
				return n, err
			}
			d.full <- d.buf
			d.buf = <-d.free
		}
		k := copy(d.buf[len(d.buf):cap(d.buf)], p)
		d.buf = d.buf[:len(d.buf)+k]
		p = p[k:]
		n += k
	}
	return n, nil
}

// Flush writes the rest (its aligned part directly, the end through the
// page cache) and stops the goroutine; the file is then an ordinary one.
// Only one Flush is allowed.
func (d *directWriter) Flush() error {
	if d.full == nil {
		return d.failed()
	}
	aligned := len(d.buf) &^ (spoolAlign - 1)
	rest := append([]byte(nil), d.buf[aligned:]...)
	if aligned > 0 {
		d.full <- d.buf[:aligned]
	} else {
		d.free <- d.buf
	}
	d.buf = nil
	close(d.full)
	d.full = nil
	<-d.done
	d.keep()
	if err := d.failed(); err != nil {
		return err
	}
	if err := setDirect(d.f, false); err != nil {
		return err
	}
	_, err := d.f.Write(rest)
	return err
}

// Close stops the goroutine if Flush was not called (a failed restore).
func (d *directWriter) Close() error {
	if d.full != nil {
		close(d.full)
		d.full = nil
		<-d.done
		if d.buf != nil {
			d.free <- d.buf
			d.buf = nil
		}
		d.keep()
	}
	return nil
}

// keep hands the blocks, all back in free once the goroutine is done, to
// the next spool (keepBlocks).
func (d *directWriter) keep() {
	var bs [][]byte
	for len(d.free) > 0 {
		bs = append(bs, <-d.free)
	}
	keepBlocks(bs)
}
