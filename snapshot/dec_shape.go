package snapshot

import (
	"encoding/binary"
	"math/bits"
)

// rebuildShape rebuilds a batch whose rows all have one shape (column
// count, NULL bitmap, value tags; uniformShape checked it), row by row in
// one pass with a plan made once per batch: each row's values are read
// from their column streams and written where they go, with no per-value
// shape parsing and no intermediate arrays. Each write is checked against
// rawLen before it is made, up to colRoom bytes of whole-word spill. Rows
// are hashed in groups of hashGroup after they are written, so that the
// hash's word loads do not wait for the fill's stores.
func (d *colDecoder) rebuildShape(dst, keys, shapes, lsns []byte, sl int, rows []Row, rawLen int, h *rowHasher) ([]byte, uint64, error) {
	count := len(rows)
	shape := shapes[1 : 1+sl]
	nc, k := uvarintAt(shape, 0)
	bml := int(nc+7) / 8
	bm := shape[k : k+bml]
	head := shape[:k+bml]
	d.prog = d.prog[:0]
	t := k + bml
	for c := range d.cols {
		col := d.cols[c].data
		if c >= int(nc) || bm[c>>3]&(1<<(c&7)) != 0 {
			if len(col) != 0 {
				return colBad("column %d longer than %d rows", c, count)
			}
			continue
		}
		op := colOp{tag: shape[t], data: col}
		t++
		switch op.tag {
		case tagInt, tagDate, tagTimestamp:
			op.kind, op.sv = opInt, true // op.s: 0, the groups of zig-zag 0
		case tagFloat, tagBool, tagUUID:
			op.kind, op.n = opFixed, fixedLen(op.tag)
			if len(col) != count*op.n {
				return colBad("column %d holds %d bytes for %d values of %d", c, len(col), count, op.n)
			}
		default: // tagNumeric, tagString, tagBytes (uniformShape checked the tags)
			op.kind = opBytes
		}
		d.prog = append(d.prog, op)
	}
	prog := d.prog
	var head8 uint64 // head in one store when it fits
	if len(head) <= 8 {
		var b [8]byte
		copy(b[:], head)
		head8 = binary.LittleEndian.Uint64(b[:])
	}

	out := dst[:0]
	if cap(out) < rawLen+colRoom {
		out = make([]byte, 0, rawLen+colRoom)
	}
	out = out[:rawLen+colRoom]
	var (
		ko, lo, p int
		lsn, sum  uint64
		kl        = -1      // the previous row's key length
		klw       int       // the bytes of its length prefix
		kw        uint64    // its first eight bytes (keys of 9 to 16 bytes)
		kval      uint64    // its last eight bytes, big-endian
		pkp       int       // its offset in out
		g         hashGroup // rows written, not yet hashed
		ng        int
		lw        uint64     // lsn's uvarint as one word (uvarint8)
		lwn       = uint8(1) // its length, more than 8 when lsn takes more bytes
	)
	stride := sl + 1
	for i := 0; i < count; i++ {
		// Key: its length and bytes, literal or the previous one's with
		// the last eight bytes moved by a difference.
		if shapes[i*stride] == keyLiteral {
			key, m := bytesAt(keys, ko)
			if m <= 0 {
				return colBad("bad key at row %d", i)
			}
			kl, klw = len(key), uvarintSize(uint64(len(key)))
			if p+m > rawLen {
				return colBad("rows exceed the raw length %d", rawLen)
			}
			// The length prefix is copied as stored, as by rebuildRows.
			if m <= 16 && ko+16 <= len(keys) {
				binary.LittleEndian.PutUint64(out[p:], binary.LittleEndian.Uint64(keys[ko:]))
				binary.LittleEndian.PutUint64(out[p+8:], binary.LittleEndian.Uint64(keys[ko+8:]))
			} else {
				copy(out[p:p+m], keys[ko:ko+m])
			}
			ko += m
			p += m - kl
			pkp = p
			if kl >= 8 {
				kw = binary.LittleEndian.Uint64(key)
				kval = binary.BigEndian.Uint64(key[kl-8:])
			}
			p += kl
		} else {
			if kl < 8 {
				return colBad("key difference without a previous key at row %d", i)
			}
			dv, m := varintAt(keys, ko)
			if m <= 0 {
				return colBad("bad key difference at row %d", i)
			}
			ko += m
			kval += uint64(dv)
			if p+klw+kl > rawLen {
				return colBad("rows exceed the raw length %d", rawLen)
			}
			if kl < 0x80 {
				out[p] = byte(kl)
				p++
			} else {
				p += binary.PutUvarint(out[p:], uint64(kl))
			}
			if kl <= 16 {
				binary.LittleEndian.PutUint64(out[p:], kw)
			} else {
				copy(out[p:p+kl-8], out[pkp:pkp+kl-8])
			}
			binary.BigEndian.PutUint64(out[p+kl-8:], kval)
			pkp = p
			p += kl
		}
		kp := pkp
		// The encoding, behind a length byte widened afterwards if the
		// row takes 128 bytes or more.
		es := p + 1
		if es+len(head) > rawLen {
			return colBad("rows exceed the raw length %d", rawLen)
		}
		p = es
		if len(head) <= 8 {
			binary.LittleEndian.PutUint64(out[p:], head8)
			p += len(head)
		} else {
			p += copy(out[p:], head)
		}
		for o := range prog {
			op := &prog[o]
			if p >= rawLen {
				return colBad("rows exceed the raw length %d", rawLen)
			}
			out[p] = op.tag
			p++
			switch op.kind {
			case opInt:
				b, co := op.data, op.co
				if op.sv && co+8 <= len(b) {
					// The zig-zag value as its varint's 7-bit groups
					// (op.s), moved by the stored difference in that
					// form: no joining and spreading of the groups.
					w := binary.LittleEndian.Uint64(b[co:])
					if s, next, ok := groupsAdd(op.s, w); ok {
						op.s, op.co = s, co+next
						l := bits.Len64(s | 1) // the varint takes (l+7)/8 bytes
						binary.LittleEndian.PutUint64(out[p:], s|varHigh&(1<<(uint(l-1)&56)-1))
						p += (l + 7) >> 3
						continue
					}
				}
				x := op.x
				if op.sv {
					x = compact7(op.s) >> 1
				}
				dv, m := varintAt(b, co)
				if m <= 0 {
					return colBad("bad integer at row %d", i)
				}
				x += uint64(dv)
				op.co = co + m
				ux := x<<1 ^ uint64(int64(x)>>63)
				if ux < 1<<56 {
					v, n := uvarint8(ux)
					binary.LittleEndian.PutUint64(out[p:], v)
					p += int(n)
					// back to the groups while the value is >= 0
					op.s, op.x, op.sv = v&^varHigh, x, ux&1 == 0
				} else {
					p += binary.PutUvarint(out[p:], ux)
					op.x, op.sv = x, false
				}
			case opFixed:
				s := i * op.n
				if p+op.n > rawLen {
					return colBad("rows exceed the raw length %d", rawLen)
				}
				p += copy(out[p:p+op.n], op.data[s:s+op.n])
			default:
				vs := op.co
				_, m := bytesAt(op.data, vs)
				if m <= 0 {
					return colBad("bad value at row %d", i)
				}
				if p+m > rawLen {
					return colBad("rows exceed the raw length %d", rawLen)
				}
				if m <= 16 && vs+16 <= len(op.data) {
					binary.LittleEndian.PutUint64(out[p:], binary.LittleEndian.Uint64(op.data[vs:]))
					binary.LittleEndian.PutUint64(out[p+8:], binary.LittleEndian.Uint64(op.data[vs+8:]))
				} else {
					copy(out[p:p+m], op.data[vs:vs+m])
				}
				p += m
				op.co = vs + m
			}
		}
		el := p - es
		if el < 0x80 {
			out[es-1] = 0 // the length once the row is hashed (hashGroup.hash)
		} else {
			w := uvarintSize(uint64(el))
			if p+w-1 > rawLen {
				return colBad("rows exceed the raw length %d", rawLen)
			}
			copy(out[es+w-1:p+w-1], out[es:p])
			binary.PutUvarint(out[es-1:], uint64(el))
			es += w - 1
			p += w - 1
		}
		if lo < len(lsns) && lsns[lo] == 0 {
			lo++ // the previous row's LSN (rows of one transaction): its varint is lw
		} else {
			dv, m := varintAt(lsns, lo)
			if m <= 0 {
				return colBad("bad lsn at row %d", i)
			}
			lo += m
			lsn += uint64(dv)
			lw, lwn = uvarint8(lsn)
		}
		if p >= rawLen {
			return colBad("rows exceed the raw length %d", rawLen)
		}
		if lwn <= 8 {
			binary.LittleEndian.PutUint64(out[p:], lw)
			p += int(lwn)
		} else {
			p += binary.PutUvarint(out[p:], lsn)
		}
		setRow(&rows[i], out[kp:kp+kl:kp+kl], out[es:es+el:es+el], lsn, 0)
		g.add(h, out, ng, kp, kl, es, el, el < 0x80)
		if ng++; ng == len(g.win) {
			sum += g.hash(h, out, rows[i+1-ng:i+1])
			ng = 0
		}
	}
	sum += g.hash(h, out, rows[count-ng:])
	if ko != len(keys) || lo != len(lsns) {
		return colBad("streams longer than %d rows", count)
	}
	for o := range prog {
		if op := &prog[o]; op.kind != opFixed && op.co != len(op.data) {
			return colBad("a column is longer than %d rows", count)
		}
	}
	if p != rawLen {
		return colBad("rows take %d bytes, raw length says %d", p, rawLen)
	}
	d.tagsBuf = d.tagsBuf[:0]
	for o := range prog {
		d.tagsBuf = append(d.tagsBuf, prog[o].tag)
	}
	d.tags = d.tagsBuf
	return out[:rawLen], sum, nil
}
