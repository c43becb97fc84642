package main

import (
	"os"
	"syscall"
)

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
