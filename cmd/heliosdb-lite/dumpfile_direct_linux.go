package main

import (
	"os"
	"syscall"
)

// bufAlloc returns an empty buffer of capacity n (a multiple of the page
// size) aligned to directAlign, mapped outside the Go heap: 4 x 2 MiB of
// buffers on the heap made the dump CLI's heap grow from 2 to 15 MB in
// three garbage collections per dump, each marking everything the
// packages' init left, the first one in the first write of even an empty
// dump. The kernel zeroes the pages as they are first touched. When
// mapped, bufFree must release it, and no pointer into it may be kept;
// else (mmap failed) it is on the heap.
func bufAlloc(n int) (b []byte, mapped bool) {
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS)
	if err != nil {
		return alignedBuf(n), false
	}
	return b[:0], true
}

// bufFree releases a mapped buffer of bufAlloc.
func bufFree(b []byte) {
	_ = syscall.Munmap(b[:cap(b)])
}

// openDirect opens name for writing with O_DIRECT (writes go from the
// caller's aligned buffers to the disk, not through the page cache), or
// returns nil where the file system refuses it.
func openDirect(name string) *os.File {
	f, err := os.OpenFile(name, os.O_WRONLY|syscall.O_DIRECT, 0)
	if err != nil {
		return nil
	}
	return f
}
