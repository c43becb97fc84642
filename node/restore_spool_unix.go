//go:build unix

package node

import (
	"io"
	"os"
	"syscall"

	"github.com/heliosdb/heliosdb-lite/fsm"
)

// spoolReader hands the spooled dump to raft's user restore, which copies
// it into the snapshot store (io.Copy, so WriteTo is used). A store that
// can adopt the file (restore_spool.go) takes it as it is; else the file is
// mapped and written in two Writes, a small first one (the chain store
// keeps its first bytes to tell a new chain from an append) and the rest
// at once, instead of one read and one write per 32 KiB. The mapping reads
// the page cache; nothing is copied into the heap. Where mapping fails the
// file is copied as usual.
type spoolReader struct {
	f       *os.File
	size    int64
	adopted bool            // the snapshot store took the file as it is
	facts   *fsm.ChainFacts // what its segments say, for the store (nil: it reads them)
}

func (s *spoolReader) Read(p []byte) (int, error) { return s.f.Read(p) }

func (s *spoolReader) WriteTo(w io.Writer) (int64, error) {
	if s.adoptSpool(w) {
		return s.size, nil
	}
	if s.size <= 0 || int64(int(s.size)) != s.size {
		return io.Copy(w, struct{ io.Reader }{s.f})
	}
	m, err := syscall.Mmap(int(s.f.Fd()), 0, int(s.size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return io.Copy(w, struct{ io.Reader }{s.f})
	}
	defer syscall.Munmap(m) //nolint:errcheck // read-only mapping
	head := min(len(m), 64)
	n, err := w.Write(m[:head])
	if err == nil && head < len(m) {
		var k int
		k, err = w.Write(m[head:])
		n += k
	}
	return int64(n), err
}
