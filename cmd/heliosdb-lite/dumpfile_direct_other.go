//go:build !linux

package main

import "os"

// openDirect: O_DIRECT is used on Linux only; elsewhere dumps are written
// through the page cache.
func openDirect(string) *os.File { return nil }

// bufAlloc: the asyncWriter's buffers are on the Go heap where O_DIRECT is
// not used.
func bufAlloc(n int) ([]byte, bool) { return alignedBuf(n), false }

func bufFree([]byte) {}
