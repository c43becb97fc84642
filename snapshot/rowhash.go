package snapshot

import (
	"encoding/binary"
	"math/bits"
)

// Row hashing in place. engine.RowHash(table, key, enc) is XXH64 (seed 0)
// of "table 0x00 key 0x00 enc". In a raw row entry, key and enc are
// separated by enc's length, which is one byte for a row shorter than 128
// bytes, so "key len enc" is one contiguous run of the batch buffer: the
// hash below reads it in place, with the length byte taken as 0x00 and the
// table prefix taken from the hasher, instead of copying the row into a
// scratch buffer (whose freshly stored bytes the hash's wider loads could
// not take from the store buffer). The algorithm is the XXH64 of the
// specification; TestRowHashInPlace and the fuzz targets check it against
// engine.RowHash.

const (
	xxPrime1 uint64 = 11400714785074694791
	xxPrime2 uint64 = 14029467366897019727
	xxPrime3 uint64 = 1609587929392839161
	xxPrime4 uint64 = 9650029242287828579
	xxPrime5 uint64 = 2870177450012600261
)

func xxRound(acc, in uint64) uint64 {
	acc += in * xxPrime2
	acc = bits.RotateLeft64(acc, 31)
	return acc * xxPrime1
}

func xxMerge(acc, v uint64) uint64 {
	acc ^= xxRound(0, v)
	return acc*xxPrime1 + xxPrime4
}

// hashRun returns engine.RowHash(h.table, key, enc) of the row whose key
// is b[ks:ks+kl] and whose encoding follows one byte later and takes el
// bytes (the byte between them is not read as it is). b must hold eight
// readable bytes after the encoding's end: the hash loads whole words.
func (h *rowHasher) hashRun(b []byte, ks, kl, el int) uint64 {
	pl := h.pre
	pad := h.pad
	rl := kl + 1 + el // the run
	n := pl + rl
	r := b[ks : ks+rl+8 : ks+rl+8]
	sep := uint(kl)
	// word returns the 8 bytes of the hashed input at offset p, little
	// endian; past its end they are whatever follows in b.
	word := func(p int) uint64 {
		if p >= pl {
			q := p - pl
			x := binary.LittleEndian.Uint64(r[q:])
			if d := sep - uint(q); d < 8 {
				x &^= 0xff << (8 * d)
			}
			return x
		}
		x := binary.LittleEndian.Uint64(pad[p:])
		s := uint(pl - p)
		if s >= 8 {
			return x
		}
		y := binary.LittleEndian.Uint64(r)
		if sep < 8 {
			y &^= 0xff << (8 * sep)
		}
		return x | y<<(8*s)
	}
	p := 0
	var acc uint64
	if n >= 32 {
		p1, p2 := xxPrime1, xxPrime2 // variables: the seeds wrap around
		v1 := p1 + p2
		v2 := p2
		v3 := uint64(0)
		v4 := -p1
		for ; p+32 <= n; p += 32 {
			v1 = xxRound(v1, word(p))
			v2 = xxRound(v2, word(p+8))
			v3 = xxRound(v3, word(p+16))
			v4 = xxRound(v4, word(p+24))
		}
		acc = bits.RotateLeft64(v1, 1) + bits.RotateLeft64(v2, 7) + bits.RotateLeft64(v3, 12) + bits.RotateLeft64(v4, 18)
		acc = xxMerge(acc, v1)
		acc = xxMerge(acc, v2)
		acc = xxMerge(acc, v3)
		acc = xxMerge(acc, v4)
	} else {
		acc = xxPrime5
	}
	acc += uint64(n)
	for ; p+8 <= n; p += 8 {
		acc ^= xxRound(0, word(p))
		acc = bits.RotateLeft64(acc, 27)*xxPrime1 + xxPrime4
	}
	if p < n {
		w := word(p)
		if p+4 <= n {
			acc ^= uint64(uint32(w)) * xxPrime1
			acc = bits.RotateLeft64(acc, 23)*xxPrime2 + xxPrime3
			w >>= 32
			p += 4
		}
		for ; p < n; p++ {
			acc ^= (w & 0xff) * xxPrime5
			acc = bits.RotateLeft64(acc, 11) * xxPrime1
			w >>= 8
		}
	}
	acc ^= acc >> 33
	acc *= xxPrime2
	acc ^= acc >> 29
	acc *= xxPrime3
	acc ^= acc >> 32
	return acc
}
