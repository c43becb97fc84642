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
	rows := [1]LoadRow{{Key: key, Enc: enc, LSN: lsn, Hash: hash}}
	_, err := b.putRows(table, rows[:], nil, checked)
	return err
}

// putRows adds rows in turn (PutHashed, PutChecked, PutRowsChecked). With
// leaves nil each row's leaf sum is added as it is appended; else leaves
// holds the leaf sums of all rows, added at once when the fast path took
// them all (the leaves of the rows it took are added one by one when it
// stopped early). It returns how many rows were added before an error.
func (b *Builder) putRows(table string, rows []LoadRow, leaves *LeafSums, checked bool) (int, error) {
	if table != b.lastName || b.lastBulk == nil {
		b.lastName, b.lastBulk = table, b.bulk[table]
		if b.lastBulk != nil {
			b.lastTable = b.st.tables[table]
		}
	}
	bl := b.lastBulk
	i := 0
	var err error
	if bl != nil && b.tx.trusted {
		i, err = b.appendRows(bl, b.lastTable, rows, leaves == nil, checked)
		if leaves != nil {
			if i == len(rows) {
				for j := range leaves {
					bl.leaves[j] += leaves[j]
				}
			} else {
				for j := range rows[:i] {
					bl.leaves[LeafOf(bytesString(rows[j].Key))] += rows[j].Hash
				}
			}
		}
		if err != nil {
			return i, err
		}
	}
	// Off the fast path: a row out of key order (Put settles the table,
	// so the rows after it come here too), a table this Builder did not
	// create, or rows not trusted.
	for ; i < len(rows); i++ {
		r := &rows[i]
		if err := b.Put(table, string(r.Key), r.Enc, r.LSN); err != nil {
			return i, err
		}
	}
	return i, nil
}

// appendRows is the fast path of putRows: it appends rows to bl (the bulk
// load of t) while their keys increase, and returns how many it took (all
// of them, or up to the first out of order or the first error). It adds
// each row's leaf sum when leaf is set.
func (b *Builder) appendRows(bl *bulkLoad, t *tableState, rows []LoadRow, leaf, checked bool) (int, error) {
	def := t.def
	var (
		hashSum, maxLSN uint64
		sz              int64
		i               int
		err             error
	)
	for ; i < len(rows); i++ {
		row := &rows[i]
		key, enc := row.Key, row.Enc
		if bl.any && !keyAfter(key, bl.last) {
			break
		}
		var n int
		var nulls []byte
		if checked {
			n, nulls = rowShape(enc)
		} else if n, nulls, err = scanRow(enc); err != nil {
			break
		}
		if n != len(def.Columns) {
			err = newErrorf(CodeDataCorrupted, "row for %q has %d columns, table has %d", def.Name, n, len(def.Columns))
			break
		}
		for _, c := range bl.notNull {
			if nulls[c/8]&(1<<(c%8)) != 0 {
				err = newErrorf(CodeNotNullViolation, "column %q of relation %q contains null values", def.Columns[c].Name, def.Name)
				break
			}
		}
		if err != nil {
			break
		}
		r := bl.newRec(bytesString(key), bytesString(enc), row.LSN)
		k := r.key()
		if len(def.Indexes) > 0 {
			off, ferr := rowFields(enc, bl.off)
			if ferr != nil {
				err = ferr
				break
			}
			bl.off = off
			for x, ix := range def.Indexes {
				ik, _ := appendKeyFromRow(bl.kbuf[:0], enc, off, ix.Columns)
				bl.kbuf = ik
				bl.idx[x] = append(bl.idx[x], newIdxEntry(ik, k))
			}
		}
		bl.rows.add(rowItem{r: r, hash: row.Hash})
		bl.last, bl.any = k, true
		if leaf {
			bl.leaves[LeafOf(k)] += row.Hash
		}
		hashSum += row.Hash
		maxLSN = max(maxLSN, row.LSN)
		sz += int64(len(enc))
	}
	b.maxLSN = max(b.maxLSN, maxLSN)
	t.hashSum += hashSum
	t.bytes += sz
	t.written += sz
	b.tx.written += sz
	return i, err
}

// keyAfter reports whether key sorts after last (string(key) > last).
// Keys of one table mostly have one length (an integer key, a UUID): two
// keys of equal length from 8 to 16 bytes are compared as two big-endian
// words, their first and their last eight bytes (which overlap for
// shorter keys: when the first words are equal, so are the bytes the last
// words share), instead of by a call to the runtime's comparison.
func keyAfter(key []byte, last string) bool {
	n := len(key)
	if n == len(last) && n >= 8 && n <= 16 {
		k, l := key[:n:n], last[:n]
		a, b := beWord(k[0], k[1], k[2], k[3], k[4], k[5], k[6], k[7]), beWord(l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7])
		if a != b {
			return a > b
		}
		k, l = k[n-8:], l[n-8:]
		return beWord(k[0], k[1], k[2], k[3], k[4], k[5], k[6], k[7]) > beWord(l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7])
	}
	return string(key) > last
}

func beWord(b0, b1, b2, b3, b4, b5, b6, b7 byte) uint64 {
	return uint64(b0)<<56 | uint64(b1)<<48 | uint64(b2)<<40 | uint64(b3)<<32 | uint64(b4)<<24 | uint64(b5)<<16 | uint64(b6)<<8 | uint64(b7)
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
