//go:build !linux

package node

import "os"

// spoolDirect: direct I/O is used on Linux only.
func spoolDirect(*os.File) spoolSink { return nil }
