package node

import (
	"io"

	"github.com/heliosdb/heliosdb-lite/fsm"
)

// fileAdopter is a snapshot sink that can take a finished file as its
// content without copying it (fsm's chain store: a hard link into the
// store when the spool is on the same file system).
type fileAdopter interface {
	AdoptFile(path string, size int64, facts *fsm.ChainFacts) bool
}

// adoptSpool offers the spool file to w; it reports whether w took it.
func (s *spoolReader) adoptSpool(w io.Writer) bool {
	a, ok := w.(fileAdopter)
	s.adopted = ok && s.size > 0 && a.AdoptFile(s.f.Name(), s.size, s.facts)
	return s.adopted
}
