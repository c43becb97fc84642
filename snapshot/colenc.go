package snapshot

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/bits"

	"github.com/heliosdb/heliosdb-lite/engine"
)

// colEncoder is one writer worker's column-layout state (buffers reused
// from batch to batch).
//
// The rows of a batch mostly share a few shapes (column count, NULL
// bitmap, value tags). A row whose column count and bitmap are those of a
// plan (a shape met earlier in the batch, up to maxEncPlans of them) is
// encoded by the plan: its ops check each value's tag and move the value
// to its column stream with no per-value switch on the tag or bitmap test.
// Other rows take the generic way (encodeRow), which parses the shape and
// makes it a plan. Both write the same bytes; a value the plan does not
// expect (another tag behind the same bitmap, or a malformed row) makes
// the whole batch start again the generic way (errReplan), so that no row
// is left half written.
type colEncoder struct {
	keys, shapes, lsns []byte
	cols               []encCol
	plans              []encPlan
	generic            bool // never use plans (tests and benchmarks)
}

// encCol is one column stream being written: buf[:n], the rest room.
type encCol struct {
	buf []byte
	n   int
	// The column's last integer value: when sv, its zig-zag varint as
	// 7-bit groups without the high bits (the value is >= 0 and its
	// varint takes at most eight bytes); else x.
	s, x uint64
	sv   bool
}

// encPlan is one row shape: the bytes of the row encoding before the
// first value (column count and NULL bitmap), the shape stream's bytes for
// such a row after the key mode byte, and one op per non-NULL column.
type encPlan struct {
	head         []byte
	headW, headM uint64 // head as a little-endian word and its mask, when it fits in eight bytes
	shape        []byte
	shapeW       [2]uint64 // key mode 0 and shape, when they fit in 16 bytes
	ops          []encOp
}

type encOp struct {
	kind byte // opInt, opFixed, opBytes
	tag  byte
	n    int // opFixed: value size
	c    int // column
}

// maxEncPlans bounds the shapes tried per row: a table whose rows have
// NULLs in a few columns has a few shapes; past that the rows take the
// generic way.
const maxEncPlans = 4

// maxPlanBuilds bounds the plans made per batch (rows of ever new shapes).
const maxPlanBuilds = 64

// encRoom is the room every column stream keeps before a plan's op writes
// (whole-word stores of up to 16 bytes).
const encRoom = 16

// errReplan makes encode start the batch again without plans.
var errReplan = errors.New("snapshot: row shape not as planned")

const low7 = ^uint64(varHigh)

// encode turns count raw row entries into the column layout, appended to
// dst. It fails (errNotColumnar) on a row it cannot parse; the caller then
// writes a ROW_BATCH. Deterministic.
func (e *colEncoder) encode(dst, raw []byte, count int) ([]byte, error) {
	out, err := e.encodeWith(dst, raw, count, !e.generic)
	if err == errReplan {
		out, err = e.encodeWith(dst, raw, count, false)
	}
	return out, err
}

func (e *colEncoder) encodeWith(dst, raw []byte, count int, usePlans bool) ([]byte, error) {
	keys, shapes, lsns := e.keys[:0], e.shapes[:0], e.lsns[:0]
	for i := range e.cols {
		e.cols[i] = encCol{buf: e.cols[i].buf, sv: true}
	}
	e.plans = e.plans[:0]
	builds := 0
	ncols := 0
	pko, pkl := 0, -1 // the previous key's offset and length in raw
	var prevLSN uint64
	off := 0
	for i := 0; i < count; i++ {
		ko, kl := spanAt(raw, off)
		if ko < 0 {
			return dst, errNotColumnar
		}
		key := raw[ko : ko+kl]
		eo, el := spanAt(raw, ko+kl)
		if eo < 0 {
			return dst, errNotColumnar
		}
		eend := eo + el
		enc := raw[eo:eend]
		lsn, n := uvarintAt8(raw, eend)
		if n <= 0 {
			return dst, errNotColumnar
		}
		off = eend + n

		mode := byte(keyLiteral)
		if kl >= 8 && kl == pkl && samePrefix(raw, ko, pko, kl-8) {
			mode = keyDelta
			d := binary.BigEndian.Uint64(raw[ko+kl-8:]) - binary.BigEndian.Uint64(raw[pko+kl-8:])
			keys = appendVarint(keys, int64(d))
		} else {
			keys = binary.AppendUvarint(keys, uint64(kl))
			keys = append(keys, key...)
		}
		pko, pkl = ko, kl
		lsns = appendVarint(lsns, int64(lsn-prevLSN))
		prevLSN = lsn

		// Word-wide reads of the row's values stay inside raw (the last
		// rows of a batch take the generic way).
		planned := usePlans && eend+encRoom <= len(raw)
		if planned {
			if pl := e.planFor(raw, eo); pl != nil {
				if n := 1 + len(pl.shape); n <= 16 && cap(shapes)-len(shapes) >= 16 {
					l := len(shapes)
					shapes = shapes[:l+16]
					binary.LittleEndian.PutUint64(shapes[l:], pl.shapeW[0]|uint64(mode))
					binary.LittleEndian.PutUint64(shapes[l+8:], pl.shapeW[1])
					shapes = shapes[:l+n]
				} else {
					shapes = append(shapes, mode)
					shapes = append(shapes, pl.shape...)
				}
				if err := e.planRow(pl, raw, eo+len(pl.head), eend); err != nil {
					return dst, err
				}
				continue
			}
		}
		shapes = append(shapes, mode)
		ss := len(shapes)
		var err error
		var nc int
		if shapes, nc, err = e.encodeRow(shapes, enc); err != nil {
			return dst, err
		}
		ncols = max(ncols, nc)
		if planned && builds < maxPlanBuilds {
			builds++
			e.addPlan(shapes[ss:])
		}
	}
	if off != len(raw) {
		return dst, errNotColumnar
	}
	e.keys, e.shapes, e.lsns = keys, shapes, lsns
	dst = binary.AppendUvarint(dst, uint64(ncols))
	dst = binary.AppendUvarint(dst, uint64(len(keys)))
	dst = binary.AppendUvarint(dst, uint64(len(shapes)))
	dst = binary.AppendUvarint(dst, uint64(len(lsns)))
	for c := 0; c < ncols; c++ {
		dst = binary.AppendUvarint(dst, uint64(e.cols[c].n))
	}
	dst = append(dst, keys...)
	dst = append(dst, shapes...)
	dst = append(dst, lsns...)
	for c := 0; c < ncols; c++ {
		dst = append(dst, e.cols[c].buf[:e.cols[c].n]...)
	}
	return dst, nil
}

// spanAt returns where the length-prefixed byte string at raw[off:]
// starts and its length (start < 0: malformed); a length below 128 is
// read inline.
func spanAt(raw []byte, off int) (start, l int) {
	if off < len(raw) && raw[off] < 0x80 {
		if l = int(raw[off]); l < len(raw)-off {
			return off + 1, l
		}
		return -1, 0
	}
	b, n := bytesAt(raw, off)
	if n <= 0 {
		return -1, 0
	}
	return off + n - len(b), len(b)
}

// uvarintAt8 is uvarintAt, without a loop for up to eight bytes when
// eight bytes are there. One and two bytes (an LSN below 16384) are
// tested byte by byte: a predicted branch gives the length, and so the
// next entry's offset, without waiting for the word's arithmetic.
func uvarintAt8(data []byte, off int) (uint64, int) {
	if off+2 <= len(data) {
		if b := data[off]; b < 0x80 {
			return uint64(b), 1
		} else if c := data[off+1]; c < 0x80 {
			return uint64(b&0x7f) | uint64(c)<<7, 2
		}
	}
	if off+8 <= len(data) {
		x := binary.LittleEndian.Uint64(data[off:])
		if stop := ^x & varHigh; stop != 0 {
			return compact7(x & (stop ^ (stop - 1))), bits.TrailingZeros64(stop)>>3 + 1
		}
	}
	return uvarintAt(data, off)
}

// samePrefix reports whether raw[a:a+n] equals raw[b:b+n]; the key
// difference needs it for keys of equal length >= 8, n = length - 8.
func samePrefix(raw []byte, a, b, n int) bool {
	switch {
	case n == 0:
		return true
	case n <= 8: // the keys are n+8 bytes long: a word at each is there
		m := uint64(1)<<(8*uint(n)) - 1
		return (binary.LittleEndian.Uint64(raw[a:])^binary.LittleEndian.Uint64(raw[b:]))&m == 0
	}
	return bytes.Equal(raw[a:a+n], raw[b:b+n])
}

// planFor returns the plan whose head the row encoding at raw[eo:] starts
// with (eo+encRoom <= len(raw)), or nil.
func (e *colEncoder) planFor(raw []byte, eo int) *encPlan {
	w := binary.LittleEndian.Uint64(raw[eo:])
	for i := range e.plans {
		pl := &e.plans[i]
		if pl.headM != 0 {
			if w&pl.headM == pl.headW {
				return pl
			}
		} else if eo+len(pl.head) <= len(raw) && bytes.Equal(raw[eo:eo+len(pl.head)], pl.head) {
			return pl
		}
	}
	return nil
}

// addPlan makes a plan of a row's shape bytes (as encodeRow wrote them:
// column count, bitmap, tags), replacing the oldest when there are
// maxEncPlans.
func (e *colEncoder) addPlan(shape []byte) {
	var pl *encPlan
	if len(e.plans) < maxEncPlans {
		if len(e.plans) < cap(e.plans) {
			e.plans = e.plans[:len(e.plans)+1]
		} else {
			e.plans = append(e.plans, encPlan{})
		}
		pl = &e.plans[len(e.plans)-1]
	} else {
		copy(e.plans, e.plans[1:])
		last := e.plans[len(e.plans)-1]
		pl = &e.plans[len(e.plans)-1]
		*pl = encPlan{head: last.head[:0:0], shape: last.shape[:0:0], ops: last.ops[:0:0]}
	}
	nc, k := uvarintAt(shape, 0)
	bm := shape[k : k+int(nc+7)/8]
	pl.head = append(pl.head[:0], shape[:k+len(bm)]...)
	pl.shape = append(pl.shape[:0], shape...)
	var sw [16]byte
	copy(sw[1:], shape)
	pl.shapeW = [2]uint64{binary.LittleEndian.Uint64(sw[:]), binary.LittleEndian.Uint64(sw[8:])}
	pl.headW, pl.headM = 0, 0
	if len(pl.head) <= 8 {
		var b [8]byte
		copy(b[:], pl.head)
		pl.headW = binary.LittleEndian.Uint64(b[:])
		pl.headM = ^uint64(0) >> (64 - 8*uint(len(pl.head)))
	}
	pl.ops = pl.ops[:0]
	t := len(pl.head)
	for c := 0; c < int(nc); c++ {
		if bm[c/8]&(1<<(c%8)) != 0 {
			continue
		}
		op := encOp{tag: shape[t], c: c}
		t++
		switch op.tag {
		case tagInt, tagDate, tagTimestamp:
			op.kind = opInt
		case tagFloat, tagBool, tagUUID:
			op.kind, op.n = opFixed, fixedLen(op.tag)
		default: // tagNumeric, tagString, tagBytes: encodeRow took no other
			op.kind = opBytes
		}
		pl.ops = append(pl.ops, op)
	}
}

// planRow moves the values of the row encoding raw[p:end] (after its head)
// to their column streams as pl says. end+encRoom <= len(raw), so that
// values are read a word or two at a time. It returns errReplan when the
// row is not as planned, having written part of it.
func (e *colEncoder) planRow(pl *encPlan, raw []byte, p, end int) error {
	cols := e.cols
	for o := range pl.ops {
		op := &pl.ops[o]
		if p >= end || raw[p] != op.tag {
			return errReplan
		}
		p++
		cs := &cols[op.c]
		if cs.n+encRoom > len(cs.buf) {
			cs.grow(encRoom)
		}
		switch op.kind {
		case opInt:
			w := binary.LittleEndian.Uint64(raw[p:])
			if stop := ^w & varHigh; cs.sv && w&1 == 0 && stop != 0 {
				// Both values >= 0 and in eight varint bytes: the
				// difference of their zig-zag values (2x) is taken on
				// the 7-bit groups (a borrow crosses the high bits,
				// which are then dropped), and the difference's zig-zag
				// value is that (>= 0) or its complement (< 0).
				s := w & (stop ^ (stop - 1)) & low7
				d, borrow := bits.Sub64(s, cs.s, 0)
				z := (d ^ -borrow) & low7
				l := bits.Len64(z | 1)
				binary.LittleEndian.PutUint64(cs.buf[cs.n:], z|varHigh&(1<<(uint(l-1)&56)-1))
				cs.n += (l + 7) >> 3
				cs.s = s
				p += bits.TrailingZeros64(stop)>>3 + 1
				continue
			}
			x, n := varintAt(raw[:end], p)
			if n <= 0 {
				return errReplan
			}
			p += n
			cs.putInt(uint64(x))
		case opFixed:
			if p+op.n > end {
				return errReplan
			}
			if op.n <= 16 {
				binary.LittleEndian.PutUint64(cs.buf[cs.n:], binary.LittleEndian.Uint64(raw[p:]))
				binary.LittleEndian.PutUint64(cs.buf[cs.n+8:], binary.LittleEndian.Uint64(raw[p+8:]))
			} else {
				copy(cs.buf[cs.n:], raw[p:p+op.n])
			}
			cs.n += op.n
			p += op.n
		default:
			m := int(raw[p]) + 1
			if m > 0x80 {
				_, m = bytesAt(raw[:end], p)
				if m <= 0 {
					return errReplan
				}
			}
			if p+m > end {
				return errReplan
			}
			if m <= 16 {
				binary.LittleEndian.PutUint64(cs.buf[cs.n:], binary.LittleEndian.Uint64(raw[p:]))
				binary.LittleEndian.PutUint64(cs.buf[cs.n+8:], binary.LittleEndian.Uint64(raw[p+8:]))
			} else {
				if cs.n+m > len(cs.buf) {
					cs.grow(m)
				}
				copy(cs.buf[cs.n:], raw[p:p+m])
			}
			cs.n += m
			p += m
		}
	}
	if p != end {
		return errReplan
	}
	return nil
}

// encodeRow moves the values of one row encoding to their column streams
// and appends its shape (column count, bitmap, tags) to shapes; nc is its
// column count.
func (e *colEncoder) encodeRow(shapes, enc []byte) (_ []byte, nc int, _ error) {
	n, k := uvarintAt(enc, 0)
	if k <= 0 || n > engine.MaxColumns || uint64(len(enc)-k) < (n+7)/8 {
		return shapes, 0, errNotColumnar
	}
	nc = int(n)
	bm := enc[k : k+(nc+7)/8]
	shapes = append(shapes, enc[:k+len(bm)]...)
	for len(e.cols) < nc {
		e.cols = append(e.cols, encCol{sv: true})
	}
	p := k + len(bm)
	for c := 0; c < nc; c++ {
		if bm[c/8]&(1<<(c%8)) != 0 {
			continue
		}
		if p >= len(enc) {
			return shapes, 0, errNotColumnar
		}
		tag := enc[p]
		p++
		shapes = append(shapes, tag)
		cs := &e.cols[c]
		switch tag {
		case tagInt, tagDate, tagTimestamp:
			x, n := varintAt(enc, p)
			if n <= 0 {
				return shapes, 0, errNotColumnar
			}
			p += n
			cs.putInt(uint64(x))
		case tagFloat, tagBool, tagUUID:
			n := fixedLen(tag)
			if len(enc)-p < n {
				return shapes, 0, errNotColumnar
			}
			cs.put(enc[p : p+n])
			p += n
		case tagNumeric, tagString, tagBytes:
			_, n := bytesAt(enc, p)
			if n <= 0 {
				return shapes, 0, errNotColumnar
			}
			cs.put(enc[p : p+n])
			p += n
		default:
			return shapes, 0, errNotColumnar
		}
	}
	if p != len(enc) {
		return shapes, 0, errNotColumnar
	}
	return shapes, nc, nil
}

// grow makes room for n more bytes.
func (cs *encCol) grow(n int) {
	b := make([]byte, max(2*len(cs.buf), cs.n+n, 4<<10))
	copy(b, cs.buf[:cs.n])
	cs.buf = b
}

func (cs *encCol) put(v []byte) {
	if cs.n+len(v) > len(cs.buf) {
		cs.grow(len(v))
	}
	cs.n += copy(cs.buf[cs.n:], v)
}

// putInt writes integer x as its difference from the column's last one
// and makes it the last one.
func (cs *encCol) putInt(x uint64) {
	prev := cs.x
	if cs.sv {
		prev = compact7(cs.s) >> 1
	}
	if cs.n+binary.MaxVarintLen64 > len(cs.buf) {
		cs.grow(binary.MaxVarintLen64)
	}
	cs.n += len(appendVarint(cs.buf[cs.n:cs.n], int64(x-prev)))
	ux := x<<1 ^ uint64(int64(x)>>63)
	cs.x, cs.sv = x, int64(x) >= 0 && ux < 1<<56
	if cs.sv {
		v, _ := uvarint8(ux)
		cs.s = v &^ varHigh
	}
}
