package snapshot

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/heliosdb/heliosdb-lite/engine"
)

// Damage is one damaged place found by Verify or Salvage.
type Damage struct {
	Offset   int64 // byte offset of the damaged section
	Size     int64 // bytes affected (the section, or the bytes skipped)
	Segment  int   // 1-based; 0 = file header
	Table    string
	Batch    int  // -1 when not a batch
	Metadata bool // header, schema, footer or framing (as opposed to data)
	Reason   string
}

// SegmentReport summarizes one segment for the reports.
type SegmentReport struct {
	No       int
	Offset   int64
	Header   *SegmentHeader
	Footer   *Footer // nil when the footer was not read intact
	Complete bool
	Rows     uint64 // rows read from intact batches
}

// VerifyReport is the outcome of Verify.
type VerifyReport struct {
	Name       string // file name for the text report; set by the caller
	File       FileHeader
	MagicOK    bool
	VersionOK  bool
	MetadataOK bool
	DataOK     bool
	Segments   []SegmentReport
	Damage     []Damage
	TornTail   *CorruptError
	Fatal      error // not a dump, unsupported version, read error
	Bytes      int64 // bytes read
	// Checksum is the data checksum printed by the report: the footer
	// checksum of a single-segment file, or CRC32C over the footer
	// checksums (u32 LE, in order) of several segments.
	Checksum uint32
}

// Passed reports whether the file is intact.
func (v *VerifyReport) Passed() bool {
	return v.Fatal == nil && v.MagicOK && v.VersionOK && v.MetadataOK && v.DataOK && v.TornTail == nil && len(v.Damage) == 0
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Verify reads the whole input and checks magic, version, every section
// checksum, every batch's contents, the row-hash sums and segment
// checksums of every footer, and the LSN chain. It reports every damaged
// place, not only the first. It returns an error (matching ErrCorrupt,
// ErrTornTail, ErrVersion, ErrNotDump or ErrLSNGap) exactly when the file
// did not pass; the report is returned in every case.
func Verify(r io.Reader) (*VerifyReport, error) {
	return verify(r, false)
}

// VerifyChecksums is Verify without decompressing or parsing the batches
// (ReaderOptions.ChecksumsOnly): every byte is still covered by a CRC32C
// and the footers' counts and segment checksums are checked, but the
// row-hash sums are left to whoever decodes the rows (a restoring server
// proves them against the footer). Several times faster than Verify.
func VerifyChecksums(r io.Reader) (*VerifyReport, error) {
	return verify(r, true)
}

func verify(r io.Reader, checksumsOnly bool) (*VerifyReport, error) {
	cr := &countingReader{r: r}
	rd := NewReaderWith(cr, ReaderOptions{Tolerant: true, ChecksumsOnly: checksumsOnly})
	defer rd.Close()
	v := &VerifyReport{MetadataOK: true, DataOK: true}
	var cur *SegmentReport
	var sums []uint32
	first := true
	for {
		it, err := rd.Next()
		if first {
			first = false
			h := rd.FileHeader()
			v.File = h
			v.MagicOK = !errors.Is(err, ErrNotDump)
			v.VersionOK = h.Major > 0 && h.Major <= FormatMajor
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			var ce *CorruptError
			switch {
			case errors.As(err, &ce) && ce.Torn:
				v.TornTail = ce
			default:
				v.Fatal = err
				var ve *VersionError
				if errors.As(err, &ve) {
					v.VersionOK = false
				}
			}
			break
		}
		switch it.Kind {
		case ItemSegment:
			v.Segments = append(v.Segments, SegmentReport{No: it.SegNo, Offset: it.Offset, Header: it.Segment})
			cur = &v.Segments[len(v.Segments)-1]
		case ItemRows:
			if cur != nil {
				cur.Rows += uint64(it.Batch.Count)
			}
		case ItemFooter:
			if cur != nil {
				cur.Footer, cur.Complete = it.Footer, true
				sums = append(sums, it.Footer.Checksum)
			}
		case ItemDamage:
			d := Damage{Offset: it.Offset, Size: it.Size, Segment: it.SegNo, Batch: -1, Reason: it.Err.Error()}
			var ce *CorruptError
			if errors.As(it.Err, &ce) {
				d.Table, d.Batch, d.Reason = ce.Table, ce.Batch, ce.Reason
				if d.Segment == 0 {
					d.Segment = ce.Segment
				}
			}
			if it.Batch != nil && it.Batch.Table != "" {
				d.Table, d.Batch = it.Batch.Table, it.Batch.Index
			}
			d.Metadata = it.Type != secRowBatch && it.Type != secTombBatch && it.Type != secRowColumns
			if d.Metadata {
				v.MetadataOK = false
			} else {
				v.DataOK = false
			}
			v.Damage = append(v.Damage, d)
		}
	}
	rd.Close() // the read goroutine may still be running after an early stop
	v.Bytes = cr.n
	if !v.MagicOK || !v.VersionOK {
		v.MetadataOK, v.DataOK = false, false
	}
	switch len(sums) {
	case 0:
	case 1:
		v.Checksum = sums[0]
	default:
		var b []byte
		for _, s := range sums {
			b = binary.LittleEndian.AppendUint32(b, s)
		}
		v.Checksum = crc(b)
	}
	if v.Passed() {
		return v, nil
	}
	switch {
	case v.Fatal != nil:
		return v, v.Fatal
	case len(v.Damage) > 0:
		d := v.Damage[0]
		return v, &CorruptError{Offset: d.Offset, Segment: d.Segment, Table: d.Table, Batch: d.Batch, Reason: fmt.Sprintf("%s (%d damaged places)", d.Reason, len(v.Damage))}
	case v.TornTail != nil:
		return v, v.TornTail
	}
	return v, ErrCorrupt
}

// InspectReport describes a file from its headers and footers.
type InspectReport struct {
	Name     string
	File     FileHeader
	Segments []SegmentInfo
	TornTail *CorruptError
	Filter   string // table filter ("" = all)
	Size     int64
}

// Inspect reads the headers and footers of a file (not the batches, so it
// is fast on large files) and describes its segments and tables. table
// limits the table list ("" = all); an unknown table is an error.
func Inspect(r io.ReaderAt, size int64, table string) (*InspectReport, error) {
	s, err := ScanSegments(r, size)
	if err != nil && (s == nil || len(s.Segments) == 0) {
		return nil, err
	}
	rep := &InspectReport{File: s.File, Segments: s.Segments, TornTail: s.Torn, Filter: table, Size: size}
	if table != "" {
		if _, ok := rep.tableStats(table); !ok {
			return rep, fmt.Errorf("snapshot: table %q is not in the dump (tables: %v)", table, rep.Tables())
		}
	}
	return rep, nil
}

// Tables lists the tables the file restores to (those of its last segment).
func (r *InspectReport) Tables() []string {
	if len(r.Segments) == 0 {
		return nil
	}
	return r.Segments[len(r.Segments)-1].Header.Tables
}

func (r *InspectReport) tableStats(name string) (TableStats, bool) {
	if len(r.Segments) == 0 {
		return TableStats{}, false
	}
	for _, ts := range r.Segments[len(r.Segments)-1].Footer.Tables {
		if ts.Name == name {
			return ts, true
		}
	}
	return TableStats{}, false
}

// DryRunReport is the restore --dry-run report: a full verification plus
// what a restore would produce.
type DryRunReport struct {
	Name    string
	Verify  *VerifyReport
	Created time.Time
	Tables  []string
	// Subset: the file holds a table subset (dump --tables): a clean
	// restore replaces only Tables and leaves the database's other tables.
	Subset       bool
	TotalRows    uint64
	Compressed   int64
	Uncompressed uint64
	// RestoreRate is the throughput assumed for the estimate, in bytes
	// per second of uncompressed data.
	RestoreRate float64
}

// DefaultRestoreRate is the restore throughput the dry-run estimate
// assumes (uncompressed bytes per second, measured on one core of the
// reference machine with engine.Builder as the bottleneck).
const DefaultRestoreRate = 100e6

// DryRun verifies the whole input and summarizes what a restore would
// produce. The error is Verify's.
func DryRun(r io.Reader) (*DryRunReport, error) {
	v, err := Verify(r)
	d := &DryRunReport{Verify: v, Compressed: v.Bytes, RestoreRate: DefaultRestoreRate}
	if n := len(v.Segments); n > 0 {
		last := v.Segments[n-1]
		d.Created = last.Header.CreatedAt
		d.Tables = last.Header.Tables
		d.Subset = last.Header.Subset
		if last.Footer != nil {
			for _, t := range last.Footer.Tables {
				d.TotalRows += t.TableRows
			}
		}
		for _, s := range v.Segments {
			if s.Footer != nil {
				d.Uncompressed += s.Footer.RawBytes
			}
		}
	}
	return d, err
}

// LostBatch is a batch Salvage could not recover.
type LostBatch struct {
	Segment int
	Table   string // "" when even the table is unknown
	Batch   int    // -1 when unknown
	Offset  int64
	Size    int64
	// Rows lost: entries [FirstRow, EndRow) of the table in the segment,
	// when known from the neighbouring intact batches (EndRow 0 = unknown).
	FirstRow, EndRow uint64
	// AfterKey and BeforeKey bound the lost keys (exclusive; nil = open),
	// from the last key of the batch before and the first key after.
	AfterKey, BeforeKey []byte
	Reason              string
}

// TableSalvage counts what was recovered of one table.
type TableSalvage struct {
	Name      string
	Rows      uint64 // rows recovered
	Expected  uint64 // rows the footer recorded for the table in the segment
	HaveCount bool   // Expected is known (the footer was intact)
}

// SalvageReport says exactly what a salvage recovered and lost.
type SalvageReport struct {
	Segments  int
	Tables    []TableSalvage // per segment and table, in file order
	Lost      []LostBatch
	Damage    []Damage // damaged metadata (schemas, headers, footers, framing)
	TornTail  *CorruptError
	Recovered uint64
}

// Salvage reads a damaged file and applies every intact batch to b (a
// fresh engine.NewBuilder, or NewBuilderFrom a base): tables whose schema
// section is intact are created (full) or updated, intact row batches are
// put and tombstones deleted. Every lost batch is reported with its
// segment, table, batch index, row range, key bounds and byte offset.
// Tables dropped by an incremental segment are not dropped by Salvage.
// The error is non-nil only when nothing could be read at all.
func Salvage(r io.Reader, b *engine.Builder) (*SalvageReport, error) {
	cr := &countingReader{r: r}
	rd := NewReaderWith(cr, ReaderOptions{Tolerant: true})
	defer rd.Close()
	b.TrustRows()
	rep := &SalvageReport{}
	var hdr *SegmentHeader
	var created map[string]bool
	type tail struct {
		lastKey []byte
		endRow  uint64
	}
	var prevByTable map[string]*tail
	var openLost []int // indexes in rep.Lost still missing an upper bound
	tabIndex := map[string]int{}
	var prevTable string
	open := false // inside a segment: its footer not read yet
	for {
		it, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			var ce *CorruptError
			if errors.As(err, &ce) && ce.Torn {
				// Everything from the cut to the end of the input is
				// lost; when a segment was open, that is the rest of it.
				rep.TornTail = ce
				if open {
					rd.Close()
					l := LostBatch{Segment: rep.Segments, Batch: -1, Offset: ce.Offset, Size: max(cr.n-ce.Offset, 0),
						Reason: "the input ends inside the segment (" + ce.Reason + "): the rest of the segment is lost"}
					if p := prevByTable[prevTable]; p != nil {
						l.Table, l.AfterKey, l.FirstRow = prevTable, p.lastKey, p.endRow
						l.Reason = "the input ends inside the segment (" + ce.Reason + "): the rest of this table and the tables after it in the segment are lost"
					}
					rep.Lost = append(rep.Lost, l)
				}
				break
			}
			if rep.Segments == 0 {
				return rep, err
			}
			rep.Damage = append(rep.Damage, Damage{Offset: -1, Batch: -1, Metadata: true, Reason: err.Error()})
			break
		}
		switch it.Kind {
		case ItemSegment:
			hdr = it.Segment
			open = true
			rep.Segments++
			created = map[string]bool{}
			prevByTable = map[string]*tail{}
			openLost = nil
			tabIndex = map[string]int{}
			b.SetLSN(hdr.LastLSN)
		case ItemTable:
			ts := it.Table
			name := ts.Def.Name
			var err error
			if ts.Full || hdr.Mode == ModeFull || !b.HasTable(name) {
				err = b.CreateTable(ts.Def, ts.Meta)
			} else {
				err = b.UpdateMeta(name, ts.Def, ts.Meta)
			}
			if err != nil {
				rep.Damage = append(rep.Damage, Damage{Offset: it.Offset, Segment: it.SegNo, Table: name, Batch: -1, Metadata: true, Reason: err.Error()})
				continue
			}
			created[name] = true
			tabIndex[name] = len(rep.Tables)
			rep.Tables = append(rep.Tables, TableSalvage{Name: name})
		case ItemRows, ItemTombstones:
			bt := it.Batch
			if !created[bt.Table] {
				rep.Lost = append(rep.Lost, LostBatch{Segment: it.SegNo, Table: bt.Table, Batch: bt.Index, Offset: it.Offset, Size: it.Size, Reason: "table schema lost"})
				continue
			}
			var firstKey, lastKey []byte
			if it.Kind == ItemRows {
				ok := uint64(0)
				for _, r := range bt.Rows {
					if err := b.Put(bt.Table, string(r.Key), r.Enc, r.LSN); err != nil {
						rep.Lost = append(rep.Lost, LostBatch{Segment: it.SegNo, Table: bt.Table, Batch: bt.Index, Offset: it.Offset, Size: it.Size,
							FirstRow: bt.FirstRow + ok, EndRow: bt.FirstRow + ok + 1, AfterKey: r.Key, BeforeKey: r.Key, Reason: "row does not decode: " + err.Error()})
						continue
					}
					ok++
				}
				rep.Recovered += ok
				rep.Tables[tabIndex[bt.Table]].Rows += ok
				if len(bt.Rows) > 0 {
					firstKey, lastKey = bt.Rows[0].Key, bt.Rows[len(bt.Rows)-1].Key
				}
			} else {
				for _, t := range bt.Tombstones {
					_ = b.Delete(bt.Table, t.Key, t.LSN)
				}
			}
			// Close the bounds of lost batches that precede this one.
			keep := openLost[:0]
			for _, i := range openLost {
				l := &rep.Lost[i]
				if l.Table == bt.Table && it.Kind == ItemRows {
					l.BeforeKey = append([]byte(nil), firstKey...)
					l.EndRow = bt.FirstRow
					continue
				}
				keep = append(keep, i)
			}
			openLost = keep
			if it.Kind == ItemRows {
				prevByTable[bt.Table] = &tail{lastKey: append([]byte(nil), lastKey...), endRow: bt.FirstRow + uint64(len(bt.Rows))}
			}
			prevTable = bt.Table
		case ItemFooter:
			open = false
			for _, ts := range it.Footer.Tables {
				if i, ok := tabIndex[ts.Name]; ok {
					rep.Tables[i].Expected, rep.Tables[i].HaveCount = ts.Rows, true
				}
				for _, i := range openLost {
					if l := &rep.Lost[i]; l.Table == ts.Name && l.EndRow == 0 {
						l.EndRow = ts.Rows // the lost rows run to the table's end
					}
				}
			}
			openLost = nil
		case ItemDamage:
			isData := it.Type == secRowBatch || it.Type == secTombBatch || it.Type == secRowColumns || it.Type == 0
			if !isData {
				rep.Damage = append(rep.Damage, Damage{Offset: it.Offset, Size: it.Size, Segment: it.SegNo, Batch: -1, Metadata: true, Reason: it.Err.Error()})
				continue
			}
			l := LostBatch{Segment: it.SegNo, Batch: -1, Offset: it.Offset, Size: it.Size, Reason: it.Err.Error()}
			if it.Batch != nil {
				l.Table, l.Batch = it.Batch.Table, it.Batch.Index
			}
			if l.Table == "" {
				l.Table = prevTable
			}
			if p := prevByTable[l.Table]; p != nil {
				l.AfterKey, l.FirstRow = p.lastKey, p.endRow
			}
			openLost = append(openLost, len(rep.Lost))
			rep.Lost = append(rep.Lost, l)
		}
	}
	return rep, nil
}
