package snapshot

import (
	"encoding/binary"
	"math/bits"
)

// Row hashing in place. engine.RowHash(table, key, enc) is XXH64 (seed 0)
// of "table 0x00 key 0x00 enc". In a raw row entry, key and enc are
// separated by enc's length, which is one byte for a row shorter than 128
// bytes, so "key len enc" is one contiguous run of the batch buffer: the
// decoders set that byte to zero until the row is hashed, and the hash
// reads the window of the table prefix's length before the key and the
// run in place, with the window's first bytes replaced by the prefix as
// it loads them, instead of copying the row into a scratch buffer (whose
// freshly stored bytes the hash's wider loads could not take from the
// store buffer). Rows are hashed four at a time (hashWin4) or two
// (hashWin2): one XXH64 of a short input is a chain of dependent
// multiplies. The algorithm is the
// XXH64 of the specification; TestRowHashInPlace and the fuzz targets
// check it against engine.RowHash.

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

// prefixWords sets h.pw and h.pm for hashWin: the table prefix as the
// first four words of the hashed input (bytes and mask of the bytes it
// takes), and h.winPre: h.pre when the prefix fits them (32 bytes or
// less), else more than any offset.
func (h *rowHasher) prefixWords() {
	h.pw, h.pm = [4]uint64{}, [4]uint64{}
	h.winPre = h.pre
	if h.pre > 32 {
		h.winPre = MaxBatchRaw + 1
		return
	}
	for i := 0; i < h.pre; i++ {
		h.pw[i/8] |= uint64(h.scratch[i]) << (8 * (i % 8))
		h.pm[i/8] |= 0xff << (8 * (i % 8))
	}
}

// hashWin returns XXH64 of the n >= 32 bytes of b at base with the first
// h.pre of them taken as the table prefix instead: with the key at
// base+h.pre, a zero byte after it and the encoding after that,
// engine.RowHash of the row. What b holds before the key is not read as it
// is, so the caller needs no copy; it must make the byte after the key
// zero (its length) until the hash is taken. b must hold eight readable
// bytes after the window (whole-word loads), and h.winPre must be h.pre.
func (h *rowHasher) hashWin(b []byte, base, n int) uint64 {
	r := b[base : base+n+8 : base+n+8]
	p1, p2 := xxPrime1, xxPrime2 // variables: the seeds wrap around
	v1 := xxRound(p1+p2, binary.LittleEndian.Uint64(r)&^h.pm[0]|h.pw[0])
	v2 := xxRound(p2, binary.LittleEndian.Uint64(r[8:])&^h.pm[1]|h.pw[1])
	v3 := xxRound(0, binary.LittleEndian.Uint64(r[16:])&^h.pm[2]|h.pw[2])
	v4 := xxRound(-p1, binary.LittleEndian.Uint64(r[24:])&^h.pm[3]|h.pw[3])
	p := 32
	for ; p+32 <= n; p += 32 {
		v1 = xxRound(v1, binary.LittleEndian.Uint64(r[p:]))
		v2 = xxRound(v2, binary.LittleEndian.Uint64(r[p+8:]))
		v3 = xxRound(v3, binary.LittleEndian.Uint64(r[p+16:]))
		v4 = xxRound(v4, binary.LittleEndian.Uint64(r[p+24:]))
	}
	acc := bits.RotateLeft64(v1, 1) + bits.RotateLeft64(v2, 7) + bits.RotateLeft64(v3, 12) + bits.RotateLeft64(v4, 18)
	acc = xxMerge(acc, v1)
	acc = xxMerge(acc, v2)
	acc = xxMerge(acc, v3)
	acc = xxMerge(acc, v4)
	return xxAvalanche(xxTail(acc+uint64(n), r, p, n))
}

// hashWin2 is hashWin of two windows, their first stripes and merges
// interleaved when both take one stripe (32 to 63 bytes, most rows): one
// row's hash is a chain of dependent multiplies, two chains side by side
// keep the core busy.
func (h *rowHasher) hashWin2(b []byte, b0, n0, b1, n1 int) (uint64, uint64) {
	if n0 >= 64 || n1 >= 64 {
		return h.hashWin(b, b0, n0), h.hashWin(b, b1, n1)
	}
	r0 := b[b0 : b0+n0+8 : b0+n0+8]
	r1 := b[b1 : b1+n1+8 : b1+n1+8]
	pw0, pw1, pw2, pw3 := h.pw[0], h.pw[1], h.pw[2], h.pw[3]
	pm0, pm1, pm2, pm3 := h.pm[0], h.pm[1], h.pm[2], h.pm[3]
	p1, p2 := xxPrime1, xxPrime2 // variables: the seeds wrap around
	x0, y0 := xxRound(p1+p2, binary.LittleEndian.Uint64(r0)&^pm0|pw0), xxRound(p1+p2, binary.LittleEndian.Uint64(r1)&^pm0|pw0)
	x1, y1 := xxRound(p2, binary.LittleEndian.Uint64(r0[8:])&^pm1|pw1), xxRound(p2, binary.LittleEndian.Uint64(r1[8:])&^pm1|pw1)
	x2, y2 := xxRound(0, binary.LittleEndian.Uint64(r0[16:])&^pm2|pw2), xxRound(0, binary.LittleEndian.Uint64(r1[16:])&^pm2|pw2)
	x3, y3 := xxRound(-p1, binary.LittleEndian.Uint64(r0[24:])&^pm3|pw3), xxRound(-p1, binary.LittleEndian.Uint64(r1[24:])&^pm3|pw3)
	a0 := bits.RotateLeft64(x0, 1) + bits.RotateLeft64(x1, 7) + bits.RotateLeft64(x2, 12) + bits.RotateLeft64(x3, 18)
	a1 := bits.RotateLeft64(y0, 1) + bits.RotateLeft64(y1, 7) + bits.RotateLeft64(y2, 12) + bits.RotateLeft64(y3, 18)
	a0, a1 = xxMerge(a0, x0), xxMerge(a1, y0)
	a0, a1 = xxMerge(a0, x1), xxMerge(a1, y1)
	a0, a1 = xxMerge(a0, x2), xxMerge(a1, y2)
	a0, a1 = xxMerge(a0, x3), xxMerge(a1, y3)
	return xxAvalanche(xxTail(a0+uint64(n0), r0, 32, n0)), xxAvalanche(xxTail(a1+uint64(n1), r1, 32, n1))
}

// hashWin4 is hashWin of four windows of 32 to 63 bytes each (one
// stripe), their stripes, merges and tails interleaved: four chains of
// dependent multiplies side by side, and tails without branches on the
// windows' lengths (xxTailShort), which differ from row to row and would
// otherwise be mispredicted.
func (h *rowHasher) hashWin4(b []byte, b0, n0, b1, n1, b2, n2, b3, n3 int) (uint64, uint64, uint64, uint64) {
	r0 := b[b0 : b0+n0+8 : b0+n0+8]
	r1 := b[b1 : b1+n1+8 : b1+n1+8]
	r2 := b[b2 : b2+n2+8 : b2+n2+8]
	r3 := b[b3 : b3+n3+8 : b3+n3+8]
	a0 := h.stripe(r0)
	a1 := h.stripe(r1)
	a2 := h.stripe(r2)
	a3 := h.stripe(r3)
	a0 = xxTailShort(a0+uint64(n0), r0, n0)
	a1 = xxTailShort(a1+uint64(n1), r1, n1)
	a2 = xxTailShort(a2+uint64(n2), r2, n2)
	a3 = xxTailShort(a3+uint64(n3), r3, n3)
	return xxAvalanche(a0), xxAvalanche(a1), xxAvalanche(a2), xxAvalanche(a3)
}

// stripe is XXH64's accumulator after the first 32 bytes of r (with the
// prefix words in place) and the merge, for an input of 32 to 63 bytes.
func (h *rowHasher) stripe(r []byte) uint64 {
	_ = r[31]
	p1, p2 := xxPrime1, xxPrime2 // variables: the seeds wrap around
	v1 := xxRound(p1+p2, binary.LittleEndian.Uint64(r)&^h.pm[0]|h.pw[0])
	v2 := xxRound(p2, binary.LittleEndian.Uint64(r[8:])&^h.pm[1]|h.pw[1])
	v3 := xxRound(0, binary.LittleEndian.Uint64(r[16:])&^h.pm[2]|h.pw[2])
	v4 := xxRound(-p1, binary.LittleEndian.Uint64(r[24:])&^h.pm[3]|h.pw[3])
	acc := bits.RotateLeft64(v1, 1) + bits.RotateLeft64(v2, 7) + bits.RotateLeft64(v3, 12) + bits.RotateLeft64(v4, 18)
	acc = xxMerge(acc, v1)
	acc = xxMerge(acc, v2)
	acc = xxMerge(acc, v3)
	return xxMerge(acc, v4)
}

// xxTailShort is xxTail from byte 32 of an input of n < 64 bytes without
// branches on n: each of the up to three 8-byte rounds, the 4-byte round
// and the up to three 1-byte rounds is computed and kept only when n has
// it (a conditional move); loads stay within r[:n+8].
func xxTailShort(acc uint64, r []byte, n int) uint64 {
	rem := uint(n - 32) // 0..31
	k8 := rem >> 3
	w := binary.LittleEndian.Uint64(r[32:])
	a := bits.RotateLeft64(acc^xxRound(0, w), 27)*xxPrime1 + xxPrime4
	if k8 >= 1 {
		acc = a
	}
	w = binary.LittleEndian.Uint64(r[min(40, n):])
	a = bits.RotateLeft64(acc^xxRound(0, w), 27)*xxPrime1 + xxPrime4
	if k8 >= 2 {
		acc = a
	}
	w = binary.LittleEndian.Uint64(r[min(48, n):])
	a = bits.RotateLeft64(acc^xxRound(0, w), 27)*xxPrime1 + xxPrime4
	if k8 >= 3 {
		acc = a
	}
	w = binary.LittleEndian.Uint64(r[32+8*k8:])
	a = bits.RotateLeft64(acc^uint64(uint32(w))*xxPrime1, 23)*xxPrime2 + xxPrime3
	if rem&4 != 0 {
		acc, w = a, w>>32
	}
	c := rem & 3
	a = bits.RotateLeft64(acc^(w&0xff)*xxPrime5, 11) * xxPrime1
	if c >= 1 {
		acc = a
	}
	a = bits.RotateLeft64(acc^(w>>8&0xff)*xxPrime5, 11) * xxPrime1
	if c >= 2 {
		acc = a
	}
	a = bits.RotateLeft64(acc^(w>>16&0xff)*xxPrime5, 11) * xxPrime1
	if c >= 3 {
		acc = a
	}
	return acc
}

// xxTail takes in the bytes of r from p to n (fewer than 32) into acc;
// r holds eight readable bytes after n.
func xxTail(acc uint64, r []byte, p, n int) uint64 {
	for ; p+8 <= n; p += 8 {
		acc ^= xxRound(0, binary.LittleEndian.Uint64(r[p:]))
		acc = bits.RotateLeft64(acc, 27)*xxPrime1 + xxPrime4
	}
	if p < n {
		w := binary.LittleEndian.Uint64(r[p:])
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
	return acc
}

func xxAvalanche(acc uint64) uint64 {
	acc ^= acc >> 33
	acc *= xxPrime2
	acc ^= acc >> 29
	acc *= xxPrime3
	return acc ^ acc>>32
}

// hashGroup holds up to 64 rows set (Key, Enc, LSN) and not yet hashed.
type hashGroup struct {
	win [64]int32 // the row's window in out (hashWin) or -1: hashed from Key and Enc
	n   [64]int32 // the window's length
	lp  [64]int32 // offset in out of the row's one-byte length, zero until hashed, or -1
}

// add notes row j, whose key is out[kp:kp+l] and encoding out[es:es+el];
// zeroed tells whether its one-byte length (out[es-1]) is zero until hashed.
func (g *hashGroup) add(h *rowHasher, out []byte, j, kp, l, es, el int, zeroed bool) {
	n, w, lp := h.pre+l+1+el, -1, -1
	if zeroed {
		lp = es - 1
		if es == kp+l+1 && kp >= h.winPre && n >= 32 && es+el+8 <= len(out) {
			w = kp - h.pre
		}
	}
	g.win[j], g.n[j], g.lp[j] = int32(w), int32(n), int32(lp)
}

// hash hashes the group's first len(rows) rows (four at a time where four
// in a row have windows of one stripe, else two where both have one), sets their Hash, puts back their one-byte lengths and
// returns the sum of their hashes.
func (g *hashGroup) hash(h *rowHasher, out []byte, rows []Row) uint64 {
	var sum uint64
	win, n := g.win[:len(rows)], g.n[:len(rows)]
	for j := 0; j < len(rows); j++ {
		var hv uint64
		switch {
		case j+3 < len(rows) && win[j] >= 0 && win[j+1] >= 0 && win[j+2] >= 0 && win[j+3] >= 0 &&
			n[j] < 64 && n[j+1] < 64 && n[j+2] < 64 && n[j+3] < 64:
			h0, h1, h2, h3 := h.hashWin4(out, int(win[j]), int(n[j]), int(win[j+1]), int(n[j+1]), int(win[j+2]), int(n[j+2]), int(win[j+3]), int(n[j+3]))
			rows[j].Hash, rows[j+1].Hash, rows[j+2].Hash, rows[j+3].Hash = h0, h1, h2, h3
			sum += h0 + h1 + h2 + h3
			j += 3
			continue
		case win[j] >= 0 && j+1 < len(rows) && win[j+1] >= 0:
			var hw uint64
			hv, hw = h.hashWin2(out, int(win[j]), int(n[j]), int(win[j+1]), int(n[j+1]))
			rows[j+1].Hash = hw
			sum += hw
			rows[j].Hash = hv
			sum += hv
			j++
			continue
		case win[j] >= 0:
			hv = h.hashWin(out, int(win[j]), int(n[j]))
		default:
			hv = h.hash(rows[j].Key, rows[j].Enc)
		}
		rows[j].Hash = hv
		sum += hv
	}
	for j, lp := range g.lp[:len(rows)] {
		if lp >= 0 {
			out[lp] = byte(len(rows[j].Enc))
		}
	}
	return sum
}
