//go:build !unix

package node

import (
	"io"
	"os"

	"github.com/heliosdb/heliosdb-lite/fsm"
)

// spoolReader hands the spooled dump to raft's user restore (see
// restore_spool_unix.go; here it is read as usual).
type spoolReader struct {
	f       *os.File
	size    int64
	adopted bool            // the snapshot store took the file as it is
	facts   *fsm.ChainFacts // what its segments say, for the store (nil: it reads them)
}

func (s *spoolReader) Read(p []byte) (int, error) { return s.f.Read(p) }

// WriteTo offers the file to a store that can adopt it, else copies it.
func (s *spoolReader) WriteTo(w io.Writer) (int64, error) {
	if s.adoptSpool(w) {
		return s.size, nil
	}
	return io.Copy(w, struct{ io.Reader }{s.f})
}

var _ io.Reader = (*spoolReader)(nil)
