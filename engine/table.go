package engine

import (
	"strings"
	"sync/atomic"
	"unsafe"

	"github.com/cespare/xxhash/v2"
)

// rowItem is one stored row: its record (key, canonical encoding and LSN
// in one pointer-free allocation, see rec) and its row hash, kept beside
// the pointer so that deletes and replacements subtract it without
// re-hashing and readers get it without hashing.
type rowItem struct {
	r    rec
	hash uint64 // RowHash(table, key, row), paid once on write
}

func (it rowItem) key() string { return it.r.key() }

// idxItem is one secondary-index entry: the index key followed by the
// primary key (unique even for non-unique indexes). Both parts are
// prefix-free encodings, so pkOf can split them. Index trees (idxTree)
// store entries packed in their leaves; an idxItem is only the entry in
// transit (Set, Load).
type idxItem string

func (it idxItem) key() string { return string(it) }

func newIdxEntry(k []byte, pk string) idxItem { return idxItem(string(k) + pk) }

// A tombstone is a rec without a row.
type tombItem = rec

type (
	rowTree  = cowTree[rowItem]
	btreeIdx = idxTree
	tombTree = cowTree[tombItem]
)

// rowNodeItems is the node size of row and tombstone trees, which mostly
// grow at the end (Load keeps their nodes full). Index trees, which take
// random-position writes where every touched leaf is copied once per
// change set, have smaller leaves (idxTree).
const rowNodeItems = 127

func newRowTree() *rowTree {
	tr := newCowTree(rowNodeItems, rowItem.key)
	tr.find = searchRows
	return tr
}

func newTombTree() *tombTree {
	tr := newCowTree(rowNodeItems, rec.key)
	tr.find = searchRecs
	return tr
}

// searchRecs is cowTree.search for trees of recs, without an indirect
// keyOf call per comparison.
func searchRecs(items []rec, key string) (int, bool) {
	return searchStrided(unsafe.Pointer(unsafe.SliceData(items)), unsafe.Sizeof(rec{}), len(items), key)
}

// searchRows is cowTree.search for the row tree (see searchRecs).
func searchRows(items []rowItem, key string) (int, bool) {
	return searchStrided(unsafe.Pointer(unsafe.SliceData(items)), unsafe.Sizeof(rowItem{}), len(items), key)
}

// searchStrided binary-searches n items, each beginning with a rec, size
// bytes apart from p on, reading keys in line (shortKey).
func searchStrided(p unsafe.Pointer, size uintptr, n int, key string) (int, bool) {
	lo, hi := 0, n
	for lo < hi {
		h := int(uint(lo+hi) >> 1)
		r := *(*rec)(unsafe.Add(p, uintptr(h)*size))
		k, ok := r.shortKey()
		if !ok {
			k = r.key()
		}
		switch c := strings.Compare(k, key); {
		case c == 0:
			return h, true
		case c < 0:
			lo = h + 1
		default:
			hi = h
		}
	}
	return lo, false
}

// pkOf returns the primary key in the key e of an entry of an index on
// ncols columns.
func pkOf(e string, ncols int) string { return e[skipKeyValues(e, ncols):] }

// tableState is one table inside a State. Once its State is published it
// is never modified; Apply clones it (O(1) per tree) before changing it.
type tableState struct {
	def        *TableDef
	defLSN     uint64 // LSN of the last DDL on this table
	createdLSN uint64 // LSN since which the row set is incremental (create, truncate, rewrite)
	rows       *rowTree
	idx        []*btreeIdx // parallel to def.Indexes
	tombs      *tombTree
	log        changeLog // writes since log.start, for ChangesSince
	hashSum    uint64
	leaves     leafSet
	rowIDSeq   int64
	seqs       []int64 // per column; used by identity columns
	bytes      int64   // encoded bytes of live rows
	written    int64   // cumulative bytes written or deleted (dirty accounting)
}

func (t *tableState) clone() *tableState {
	c := *t
	c.rows = t.rows.Copy()
	c.idx = make([]*btreeIdx, len(t.idx))
	for i, ix := range t.idx {
		c.idx[i] = ix.Copy()
	}
	c.tombs = t.tombs.Copy()
	c.leaves = t.leaves.clone()
	c.seqs = append([]int64(nil), t.seqs...)
	return &c
}

// Table is a read-only view of one table in a snapshot. It is safe for
// concurrent use by any number of readers.
type Table struct {
	t *tableState
}

// RowRef is one row as stored: its key, canonical encoding and LSN.
type RowRef struct {
	Key  string
	Enc  string
	LSN  uint64
	Hash uint64
}

// Decode decodes the row's values.
func (r RowRef) Decode() (Row, error) {
	row, _, err := DecodeRow(stringBytes(r.Enc))
	return row, err
}

// stringBytes views an immutable string as bytes without copying. The
// result must never be written to.
func stringBytes(s string) []byte {
	if s == "" {
		return nil
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// Def returns the table definition. It must not be modified.
func (t Table) Def() *TableDef { return t.t.def }

// SchemaLSN is the LSN of the last DDL on the table (for PreSchema).
func (t Table) SchemaLSN() uint64 { return t.t.defLSN }

// BaseLSN is the LSN since which the table's rows can be sent incrementally
// (its creation, last truncate or last rewriting ALTER).
func (t Table) BaseLSN() uint64 { return t.t.createdLSN }

// Len returns the number of rows.
func (t Table) Len() int { return t.t.rows.Len() }

// Bytes returns the encoded size of the live rows.
func (t Table) Bytes() int64 { return t.t.bytes }

// HashSum is the sum mod 2^64 of the row hashes of every row.
func (t Table) HashSum() uint64 { return t.t.hashSum }

// Leaves returns a copy of the table's anti-entropy leaf sums.
func (t Table) Leaves() []uint64 { return t.t.leaves.all() }

// Leaf returns one leaf sum.
func (t Table) Leaf(i int) uint64 { return t.t.leaves.get(i) }

// RowIDSeq is the last row id allocated (tables without a primary key).
func (t Table) RowIDSeq() int64 { return t.t.rowIDSeq }

// Sequence is the last value of the identity sequence of column col.
func (t Table) Sequence(col int) int64 {
	if col < 0 {
		return t.t.rowIDSeq
	}
	if col >= len(t.t.seqs) {
		return 0
	}
	return t.t.seqs[col]
}

// Get returns the row with the given encoded key.
func (t Table) Get(key string) (RowRef, bool) {
	it, ok := t.t.rows.Get(key)
	if !ok {
		return RowRef{}, false
	}
	return it.ref(), true
}

func (it rowItem) ref() RowRef {
	k, row, lsn := it.r.fields()
	return RowRef{Key: k, Enc: row, LSN: lsn, Hash: it.hash}
}

// Scan calls fn for every row in key order until fn returns false.
func (t Table) Scan(fn func(RowRef) bool) {
	t.t.rows.Scan(func(it rowItem) bool { return fn(it.ref()) })
}

// ScanRange calls fn for rows with lo <= key < hi in key order (nil bounds
// are open) until fn returns false.
func (t Table) ScanRange(lo, hi []byte, fn func(RowRef) bool) {
	visit := func(it rowItem) bool {
		if hi != nil && it.key() >= string(hi) {
			return false
		}
		return fn(it.ref())
	}
	if lo == nil {
		t.t.rows.Scan(visit)
		return
	}
	t.t.rows.Ascend(string(lo), visit)
}

// Descend calls fn for every row in descending key order.
func (t Table) Descend(fn func(RowRef) bool) {
	t.t.rows.Reverse(func(it rowItem) bool { return fn(it.ref()) })
}

// IndexScan calls fn, in index order, for the rows whose index key
// (EncodeKey of the index columns) lies in [lo, hi); nil bounds are open.
// A bound that is a whole index-key prefix selects all rows with that
// prefix when hi = PrefixEnd(lo).
func (t Table) IndexScan(ix int, lo, hi []byte, fn func(RowRef) bool) {
	tree := t.t.idx[ix]
	ncols := len(t.t.def.Indexes[ix].Columns)
	visit := func(e string) bool {
		if hi != nil && e >= string(hi) {
			return false
		}
		it, ok := t.t.rows.Get(pkOf(e, ncols))
		if !ok {
			return true // cannot happen: index and rows change together
		}
		return fn(it.ref())
	}
	if lo == nil {
		tree.Scan(visit)
		return
	}
	tree.Ascend(string(lo), visit)
}

// Tombstones calls fn for every tombstone (deleted key and the LSN of its
// deletion) in key order.
func (t Table) Tombstones(fn func(key string, lsn uint64) bool) {
	t.t.tombs.Scan(func(r tombItem) bool { k, _, lsn := r.fields(); return fn(k, lsn) })
}

// KeyOf returns the encoded primary key of a row of this table. It fails
// for tables with a hidden row id, whose keys are not derived from the row.
func (d *TableDef) KeyOf(r Row) (string, error) {
	if len(d.PrimaryKey) == 0 {
		return "", newError(CodeInternal, "engine: table has no primary key")
	}
	var buf [64]byte
	k := buf[:0]
	for _, ci := range d.PrimaryKey {
		if ci >= len(r) || r[ci] == nil {
			return "", newErrorf(CodeNotNullViolation, "null value in column %q of relation %q violates not-null constraint", d.Columns[ci].Name, d.Name)
		}
		k = appendKeyValue(k, r[ci])
	}
	return string(k), nil
}

// IndexKey returns the index key of r for index ix, and whether any of its
// columns is NULL (NULLs never conflict in unique indexes).
func (d *TableDef) IndexKey(ix int, r Row) ([]byte, bool) {
	var k []byte
	hasNull := false
	for _, ci := range d.Indexes[ix].Columns {
		v := r[ci]
		if v == nil {
			hasNull = true
		}
		k = appendKeyValue(k, v)
	}
	return k, hasNull
}

// RowHash is the anti-entropy hash of one row: stable across processes,
// machines and versions (xxhash64 of table, 0x00, key, 0x00, canonical row).
func RowHash(table, key string, row string) uint64 {
	table = BaseName(table) // a staged row hashes as it will once promoted
	n := len(table) + len(key) + len(row) + 2
	if n <= 256 {
		// One-shot hash of the concatenation: the same value as the
		// streaming digest below, without its per-write buffering.
		var buf [256]byte
		b := append(buf[:0], table...)
		b = append(b, 0)
		b = append(b, key...)
		b = append(b, 0)
		b = append(b, row...)
		return xxhash.Sum64(b)
	}
	var d xxhash.Digest
	d.Reset()
	_, _ = d.WriteString(table)
	_, _ = d.Write([]byte{0})
	_, _ = d.WriteString(key)
	_, _ = d.Write([]byte{0})
	_, _ = d.WriteString(row)
	return d.Sum64()
}

// LeafBits is k: rows are spread over 2^k leaves by the hash of their key.
const LeafBits = 12

// NumLeaves is 2^LeafBits.
const NumLeaves = 1 << LeafBits

// LeafOf returns the leaf a key belongs to.
func LeafOf(key string) int { return int(xxhash.Sum64String(key) >> (64 - LeafBits)) }

// leafSet holds NumLeaves sums in 64 chunks so that copy-on-write after a
// change copies one 512-byte chunk, not the whole set.
//
// Copying chunks on every small change set would cost two 512-byte
// allocations per single-row transaction (the chunk array and one chunk),
// a fifth of Apply's time. So a clone that owns no chunk yet records its
// changes as (leaf, delta) pairs in pend instead; the sum of a leaf is its
// chunk's value plus its pending deltas. Pending deltas are folded into
// (copied) chunks when leafPendMax of them have accumulated, so a long run
// of single-row change sets copies the chunks once per leafPendMax rows,
// and a large change set folds once and then writes its owned chunks in
// place.
//
// pend's backing array is shared by the clones of one line of states:
// every clone sees only pend[:len(pend)], and appends in place only when
// it is the one that extends the longest prefix written so far (tail, a
// compare-and-swap, so two clones of one state never write the same
// slot); any other clone copies its prefix first. Readers of older states
// never look past their own length, so appends never race with them.
type leafSet struct {
	chunks *[64]*[NumLeaves / 64]uint64
	owned  uint64 // bit i: chunk i was copied by this clone and may be written
	rootOK bool   // chunks array itself was copied by this clone
	pend   []leafDelta
	tail   *atomic.Int32 // entries written into pend's backing array
}

// leafDelta is one pending change of a leaf sum.
type leafDelta struct {
	leaf  uint32
	delta uint64
}

// leafPendMax bounds the pending deltas (and a leaf read's scan of them):
// a fold copies up to 33 KB of chunks, so folding every 2048 deltas costs
// about 16 bytes per row. The backing array starts small and doubles, so
// a rarely written table holds little.
const leafPendMax = 2048

func (l leafSet) clone() leafSet { return leafSet{chunks: l.chunks, pend: l.pend, tail: l.tail} }

func (l *leafSet) add(i int, delta uint64) {
	c := i / (NumLeaves / 64)
	if l.rootOK && l.owned&(1<<c) != 0 {
		l.chunks[c][i%(NumLeaves/64)] += delta
		return
	}
	n := len(l.pend)
	if n < cap(l.pend) && l.tail.CompareAndSwap(int32(n), int32(n+1)) {
		l.pend = append(l.pend, leafDelta{uint32(i), delta})
		return
	}
	if n >= leafPendMax {
		l.fold()
		l.addChunk(i, delta)
		return
	}
	np := make([]leafDelta, n, min(leafPendMax, max(16, 2*n)))
	copy(np, l.pend)
	l.pend = append(np, leafDelta{uint32(i), delta})
	l.tail = new(atomic.Int32)
	l.tail.Store(int32(n + 1))
}

// fold adds the pending deltas into this clone's own copies of the chunks.
func (l *leafSet) fold() {
	for _, d := range l.pend {
		l.addChunk(int(d.leaf), d.delta)
	}
	l.pend, l.tail = nil, nil
}

// addChunk adds delta to leaf i in the chunks, copying the chunk array and
// the chunk on this clone's first write to them.
func (l *leafSet) addChunk(i int, delta uint64) {
	if !l.rootOK {
		var nc [64]*[NumLeaves / 64]uint64
		if l.chunks != nil {
			nc = *l.chunks
		}
		l.chunks = &nc
		l.rootOK = true
	}
	c := i / (NumLeaves / 64)
	if l.owned&(1<<c) == 0 {
		var chunk [NumLeaves / 64]uint64
		if old := l.chunks[c]; old != nil {
			chunk = *old
		}
		l.chunks[c] = &chunk
		l.owned |= 1 << c
	}
	l.chunks[c][i%(NumLeaves/64)] += delta
}

func (l leafSet) get(i int) uint64 {
	var v uint64
	if l.chunks != nil {
		if c := l.chunks[i/(NumLeaves/64)]; c != nil {
			v = c[i%(NumLeaves/64)]
		}
	}
	for _, d := range l.pend {
		if int(d.leaf) == i {
			v += d.delta
		}
	}
	return v
}

func (l leafSet) all() []uint64 {
	out := make([]uint64, NumLeaves)
	if l.chunks != nil {
		for c, chunk := range l.chunks {
			if chunk != nil {
				copy(out[c*(NumLeaves/64):], chunk[:])
			}
		}
	}
	for _, d := range l.pend {
		out[d.leaf] += d.delta
	}
	return out
}
