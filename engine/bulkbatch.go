package engine

// LoadRow is one row handed to a Builder in a batch (PutRowsChecked): the
// encoded key, the canonical encoding, its LSN and RowHash(table, key,
// enc). The snapshot reader decodes rows into this type (snapshot.Row),
// so a batch reaches the Builder as it was decoded.
type LoadRow struct {
	Key  []byte
	Enc  []byte
	LSN  uint64
	Hash uint64 // RowHash(table, Key, Enc)
}

// LeafSums holds, per anti-entropy leaf, a sum of row hashes: for a batch
// of rows, leaf LeafOf(key) of each row gets its hash. The snapshot
// reader's decode workers compute it beside the row hashes, so that the
// single goroutine building the state does not hash every key again.
type LeafSums [NumLeaves]uint64

// PutRowsChecked adds rows of table as PutChecked does, in turn: their
// encodings must have been validated with CheckRow. leaves, if not nil,
// must be the LeafSums of exactly these rows (each row's hash added to
// the leaf of its key); on the fast path it is added once instead of
// each row's leaf being computed here. It returns the number of rows
// added before the first that could not be (with its error); the rows
// before it stay added. Wrong leaf sums break the state's anti-entropy
// leaves as wrong hashes break its hash sums.
func (b *Builder) PutRowsChecked(table string, rows []LoadRow, leaves *LeafSums) (int, error) {
	return b.putRows(table, rows, leaves, true)
}
