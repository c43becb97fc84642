package node

import (
	"bufio"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
)

// spool is the temporary file an incoming dump is kept in while it is
// loaded (runSnapshot); the snapshot store then adopts it (AdoptFile), so
// it is written once and, apart from its headers, never read back. Where
// the platform and file system allow, it is written with direct I/O by a
// goroutine of its own (spoolDirect, Linux): filling the page cache with
// the dump cost as much CPU as a fifth of the whole restore (perf on a
// 287 MB uncompressed dump: copy_folio_from_iter_atomic at 23% of the
// server's samples), and a buffered write cannot overlap the load.
// Elsewhere it is a buffered writer.
type spool struct {
	f      *os.File
	w      spoolSink
	direct bool
	n      int64
	err    error // first write error
}

type spoolSink interface {
	io.Writer
	Flush() error
}

// spoolPattern names the spool files (os.CreateTemp puts random digits
// in place of the *).
const spoolPattern = "restore-*.heliodump.tmp"

func newSpool(dir string) (*spool, error) {
	f, err := os.CreateTemp(dir, spoolPattern)
	if err != nil {
		return nil, err
	}
	s := &spool{f: f}
	if d := spoolDirect(f); d != nil {
		s.w, s.direct = d, true
	} else {
		s.w = bufio.NewWriterSize(f, 1<<20)
	}
	return s, nil
}

// Write spools p (it is copied).
func (s *spool) Write(p []byte) (int, error) {
	if spoolTestLimit > 0 && s.n+int64(len(p)) > spoolTestLimit {
		return 0, s.fail(syscall.ENOSPC)
	}
	n, err := s.w.Write(p)
	s.n += int64(n)
	return n, s.fail(err)
}

// Flush writes out everything spooled; afterwards the file is an ordinary
// one, positioned at its end (appends and reads work as usual).
func (s *spool) Flush() error { return s.fail(s.w.Flush()) }

// Err is the first write or flush error of the spool.
func (s *spool) Err() error { return s.err }

func (s *spool) fail(err error) error {
	if err != nil && s.err == nil {
		s.err = err
	}
	return err
}

// spoolTestLimit, when positive, makes a spool fail with ENOSPC once it
// would hold more bytes than that (tests of a full disk).
var spoolTestLimit int64

// Size is the number of bytes spooled.
func (s *spool) Size() int64 { return s.n }

// Close closes and removes the file.
func (s *spool) Close() {
	if d, ok := s.w.(io.Closer); ok {
		_ = d.Close()
	}
	s.f.Close()
	_ = os.Remove(s.f.Name())
}

// reader returns the first size bytes of the flushed spool for raft's
// user restore, which hands them to the snapshot store.
func (s *spool) reader(size int64) *spoolReader {
	return &spoolReader{f: s.f, size: size}
}

// removeStaleSpools removes from dir the spool files of restores that
// never reached Close: the process died mid-restore (kill -9, a crash, a
// power cut). Called at startup once raft holds the data directory's
// lock, when no restore of this node can be running: an adopted spool was
// hard-linked into the snapshot store under a name of the store's, so
// every file of spoolPattern here is garbage. Only regular files of that
// pattern, directly in dir, are touched.
func removeStaleSpools(dir string, log *slog.Logger) {
	paths, _ := filepath.Glob(filepath.Join(dir, spoolPattern))
	for _, p := range paths {
		fi, err := os.Lstat(p)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		if err := os.Remove(p); err != nil {
			log.Warn("restore: cannot remove the spool file of an interrupted restore", "path", p, "err", err)
			continue
		}
		log.Info("restore: removed the spool file of an interrupted restore", "path", p, "bytes", fi.Size())
	}
}
