package engine

import "encoding/binary"

// Canonical returns a byte encoding of everything replicas must agree on:
// every table's definition and bookkeeping and every row with its key and
// LSN, in a fixed order. Two replicas at the same LSN that applied the same
// log return equal bytes. Tombstones are left out because their pruning is
// node-local. Meant for tests and diagnostics: it is O(size of the data).
func Canonical(s *State) []byte {
	var b []byte
	for _, name := range s.names {
		t := s.tables[name]
		b = AppendTableDef(b, t.def)
		b = binary.AppendUvarint(b, t.defLSN)
		b = binary.AppendUvarint(b, t.createdLSN)
		b = binary.AppendVarint(b, t.rowIDSeq)
		for _, v := range t.seqs {
			b = binary.AppendVarint(b, v)
		}
		b = binary.AppendUvarint(b, uint64(t.rows.Len()))
		t.rows.Scan(func(it rowItem) bool {
			key, row, lsn := it.r.fields()
			b = appendString(b, key)
			b = appendString(b, row)
			b = binary.AppendUvarint(b, lsn)
			return true
		})
		b = binary.BigEndian.AppendUint64(b, t.hashSum)
	}
	return b
}
