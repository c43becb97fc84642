package snapshot

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/google/uuid"

	"github.com/heliosdb/heliosdb-lite/engine"
)

// WriterOptions configure a Writer. Start from DefaultWriterOptions.
type WriterOptions struct {
	Compression Compression
	// Level is the codec level: zstd 1-19 (default 3), lz4 1-9 (default 1 =
	// fast, 2-9 = LZ4-HC). 0 means the codec's default. Ignored for none.
	Level int
	// BatchSize is the target uncompressed size of one batch (default
	// 1 MiB, allowed 64 KiB to 16 MiB). A larger row gets a batch of its own.
	// 1 MiB rather than 2: a decode worker's batch (rows, their Row
	// slice, the column streams) then fits the L2 cache; see DESIGN.md.
	BatchSize int
	// Workers is the number of compression goroutines (default GOMAXPROCS).
	Workers int
	// DumpID identifies the segment; the zero value means a new UUIDv7.
	// Raft snapshots pass one so that every node writes identical bytes.
	DumpID uuid.UUID
	// CreatedAt is recorded with microsecond precision; the zero value
	// means time.Now(). Raft snapshots pass one, as for DumpID.
	CreatedAt time.Time
	// ClusterID and NodeID identify the source. Leave NodeID empty for
	// snapshots that must be byte-identical across nodes.
	ClusterID string
	NodeID    string
	// Product is the product version recorded as the writer (default
	// ProductVersion).
	Product string
	// Tables limits WriteFull to these tables (nil = all). Unknown names
	// are an error. A full segment written with Tables that leaves out a
	// table of the database is marked SegmentHeader.Subset.
	Tables []string
	// Subset marks the segments written as belonging to a dump of a table
	// subset (SegmentHeader.Subset): set it for an increment that
	// continues such a dump. WriteFull also sets it when Tables is given;
	// AppendIncremental when the file's last segment has it.
	Subset bool
	// NoTombstones leaves a full segment's tombstones out; the restored
	// state then has its tombstone horizon at last_lsn.
	NoTombstones bool
	// IncludeHidden makes incremental segments carry hidden tables (restore
	// staging): raft snapshot chains set it, user dumps never do.
	IncludeHidden bool
	// RowBatches writes compressed rows as ROW_BATCH sections (the row
	// layout that format 1.0 readers read) instead of ROW_COLUMNS. Rows
	// written without compression always use the row layout.
	RowBatches bool
}

// DefaultWriterOptions returns zstd level 3, 2 MiB batches, one worker per
// core.
func DefaultWriterOptions() WriterOptions {
	return WriterOptions{Compression: CompressZstd, Level: 3, BatchSize: 1 << 20}
}

// Validate checks the options and reports the first problem.
func (o *WriterOptions) Validate() error {
	switch o.Compression {
	case CompressNone:
	case CompressLZ4:
		if o.Level < 0 || o.Level > 9 {
			return fmt.Errorf("%w: lz4 level %d out of range 1-9", ErrInvalidOptions, o.Level)
		}
	case CompressZstd:
		if o.Level < 0 || o.Level > 19 {
			return fmt.Errorf("%w: zstd level %d out of range 1-19", ErrInvalidOptions, o.Level)
		}
	default:
		return fmt.Errorf("%w: unknown compression %d", ErrInvalidOptions, o.Compression)
	}
	if o.BatchSize != 0 && (o.BatchSize < 64<<10 || o.BatchSize > 16<<20) {
		return fmt.Errorf("%w: batch size %d out of range 64 KiB-16 MiB", ErrInvalidOptions, o.BatchSize)
	}
	if o.Workers < 0 || o.Workers > 256 {
		return fmt.Errorf("%w: %d workers", ErrInvalidOptions, o.Workers)
	}
	if len(o.Product) > productVerLen {
		return fmt.Errorf("%w: product version %q longer than %d bytes", ErrInvalidOptions, o.Product, productVerLen)
	}
	return nil
}

func (o *WriterOptions) fill() {
	if o.Level == 0 {
		switch o.Compression {
		case CompressZstd:
			o.Level = 3
		case CompressLZ4:
			o.Level = 1
		}
	}
	if o.Compression == CompressNone {
		o.Level = 0
	}
	if o.BatchSize == 0 {
		o.BatchSize = 2 << 20
	}
	if o.Workers == 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.Product == "" {
		o.Product = ProductVersion
	}
}

// Summary describes one written segment.
type Summary struct {
	DumpID      uuid.UUID
	CreatedAt   time.Time
	Mode        Mode
	Subset      bool // SegmentHeader.Subset
	BaseLSN     uint64
	LastLSN     uint64
	Offset      int64 // where the segment starts in the output
	Size        int64 // bytes of the segment
	Compression Compression
	Level       int
	Tables      []TableStats
	RawBytes    uint64 // uncompressed batch bytes
	StoredBytes uint64 // stored batch bytes
	Rows        uint64
	Checksum    uint32 // the footer's segment checksum
}

// Writer streams segments into an io.Writer. Rows are gathered into
// batches that worker goroutines compress in parallel; an output goroutine
// writes the finished batches in the order they were filled, so the output
// is deterministic and filling the next batch overlaps writing the last
// one (over a socket, the write is a copy into the kernel as long as the
// fill). Memory is bounded by about 3 x Workers batches.
//
// Small sections (segment header, schemas, footer) are written by the
// filling goroutine itself, and only when no batch is pending: the output
// goroutine is then idle, so the two never write at the same time.
//
// A Writer is used by one goroutine. Close must be called; it stops the
// workers and is safe to call twice. After any error the Writer is dead.
type Writer struct {
	w    io.Writer
	opts WriterOptions
	off  int64 // bytes written to w

	jobs        chan *job // to the compression workers
	out         chan *job // to the output goroutine, in output order
	wg          sync.WaitGroup
	pending     []*job // submitted, in output order, not yet drained
	maxInFlight int
	abandon     atomic.Bool // set by Close: pending batches are not written
	err         error
	closed      bool

	seg *segWriter
}

type job struct {
	typ  byte
	hdr  batchHeader
	raw  []byte
	head []byte // frame header and batch header, set by the worker
	body []byte // stored bytes: raw itself, or comp
	comp []byte // compressed bytes (pooled), nil when stored raw
	cols []byte // column layout (pooled), nil for the row layout
	tail [frameTrailer]byte
	pcrc uint32 // payload CRC
	done chan struct{}

	written chan struct{} // closed by the output goroutine after writing
	n       int           // bytes written by the output goroutine
	werr    error         // its write error
}

// size is the section's length in the output.
func (j *job) size() int { return len(j.head) + len(j.body) + frameTrailer }

// segWriter is the state of the open segment.
type segWriter struct {
	hdr      SegmentHeader
	start    int64
	sections uint64
	chain    uint32
	stats    []TableStats
	rows     openBatch
	tombs    openBatch
}

type openBatch struct {
	table int // -1 = none
	count int
	raw   []byte
	hash  uint64
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 2<<20); return &b }}

func getBuf() []byte { return (*bufPool.Get().(*[]byte))[:0] }

// getBufCap returns a pooled buffer with room for n bytes.
func getBufCap(n int) []byte {
	b := getBuf()
	if cap(b) < n {
		putBuf(b)
		return make([]byte, 0, n)
	}
	return b
}

func putBuf(b []byte) {
	if cap(b) > 32<<20 {
		return // a huge-row batch: let it go
	}
	b = b[:0]
	bufPool.Put(&b)
}

// NewWriter writes the file header to w and starts the compression workers.
func NewWriter(w io.Writer, opts WriterOptions) (*Writer, error) {
	wr, err := newWriter(w, opts)
	if err != nil {
		return nil, err
	}
	if err := wr.writeRaw(appendFileHeader(nil, wr.opts.Product)); err != nil {
		_ = wr.Close()
		return nil, err
	}
	return wr, nil
}

// newWriter starts a Writer without writing a file header (append).
func newWriter(w io.Writer, opts WriterOptions) (*Writer, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts.fill()
	inFlight := 2*opts.Workers + 2
	wr := &Writer{w: w, opts: opts, jobs: make(chan *job, opts.Workers), out: make(chan *job, inFlight), maxInFlight: inFlight}
	for i := 0; i < opts.Workers; i++ {
		c, err := newCompressor(opts.Compression, opts.Level)
		if err != nil {
			close(wr.jobs)
			close(wr.out)
			wr.wg.Wait()
			return nil, err
		}
		wr.wg.Add(1)
		go wr.runCompress(c, opts.Compression != CompressNone && !opts.RowBatches)
	}
	wr.wg.Add(1)
	go wr.runOutput()
	return wr, nil
}

// runOutput writes the batches sent to out, in that order, each once its
// worker is done with it. After a write error, or once Close has abandoned
// the pending batches, it writes nothing more (drain reports the error) but
// still marks every job written. It ends when out is closed (Close).
func (w *Writer) runOutput() {
	defer w.wg.Done()
	var failed error
	for j := range w.out {
		<-j.done
		if failed == nil && w.abandon.Load() {
			failed = ErrClosed
		}
		if failed == nil {
			failed = w.writeJob(j)
		}
		j.werr = failed
		close(j.written)
	}
}

// writeJob writes one finished section. A panic of the destination's Write
// becomes the dump's error, as it would be on the filling goroutine (whose
// caller, a server connection, recovers it), instead of ending the
// process from this goroutine.
func (w *Writer) writeJob(j *job) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("snapshot: write panicked: %v\n%s", r, debug.Stack())
		}
	}()
	for _, b := range [][]byte{j.head, j.body, j.tail[:]} {
		n, err := w.w.Write(b)
		j.n += n
		if err != nil {
			return err
		}
	}
	return nil
}

// runCompress is one worker: it turns raw batches into finished sections,
// row batches into the column layout first when columns is set. It ends
// when jobs is closed (Close). A batch stored raw is not copied: the
// section is written as head, raw, tail.
func (w *Writer) runCompress(c *compressor, columns bool) {
	defer w.wg.Done()
	defer c.close()
	var ce colEncoder
	for j := range w.jobs {
		head := make([]byte, frameHeaderLen, frameHeaderLen+6*binary.MaxVarintLen64+1)
		j.hdr.codec = CompressNone
		j.body = j.raw
		if columns && j.typ == secRowBatch {
			// The layout is almost always smaller than the rows: a pooled
			// buffer of their size, grown by append in the rare other case
			// (a larger buffer would then circulate in the pool).
			cols, err := ce.encode(getBufCap(len(j.raw)), j.raw, j.hdr.count)
			if err == nil {
				j.typ, j.cols, j.body = secRowColumns, cols, cols
				j.hdr.encLen = len(cols)
			} else {
				putBuf(cols)
			}
		}
		if c.codec != CompressNone {
			if comp, ok := c.compressTo(getBufCap(c.bound(len(j.body))), j.body); ok {
				j.hdr.codec = c.codec
				j.comp, j.body = comp, comp
			} else {
				putBuf(comp)
			}
		}
		head = j.hdr.append(j.typ, head)
		payloadLen := len(head) - frameHeaderLen + len(j.body)
		j.pcrc = crc32.Update(crc(head[frameHeaderLen:]), castagnoli, j.body)
		appendFrameHeader(head[:0], j.typ, flagCritical, payloadLen)
		j.head = head
		binary.LittleEndian.PutUint32(j.tail[:], j.pcrc)
		close(j.done)
	}
}

func (w *Writer) fail(err error) error {
	if w.err == nil {
		w.err = err
	}
	return w.err
}

func (w *Writer) writeRaw(b []byte) error {
	if w.err != nil {
		return w.err
	}
	n, err := w.w.Write(b)
	w.off += int64(n)
	if err != nil {
		return w.fail(fmt.Errorf("snapshot: write: %w", err))
	}
	return nil
}

// Offset returns the number of bytes written so far.
func (w *Writer) Offset() int64 { return w.off }

// writeSection writes a small section after every pending batch.
func (w *Writer) writeSection(typ byte, payload []byte) error {
	return w.writeSectionFlags(typ, flagCritical, payload)
}

func (w *Writer) writeSectionFlags(typ, flags byte, payload []byte) error {
	if err := w.drain(0); err != nil {
		return err
	}
	pc := crc(payload)
	buf := appendFrameHeader(make([]byte, 0, frameHeaderLen+len(payload)+4), typ, flags, len(payload))
	buf = append(buf, payload...)
	buf = binary.LittleEndian.AppendUint32(buf, pc)
	w.chainSection(typ, pc)
	return w.writeRaw(buf)
}

func (w *Writer) chainSection(typ byte, pcrc uint32) {
	if w.seg == nil {
		return
	}
	var b [5]byte
	b[0] = typ
	binary.LittleEndian.PutUint32(b[1:], pcrc)
	w.seg.chain = crc32.Update(w.seg.chain, castagnoli, b[:])
	w.seg.sections++
}

// drain waits for written batches until at most keep are pending, and
// accounts for them (offset, stored size, segment checksum) in order.
func (w *Writer) drain(keep int) error {
	for len(w.pending) > keep {
		j := w.pending[0]
		<-j.written
		w.pending[0] = nil
		w.pending = w.pending[1:]
		w.off += int64(j.n)
		if j.werr != nil {
			w.fail(fmt.Errorf("snapshot: write: %w", j.werr))
		}
		if w.err == nil {
			st := &w.seg.stats[j.hdr.ord]
			st.Stored += uint64(j.size() - frameHeaderLen - frameTrailer)
			w.chainSection(j.typ, j.pcrc)
		}
		putBuf(j.raw)
		if j.comp != nil {
			putBuf(j.comp)
		}
		if j.cols != nil {
			putBuf(j.cols)
		}
	}
	return w.err
}

// BeginSegment starts a segment: it writes the header and one schema
// section per table. h.Tables is set from schemas; DumpID, CreatedAt,
// Compression, Level, Product, ClusterID and NodeID from the options when
// zero.
func (w *Writer) BeginSegment(h SegmentHeader, schemas []TableSchema) error {
	if w.closed {
		return ErrClosed
	}
	if w.err != nil {
		return w.err
	}
	if w.seg != nil {
		return w.fail(errors.New("snapshot: BeginSegment inside an open segment"))
	}
	if h.DumpID == (uuid.UUID{}) {
		h.DumpID = w.opts.DumpID
	}
	if h.DumpID == (uuid.UUID{}) {
		id, err := uuid.NewV7()
		if err != nil {
			return w.fail(fmt.Errorf("snapshot: dump id: %w", err))
		}
		h.DumpID = id
	}
	if h.CreatedAt.IsZero() {
		h.CreatedAt = w.opts.CreatedAt
	}
	if h.CreatedAt.IsZero() {
		h.CreatedAt = time.Now()
	}
	h.CreatedAt = time.UnixMicro(h.CreatedAt.UnixMicro()).UTC()
	h.Compression, h.Level = w.opts.Compression, w.opts.Level
	h.Product = nonEmpty(h.Product, w.opts.Product)
	h.ClusterID = nonEmpty(h.ClusterID, w.opts.ClusterID)
	h.Subset = h.Subset || w.opts.Subset
	h.NodeID = nonEmpty(h.NodeID, w.opts.NodeID)
	h.Tables = make([]string, len(schemas))
	for i, s := range schemas {
		h.Tables[i] = s.Def.Name
	}
	w.seg = &segWriter{hdr: h, start: w.off, stats: make([]TableStats, len(schemas)),
		rows: openBatch{table: -1}, tombs: openBatch{table: -1}}
	for i, s := range schemas {
		w.seg.stats[i].Name = s.Def.Name
	}
	if err := w.writeSection(secSegmentHeader, h.append(nil)); err != nil {
		return err
	}
	for i := range schemas {
		if err := w.writeSection(secTableSchema, appendTableSchema(nil, i, &schemas[i])); err != nil {
			return err
		}
	}
	return nil
}

// WriteRow adds one row of table ordinal t (index into the schemas given
// to BeginSegment). enc is the engine's canonical encoding, written as is;
// hash must be engine.RowHash(table, key, enc) (RowRef.Hash). The strings
// are copied before WriteRow returns.
func (w *Writer) WriteRow(t int, key, enc string, lsn, hash uint64) error {
	b, err := w.rowBatch(t, "WriteRow to table")
	if err != nil {
		return err
	}
	if b.raw == nil {
		b.raw = getBuf()
	}
	b.raw = binary.AppendUvarint(b.raw, uint64(len(key)))
	b.raw = append(b.raw, key...)
	b.raw = binary.AppendUvarint(b.raw, uint64(len(enc)))
	b.raw = append(b.raw, enc...)
	b.raw = binary.AppendUvarint(b.raw, lsn)
	b.count++
	b.hash += hash
	if len(b.raw) >= w.opts.BatchSize {
		return w.flush(secRowBatch, b)
	}
	return w.err
}

// rowBatch returns the open segment's row batch for rows of table
// t, flushing the batch first if it holds another table's rows. what names
// the call in the error for a table outside a segment or out of range.
func (w *Writer) rowBatch(t int, what string) (*openBatch, error) {
	s := w.seg
	if s == nil || t < 0 || t >= len(s.stats) {
		return nil, w.fail(fmt.Errorf("snapshot: %s %d outside a segment or out of range", what, t))
	}
	b := &s.rows
	if b.table != t {
		if err := w.flush(secRowBatch, b); err != nil {
			return nil, err
		}
		b.table = t
	}
	return b, nil
}

// writeRecords adds the rows of run to table ordinal t, as WriteRow would
// one by one (the same bytes and batch boundaries). A row entry is the
// engine record with its LSN moved to the end: the record is
//
//	uvarint len(key) | key | uvarint lsn | uvarint len(row) | row
//
// and the entry is
//
//	uvarint len(key) | key | uvarint len(row) | row | uvarint lsn
//
// so each row is copied as three spans, with no varint re-encoded.
func (w *Writer) writeRecords(t int, run engine.RecordRun) error {
	b, err := w.rowBatch(t, "rows for table")
	if err != nil {
		return err
	}
	limit := w.opts.BatchSize
	raw, count, hash := b.raw, b.count, b.hash
	if raw == nil {
		raw = getBuf()
	}
	for i, n := 0, run.Len(); i < n; i++ {
		rec, keyEnd, lsnEnd, h := run.Record(i)
		at := len(raw)
		if cap(raw)-at < len(rec) {
			raw = slices.Grow(raw, len(rec))
		}
		raw = raw[:at+len(rec)]
		dst := raw[at:]
		putSpan(dst, rec[:keyEnd])
		k := len(rec) - lsnEnd
		copy(dst[keyEnd:], rec[lsnEnd:])
		putSpan(dst[keyEnd+k:], rec[keyEnd:lsnEnd])
		count++
		hash += h
		if len(raw) >= limit {
			b.raw, b.count, b.hash = raw, count, hash
			if err := w.flush(secRowBatch, b); err != nil {
				return err
			}
			raw, count, hash = getBuf(), 0, 0
		}
	}
	b.raw, b.count, b.hash = raw, count, hash
	return w.err
}

// putSpan copies s to d (len(d) >= len(s)) as writeRecords' key and LSN
// spans: one or two bytes (the common LSN) or 8 to 16 (the common key) by
// loads and stores of their own, the rest by copy, whose call costs more
// than such a copy.
func putSpan(d []byte, s string) {
	switch n := len(s); {
	case n == 1:
		d[0] = s[0]
	case n == 2:
		d[0], d[1] = s[0], s[1]
	case n >= 8 && n <= 16:
		b := unsafe.Slice(unsafe.StringData(s), n)
		binary.LittleEndian.PutUint64(d, binary.LittleEndian.Uint64(b))
		binary.LittleEndian.PutUint64(d[n-8:], binary.LittleEndian.Uint64(b[n-8:]))
	default:
		copy(d, s)
	}
}

// WriteTombstone records that key of table ordinal t was deleted at lsn.
func (w *Writer) WriteTombstone(t int, key string, lsn uint64) error {
	s := w.seg
	if s == nil || t < 0 || t >= len(s.stats) {
		return w.fail(fmt.Errorf("snapshot: WriteTombstone to table %d outside a segment or out of range", t))
	}
	b := &s.tombs
	if b.table != t {
		if err := w.flush(secTombBatch, b); err != nil {
			return err
		}
		b.table = t
	}
	if b.raw == nil {
		b.raw = getBuf()
	}
	b.raw = binary.AppendUvarint(b.raw, uint64(len(key)))
	b.raw = append(b.raw, key...)
	b.raw = binary.AppendUvarint(b.raw, lsn)
	b.count++
	if len(b.raw) >= w.opts.BatchSize {
		return w.flush(secTombBatch, b)
	}
	return w.err
}

// flush hands the open batch to the workers.
func (w *Writer) flush(typ byte, b *openBatch) error {
	if w.err != nil {
		return w.err
	}
	if b.table < 0 || b.count == 0 {
		return nil
	}
	st := &w.seg.stats[b.table]
	j := &job{typ: typ, raw: b.raw, done: make(chan struct{}), written: make(chan struct{})}
	j.hdr = batchHeader{ord: b.table, index: int(st.Batches), count: b.count, rawLen: len(b.raw)}
	if typ == secRowBatch {
		j.hdr.firstRow = st.Rows
		st.Rows += uint64(b.count)
		st.HashSum += b.hash
	} else {
		j.hdr.firstRow = st.Tombstones
		st.Tombstones += uint64(b.count)
	}
	st.Batches++
	st.RawBytes += uint64(len(b.raw))
	b.raw, b.count, b.hash = nil, 0, 0
	w.pending = append(w.pending, j)
	w.jobs <- j
	w.out <- j
	return w.drain(w.maxInFlight)
}

// TableTotal is the whole-table state at last_lsn recorded in the footer
// (engine Table.Len and HashSum) for restore to prove what it built.
type TableTotal struct {
	Rows    uint64
	HashSum uint64
}

// EndSegment flushes the open batches and writes the footer. totals is
// indexed like the schemas given to BeginSegment.
func (w *Writer) EndSegment(totals []TableTotal) (*Summary, error) {
	s := w.seg
	if s == nil {
		return nil, w.fail(errors.New("snapshot: EndSegment without BeginSegment"))
	}
	if len(totals) != len(s.stats) {
		return nil, w.fail(fmt.Errorf("snapshot: EndSegment got %d table totals for %d tables", len(totals), len(s.stats)))
	}
	if err := w.flush(secRowBatch, &s.rows); err != nil {
		return nil, err
	}
	if err := w.flush(secTombBatch, &s.tombs); err != nil {
		return nil, err
	}
	if err := w.drain(0); err != nil {
		return nil, err
	}
	f := Footer{Sections: s.sections, Tables: s.stats, Checksum: s.chain}
	var rows uint64
	for i := range f.Tables {
		f.Tables[i].TableRows, f.Tables[i].TableHashSum = totals[i].Rows, totals[i].HashSum
		f.RawBytes += f.Tables[i].RawBytes
		f.StoredBytes += f.Tables[i].Stored
		rows += f.Tables[i].Rows
	}
	if err := w.writeSection(secFooter, f.append(nil)); err != nil {
		return nil, err
	}
	w.seg = nil
	return &Summary{DumpID: s.hdr.DumpID, CreatedAt: s.hdr.CreatedAt, Mode: s.hdr.Mode, Subset: s.hdr.Subset, BaseLSN: s.hdr.BaseLSN, LastLSN: s.hdr.LastLSN,
		Offset: s.start, Size: w.off - s.start, Compression: s.hdr.Compression, Level: s.hdr.Level,
		Tables: f.Tables, RawBytes: f.RawBytes, StoredBytes: f.StoredBytes, Rows: rows, Checksum: f.Checksum}, nil
}

// Close stops the workers. It does not close the underlying writer. A
// segment left open is not finished (readers will report a torn tail) and
// Close returns an error saying so. Safe to call twice.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	if w.err == nil {
		w.err = ErrClosed
		defer func() { w.err = ErrClosed }()
	}
	w.abandon.Store(true)
	for _, j := range w.pending {
		<-j.written
	}
	w.pending = nil
	close(w.jobs)
	close(w.out)
	w.wg.Wait()
	if w.seg != nil {
		w.seg = nil
		return errors.New("snapshot: writer closed inside an unfinished segment")
	}
	return nil
}
