package engine

import (
	"encoding/binary"
	"math/bits"
	"slices"
	"strings"
)

// bulkLoad is the fast path of a Builder for a table it created, filled
// by trusted rows in increasing key order (a full restore): rows are
// appended to the B-tree (full nodes, no search), index entries are
// gathered and sorted once when the table is settled, and leaf sums go to a
// flat array instead of the copy-on-write leaf set.
type bulkLoad struct {
	last    string // key of the last row appended
	any     bool   // a row was appended
	rows    *treeBuilder[rowItem]
	notNull []int // columns that are NOT NULL (the definition is fixed while the fast path runs)
	idx     [][]idxItem
	leaves  *[NumLeaves]uint64
	off     []int32 // scratch
	kbuf    []byte  // scratch
	slab    []byte  // records are carved from it (newRec)
}

// Records of a bulk-loaded table are carved from shared slabs instead of
// being allocated one by one: a restore of millions of rows makes
// millions of small objects otherwise, which the allocator and every
// collection (marking, sweeping) pay for per object, while the old state
// is still live beside the new one. A slab lives as long as any record in
// it: rows rewritten later leave their old slot behind until every row of
// the slab is gone, at most the size of the loaded data (a rewrite of the
// whole table frees them all).
const (
	recSlab    = 16 << 10 // bytes per slab
	recSlabMax = 512      // larger records are allocated on their own
)

// newRec is engine.newRec from bl's slab.
func (bl *bulkLoad) newRec(key, row string, lsn uint64) rec {
	n := uvarintLen(uint64(len(key))) + len(key) + uvarintLen(lsn) + uvarintLen(uint64(len(row))) + len(row)
	if n > recSlabMax {
		return newRec(key, row, lsn)
	}
	if cap(bl.slab)-len(bl.slab) < n {
		bl.slab = make([]byte, 0, recSlab)
	}
	start := len(bl.slab)
	b := binary.AppendUvarint(bl.slab, uint64(len(key)))
	b = append(b, key...)
	b = binary.AppendUvarint(b, lsn)
	b = binary.AppendUvarint(b, uint64(len(row)))
	b = append(b, row...)
	bl.slab = b
	return rec{&b[start]}
}

// PutHashed adds a row like Put; hash must be RowHash(table, key, enc)
// (the snapshot reader computes it while decoding, so it is paid once).
// key and enc are copied. On the fast path (TrustRows, a table created by
// this Builder, keys increasing) the row is appended without a search and
// its index entries are built when the table is settled (any other
// operation on the table, UpdateMeta or Finish).
func (b *Builder) PutHashed(table string, key, enc []byte, lsn, hash uint64) error {
	return b.putHashed(table, key, enc, lsn, hash, false)
}

// PutChecked is PutHashed for a row whose encoding the caller has already
// validated with CheckRow (the snapshot reader does so in its parallel
// decode workers, off the single restore goroutine). Only what depends on
// the table (column count, NOT NULL) is checked here. Passing an unchecked
// encoding breaks the state's invariants.
func (b *Builder) PutChecked(table string, key, enc []byte, lsn, hash uint64) error {
	return b.putHashed(table, key, enc, lsn, hash, true)
}

// CheckRow validates a canonical row encoding as DecodeRow does, without
// building values (for PutChecked).
func CheckRow(enc []byte) error {
	_, _, err := scanRow(enc)
	return err
}

// CheckRowShape is CheckRow for a batch of encodings that share one head
// (column count and NULL bitmap) and one value tag per non-NULL column,
// each value well formed for its tag: a varint that ends within ten
// bytes, the length a fixed-size tag implies, a length prefix the bytes
// follow (the snapshot reader's one-shape rebuild writes such batches).
// It checks first, one of them, with CheckRow, and reports whether that
// proves them all: whether every well-formed value of each of tags is
// valid. Dates (a range) and booleans (0 or 1) are not, nor are unknown
// tags; the caller then checks every row with CheckRow.
func CheckRowShape(first, tags []byte) (bool, error) {
	if err := CheckRow(first); err != nil {
		return false, err
	}
	for _, t := range tags {
		switch t {
		case tagInt, tagTimestamp, tagFloat, tagUUID, tagNumeric, tagString, tagBytes:
		default:
			return false, nil
		}
	}
	return true, nil
}

// rowShape returns the column count and NULL bitmap of an encoding that
// scanRow has validated.
func rowShape(b []byte) (int, []byte) {
	n, k := binary.Uvarint(b)
	return int(n), b[k : k+int(n+7)/8]
}

func (b *Builder) putHashed(table string, key, enc []byte, lsn, hash uint64, checked bool) error {
	if table != b.lastName || b.lastBulk == nil {
		b.lastName, b.lastBulk = table, b.bulk[table]
		if b.lastBulk != nil {
			b.lastTable = b.st.tables[table]
		}
	}
	bl := b.lastBulk
	if bl == nil || !b.tx.trusted || bl.any && string(key) <= bl.last {
		return b.Put(table, string(key), enc, lsn)
	}
	t := b.lastTable
	def := t.def
	var n int
	var nulls []byte
	if checked {
		n, nulls = rowShape(enc)
	} else {
		var err error
		if n, nulls, err = scanRow(enc); err != nil {
			return err
		}
	}
	if n != len(def.Columns) {
		return newErrorf(CodeDataCorrupted, "row for %q has %d columns, table has %d", table, n, len(def.Columns))
	}
	for _, i := range bl.notNull {
		if nulls[i/8]&(1<<(i%8)) != 0 {
			return newErrorf(CodeNotNullViolation, "column %q of relation %q contains null values", def.Columns[i].Name, def.Name)
		}
	}
	r := bl.newRec(bytesString(key), bytesString(enc), lsn)
	k := r.key()
	if len(def.Indexes) > 0 {
		off, err := rowFields(enc, bl.off)
		if err != nil {
			return err
		}
		bl.off = off
		for i, ix := range def.Indexes {
			ik, _ := appendKeyFromRow(bl.kbuf[:0], enc, off, ix.Columns)
			bl.kbuf = ik
			bl.idx[i] = append(bl.idx[i], newIdxEntry(ik, k))
		}
	}
	bl.rows.add(rowItem{r: r, hash: hash})
	b.maxLSN = max(b.maxLSN, lsn)
	bl.last, bl.any = k, true
	bl.leaves[LeafOf(k)] += hash
	t.hashSum += hash
	sz := int64(len(enc))
	t.bytes += sz
	t.written += sz
	b.tx.written += sz
	return nil
}

// settle ends the fast path of a table: its index trees and leaf sums are
// built from what was gathered. Unique indexes are not checked (the fast
// path runs only for trusted rows).
func (b *Builder) settle(name string) {
	bl := b.bulk[name]
	if bl == nil {
		return
	}
	delete(b.bulk, name)
	b.lastName, b.lastBulk, b.lastTable = "", nil, nil
	t := b.st.tables[name]
	if t == nil {
		return
	}
	bl.rows.build(t.rows)
	for i, items := range bl.idx {
		slices.SortFunc(items, func(x, y idxItem) int { return strings.Compare(x.key(), y.key()) })
		tree := t.idx[i]
		for _, it := range items {
			tree.Load(it)
		}
	}
	for i, v := range bl.leaves {
		if v != 0 {
			t.leaves.add(i, v)
		}
	}
}

func (b *Builder) settleAll() {
	for name := range b.bulk {
		b.settle(name)
	}
}

// scanRow checks a canonical row encoding as DecodeRow does, without
// building values: it returns the column count and the NULL bitmap. It runs
// for every restored row (CheckRow in the snapshot reader's workers), so
// the common values (integers and timestamps, short strings) are stepped
// over inline; everything else goes through skipValue.
func scanRow(b []byte) (int, []byte, error) {
	var n uint64
	var k int
	if len(b) > 0 && b[0] < 0x80 {
		n, k = uint64(b[0]), 1
	} else if n, k = binary.Uvarint(b); k <= 0 {
		return 0, nil, corruptf("bad column count")
	}
	if n > MaxColumns {
		return 0, nil, corruptf("column count %d exceeds %d", n, MaxColumns)
	}
	off := k
	bmLen := int(n+7) / 8
	if len(b)-off < bmLen {
		return 0, nil, corruptf("truncated NULL bitmap")
	}
	bm := b[off : off+bmLen]
	off += bmLen
	for i := 0; i < int(n); i++ {
		if bm[i/8]&(1<<(i%8)) != 0 {
			continue
		}
		if off+9 <= len(b) {
			switch b[off] {
			case tagInt, tagTimestamp:
				// A varint whose last byte is among its first 8 is valid
				// (binary.Varint fails only past the 9th).
				w := binary.LittleEndian.Uint64(b[off+1:])
				if m := ^w & 0x8080808080808080; m != 0 {
					off += 2 + bits.TrailingZeros64(m)/8
					continue
				}
			case tagString, tagBytes:
				if l := int(b[off+1]); l < 0x80 {
					if l > len(b)-off-2 {
						return 0, nil, corruptf("bad length")
					}
					off += 2 + l
					continue
				}
			}
		}
		used, err := skipValue(b[off:])
		if err != nil {
			return 0, nil, err
		}
		off += used
	}
	if n%8 != 0 && bm[bmLen-1]>>(n%8) != 0 {
		return 0, nil, corruptf("stray bits in NULL bitmap")
	}
	return int(n), bm, nil
}

// skipValue is decodeValue's validation without the value.
func skipValue(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, corruptf("truncated value")
	}
	tag, p := b[0], b[1:]
	switch tag {
	case tagInt, tagTimestamp:
		_, k := binary.Varint(p)
		if k <= 0 {
			return 0, corruptf("bad varint")
		}
		return 1 + k, nil
	case tagDate:
		x, k := binary.Varint(p)
		if k <= 0 {
			return 0, corruptf("bad varint")
		}
		if x < -1<<31 || x > 1<<31-1 {
			return 0, corruptf("date out of range")
		}
		return 1 + k, nil
	case tagFloat:
		if len(p) < 8 {
			return 0, corruptf("truncated float")
		}
		return 9, nil
	case tagBool:
		if len(p) < 1 || p[0] > 1 {
			return 0, corruptf("bad bool")
		}
		return 2, nil
	case tagUUID:
		if len(p) < 16 {
			return 0, corruptf("truncated uuid")
		}
		return 17, nil
	case tagNumeric, tagString, tagBytes:
		l, k := binary.Uvarint(p)
		if k <= 0 || l > uint64(len(p)-k) {
			return 0, corruptf("bad length")
		}
		return 1 + k + int(l), nil
	}
	return 0, corruptf("unknown value tag %d", tag)
}
