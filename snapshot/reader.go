package snapshot

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"runtime"
	"sync"
	"time"
	"unsafe"

	"github.com/cespare/xxhash/v2"
	"github.com/heliosdb/heliosdb-lite/engine"
)

// ReaderOptions configure a Reader.
type ReaderOptions struct {
	// Workers is the number of decompression goroutines (default GOMAXPROCS).
	Workers int
	// Tolerant makes the Reader report damaged sections as ItemDamage items
	// and go on (resynchronizing on the next valid section header) instead
	// of failing. Verify and Salvage use it.
	Tolerant bool
	// ChecksumsOnly checks every section's CRC32C, the batch headers, the
	// section order, the segment checksum and the footer's counts, but
	// does not decompress or parse batches: Batch.Rows and Tombstones stay
	// nil (Batch.Count says how many entries the batch holds) and the
	// row-hash sums are not computed, so the footer's are not checked. A
	// client uses it to refuse a damaged file before sending it to a
	// server that decodes and proves the row-hash sums itself.
	ChecksumsOnly bool
	// CheckRows makes the decode workers validate every row encoding with
	// engine.CheckRow (a row that fails is corruption of its batch), so
	// that the consumer may hand rows to engine.Builder.PutChecked: Load
	// moves that work off its single restore goroutine this way.
	CheckRows bool
	// LeafSums makes the decode workers compute every row batch's
	// anti-entropy leaf sums (Batch.Leaves), for
	// engine.Builder.PutRowsChecked: Load moves the hashing of every key
	// off its single restore goroutine this way.
	LeafSums bool
}

// ItemKind says what an Item carries.
type ItemKind uint8

// Item kinds, in the order they appear in a segment.
const (
	ItemSegment    ItemKind = iota + 1 // Segment: a segment begins
	ItemTable                          // Table: one table's schema
	ItemRows                           // Batch: rows of one table
	ItemTombstones                     // Batch: deleted keys of one table
	ItemFooter                         // Footer: the segment is complete and its checksums agree
	ItemSkipped                        // a section of unknown type was skipped (Type)
	ItemDamage                         // tolerant mode only: Err says what is damaged
)

// Item is one step of a Reader. Its byte slices (Row.Key, Row.Enc) and
// Batch.Rows are valid only until the next call to Next.
type Item struct {
	Kind    ItemKind
	Offset  int64 // file offset of the section
	Size    int64 // section size in bytes, framing included
	SegNo   int   // 1-based segment number
	Segment *SegmentHeader
	Table   *TableSchema
	Batch   *Batch
	Footer  *Footer
	Type    byte  // section type
	Err     error // ItemDamage: a *CorruptError
}

// Batch is one decoded row or tombstone batch.
type Batch struct {
	Table      string
	Index      int    // batch index within the table and segment
	FirstRow   uint64 // ordinal of the first entry within the table and segment
	Codec      Compression
	RawLen     int
	Stored     int
	Count      int // entries (rows or tombstones), also with ChecksumsOnly
	Rows       []Row
	Tombstones []engine.Tombstone
	HashSum    uint64 // sum of engine.RowHash over Rows
	// Leaves are the anti-entropy leaf sums of Rows (ReaderOptions.LeafSums
	// only, else nil), valid until the next Next.
	Leaves *engine.LeafSums
}

// Row is one row as stored: encoded key, canonical encoding, LSN, and
// Hash, engine.RowHash(table, Key, Enc), computed by the decoder. The
// slices alias the Reader's buffers (valid until the next Next). It is an
// engine.LoadRow, so a batch goes to engine.Builder.PutRowsChecked as it
// is.
type Row = engine.LoadRow

// Reader streams the items of a .heliodump. Batches are verified and
// decompressed by worker goroutines ahead of the consumer, in bounded
// number, and delivered in file order. Next is called from one goroutine;
// Close stops the workers and is safe to call twice.
type Reader struct {
	opts   ReaderOptions
	br     *bufio.Reader
	queue  chan *pending
	work   chan *pending
	quit   chan struct{}
	wg     sync.WaitGroup
	once   sync.Once
	freed  sync.Once // the pools were handed back (releasePools)
	rows   rowsFree
	bufs   bufFree
	leaves leavesFree

	// Set by runRead before it closes queue (or, for header, before it
	// queues the first item); read by the consumer only after that.
	readErr error // io.EOF or the fatal error
	endOff  int64
	header  FileHeader

	final error // consumer side: what Next returns once done

	// Consumer-side state (the goroutine calling Next).
	prev *pending
	done bool
	seg  segCheck
	segs int
	last *SegmentHeader // header of the last complete segment
}

type pending struct {
	off, size int64
	typ       byte
	flags     byte
	payload   []byte
	pcrc      uint32 // stored payload CRC
	crcOnly   bool   // ReaderOptions.ChecksumsOnly
	checkRows bool   // ReaderOptions.CheckRows
	tables    []string
	segNo     int
	raw       []byte
	rows      *[]Row           // pooled Batch.Rows
	leaves    *engine.LeafSums // pooled Batch.Leaves
	item      *Item
	err       error
	done      chan struct{}
}

// segCheck follows one segment on the consumer side to check its footer.
type segCheck struct {
	open     bool
	hdr      *SegmentHeader
	no       int
	sections uint64
	chain    uint32
	schemas  int
	stats    []TableStats
	damaged  bool
}

// NewReader starts reading r with default options.
func NewReader(r io.Reader) *Reader { return NewReaderWith(r, ReaderOptions{}) }

// NewReaderWith starts reading r.
func NewReaderWith(r io.Reader, opts ReaderOptions) *Reader {
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	rd := &Reader{
		opts:  opts,
		br:    bufio.NewReaderSize(r, 256<<10),
		queue: make(chan *pending, 2*opts.Workers+2),
		work:  make(chan *pending, opts.Workers),
		quit:  make(chan struct{}),
	}
	var leaves leavesFree
	rd.bufs, rd.rows, leaves = sharedPools()
	if opts.LeafSums {
		rd.leaves = leaves
	}
	rd.wg.Add(1 + opts.Workers)
	go rd.runRead()
	for i := 0; i < opts.Workers; i++ {
		go rd.runDecode()
	}
	return rd
}

// Close stops the reader's goroutines. It does not close the source.
func (r *Reader) Close() error {
	r.once.Do(func() { close(r.quit) })
	r.wg.Wait()
	r.freed.Do(releasePools)
	return nil
}

// The Readers of the process share their pools of buffers, row slices
// and leaf sums (bufFree, rowsFree, leavesFree), and the pools outlive the
// last Reader for readerKeepFor: loads in a row (restores one after the
// other, the files of a dump chain, snapshots installed on a follower)
// then take the buffers the previous one used instead of allocating
// their own (a restore of 70 MB allocated about 20 MB of them, a sixth of
// all it allocated, bringing the next garbage collection nearer). Once no
// Reader has run for that long, the pools are dropped, so an idle process
// does not keep them.
var readerKeep struct {
	mu     sync.Mutex
	users  int    // Readers not closed
	gen    uint64 // bumped by every release: a drop timer of an older one does nothing
	bufs   bufFree
	rows   rowsFree
	leaves leavesFree
}

var readerKeepFor = 30 * time.Second

// sharedPools returns the pools, made if there are none.
func sharedPools() (bufFree, rowsFree, leavesFree) {
	k := &readerKeep
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.rows == nil {
		w := runtime.GOMAXPROCS(0)
		k.bufs, k.rows, k.leaves = newBufFree(4*w+4), make(rowsFree, 2*w+4), make(leavesFree, 2*w+4)
	}
	k.users++
	return k.bufs, k.rows, k.leaves
}

// releasePools ends one Reader's use of the pools; readerKeepFor after
// the last one, they are dropped.
func releasePools() {
	k := &readerKeep
	k.mu.Lock()
	defer k.mu.Unlock()
	k.users--
	k.gen++
	gen := k.gen
	if k.users > 0 {
		return
	}
	time.AfterFunc(readerKeepFor, func() {
		k.mu.Lock()
		defer k.mu.Unlock()
		if k.gen == gen && k.users == 0 {
			k.bufs, k.rows, k.leaves = bufFree{}, nil, nil
		}
	})
}

// DropIdlePools drops the shared pools now if no Reader is using them,
// instead of readerKeepFor after the last one: for a process that knows
// no load follows, and for measuring what a loaded state itself occupies.
func DropIdlePools() {
	k := &readerKeep
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.users == 0 {
		k.gen++
		k.bufs, k.rows, k.leaves = bufFree{}, nil, nil
	}
}

// FileHeader returns the file header (valid after the first Next).
func (r *Reader) FileHeader() FileHeader { return r.header }

// emit queues p; it reports false when the reader is closing.
func (r *Reader) emit(p *pending) bool {
	select {
	case r.queue <- p:
		return true
	case <-r.quit:
		return false
	}
}

func (r *Reader) emitDone(p *pending) bool {
	if p.done == nil {
		p.done = closedCh
	}
	return r.emit(p)
}

var closedCh = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// runRead reads sections in file order and hands batches to the decoders.
// It owns off (the byte offset) and ends at EOF, on a fatal error or on
// Close, closing queue and work.
func (r *Reader) runRead() {
	defer r.wg.Done()
	defer close(r.work)
	defer close(r.queue)
	var off int64
	fatal := func(err error) { r.readErr = err; r.endOff = off }

	var hb [fileHeaderLen]byte
	n, err := io.ReadFull(r.br, hb[:])
	off += int64(n)
	if err != nil {
		if n >= 8 && string(hb[:8]) == Magic {
			fatal(&CorruptError{Offset: int64(n), Batch: -1, Torn: true, Reason: "file header incomplete"})
		} else {
			fatal(fmt.Errorf("%w: input is %d bytes long", ErrNotDump, n))
		}
		return
	}
	h, err := parseFileHeader(hb[:])
	r.header = h
	if err != nil {
		var ce *CorruptError
		if !r.opts.Tolerant || !errors.As(err, &ce) {
			fatal(err)
			return
		}
		if !r.emitDone(&pending{off: 0, size: fileHeaderLen, item: &Item{Kind: ItemDamage, Err: err}}) {
			return
		}
	}

	var tables []string
	segNo := 0
	for {
		fh, ok, n, err := r.readFrameHeader()
		if err == io.EOF && n == 0 {
			fatal(io.EOF)
			r.endOff = off
			return
		}
		if err != nil {
			fatal(&CorruptError{Offset: off, Segment: segNo, Batch: -1, Torn: true, Reason: fmt.Sprintf("input ends %d bytes into a section header", n)})
			r.endOff = off + int64(n)
			return
		}
		if !ok {
			skipped, found := r.resync()
			if !found {
				fatal(&CorruptError{Offset: off, Segment: segNo, Batch: -1, Torn: true,
					Reason: fmt.Sprintf("no valid section in the last %d bytes", skipped)})
				r.endOff = off + skipped
				return
			}
			ce := &CorruptError{Offset: off, Segment: segNo, Batch: -1, Reason: fmt.Sprintf("section header checksum mismatch; %d bytes skipped to the next valid section", skipped)}
			if !r.opts.Tolerant {
				fatal(ce)
				return
			}
			if !r.emitDone(&pending{off: off, size: skipped, segNo: segNo, item: &Item{Kind: ItemDamage, Err: ce}}) {
				return
			}
			off += skipped
			continue
		}
		start := off
		off += frameHeaderLen
		payload, err := readPayload(r.br, fh.length, r.bufs)
		off += int64(len(payload))
		var tb [4]byte
		if err == nil {
			var m int
			m, err = io.ReadFull(r.br, tb[:])
			off += int64(m)
		}
		if err != nil {
			fatal(&CorruptError{Offset: start, Segment: segNo, Batch: -1, Torn: true,
				Reason: fmt.Sprintf("section of %d bytes cut short at offset %d", fh.length+frameHeaderLen+frameTrailer, off)})
			r.endOff = off
			return
		}
		p := &pending{off: start, size: off - start, typ: fh.typ, flags: fh.flags, payload: payload, pcrc: binary.LittleEndian.Uint32(tb[:]), segNo: segNo}
		switch fh.typ {
		case secRowBatch, secTombBatch, secRowColumns:
			p.tables = tables
			p.crcOnly = r.opts.ChecksumsOnly
			p.checkRows = r.opts.CheckRows
			p.done = make(chan struct{})
			if !r.emit(p) {
				return
			}
			select {
			case r.work <- p:
			case <-r.quit:
				return
			}
			continue
		}
		if crc(payload) != p.pcrc {
			p.err = &CorruptError{Offset: start, Segment: segNo, Batch: -1, Reason: fmt.Sprintf("%s checksum mismatch", sectionName(fh.typ))}
		}
		if p.err == nil {
			switch fh.typ {
			case secSegmentHeader:
				segNo++
				p.segNo = segNo
				sh, err := decodeSegmentHeader(payload)
				if err != nil {
					p.err = &CorruptError{Offset: start, Segment: segNo, Batch: -1, Reason: "segment header: " + err.Error()}
					tables = nil
				} else {
					tables = sh.Tables
					p.item = &Item{Kind: ItemSegment, Segment: sh}
				}
			case secTableSchema:
				ord, ts, err := decodeTableSchema(payload)
				switch {
				case err != nil:
					p.err = &CorruptError{Offset: start, Segment: segNo, Batch: -1, Reason: "table schema: " + err.Error()}
				case ord >= len(tables) || tables[ord] != ts.Def.Name:
					p.err = &CorruptError{Offset: start, Segment: segNo, Batch: -1, Reason: fmt.Sprintf("schema of table %q does not match the segment's table list", ts.Def.Name)}
				default:
					p.item = &Item{Kind: ItemTable, Table: ts}
				}
			case secFooter:
				f, err := decodeFooter(payload, tables)
				if err != nil {
					p.err = &CorruptError{Offset: start, Segment: segNo, Batch: -1, Reason: "footer: " + err.Error()}
				} else {
					p.item = &Item{Kind: ItemFooter, Footer: f}
				}
			default:
				if fh.flags&flagCritical != 0 {
					fatal(&VersionError{FileMajor: h.Major, FileMinor: h.Minor, Writer: h.Product,
						Reason: fmt.Sprintf("section type 0x%02x at offset %d must be understood but is unknown to this build", fh.typ, start)})
					return
				}
				p.item = &Item{Kind: ItemSkipped, Type: fh.typ}
			}
		} else if fh.typ == secSegmentHeader {
			segNo++
			p.segNo = segNo
			tables = nil
		}
		if p.err != nil {
			if !r.opts.Tolerant {
				fatal(p.err)
				return
			}
			p.item = &Item{Kind: ItemDamage, Err: p.err}
		}
		if !r.emitDone(p) {
			return
		}
	}
}

// readFrameHeader reads 12 bytes; ok reports whether they form a valid
// frame header. On !ok nothing is consumed.
func (r *Reader) readFrameHeader() (frameHeader, bool, int, error) {
	b, err := r.br.Peek(frameHeaderLen)
	if err != nil {
		if len(b) == 0 && errors.Is(err, io.EOF) {
			return frameHeader{}, false, 0, io.EOF
		}
		return frameHeader{}, false, len(b), io.ErrUnexpectedEOF
	}
	fh, ok := parseFrameHeader(b)
	if ok {
		_, _ = r.br.Discard(frameHeaderLen)
	}
	return fh, ok, frameHeaderLen, nil
}

// resync skips bytes until a valid frame header starts, reporting how
// many were skipped and whether one was found before the end of input.
func (r *Reader) resync() (int64, bool) {
	var skipped int64
	for {
		_, _ = r.br.Discard(1)
		skipped++
		b, err := r.br.Peek(frameHeaderLen)
		if len(b) < frameHeaderLen {
			n, _ := r.br.Discard(len(b))
			_ = err
			return skipped + int64(n), false
		}
		if _, ok := parseFrameHeader(b); ok {
			return skipped, true
		}
	}
}

// readPayload reads n bytes, growing the buffer as bytes arrive, so a
// damaged length costs no more memory than the input holds.
func readPayload(br *bufio.Reader, n int, bufs bufFree) ([]byte, error) {
	const step = 4 << 20
	if n <= step {
		b := bufs.get(n)[:n]
		_, err := io.ReadFull(br, b)
		return b, err
	}
	b := make([]byte, 0, step)
	for len(b) < n {
		k := min(n-len(b), step)
		b = grow(b, k)
		m, err := io.ReadFull(br, b[len(b):len(b)+k])
		b = b[:len(b)+m]
		if err != nil {
			return b, err
		}
	}
	return b, nil
}

// runDecode verifies and decodes batches until work is closed.
func (r *Reader) runDecode() {
	defer r.wg.Done()
	d := newDecompressor()
	d.rows, d.bufs = r.rows, r.bufs
	defer d.close()
	for p := range r.work {
		if r.leaves != nil && !p.crcOnly && p.typ != secTombBatch {
			p.leaves = r.leaves.get()
		}
		b, raw, err := d.decodeBatch(p)
		p.raw = raw
		if err != nil {
			if !r.opts.Tolerant {
				p.err = err
			} else {
				p.item = &Item{Kind: ItemDamage, Err: err, Batch: b}
			}
		} else {
			kind := ItemRows
			if p.typ == secTombBatch {
				kind = ItemTombstones
			}
			p.item = &Item{Kind: kind, Batch: b}
		}
		close(p.done)
		// Let the consumer (readied by close, waiting in this P's next
		// slot) and runRead run now: with one worker per core they would
		// otherwise wait until a worker finds work empty, while workers
		// decode ahead as far as queue allows, each batch in a fresh
		// buffer and row slice. Decode lz4 allocated 42-45 MB per 70 MB
		// file without this, 28-34 MB with it, and used ~4% less CPU
		// (fewer collections).
		runtime.Gosched()
	}
}

func (d *decompressor) decodeBatch(p *pending) (*Batch, []byte, error) {
	ce := &CorruptError{Offset: p.off, Segment: p.segNo, Batch: -1}
	fail := func(b *Batch, format string, args ...any) (*Batch, []byte, error) {
		ce.Reason = fmt.Sprintf(format, args...)
		if b != nil {
			b.Rows, b.HashSum = nil, 0
		}
		return b, nil, ce
	}
	if crc(p.payload) != p.pcrc {
		// The header fields are unverified; report them only as claims.
		b := &Batch{Index: -1}
		if bh, _, err := decodeBatchHeader(p.typ, p.payload); err == nil && bh.ord < len(p.tables) {
			b.Table, b.Index, b.FirstRow = p.tables[bh.ord], bh.index, bh.firstRow
		}
		return fail(b, "batch checksum mismatch (CRC32C)")
	}
	bh, stored, err := decodeBatchHeader(p.typ, p.payload)
	if err != nil {
		return fail(nil, "batch header: %v", err)
	}
	if bh.ord >= len(p.tables) {
		return fail(nil, "batch of table #%d, segment has %d tables", bh.ord, len(p.tables))
	}
	b := &Batch{Table: p.tables[bh.ord], Index: bh.index, FirstRow: bh.firstRow, Codec: bh.codec, RawLen: bh.rawLen, Stored: len(p.payload), Count: bh.count}
	ce.Table, ce.Batch = b.Table, b.Index
	if p.crcOnly {
		return b, nil, nil
	}
	// expanded is what the codec expands to: the row entries, or the
	// column layout that rebuilds them.
	expanded := bh.rawLen
	if p.typ == secRowColumns {
		expanded = bh.encLen
	}
	if bh.codec == CompressLZ4 && expanded > 255*len(stored)+64 {
		return fail(b, "expanded length %d impossible for %d lz4 bytes", expanded, len(stored))
	}
	var data, raw []byte // raw: a pooled buffer handed to the consumer
	dd := dec{}
	switch {
	case p.typ == secRowColumns:
		cols := stored
		if bh.codec != CompressNone {
			if cols, err = d.decompress(d.scratch, bh.codec, stored, expanded); err != nil {
				return fail(b, "%v", err)
			}
			d.scratch = cols
		} else if len(cols) != expanded {
			return fail(b, "stored %d bytes, column length says %d", len(cols), expanded)
		}
		p.rows = d.rows.get(bh.count)
		b.Rows = *p.rows
		d.hash.reset(b.Table)
		if raw, b.HashSum, err = d.cols.decode(d.bufs.get(bh.rawLen+colRoom), cols, b.Rows, bh.rawLen, &d.hash); err != nil {
			return fail(b, "%v", err)
		}
		if err := checkRows(p, b, d.cols.tags); err != nil {
			return fail(b, "%v", err)
		}
		if p.leaves != nil {
			rowLeaves(b.Rows, p.leaves)
			b.Leaves = p.leaves
		}
		return b, raw, nil
	case bh.codec == CompressNone:
		if data, err = d.decompress(nil, bh.codec, stored, bh.rawLen); err != nil {
			return fail(b, "%v", err)
		}
	default:
		if raw, err = d.decompress(d.bufs.get(bh.rawLen), bh.codec, stored, bh.rawLen); err != nil {
			return fail(b, "%v", err)
		}
		data = raw
	}
	dd.b = data
	post := rowPost{check: p.checkRows, leaves: p.leaves}
	if p.typ == secRowBatch {
		p.rows = d.rows.get(bh.count)
		b.Rows = *p.rows
		d.hash.reset(b.Table)
		if post.leaves != nil {
			clear(post.leaves[:])
		}
		b.HashSum, dd.off, dd.err = decodeRowsPost(&d.hash, data, b.Rows, &post)
	} else {
		b.Tombstones = make([]engine.Tombstone, 0, bh.count)
		for i := 0; i < bh.count && dd.err == nil; i++ {
			k := dd.fixed(dd.count(1, MaxBatchRaw))
			lsn := dd.uvarint()
			if dd.err == nil {
				b.Tombstones = append(b.Tombstones, engine.Tombstone{Key: string(k), LSN: lsn})
			}
		}
	}
	if dd.err == nil && dd.off != len(data) {
		dd.fail("%d bytes after the last of %d entries", len(data)-dd.off, bh.count)
	}
	if dd.err != nil {
		return fail(b, "batch contents: %v", dd.err)
	}
	if post.err != nil {
		return fail(b, "row %d: %v", b.FirstRow+uint64(post.bad), post.err)
	}
	if p.typ == secRowBatch {
		b.Leaves = post.leaves
	}
	return b, raw, nil
}

// checkRows validates the batch's row encodings when the reader was asked
// to (ReaderOptions.CheckRows). tags are colDecoder.tags: for a batch the
// one-shape rebuild wrote, the first row proves the others when
// engine.CheckRowShape says that its tags allow it.
func checkRows(p *pending, b *Batch, tags []byte) error {
	if !p.checkRows {
		return nil
	}
	if tags != nil && len(b.Rows) > 0 {
		all, err := engine.CheckRowShape(b.Rows[0].Enc, tags)
		if err != nil {
			return fmt.Errorf("row %d: %w", b.FirstRow, err)
		}
		if all {
			return nil
		}
	}
	for i := range b.Rows {
		if err := engine.CheckRow(b.Rows[i].Enc); err != nil {
			return fmt.Errorf("row %d: %w", b.FirstRow+uint64(i), err)
		}
	}
	return nil
}

// rowHasher computes engine.RowHash(table, key, enc) for the rows of one
// table: in place with hashWin (rowhash.go) when the row's bytes allow it,
// else its scratch holds "table 0x00 key 0x00 enc", hashed in one call
// instead of five streaming writes.
type rowHasher struct {
	table   string
	scratch []byte
	pre     int
	pw, pm  [4]uint64 // the prefix as words and their masks (hashWin)
	winPre  int       // pre, or more than any offset when the prefix does not fit pw
}

func (h *rowHasher) reset(table string) {
	if h.table == table && h.scratch != nil {
		return
	}
	h.table = table
	h.scratch = append(append(h.scratch[:0], engine.BaseName(table)...), 0)
	h.pre = len(h.scratch)
	h.prefixWords()
}

func (h *rowHasher) hash(key, enc []byte) uint64 {
	if len(key)+len(enc)+1 > 4096 {
		return engine.RowHash(h.table, bstr(key), bstr(enc))
	}
	h.scratch = append(append(append(h.scratch[:h.pre], key...), 0), enc...)
	return xxhash.Sum64(h.scratch)
}

// decodeRows parses len(rows) rows from data into rows and hashes each
// one (the hash the engine would compute: one pass here, in the decode
// workers, and the loader hands it to the engine instead of hashing
// again). It returns their hash sum, the bytes consumed and the first
// error. Rows are hashed in groups after they are parsed, in place
// (hashGroup.hash): a row's one-byte length is zero in data while its
// group is parsed and hashed, and is put back afterwards.
func decodeRows(h *rowHasher, data []byte, rows []Row) (uint64, int, error) {
	return decodeRowsPost(h, data, rows, nil)
}

// rowPost is what decodeRowsPost does with each group of rows once they
// are hashed, while the group's bytes are still in the core's cache (a
// pass over the whole batch afterwards reads them from memory again):
// check their encodings (ReaderOptions.CheckRows; the first row refused
// is kept, and the rows after it are not checked) and add their leaf
// sums (ReaderOptions.LeafSums).
type rowPost struct {
	check  bool
	leaves *engine.LeafSums
	bad    int   // index in the batch of the first row refused
	err    error // CheckRow's error for it
}

func (q *rowPost) group(rows []Row, first int) {
	if q.check && q.err == nil {
		for i := range rows {
			if err := engine.CheckRow(rows[i].Enc); err != nil {
				q.bad, q.err = first+i, err
				break
			}
		}
	}
	if ls := q.leaves; ls != nil {
		for i := range rows {
			ls[keyLeaf(rows[i].Key)] += rows[i].Hash
		}
	}
}

// decodeRowsPost is decodeRows, handing each group of rows hashed to post
// (if not nil).
func decodeRowsPost(h *rowHasher, data []byte, rows []Row, post *rowPost) (uint64, int, error) {
	var (
		sum uint64
		g   hashGroup
		ng  int
	)
	off := 0
	for i := range rows {
		k, n := uvarintAt(data, off)
		if n <= 0 || k > uint64(len(data)-off-n) {
			return sum + g.hash(h, data, rows[i-ng:i]), off, fmt.Errorf("bad key length at offset %d", off)
		}
		off += n
		ks := off
		off += int(k)
		e, en := uvarintAt(data, off)
		if en <= 0 || e > uint64(len(data)-off-en) {
			return sum + g.hash(h, data, rows[i-ng:i]), off, fmt.Errorf("bad row length at offset %d", off)
		}
		off += en
		es := off
		off += int(e)
		lsn, n := uvarintAt(data, off)
		if n <= 0 {
			return sum + g.hash(h, data, rows[i-ng:i]), off, fmt.Errorf("bad lsn at offset %d", off)
		}
		off += n
		if en == 1 {
			data[es-1] = 0 // put back by g.hash
		}
		setRow(&rows[i], data[ks:ks+int(k):ks+int(k)], data[es:es+int(e):es+int(e)], lsn, 0)
		g.add(h, data, ng, ks, int(k), es, int(e), en == 1)
		if ng++; ng == len(g.win) {
			sum += g.hash(h, data, rows[i+1-ng:i+1])
			if post != nil {
				post.group(rows[i+1-ng:i+1], i+1-ng)
			}
			ng = 0
		}
	}
	sum += g.hash(h, data, rows[len(rows)-ng:])
	if post != nil {
		post.group(rows[len(rows)-ng:], len(rows)-ng)
	}
	return sum, off, nil
}

// setRow stores a row field by field: while the garbage collector marks,
// that takes two pointer write barriers instead of a bulk barrier over
// the struct (typedmemmove).
func setRow(r *Row, key, enc []byte, lsn, hash uint64) {
	r.Key, r.Enc, r.LSN, r.Hash = key, enc, lsn, hash
}

// bufFree recycles the Readers' payload and batch buffers, as rowsFree
// their row slices (shared, and dropped when unused: see readerKeep; a
// sync.Pool would keep tens of MB alive after a restore until two garbage
// collections, which an idle process may not run for a long time). Buffers of 1 MiB and more are
// kept apart from smaller ones: compressed payloads and the batches they
// expand to would otherwise take each other's places, and a batch handed
// a payload's buffer allocates a new one.
type bufFree struct{ small, large chan []byte }

const bufLarge = 1 << 20

func newBufFree(n int) bufFree { return bufFree{make(chan []byte, n), make(chan []byte, n)} }

func (f bufFree) class(n int) chan []byte {
	if n >= bufLarge {
		return f.large
	}
	return f.small
}

// get returns an empty buffer with room for n bytes; a new one gets 1/16
// more, so that the next batches of about the same size (a batch ends
// within a row after the writer's BatchSize) fit it.
func (f bufFree) get(n int) []byte {
	select {
	case b := <-f.class(n):
		if cap(b) >= n {
			return b[:0]
		}
	default:
	}
	return make([]byte, 0, n+n/16)
}

func (f bufFree) put(b []byte) {
	if cap(b) == 0 || cap(b) > 32<<20 {
		return // a huge-row batch: let it go
	}
	select {
	case f.class(cap(b)) <- b[:0]:
	default:
	}
}

// rowsFree recycles the Readers' Batch.Rows slices: the consumer gives a
// batch's back when it asks for the next item. It is dropped when no
// Reader has used it for readerKeepFor (readerKeep), so a finished
// restore leaves nothing behind for long.
type rowsFree chan *[]Row

func (f rowsFree) get(n int) *[]Row {
	var p *[]Row
	select {
	case p = <-f:
	default:
		p = new([]Row)
	}
	if cap(*p) < n {
		*p = make([]Row, n, n+n/16) // as bufFree.get: the next batches fit
	}
	*p = (*p)[:n]
	return p
}

// put keeps a slice for reuse. Its rows keep pointing into released batch
// buffers until overwritten (pooled themselves), which saves clearing
// them.
func (f rowsFree) put(p *[]Row) {
	if cap(*p) > 1<<20 {
		return
	}
	select {
	case f <- p:
	default:
	}
}

// uvarintAt decodes a uvarint at data[off:], the one-byte case inline.
func uvarintAt(data []byte, off int) (uint64, int) {
	if off < len(data) && data[off] < 0x80 {
		return uint64(data[off]), 1
	}
	if off >= len(data) {
		return 0, 0
	}
	return binary.Uvarint(data[off:])
}

// bstr views b as a string without copying; only for immediate use.
func bstr(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

func sectionName(typ byte) string {
	switch typ {
	case secSegmentHeader:
		return "segment header"
	case secTableSchema:
		return "table schema"
	case secRowBatch:
		return "row batch"
	case secRowColumns:
		return "row batch (columns)"
	case secTombBatch:
		return "tombstone batch"
	case secFooter:
		return "footer"
	}
	return fmt.Sprintf("section 0x%02x", typ)
}

// Next returns the next item, io.EOF after the last complete segment, or
// an error. In strict mode (the default) the first damage ends reading
// with a *CorruptError (errors.Is ErrCorrupt; ErrTornTail for an input
// that ends inside a segment); LSN discontinuity inside the file is
// ErrLSNGap; a newer major version is a *VersionError (ErrVersion).
func (r *Reader) Next() (*Item, error) {
	if r.prev != nil {
		r.bufs.put(r.prev.payload)
		if r.prev.raw != nil {
			r.bufs.put(r.prev.raw)
		}
		if r.prev.rows != nil {
			r.rows.put(r.prev.rows)
		}
		if r.prev.leaves != nil {
			r.leaves.put(r.prev.leaves)
		}
		r.prev = nil
	}
	if r.done {
		return nil, r.final
	}
	p, ok := <-r.queue
	if !ok {
		r.done = true
		r.final = r.readErr
		if r.final == io.EOF && r.seg.open {
			r.final = &CorruptError{Offset: r.endOff, Segment: r.seg.no, Batch: -1, Torn: true, Reason: "input ends before the segment footer"}
		} else if r.final == io.EOF && r.segs == 0 {
			r.final = fmt.Errorf("%w (input ends at offset %d)", ErrNoSegment, r.endOff)
		}
		if ce, ok := r.final.(*CorruptError); ok && ce.Torn && ce.Segment == 0 && r.seg.no > 0 {
			ce.Segment = r.seg.no
		}
		return nil, r.final
	}
	<-p.done
	r.prev = p
	if p.err != nil {
		return r.stop(p.err)
	}
	it := p.item
	it.Offset, it.Size, it.SegNo, it.Type = p.off, p.size, p.segNo, p.typ
	if err := r.check(it, p); err != nil {
		if r.opts.Tolerant && errors.Is(err, ErrCorrupt) {
			return &Item{Kind: ItemDamage, Offset: it.Offset, Size: it.Size, SegNo: it.SegNo, Type: it.Type, Err: err, Batch: it.Batch}, nil
		}
		return r.stop(err)
	}
	return it, nil
}

func (r *Reader) stop(err error) (*Item, error) {
	r.done = true
	r.final = err
	r.once.Do(func() { close(r.quit) })
	return nil, err
}

// check enforces the order of sections and the footer's agreement with
// what was read.
func (r *Reader) check(it *Item, p *pending) error {
	s := &r.seg
	chain := func() {
		var b [5]byte
		b[0] = p.typ
		binary.LittleEndian.PutUint32(b[1:], p.pcrc)
		s.chain = crc32.Update(s.chain, castagnoli, b[:])
		s.sections++
	}
	bad := func(format string, args ...any) error {
		return &CorruptError{Offset: it.Offset, Segment: it.SegNo, Batch: -1, Reason: fmt.Sprintf(format, args...)}
	}
	if it.Kind == ItemDamage {
		s.damaged = true
		return nil
	}
	if it.Kind != ItemSegment && !s.open {
		return bad("%s outside a segment", sectionName(p.typ))
	}
	switch it.Kind {
	case ItemSegment:
		if s.open {
			return &CorruptError{Offset: it.Offset, Segment: s.no, Batch: -1, Torn: true, Reason: "segment ends without a footer and a new segment starts"}
		}
		h := it.Segment
		if r.last != nil {
			if h.Mode == ModeIncremental && h.BaseLSN != r.last.LastLSN {
				return fmt.Errorf("%w: segment %d at offset %d starts at LSN %d but segment %d ends at LSN %d", ErrLSNGap, it.SegNo, it.Offset, h.BaseLSN, it.SegNo-1, r.last.LastLSN)
			}
			if h.Mode == ModeFull && h.LastLSN < r.last.LastLSN {
				return fmt.Errorf("%w: full segment %d at LSN %d is older than segment %d at LSN %d", ErrLSNGap, it.SegNo, h.LastLSN, it.SegNo-1, r.last.LastLSN)
			}
		}
		*s = segCheck{open: true, hdr: h, no: it.SegNo, stats: make([]TableStats, len(h.Tables))}
		for i, t := range h.Tables {
			s.stats[i].Name = t
		}
		chain()
	case ItemTable:
		if s.schemas >= len(s.hdr.Tables) || s.hdr.Tables[s.schemas] != it.Table.Def.Name {
			return bad("schema of table %q out of order", it.Table.Def.Name)
		}
		s.schemas++
		chain()
	case ItemRows, ItemTombstones:
		b := it.Batch
		ord := -1
		for i, t := range s.hdr.Tables {
			if t == b.Table {
				ord = i
				break
			}
		}
		if ord < 0 || s.schemas != len(s.hdr.Tables) {
			return bad("batch of table %q before its schema", b.Table)
		}
		st := &s.stats[ord]
		if !s.damaged {
			want := st.Rows
			if it.Kind == ItemTombstones {
				want = st.Tombstones
			}
			if uint64(b.Index) != st.Batches || b.FirstRow != want {
				return &CorruptError{Offset: it.Offset, Segment: it.SegNo, Table: b.Table, Batch: b.Index,
					Reason: fmt.Sprintf("batch out of sequence (expected batch %d starting at entry %d)", st.Batches, want)}
			}
		}
		st.Batches++
		st.RawBytes += uint64(b.RawLen)
		st.Stored += uint64(b.Stored)
		if it.Kind == ItemRows {
			st.Rows += uint64(b.Count)
			st.HashSum += b.HashSum
		} else {
			st.Tombstones += uint64(b.Count)
		}
		chain()
	case ItemSkipped:
		chain()
	case ItemFooter:
		f := it.Footer
		s.open = false
		r.segs++
		r.last = s.hdr
		if s.damaged {
			return nil // damage already reported; the sums cannot agree
		}
		if f.Sections != s.sections || f.Checksum != s.chain {
			return bad("segment checksum mismatch: footer says 0x%08X over %d sections, read 0x%08X over %d", f.Checksum, f.Sections, s.chain, s.sections)
		}
		for i := range f.Tables {
			w, g := f.Tables[i], s.stats[i]
			w.TableRows, w.TableHashSum = 0, 0
			if r.opts.ChecksumsOnly {
				g.HashSum = w.HashSum // not computed: the restoring server proves it
			}
			if w != g {
				return bad("footer statistics of table %q disagree with its batches (footer %+v; read %+v)", w.Name, w, g)
			}
		}
	}
	return nil
}
