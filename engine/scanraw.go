package engine

import "unsafe"

// RecordRun is a run of consecutive rows of a table in key order (a B-tree
// leaf, or one row of an inner node) as they are stored, for readers that
// copy rows out wholesale (the dump writer). It aliases the table's
// immutable storage and is valid as long as the snapshot it came from.
type RecordRun struct{ items []rowItem }

// Len is the number of rows in the run.
func (r RecordRun) Len() int { return len(r.items) }

// Record returns row i's record bytes,
//
//	uvarint len(key) | key | uvarint lsn | uvarint len(row) | row
//
// with keyEnd the offset just after the key, lsnEnd the offset just after
// the LSN, and the row hash (RowRef.Hash). rec aliases the stored row: it
// must not be kept beyond the snapshot's life.
func (r RecordRun) Record(i int) (rec string, keyEnd, lsnEnd int, hash uint64) {
	it := r.items[i]
	p := it.r.p
	var kl uint64
	var off int
	if c := *p; c < 0x80 {
		kl, off = uint64(c), 1
	} else {
		kl, off = it.r.uvarint(0)
	}
	keyEnd = off + int(kl)
	lsnEnd = keyEnd
	for *(*byte)(unsafe.Add(unsafe.Pointer(p), lsnEnd)) >= 0x80 {
		lsnEnd++
	}
	lsnEnd++
	rl, end := it.r.uvarint(lsnEnd)
	return unsafe.String(p, end+int(rl)), keyEnd, lsnEnd, it.hash
}

// ScanRecords calls fn with every row of the table in key order, a run at
// a time, until fn returns false. It visits the same rows in the same
// order as Scan, without building a RowRef per row.
func (t Table) ScanRecords(fn func(RecordRun) bool) {
	if root := t.t.rows.root; root != nil {
		scanRecords(root, fn)
	}
}

func scanRecords(n *cowNode[rowItem], fn func(RecordRun) bool) bool {
	if n.leaf() {
		return len(n.items) == 0 || fn(RecordRun{n.items})
	}
	for i := range n.items {
		if !scanRecords(n.children[i], fn) || !fn(RecordRun{n.items[i : i+1]}) {
			return false
		}
	}
	return scanRecords(n.children[len(n.children)-1], fn)
}
