//go:build linux

package node

import (
	"testing"
	"unsafe"
)

// A finished spool's direct-I/O blocks go to the next spool instead of
// being allocated again, a failed one's too, and no more than spoolBlocks
// are kept.
func TestSpoolKeepsBlocks(t *testing.T) {
	s, err := newSpool(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if !s.direct {
		s.Close()
		t.Skip("the temp directory's file system refuses O_DIRECT") // nothing to reuse: the spool writes through the page cache
	}
	if _, err := s.Write(make([]byte, 3*spoolBlock+100)); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	spoolKeep.mu.Lock()
	kept := map[*byte]bool{}
	for _, b := range spoolKeep.blocks {
		kept[unsafe.SliceData(b)] = true
	}
	spoolKeep.mu.Unlock()
	if len(kept) != spoolBlocks {
		t.Fatalf("%d blocks kept after a flushed spool, want %d", len(kept), spoolBlocks)
	}
	// A spool that fails (closed without Flush) hands them on as well.
	s2, err := newSpool(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	d := s2.w.(*directWriter)
	if !kept[unsafe.SliceData(d.buf)] {
		t.Fatal("the next spool allocated its block instead of taking a kept one")
	}
	if _, err := s2.Write(make([]byte, spoolBlock+5)); err != nil {
		t.Fatal(err)
	}
	s2.Close()
	spoolKeep.mu.Lock()
	n := len(spoolKeep.blocks)
	for _, b := range spoolKeep.blocks {
		if !kept[unsafe.SliceData(b)] {
			n = -1
		}
	}
	spoolKeep.mu.Unlock()
	if n != spoolBlocks {
		t.Fatalf("after a failed spool: %d of the same blocks kept, want %d", n, spoolBlocks)
	}
}
