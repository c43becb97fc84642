package snapshot

import (
	"errors"
	"fmt"
)

// Sentinel errors. Callers test with errors.Is; the concrete errors carry
// the location (segment, table, batch, byte offset) in their message.
var (
	// ErrCorrupt marks every error caused by damaged bytes: a checksum
	// mismatch, a malformed section, a row that does not decode, footer
	// statistics that disagree with the data. A *CorruptError matches it.
	ErrCorrupt = errors.New("snapshot: corrupt dump file")
	// ErrNotDump: the input does not start with the HELIODMP magic.
	ErrNotDump = errors.New("snapshot: not a .heliodump file (bad magic)")
	// ErrVersion: the file's format major version is newer than this build
	// reads, or it has a section this build must understand but does not.
	ErrVersion = errors.New("snapshot: unsupported format version")
	// ErrTornTail: the input ends inside a segment (a crash during a write
	// or append, or a truncated copy). Every segment before the torn one is
	// complete and usable.
	ErrTornTail = errors.New("snapshot: torn tail")
	// ErrLSNGap: segments or files do not continue each other's LSN chain
	// (base_lsn of one must equal last_lsn of the previous).
	ErrLSNGap = errors.New("snapshot: LSN chain gap")
	// ErrHashMismatch: the restored state does not hold what was dumped
	// (row-hash sums or row counts differ from the footer). Also ErrCorrupt.
	ErrHashMismatch = errors.New("snapshot: restored data does not match the dump's row-hash sums")
	// ErrInvalidOptions: WriterOptions.Validate failed.
	ErrInvalidOptions = errors.New("snapshot: invalid options")
	// ErrClosed: the Writer or Reader was used after Close or a failure.
	ErrClosed = errors.New("snapshot: writer or reader is closed")
	// ErrNoSegment: the input holds a file header but no complete segment.
	ErrNoSegment = errors.New("snapshot: no complete segment")
)

// CorruptError locates damage. It matches ErrCorrupt (and ErrTornTail
// when Torn is set) with errors.Is.
type CorruptError struct {
	Offset  int64  // byte offset in the file of the damaged section (or of the end for a torn tail)
	Segment int    // 1-based segment number; 0 = file header
	Table   string // "" when not known or not in a table's batch
	Batch   int    // batch index within the table and segment; -1 when not a batch
	Torn    bool   // the input ended inside a segment
	Reason  string
	Err     error // optional cause
}

func (e *CorruptError) Error() string {
	var loc string
	switch {
	case e.Torn:
		loc = fmt.Sprintf("torn tail at offset %d", e.Offset)
		if e.Segment > 0 {
			loc += fmt.Sprintf(" (segment %d incomplete)", e.Segment)
		}
	default:
		loc = fmt.Sprintf("corrupt at offset %d", e.Offset)
		if e.Segment > 0 {
			loc += fmt.Sprintf(", segment %d", e.Segment)
		}
		if e.Table != "" {
			loc += fmt.Sprintf(", table %s", e.Table)
		}
		if e.Batch >= 0 {
			loc += fmt.Sprintf(", batch %d", e.Batch)
		}
	}
	msg := "snapshot: " + loc
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Is makes errors.Is(err, ErrCorrupt) and errors.Is(err, ErrTornTail) work.
func (e *CorruptError) Is(target error) bool {
	if target == ErrCorrupt {
		return true
	}
	return target == ErrTornTail && e.Torn
}

func (e *CorruptError) Unwrap() error { return e.Err }

// VersionError reports a file this build cannot read.
type VersionError struct {
	FileMajor, FileMinor uint16
	Writer               string // product version that wrote the file, if known
	Reason               string // set for an unknown critical section
}

func (e *VersionError) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("snapshot: %s (file format %d.%d, this build reads format %d.%d): upgrade heliosdb-lite to read it", e.Reason, e.FileMajor, e.FileMinor, FormatMajor, FormatMinor)
	}
	w := ""
	if e.Writer != "" {
		w = " written by HeliosDB-Lite " + e.Writer
	}
	return fmt.Sprintf("snapshot: dump file format version %d.%d%s is newer than this build reads (format %d.x, HeliosDB-Lite %s): restore it with HeliosDB-Lite %s or newer, or re-dump it with that version using an older format",
		e.FileMajor, e.FileMinor, w, FormatMajor, ProductVersion, nonEmpty(e.Writer, "that wrote it"))
}

// Is makes errors.Is(err, ErrVersion) work.
func (e *VersionError) Is(target error) bool { return target == ErrVersion }

func nonEmpty(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}
