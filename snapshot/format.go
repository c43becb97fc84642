package snapshot

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/google/uuid"

	"github.com/heliosdb/heliosdb-lite/engine"
)

// Format constants. The byte layout is specified in
// docs/heliodump-format.md; change both together.
const (
	// Magic opens every .heliodump file (and every .incN file).
	Magic = "HELIODMP"
	// FormatMajor is the format major version this build writes and the
	// highest it reads. A reader refuses a file with a higher major.
	FormatMajor uint16 = 1
	// FormatMinor is the format minor version this build writes. Minor
	// versions only add things older readers may skip, or critical section
	// types they refuse by name (1.1: ROW_COLUMNS), or segment modes they
	// refuse (1.2: the subset flag of the mode byte).
	FormatMinor uint16 = 2
	// ProductVersion is the HeliosDB-Lite version recorded by default as
	// the writer of a file.
	ProductVersion = "3.1.0"

	fileHeaderLen  = 32
	productVerLen  = 16 // NUL-padded ASCII in the file header
	frameHeaderLen = 12
	frameTrailer   = 4

	// MaxBatchRaw bounds the uncompressed size of one batch: one engine row
	// (at most engine.MaxRowBytes) plus its key and framing must fit.
	MaxBatchRaw = engine.MaxRowBytes + 1<<20
	// MaxSectionLen bounds one section payload. Readers refuse larger
	// lengths, and allocate payload memory only as the bytes arrive.
	MaxSectionLen = MaxBatchRaw + 1<<10
	// maxTables bounds the table list of a segment header.
	maxTables = 1 << 20
)

// Section types. Part of the format: never renumber.
const (
	secSegmentHeader byte = 0x01
	secTableSchema   byte = 0x02
	secRowBatch      byte = 0x03
	secTombBatch     byte = 0x04
	secRowColumns    byte = 0x05 // rows in the column layout (format 1.1, colbatch.go)
	secFooter        byte = 0x0F

	// flagCritical: a reader that does not know the section type must
	// refuse the file instead of skipping the section.
	flagCritical byte = 0x01
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func crc(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// Mode is the kind of a segment.
type Mode uint8

// Segment modes.
const (
	ModeFull        Mode = 1 // the whole state (or a table subset) at last_lsn
	ModeIncremental Mode = 2 // changes in (base_lsn, last_lsn]
)

// modeSubset is the mode byte's high bit: the segment belongs to a dump
// of a table subset (SegmentHeader.Subset, format 1.2). Older readers
// take the byte as an unknown mode and refuse the segment.
const modeSubset = 0x80

func (m Mode) String() string {
	switch m {
	case ModeFull:
		return "full"
	case ModeIncremental:
		return "incremental"
	}
	return fmt.Sprintf("mode(%d)", uint8(m))
}

// Compression is the codec of a batch. Values are part of the format.
type Compression uint8

// Codecs.
const (
	CompressNone Compression = 0
	CompressLZ4  Compression = 1
	CompressZstd Compression = 2
)

func (c Compression) String() string {
	switch c {
	case CompressNone:
		return "none"
	case CompressLZ4:
		return "lz4"
	case CompressZstd:
		return "zstd"
	}
	return fmt.Sprintf("codec(%d)", uint8(c))
}

// ParseCompression maps "none", "lz4", "zstd" (the CLI's --compress) to a
// Compression.
func ParseCompression(s string) (Compression, error) {
	switch s {
	case "", "none":
		return CompressNone, nil
	case "lz4":
		return CompressLZ4, nil
	case "zstd":
		return CompressZstd, nil
	}
	return 0, fmt.Errorf("%w: unknown compression %q (want none, lz4 or zstd)", ErrInvalidOptions, s)
}

// FileHeader is the fixed 32-byte header at the start of every file.
type FileHeader struct {
	Major, Minor uint16
	Product      string // product version that created the file
}

func appendFileHeader(dst []byte, product string) []byte {
	start := len(dst)
	dst = append(dst, Magic...)
	dst = binary.LittleEndian.AppendUint16(dst, FormatMajor)
	dst = binary.LittleEndian.AppendUint16(dst, FormatMinor)
	var pv [productVerLen]byte
	copy(pv[:], product)
	dst = append(dst, pv[:]...)
	return binary.LittleEndian.AppendUint32(dst, crc(dst[start:]))
}

// parseFileHeader checks magic, CRC and version of a 32-byte header.
func parseFileHeader(b []byte) (FileHeader, error) {
	if len(b) < fileHeaderLen || string(b[:8]) != Magic {
		return FileHeader{}, ErrNotDump
	}
	h := FileHeader{Major: binary.LittleEndian.Uint16(b[8:]), Minor: binary.LittleEndian.Uint16(b[10:])}
	pv := b[12 : 12+productVerLen]
	n := 0
	for n < len(pv) && pv[n] != 0 {
		n++
	}
	h.Product = string(pv[:n])
	if binary.LittleEndian.Uint32(b[28:]) != crc(b[:28]) {
		return h, &CorruptError{Offset: 0, Batch: -1, Reason: "file header checksum mismatch"}
	}
	if h.Major > FormatMajor {
		return h, &VersionError{FileMajor: h.Major, FileMinor: h.Minor, Writer: h.Product}
	}
	if h.Major == 0 {
		return h, &CorruptError{Offset: 8, Batch: -1, Reason: "format major version 0"}
	}
	return h, nil
}

// frame header: type, flags, reserved u16, payload length u32, header CRC.
func appendFrameHeader(dst []byte, typ, flags byte, n int) []byte {
	start := len(dst)
	dst = append(dst, typ, flags, 0, 0)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(n))
	return binary.LittleEndian.AppendUint32(dst, crc(dst[start:]))
}

type frameHeader struct {
	typ, flags byte
	length     int
}

// parseFrameHeader validates a 12-byte frame header.
func parseFrameHeader(b []byte) (frameHeader, bool) {
	if binary.LittleEndian.Uint32(b[8:]) != crc(b[:8]) {
		return frameHeader{}, false
	}
	n := binary.LittleEndian.Uint32(b[4:])
	if n > MaxSectionLen || b[2] != 0 || b[3] != 0 {
		return frameHeader{}, false
	}
	return frameHeader{typ: b[0], flags: b[1], length: int(n)}, true
}

// SegmentHeader is the metadata that opens a segment.
type SegmentHeader struct {
	DumpID    uuid.UUID
	CreatedAt time.Time // microsecond precision, UTC
	Mode      Mode
	// Subset marks a segment of a dump that holds a subset of the
	// database's tables (dump --tables, and the increments that continue
	// such a dump): a clean restore replaces only the tables it lists and
	// leaves the others alone, instead of making the database exactly the
	// dump's content. Encoded as the mode byte's high bit (format 1.2).
	Subset  bool
	BaseLSN uint64 // incremental: the LSN the changes start after; full: 0
	LastLSN uint64 // the state's LSN
	// Horizon is the tombstone horizon of the dumped state: tombstones at
	// or below it may be missing.
	Horizon     uint64
	Compression Compression
	Level       int
	Product     string // product version that wrote the segment
	ClusterID   string
	NodeID      string
	Tables      []string // tables of the segment, in the order of their sections
}

// Kind describes the segment's mode for people: "full", "incremental",
// with " (tables subset)" for a segment of a table-subset dump.
func (h *SegmentHeader) Kind() string {
	if h.Subset {
		return h.Mode.String() + " (tables subset)"
	}
	return h.Mode.String()
}

func (h *SegmentHeader) append(dst []byte) []byte {
	mode := byte(h.Mode)
	if h.Subset {
		mode |= modeSubset
	}
	dst = append(dst, mode)
	dst = append(dst, h.DumpID[:]...)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(h.CreatedAt.UnixMicro()))
	dst = binary.LittleEndian.AppendUint64(dst, h.BaseLSN)
	dst = binary.LittleEndian.AppendUint64(dst, h.LastLSN)
	dst = binary.LittleEndian.AppendUint64(dst, h.Horizon)
	dst = append(dst, byte(h.Compression), byte(h.Level))
	dst = appendString(dst, h.Product)
	dst = appendString(dst, h.ClusterID)
	dst = appendString(dst, h.NodeID)
	dst = binary.AppendUvarint(dst, uint64(len(h.Tables)))
	for _, t := range h.Tables {
		dst = appendString(dst, t)
	}
	return dst
}

func decodeSegmentHeader(b []byte) (*SegmentHeader, error) {
	d := dec{b: b}
	h := &SegmentHeader{}
	mode := d.byte()
	h.Subset = mode&modeSubset != 0
	h.Mode = Mode(mode &^ modeSubset)
	copy(h.DumpID[:], d.fixed(16))
	h.CreatedAt = time.UnixMicro(int64(d.u64())).UTC()
	h.BaseLSN = d.u64()
	h.LastLSN = d.u64()
	h.Horizon = d.u64()
	h.Compression = Compression(d.byte())
	h.Level = int(d.byte())
	h.Product = d.str()
	h.ClusterID = d.str()
	h.NodeID = d.str()
	n := d.count(1, maxTables)
	seen := make(map[string]bool, n)
	for i := 0; i < n && d.err == nil; i++ {
		t := d.str()
		if seen[t] {
			d.fail("table %q listed twice", t)
		}
		seen[t] = true
		h.Tables = append(h.Tables, t)
	}
	if d.err == nil && h.Mode != ModeFull && h.Mode != ModeIncremental {
		d.fail("unknown segment mode %d", h.Mode)
	}
	if d.err == nil && h.Compression > CompressZstd {
		d.fail("unknown compression %d", h.Compression)
	}
	if d.err == nil && h.Mode == ModeIncremental && h.BaseLSN > h.LastLSN {
		d.fail("base_lsn %d above last_lsn %d", h.BaseLSN, h.LastLSN)
	}
	return h, d.err
}

// TableSchema is one table of a segment: its definition, bookkeeping and
// whether the segment replaces the table as a whole.
type TableSchema struct {
	Def  *engine.TableDef
	Meta engine.TableMeta
	// Full: the segment holds every row of the table (always in a full
	// segment; in an incremental one when the table was created, truncated
	// or rewritten since base_lsn). A reader replaces the table.
	Full bool
}

func appendTableSchema(dst []byte, ord int, ts *TableSchema) []byte {
	dst = binary.AppendUvarint(dst, uint64(ord))
	var flags byte
	if ts.Full {
		flags |= 1
	}
	dst = append(dst, flags)
	def := engine.AppendTableDef(nil, ts.Def)
	dst = binary.AppendUvarint(dst, uint64(len(def)))
	dst = append(dst, def...)
	dst = binary.AppendUvarint(dst, ts.Meta.DefLSN)
	dst = binary.AppendUvarint(dst, ts.Meta.CreatedLSN)
	dst = binary.AppendVarint(dst, ts.Meta.RowIDSeq)
	dst = binary.AppendUvarint(dst, uint64(len(ts.Meta.Seqs)))
	for _, s := range ts.Meta.Seqs {
		dst = binary.AppendVarint(dst, s)
	}
	return dst
}

func decodeTableSchema(b []byte) (int, *TableSchema, error) {
	d := dec{b: b}
	ord := d.count(0, maxTables)
	flags := d.byte()
	defb := d.fixed(d.count(1, MaxSectionLen))
	ts := &TableSchema{Full: flags&1 != 0}
	if d.err == nil {
		def, n, err := engine.DecodeTableDef(defb)
		switch {
		case err != nil:
			d.fail("table definition: %v", err)
		case n != len(defb):
			d.fail("table definition has %d trailing bytes", len(defb)-n)
		default:
			if verr := def.Validate(); verr != nil {
				d.fail("table definition: %v", verr)
			}
			ts.Def = def
		}
	}
	ts.Meta.DefLSN = d.uvarint()
	ts.Meta.CreatedLSN = d.uvarint()
	ts.Meta.RowIDSeq = d.varint()
	n := d.count(1, engine.MaxColumns)
	if n > 0 {
		ts.Meta.Seqs = make([]int64, n)
	}
	for i := 0; i < n && d.err == nil; i++ {
		ts.Meta.Seqs[i] = d.varint()
	}
	return ord, ts, d.err
}

// batchHeader opens a row or tombstone batch payload; the stored bytes
// follow it to the end of the payload.
type batchHeader struct {
	ord      int    // table ordinal in the segment header
	index    int    // batch index within the table (rows and tombstones counted separately)
	firstRow uint64 // ordinal of the first row (tombstone) of the batch within the table
	count    int
	rawLen   int
	codec    Compression
	// encLen is the size of the column layout before compression
	// (ROW_COLUMNS only; rawLen is the size of the row entries it rebuilds).
	encLen int
}

func (bh *batchHeader) append(typ byte, dst []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(bh.ord))
	dst = binary.AppendUvarint(dst, uint64(bh.index))
	dst = binary.AppendUvarint(dst, bh.firstRow)
	dst = binary.AppendUvarint(dst, uint64(bh.count))
	dst = binary.AppendUvarint(dst, uint64(bh.rawLen))
	dst = append(dst, byte(bh.codec))
	if typ == secRowColumns {
		dst = binary.AppendUvarint(dst, uint64(bh.encLen))
	}
	return dst
}

func decodeBatchHeader(typ byte, b []byte) (batchHeader, []byte, error) {
	d := dec{b: b}
	var bh batchHeader
	bh.ord = d.count(0, maxTables)
	bh.index = d.count(0, 1<<40)
	bh.firstRow = d.uvarint()
	bh.rawLen = -1
	bh.count = d.count(0, MaxBatchRaw)
	bh.rawLen = d.count(0, MaxBatchRaw)
	bh.codec = Compression(d.byte())
	if d.err == nil && bh.codec > CompressZstd {
		d.fail("unknown codec %d", bh.codec)
	}
	if d.err == nil && bh.count > bh.rawLen {
		d.fail("%d entries cannot fit in %d bytes", bh.count, bh.rawLen)
	}
	if typ == secRowColumns {
		bh.encLen = d.count(0, MaxBatchRaw)
	}
	if d.err != nil {
		return bh, nil, d.err
	}
	return bh, b[d.off:], nil
}

// TableStats is the footer's record of one table in a segment.
type TableStats struct {
	Name       string
	Rows       uint64 // rows in this segment
	Tombstones uint64 // tombstones in this segment
	Batches    uint64 // row and tombstone batches
	RawBytes   uint64 // uncompressed batch bytes
	Stored     uint64 // stored (compressed) batch bytes
	// HashSum is the sum mod 2^64 of engine.RowHash over the rows in this
	// segment: checkable from the file alone.
	HashSum uint64
	// TableRows and TableHashSum describe the whole table at last_lsn
	// (engine Table.Len and HashSum): a restore compares them with what it
	// built, which proves it holds exactly what was dumped.
	TableRows    uint64
	TableHashSum uint64
}

// Footer closes a segment.
type Footer struct {
	Sections    uint64 // sections of the segment before the footer
	Tables      []TableStats
	RawBytes    uint64
	StoredBytes uint64
	// Checksum is CRC32C over, for every section before the footer, its
	// type byte followed by its payload CRC (u32 LE).
	Checksum uint32
}

func (f *Footer) append(dst []byte) []byte {
	dst = binary.AppendUvarint(dst, f.Sections)
	dst = binary.AppendUvarint(dst, uint64(len(f.Tables)))
	for i := range f.Tables {
		t := &f.Tables[i]
		dst = binary.AppendUvarint(dst, t.Rows)
		dst = binary.AppendUvarint(dst, t.Tombstones)
		dst = binary.AppendUvarint(dst, t.Batches)
		dst = binary.AppendUvarint(dst, t.RawBytes)
		dst = binary.AppendUvarint(dst, t.Stored)
		dst = binary.LittleEndian.AppendUint64(dst, t.HashSum)
		dst = binary.AppendUvarint(dst, t.TableRows)
		dst = binary.LittleEndian.AppendUint64(dst, t.TableHashSum)
	}
	dst = binary.AppendUvarint(dst, f.RawBytes)
	dst = binary.AppendUvarint(dst, f.StoredBytes)
	return binary.LittleEndian.AppendUint32(dst, f.Checksum)
}

func decodeFooter(b []byte, tables []string) (*Footer, error) {
	d := dec{b: b}
	f := &Footer{Sections: d.uvarint()}
	n := d.count(1, maxTables)
	if d.err == nil && n != len(tables) {
		d.fail("footer lists %d tables, segment header %d", n, len(tables))
	}
	for i := 0; i < n && d.err == nil; i++ {
		t := TableStats{Name: tables[i]}
		t.Rows = d.uvarint()
		t.Tombstones = d.uvarint()
		t.Batches = d.uvarint()
		t.RawBytes = d.uvarint()
		t.Stored = d.uvarint()
		t.HashSum = d.u64()
		t.TableRows = d.uvarint()
		t.TableHashSum = d.u64()
		f.Tables = append(f.Tables, t)
	}
	f.RawBytes = d.uvarint()
	f.StoredBytes = d.uvarint()
	f.Checksum = d.u32()
	return f, d.err
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// dec reads payload fields; the first failure sticks and later reads
// return zero values. Every count is bounded by the bytes left.
type dec struct {
	b   []byte
	off int
	err error
}

func (d *dec) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf(format, args...)
	}
}

func (d *dec) byte() byte {
	if d.err != nil {
		return 0
	}
	if d.off >= len(d.b) {
		d.fail("truncated payload")
		return 0
	}
	d.off++
	return d.b[d.off-1]
}

func (d *dec) fixed(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b)-d.off {
		d.fail("truncated payload")
		return nil
	}
	d.off += n
	return d.b[d.off-n : d.off]
}

func (d *dec) u64() uint64 {
	if b := d.fixed(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func (d *dec) u32() uint32 {
	if b := d.fixed(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (d *dec) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.off += n
	return v
}

func (d *dec) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b[d.off:])
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.off += n
	return v
}

// count reads a uvarint that counts items of at least minSize bytes each
// (0 for no size bound) and is at most max.
func (d *dec) count(minSize, max int) int {
	v := d.uvarint()
	if d.err != nil {
		return 0
	}
	if v > uint64(max) || (minSize > 0 && v > uint64((len(d.b)-d.off)/minSize)) {
		d.fail("count %d out of bounds", v)
		return 0
	}
	return int(v)
}

func (d *dec) str() string {
	n := d.count(1, MaxSectionLen)
	return string(d.fixed(n))
}
