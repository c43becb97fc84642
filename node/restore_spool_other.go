//go:build !unix

package node

import (
	"io"
	"os"
)

// spoolReader hands the spooled dump to raft's user restore (see
// restore_spool_unix.go; here it is read as usual).
type spoolReader struct {
	f    *os.File
	size int64
}

func (s *spoolReader) Read(p []byte) (int, error) { return s.f.Read(p) }

var _ io.Reader = (*spoolReader)(nil)
