package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"sync"

	"github.com/heliosdb/heliosdb-lite/engine"
)

// LoadResult is what Load built.
type LoadResult struct {
	// State holds every complete segment applied. With a torn tail it is
	// the state of the last complete segment and Load's error says so.
	State    *engine.State
	Segments []SegmentHeader
	Rows     uint64 // rows applied
	// TornTail is set (and returned as the error) when the input ends
	// inside a segment.
	TornTail *CorruptError
}

// Load applies every segment of one file, in order, on top of base (nil =
// an empty state): a full segment replaces the state (or, for a table
// subset, starts an empty one with those tables), an incremental segment
// must continue the chain (its base_lsn equals the LSN reached so far,
// else ErrLSNGap). After each segment the tables are checked against the
// footer's row counts and row-hash sums (ErrHashMismatch), so a successful
// Load holds exactly what was dumped.
//
// On a torn tail, Load returns the result of the complete segments and an
// error matching ErrTornTail: the caller decides whether a partial chain
// is acceptable. On any other error the result is nil. base is not
// modified.
func Load(ctx context.Context, r io.Reader, base *engine.State) (*LoadResult, error) {
	// The decode workers check the row encodings and compute each batch's
	// leaf sums, in parallel; the loader hands the batches to the engine
	// with PutRowsChecked.
	rd := NewReaderWith(r, ReaderOptions{CheckRows: true, LeafSums: true})
	defer rd.Close()
	l := loader{state: base}
	defer l.releaseGC()
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		it, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			var ce *CorruptError
			if errors.As(err, &ce) && ce.Torn && len(l.res.Segments) > 0 {
				l.res.State, l.res.TornTail = l.state, ce
				return &l.res, err
			}
			return nil, err
		}
		if err := l.apply(it); err != nil {
			return nil, err
		}
	}
	l.res.State = l.state
	return &l.res, nil
}

type loader struct {
	state *engine.State
	b     *engine.Builder
	hdr   *SegmentHeader
	metas map[string]TableSchema
	res   LoadResult
	raw   int64 // row bytes loaded
	gc    bool  // holds bulkGC
}

// While a large load runs, the garbage collector's target is raised from
// the usual 100% to bulkGCPercent: nearly everything a load allocates is
// kept (records and tree nodes of the new state), so a collection finds
// little garbage, and each one marks the whole heap, the state being
// replaced included. Spacing them out costs almost no memory: restoring a
// 287 MB dump into a process that still held a state of that size, the
// peak heap growth was 1.74-1.76 bytes per raw byte at 100, 200 and 400%,
// and Load went from 139 to 156 MB per CPU-second at 200% (161 at 400%).
// What it does cost: garbage that other work makes during the load is
// collected later (a memory limit, GOMEMLIMIT, still holds). Loads share
// the setting (the first raises it, the last restores what was there);
// a collector that is off or set higher is left alone.
const bulkGCPercent = 200

// bulkGCAfter is how many row bytes a load reads before it raises the
// target (small loads leave it alone).
var bulkGCAfter int64 = 16 << 20

var bulkGC struct {
	mu   sync.Mutex
	n    int // loads holding the raised target
	prev int // the setting to restore
}

func (l *loader) holdGC() {
	l.gc = true
	bulkGC.mu.Lock()
	defer bulkGC.mu.Unlock()
	if bulkGC.n == 0 {
		// Read the setting first: setting and then putting back an "off"
		// or higher one would let a collection start in between.
		bulkGC.prev = gcPercent()
		if bulkGC.prev >= 0 && bulkGC.prev < bulkGCPercent {
			debug.SetGCPercent(bulkGCPercent)
		}
	}
	bulkGC.n++
}

// gcPercent is the collector's current setting (-1: off).
func gcPercent() int {
	m := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(m)
	if m[0].Value.Kind() != metrics.KindUint64 {
		return 100
	}
	return int(int64(m[0].Value.Uint64()))
}

func (l *loader) releaseGC() {
	if !l.gc {
		return
	}
	l.gc = false
	bulkGC.mu.Lock()
	defer bulkGC.mu.Unlock()
	if bulkGC.n--; bulkGC.n == 0 && bulkGC.prev >= 0 && bulkGC.prev < bulkGCPercent {
		debug.SetGCPercent(bulkGC.prev)
	}
}

func (l *loader) apply(it *Item) error {
	switch it.Kind {
	case ItemSegment:
		h := it.Segment
		if h.Mode == ModeIncremental {
			if l.state == nil {
				return fmt.Errorf("%w: segment %d is incremental (LSN %d..%d) but there is no base: restore the base dump first", ErrLSNGap, it.SegNo, h.BaseLSN, h.LastLSN)
			}
			if l.state.LSN() != h.BaseLSN {
				return fmt.Errorf("%w: segment %d continues from LSN %d but the state is at LSN %d: apply the missing incremental dumps in order", ErrLSNGap, it.SegNo, h.BaseLSN, l.state.LSN())
			}
			l.b = engine.NewBuilderFrom(l.state, h.LastLSN)
			listed := make(map[string]bool, len(h.Tables))
			for _, t := range h.Tables {
				listed[t] = true
			}
			// Every table the segment does not list was dropped, hidden ones
			// included (raft snapshot chains list the hidden tables they keep).
			for _, t := range l.state.AllTableNames() {
				if !listed[t] {
					l.b.DropTable(t)
				}
			}
		} else {
			l.b = engine.NewBuilder(h.LastLSN)
		}
		l.b.TrustRows()
		l.b.SetLSN(h.LastLSN)
		l.b.SetHorizon(h.Horizon)
		l.hdr = h
		l.metas = make(map[string]TableSchema, len(h.Tables))
	case ItemTable:
		ts := it.Table
		l.metas[ts.Def.Name] = *ts
		if ts.Full || l.hdr.Mode == ModeFull {
			return wrapLoad(it, l.b.CreateTable(ts.Def, ts.Meta))
		}
		if !l.b.HasTable(ts.Def.Name) {
			return fmt.Errorf("%w: segment %d changes table %q, which the base does not have", ErrLSNGap, it.SegNo, ts.Def.Name)
		}
		return wrapLoad(it, l.b.UpdateMeta(ts.Def.Name, ts.Def, ts.Meta))
	case ItemRows:
		b := it.Batch
		if i, err := l.b.PutRowsChecked(b.Table, b.Rows, b.Leaves); err != nil {
			return &CorruptError{Offset: it.Offset, Segment: it.SegNo, Table: b.Table, Batch: b.Index,
				Reason: fmt.Sprintf("row %d cannot be restored", b.FirstRow+uint64(i)), Err: err}
		}
		l.res.Rows += uint64(len(b.Rows))
		if l.raw += int64(b.RawLen); l.raw >= bulkGCAfter && !l.gc {
			l.holdGC()
		}
	case ItemTombstones:
		b := it.Batch
		for _, t := range b.Tombstones {
			if err := l.b.Delete(b.Table, t.Key, t.LSN); err != nil {
				return wrapLoad(it, err)
			}
		}
	case ItemFooter:
		for name, ts := range l.metas {
			if err := l.b.UpdateMeta(name, nil, ts.Meta); err != nil {
				return wrapLoad(it, err)
			}
		}
		st := l.b.Finish()
		l.b = nil
		for _, ts := range it.Footer.Tables {
			t, ok := st.Table(ts.Name)
			if !ok {
				return fmt.Errorf("%w (segment %d: table %q missing after restore)", ErrHashMismatch, it.SegNo, ts.Name)
			}
			if uint64(t.Len()) != ts.TableRows || t.HashSum() != ts.TableHashSum {
				return &CorruptError{Offset: it.Offset, Segment: it.SegNo, Table: ts.Name, Batch: -1, Err: ErrHashMismatch,
					Reason: fmt.Sprintf("restored %d rows with hash sum 0x%016x, the dump recorded %d rows with hash sum 0x%016x",
						t.Len(), t.HashSum(), ts.TableRows, ts.TableHashSum)}
			}
		}
		l.state = st
		l.res.Segments = append(l.res.Segments, *l.hdr)
	}
	return nil
}

func wrapLoad(it *Item, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("snapshot: segment %d, section at offset %d: %w", it.SegNo, it.Offset, err)
}

// LoadChain restores a base file followed by its incremental files
// (base.heliodump, base.heliodump.inc1, .inc2, ...). Before applying
// anything it reads the segment headers of every file and refuses a chain
// with a gap, files out of order, an incremental first file, or a torn
// file, naming the file and LSNs involved.
func LoadChain(ctx context.Context, paths []string) (*LoadResult, error) {
	if len(paths) == 0 {
		return nil, errors.New("snapshot: LoadChain needs at least one file")
	}
	var prev *SegmentHeader
	prevName := ""
	for _, p := range paths {
		scan, err := scanPath(p)
		if err != nil {
			return nil, err
		}
		if scan.Torn != nil {
			return nil, fmt.Errorf("snapshot: %s: %w", p, scan.Torn)
		}
		for _, s := range scan.Segments {
			h := s.Header
			switch {
			case prev == nil && h.Mode != ModeFull:
				return nil, fmt.Errorf("%w: %s starts with an incremental segment (LSN %d..%d); the chain must start with a full dump", ErrLSNGap, p, h.BaseLSN, h.LastLSN)
			case prev != nil && h.Mode == ModeIncremental && h.BaseLSN != prev.LastLSN:
				return nil, fmt.Errorf("%w: %s (segment %d) continues from LSN %d, but %s ends at LSN %d: a file is missing or out of order", ErrLSNGap, p, s.No, h.BaseLSN, prevName, prev.LastLSN)
			case prev != nil && h.Mode == ModeFull && h.LastLSN < prev.LastLSN:
				return nil, fmt.Errorf("%w: %s is a full dump at LSN %d, older than %s at LSN %d", ErrLSNGap, p, h.LastLSN, prevName, prev.LastLSN)
			}
			prev, prevName = h, p
		}
	}
	res := &LoadResult{}
	var state *engine.State
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("snapshot: %w", err)
		}
		r, err := Load(ctx, f, state)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("snapshot: %s: %w", p, err)
		}
		state = r.State
		res.Segments = append(res.Segments, r.Segments...)
		res.Rows += r.Rows
	}
	res.State = state
	return res, nil
}

func scanPath(p string) (*ScanResult, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	s, err := ScanSegments(f, fi.Size())
	if err != nil {
		return nil, fmt.Errorf("snapshot: %s: %w", p, err)
	}
	return s, nil
}
