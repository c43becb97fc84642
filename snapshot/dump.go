package snapshot

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/heliosdb/heliosdb-lite/engine"
)

// WriteFull writes a file holding one full segment of snap (or of
// opts.Tables) to w. It streams: memory stays bounded by a few batches
// whatever the size of the state. The file is not synced; see
// WriteFileAtomic.
func WriteFull(ctx context.Context, w io.Writer, snap *engine.Snapshot, opts WriterOptions) (*Summary, error) {
	wr, err := NewWriter(w, opts)
	if err != nil {
		return nil, err
	}
	defer wr.Close() // on a panic too: stops the workers and the output goroutine (Close is idempotent)
	sum, err := writeFullSegment(ctx, wr, snap, opts)
	if cerr := wr.Close(); err == nil && cerr != nil {
		err = cerr
	}
	return sum, err
}

// WriteIncremental writes a file holding one incremental segment: what
// changed in snap after sinceLSN (rows written, keys deleted, tables
// created, replaced or dropped). It fails with an error matching
// engine.ErrChangesTooOld when the state no longer holds the tombstones
// since sinceLSN: take a full dump instead.
func WriteIncremental(ctx context.Context, w io.Writer, snap *engine.Snapshot, sinceLSN uint64, opts WriterOptions) (*Summary, error) {
	return WriteIncrementalOf(ctx, w, snap, sinceLSN, nil, opts)
}

// WriteIncrementalOf is WriteIncremental for a chain that holds only the
// tables base (nil: every table; a dump taken with --tables holds fewer).
// The segment lists every table of base that still exists (a table left
// out counts as dropped when the chain is restored) and the tables
// created after sinceLSN, whole, that opts.Tables allows (nil: all); a
// table the chain does not hold and that is older than sinceLSN cannot be
// continued and is left out.
func WriteIncrementalOf(ctx context.Context, w io.Writer, snap *engine.Snapshot, sinceLSN uint64, base []string, opts WriterOptions) (*Summary, error) {
	wr, err := NewWriter(w, opts)
	if err != nil {
		return nil, err
	}
	defer wr.Close() // on a panic too: stops the workers and the output goroutine (Close is idempotent)
	sum, err := writeIncSegment(ctx, wr, snap, sinceLSN, base)
	if cerr := wr.Close(); err == nil && cerr != nil {
		err = cerr
	}
	return sum, err
}

func tableTotal(t engine.Table) TableTotal {
	return TableTotal{Rows: uint64(t.Len()), HashSum: t.HashSum()}
}

func writeFullSegment(ctx context.Context, wr *Writer, snap *engine.Snapshot, opts WriterOptions) (*Summary, error) {
	names := snap.TableNames()
	if opts.Tables != nil {
		names = slices.Clone(opts.Tables)
		slices.Sort(names)
		names = slices.Compact(names)
	}
	tables := make([]engine.Table, len(names))
	schemas := make([]TableSchema, len(names))
	totals := make([]TableTotal, len(names))
	for i, n := range names {
		t, ok := snap.Table(n)
		if !ok {
			return nil, fmt.Errorf("snapshot: table %q does not exist", n)
		}
		tables[i] = t
		schemas[i] = TableSchema{Def: t.Def(), Meta: t.Meta(), Full: true}
		totals[i] = tableTotal(t)
	}
	// A table list that leaves out a table of the database makes the
	// segment a subset (a list of every table, hidden ones included as
	// raft snapshots pass, is the whole database).
	subset := opts.Tables != nil && slices.ContainsFunc(snap.TableNames(), func(n string) bool { _, found := slices.BinarySearch(names, n); return !found })
	h := SegmentHeader{Mode: ModeFull, LastLSN: snap.LSN(), Horizon: snap.TombstoneHorizon(), Subset: subset}
	if opts.NoTombstones {
		h.Horizon = snap.LSN()
	}
	if err := wr.BeginSegment(h, schemas); err != nil {
		return nil, err
	}
	for i, t := range tables {
		var err error
		n := 0
		t.ScanRecords(func(run engine.RecordRun) bool {
			if n += run.Len(); n >= 4096 {
				n = 0
				if err = ctx.Err(); err != nil {
					return false
				}
			}
			err = wr.writeRecords(i, run)
			return err == nil
		})
		if err == nil && !opts.NoTombstones {
			t.Tombstones(func(key string, lsn uint64) bool {
				err = wr.WriteTombstone(i, key, lsn)
				return err == nil
			})
		}
		if err != nil {
			return nil, err
		}
	}
	return wr.EndSegment(totals)
}

func writeIncSegment(ctx context.Context, wr *Writer, snap *engine.Snapshot, since uint64, base []string) (*Summary, error) {
	if since > snap.LSN() {
		return nil, fmt.Errorf("snapshot: incremental since LSN %d, but the state is at LSN %d", since, snap.LSN())
	}
	changes, err := snap.ChangesSince(since)
	if wr.opts.IncludeHidden {
		changes, err = snap.ChangesSinceAll(since)
	}
	if err != nil {
		return nil, fmt.Errorf("snapshot: incremental dump: %w", err)
	}
	if base != nil {
		changes = slices.DeleteFunc(changes, func(tc engine.TableChanges) bool {
			name := tc.Def.Name
			if slices.Contains(base, name) {
				return false // the chain holds it: always listed, else restoring the chain drops it
			}
			if !tc.Full {
				return true // older than the chain's end and not in it: cannot be continued
			}
			return wr.opts.Tables != nil && !slices.Contains(wr.opts.Tables, name)
		})
	}
	schemas := make([]TableSchema, len(changes))
	totals := make([]TableTotal, len(changes))
	for i, tc := range changes {
		t, _ := snap.Table(tc.Def.Name)
		schemas[i] = TableSchema{Def: tc.Def, Meta: t.Meta(), Full: tc.Full}
		totals[i] = tableTotal(t)
	}
	h := SegmentHeader{Mode: ModeIncremental, BaseLSN: since, LastLSN: snap.LSN(), Horizon: snap.TombstoneHorizon()}
	if err := wr.BeginSegment(h, schemas); err != nil {
		return nil, err
	}
	for i, tc := range changes {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for j, r := range tc.Rows {
			if j&4095 == 4095 {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
			}
			if err := wr.WriteRow(i, r.Key, r.Enc, r.LSN, r.Hash); err != nil {
				return nil, err
			}
		}
		for _, tb := range tc.Tombstones {
			if err := wr.WriteTombstone(i, tb.Key, tb.LSN); err != nil {
				return nil, err
			}
		}
	}
	return wr.EndSegment(totals)
}

// AppendResult is what AppendIncremental did.
type AppendResult struct {
	*Summary
	// TruncatedTail is the number of bytes of a torn tail (an earlier
	// append that crashed) removed before appending; 0 normally.
	TruncatedTail int64
}

// ErrOtherDatabase: AppendIncremental was asked to continue a file that
// records another database id (SegmentHeader.ClusterID) than
// WriterOptions.ClusterID.
var ErrOtherDatabase = errors.New("dump file of another database")

// AppendIncremental appends to the file at path an incremental segment
// holding the changes of snap since the file's last complete segment
// (whose last_lsn becomes the new segment's base_lsn). The new segment is
// written after the existing end and then fsynced: a crash during the
// append leaves every earlier segment intact, and readers report the torn
// remains as a torn tail, which the next AppendIncremental cuts off.
// With opts.ClusterID set, a file recording another database id is
// refused (ErrOtherDatabase) before anything is written.
func AppendIncremental(ctx context.Context, path string, snap *engine.Snapshot, opts WriterOptions) (*AppendResult, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("snapshot: append: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("snapshot: append: %w", err)
	}
	scan, err := ScanSegments(f, fi.Size())
	if err != nil {
		return nil, fmt.Errorf("snapshot: append to %s: %w", path, err)
	}
	if len(scan.Segments) == 0 {
		return nil, fmt.Errorf("snapshot: append to %s: %w: the file has no complete segment to continue; take a full dump", path, ErrNoSegment)
	}
	last := scan.Segments[len(scan.Segments)-1]
	if opts.ClusterID != "" {
		for _, sg := range scan.Segments {
			if id := sg.Header.ClusterID; id != "" && id != opts.ClusterID {
				return nil, fmt.Errorf("snapshot: append to %s: %w: the file comes from database %s, the state is database %s; take a full dump", path, ErrOtherDatabase, id, opts.ClusterID)
			}
		}
	}
	if snap.LSN() < last.Header.LastLSN {
		return nil, fmt.Errorf("snapshot: append to %s: the file already reaches LSN %d, the state is at LSN %d", path, last.Header.LastLSN, snap.LSN())
	}
	res := &AppendResult{TruncatedTail: fi.Size() - last.End}
	if res.TruncatedTail > 0 {
		if off, found := findFooter(f, last.End, fi.Size()); found {
			return nil, fmt.Errorf("snapshot: append to %s: %w: the file is damaged at offset %d but has a segment footer at offset %d after it; refusing to cut it off (run verify, then restore with salvage)", path, ErrCorrupt, last.End, off)
		}
		if err := f.Truncate(last.End); err != nil {
			return nil, fmt.Errorf("snapshot: append: cutting torn tail: %w", err)
		}
	}
	if _, err := f.Seek(last.End, io.SeekStart); err != nil {
		return nil, fmt.Errorf("snapshot: append: %w", err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	wr, err := newWriter(bw, opts)
	if err != nil {
		return nil, err
	}
	defer wr.Close() // on a panic too: stops the workers and the output goroutine (Close is idempotent)
	wr.off = last.End
	wr.opts.Subset = wr.opts.Subset || last.Header.Subset // an increment of a subset is one too
	sum, err := writeIncSegment(ctx, wr, snap, last.Header.LastLSN, last.Header.Tables)
	if cerr := wr.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		return nil, fmt.Errorf("snapshot: append to %s: %w", path, err)
	}
	res.Summary = sum
	return res, nil
}

// OutputPath says how to write a dump to path. A regular file (or a
// path that does not exist yet) is replaced atomically: target is path.
// A symbolic link is followed: target is the file it points to (which
// may not exist yet), replaced or created; the link stays. A device, FIFO
// or socket (/dev/null, a named pipe) is not replaced but written into as
// the bytes come (stream), as standard output is. A directory is an
// error.
func OutputPath(path string) (target string, stream bool, err error) {
	for hops := 0; ; hops++ {
		fi, err := os.Lstat(path)
		if errors.Is(err, os.ErrNotExist) {
			return path, false, nil
		}
		if err != nil {
			return "", false, err
		}
		m := fi.Mode()
		switch {
		case m&os.ModeSymlink != 0:
			if hops == 40 {
				return "", false, fmt.Errorf("%s: too many levels of symbolic links", path)
			}
			dest, err := os.Readlink(path)
			if err != nil {
				return "", false, err
			}
			if !filepath.IsAbs(dest) {
				dest = filepath.Join(filepath.Dir(path), dest)
			}
			path = dest
		case m.IsRegular():
			return path, false, nil
		case m.IsDir():
			return "", false, fmt.Errorf("%s is a directory: give a file name", path)
		case m&(os.ModeDevice|os.ModeCharDevice|os.ModeNamedPipe|os.ModeSocket) != 0:
			return path, true, nil
		default:
			return "", false, fmt.Errorf("%s is not a regular file, device or pipe (%v)", path, m.Type())
		}
	}
}

// WriteStream writes fn's bytes into the device, FIFO or socket at path
// (OutputPath said stream): opened for writing, never created or
// truncated.
func WriteStream(path string, fn func(w io.Writer) error) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	err = fn(bw)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// WriteFileAtomic writes path durably: fn writes into a temporary file in
// the same directory, which is fsynced, renamed over path, and the
// directory fsynced. On any error the temporary file is removed and path
// is untouched. Where path is a symbolic link, the file it points to is
// replaced; a device or pipe is written into (OutputPath).
func WriteFileAtomic(path string, fn func(w io.Writer) error) (err error) {
	path, stream, err := OutputPath(path)
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	if stream {
		if err := WriteStream(path, fn); err != nil {
			return fmt.Errorf("snapshot: writing %s: %w", path, err)
		}
		return nil
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<20)
	if err = fn(bw); err != nil {
		return err
	}
	if err = bw.Flush(); err != nil {
		return fmt.Errorf("snapshot: writing %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("snapshot: fsync %s: %w", tmp.Name(), err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	d, derr := os.Open(dir)
	if derr != nil {
		return nil // renamed; the directory sync is best effort where it cannot be opened
	}
	defer d.Close()
	if serr := d.Sync(); serr != nil && !errors.Is(serr, os.ErrInvalid) {
		return fmt.Errorf("snapshot: fsync directory %s: %w", dir, serr)
	}
	return nil
}

// findFooter reports whether a valid footer section header lies in
// [from, size): then what follows the last readable segment is damage in
// the middle of the file, not a torn tail.
func findFooter(r io.ReaderAt, from, size int64) (int64, bool) {
	br := bufio.NewReaderSize(io.NewSectionReader(r, from, size-from), 1<<20)
	for off := from; ; off++ {
		b, _ := br.Peek(frameHeaderLen)
		if len(b) < frameHeaderLen {
			return 0, false
		}
		if h, ok := parseFrameHeader(b); ok && h.typ == secFooter {
			return off, true
		}
		_, _ = br.Discard(1)
	}
}
