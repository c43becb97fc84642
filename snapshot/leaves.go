package snapshot

import (
	"encoding/binary"
	"math/bits"

	"github.com/heliosdb/heliosdb-lite/engine"
)

// Anti-entropy leaf sums of a row batch (ReaderOptions.LeafSums), computed
// by the decode workers beside the row hashes so that Load's single
// goroutine, which builds the state, does not hash every key again
// (engine.Builder.PutRowsChecked): a row's leaf is engine.LeafOf(key),
// the top engine.LeafBits bits of XXH64 (seed 0) of the key.

// keyLeaf is engine.LeafOf(key). Keys shorter than 32 bytes (nearly all)
// are hashed here, inline (the XXH64 of the specification for a short
// input, reading only the key's bytes); TestKeyLeaf checks it against
// engine.LeafOf.
func keyLeaf(k []byte) int {
	n := len(k)
	if n >= 32 {
		return engine.LeafOf(bstr(k))
	}
	acc := xxPrime5 + uint64(n)
	p := 0
	for ; p+8 <= n; p += 8 {
		acc ^= xxRound(0, binary.LittleEndian.Uint64(k[p:]))
		acc = bits.RotateLeft64(acc, 27)*xxPrime1 + xxPrime4
	}
	if p+4 <= n {
		acc ^= uint64(binary.LittleEndian.Uint32(k[p:])) * xxPrime1
		acc = bits.RotateLeft64(acc, 23)*xxPrime2 + xxPrime3
		p += 4
	}
	for ; p < n; p++ {
		acc ^= uint64(k[p]) * xxPrime5
		acc = bits.RotateLeft64(acc, 11) * xxPrime1
	}
	return int(xxAvalanche(acc) >> (64 - engine.LeafBits))
}

// rowLeaves sets ls to the leaf sums of rows (their Hash set).
func rowLeaves(rows []Row, ls *engine.LeafSums) {
	clear(ls[:])
	for i := range rows {
		ls[keyLeaf(rows[i].Key)] += rows[i].Hash
	}
}

// leavesFree recycles the Readers' Batch.Leaves, as rowsFree their rows.
type leavesFree chan *engine.LeafSums

func (f leavesFree) get() *engine.LeafSums {
	select {
	case p := <-f:
		return p
	default:
		return new(engine.LeafSums)
	}
}

func (f leavesFree) put(p *engine.LeafSums) {
	select {
	case f <- p:
	default:
	}
}
