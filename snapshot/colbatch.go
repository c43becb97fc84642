package snapshot

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"

	"github.com/heliosdb/heliosdb-lite/engine"
)

// Column layout of a row batch (section ROW_COLUMNS, format 1.1; specified
// in docs/heliodump-format.md). The writer's workers turn a batch of raw
// row entries into streams (keys, row shapes, LSNs and one stream per
// column) with sequential integers, timestamps, keys and LSNs stored as
// differences, then compress it; the reader's workers decompress it and
// rebuild the exact raw row entries, which are then hashed and handed out
// as for ROW_BATCH. The codecs find far more repetition in a column of
// similar values than in interleaved rows.

// Value tags of the engine's canonical row encoding (engine/rowcodec.go),
// which the column layout parses without a schema. Part of the engine's
// format: never renumbered.
const (
	tagInt       = 1 // zigzag varint
	tagFloat     = 2 // 8 bytes
	tagNumeric   = 3 // uvarint length + bytes
	tagBool      = 4 // 1 byte
	tagString    = 5 // uvarint length + bytes
	tagBytes     = 6 // uvarint length + bytes
	tagDate      = 7 // zigzag varint
	tagTimestamp = 8 // zigzag varint
	tagUUID      = 9 // 16 bytes
)

// Key modes in the shape stream.
const (
	keyLiteral = 0 // keys: uvarint length + key bytes
	keyDelta   = 1 // keys: zigzag varint of the last 8 bytes (big-endian) minus the previous key's
)

// colStreams are the fixed streams before the column streams.
const colStreams = 3 // keys, shapes, lsns

var errNotColumnar = errors.New("row encoding not understood by the column layout")

func fixedLen(tag byte) int {
	switch tag {
	case tagFloat:
		return 8
	case tagBool:
		return 1
	}
	return 16 // uuid
}

// bytesAt returns the length-prefixed byte string at data[off:] and the
// bytes it takes with its prefix (<= 0: malformed).
func bytesAt(data []byte, off int) ([]byte, int) {
	l, n := uvarintAt(data, off)
	if n <= 0 || l > uint64(len(data)-off-n) {
		return nil, 0
	}
	return data[off+n : off+n+int(l)], n + int(l)
}

// colDecoder is one reader worker's column-layout state; its per-row
// arrays are reused from batch to batch.
type colDecoder struct {
	rowByRow bool // always take the row-by-row rebuild (tests and benchmarks)
	cols     []colState
	prog     []colOp // rebuildShape's plan: one entry per non-NULL value
	// tags are the value tags of the last batch decoded when rebuildShape
	// wrote it, nil otherwise: its rows share the first one's head and
	// tags, and each value is well formed for its tag (varints end,
	// fixed sizes, length prefixes the bytes follow), so checkRows may
	// prove them all from the first (engine.CheckRowShape).
	tags    []byte
	tagsBuf []byte
}

// colState is one column stream being read.
type colState struct {
	data []byte
	off  int
	prev uint64 // last integer value
}

// colOp is one non-NULL value of the uniform row shape: what the fill
// writes for it.
type colOp struct {
	tag  byte
	kind byte // opInt, opFixed, opBytes
	n    int  // opFixed: value size
	data []byte
	co   int    // read offset in data
	x    uint64 // opInt: last value, when !sv
	s    uint64 // opInt: last value's zig-zag varint without its high bits, when sv
	sv   bool   // opInt: the last value is in s (it is >= 0 and takes at most eight bytes)
}

// varHigh is the continuation bits of an eight-byte varint; ^varHigh its
// 7-bit groups.
const varHigh uint64 = 0x8080808080808080

// groupsAdd adds the zig-zag varint difference at the start of w (eight
// bytes, little endian) to the value whose zig-zag varint's groups are s
// (an s of seven-bit groups in eight bytes, high bits clear: a value >= 0
// whose varint takes at most eight bytes), and returns the sum's groups in
// the same form and the difference's length in bytes. ok is false when the
// difference takes more than eight bytes or the sum is negative or its
// varint takes more than eight bytes: the caller then takes the general
// way. For x >= 0 the zig-zag value is 2x, so with the difference's
// zig-zag value u the sum's is s+u (u even, the difference >= 0) or
// s-u-1 = s+^u (u odd), computed on the groups: the high bits of s set, a
// carry crosses them; the carry out of the eighth group says whether the
// sum left the range.
func groupsAdd(s, w uint64) (sum uint64, n int, ok bool) {
	stop := ^w & varHigh
	if stop == 0 {
		return 0, 0, false
	}
	u := w &^ varHigh & (stop ^ (stop - 1))
	odd := u & 1
	t, c := bits.Add64(s|varHigh, u^(^varHigh&-odd), 0)
	return t &^ varHigh, bits.TrailingZeros64(stop)/8 + 1, c == odd
}

const (
	opInt = iota
	opFixed
	opBytes
)

// decode rebuilds the raw row entries of a column-layout batch into dst
// (reused) and returns them. The result must be exactly rawLen bytes
// holding len(rows) rows. It fills rows (aliasing the result) and hashes
// each row with h, as decodeRows does for the row layout, and returns the
// hash sum.
func (d *colDecoder) decode(dst, src []byte, rows []Row, rawLen int, h *rowHasher) ([]byte, uint64, error) {
	count := len(rows)
	r := dec{b: src}
	ncols := r.count(0, engine.MaxColumns)
	var lens [colStreams]int
	for i := range lens {
		lens[i] = r.count(0, len(src))
	}
	d.cols = d.cols[:0]
	colLens := 0
	for c := 0; c < ncols && r.err == nil; c++ {
		l := r.count(0, len(src))
		colLens += l
		d.cols = append(d.cols, colState{data: src[:l]}) // the length for now; sliced below
	}
	if r.err != nil {
		return colBad("%v", r.err)
	}
	if total := lens[0] + lens[1] + lens[2] + colLens; total != len(src)-r.off {
		return colBad("streams take %d bytes, %d present", total, len(src)-r.off)
	}
	pos := r.off
	keys := src[pos : pos+lens[0]]
	pos += lens[0]
	shapes := src[pos : pos+lens[1]]
	pos += lens[1]
	lsns := src[pos : pos+lens[2]]
	pos += lens[2]
	for c := range d.cols {
		l := len(d.cols[c].data)
		d.cols[c].data = src[pos : pos+l]
		pos += l
	}
	d.tags = nil
	if count > 0 && len(src) < 1<<30 && !d.rowByRow {
		if sl, ok := uniformShape(shapes, count, ncols); ok {
			return d.rebuildShape(dst, keys, shapes, lsns, sl, rows, rawLen, h)
		}
	}
	return d.rebuildRows(dst, keys, shapes, lsns, rows, rawLen, h)
}

func colBad(format string, args ...any) ([]byte, uint64, error) {
	return nil, 0, fmt.Errorf("column layout: "+format, args...)
}

// uniformShape reports whether every row of the shape stream has the same
// shape after its key mode (column count, NULL bitmap, value tags) and
// returns that shape's length. Only known tags and key modes qualify.
func uniformShape(shapes []byte, count, ncols int) (int, bool) {
	if len(shapes) < 2 {
		return 0, false
	}
	nc, k := uvarintAt(shapes, 1)
	if k <= 0 || nc > uint64(ncols) {
		return 0, false
	}
	bml := int(nc+7) / 8
	if len(shapes)-1-k < bml {
		return 0, false
	}
	bm := shapes[1+k : 1+k+bml]
	sl := k + bml
	for c := 0; c < int(nc); c++ {
		if bm[c>>3]&(1<<(c&7)) != 0 {
			continue
		}
		if 1+sl >= len(shapes) || shapes[1+sl] < tagInt || shapes[1+sl] > tagUUID {
			return 0, false
		}
		sl++
	}
	if len(shapes)/(sl+1) != count || len(shapes)%(sl+1) != 0 {
		return 0, false
	}
	first := shapes[1 : 1+sl]
	o := 0
	if sl < 8 && len(shapes) >= 8 {
		// a row's key mode and shape in one word while eight bytes are
		// there: the shape bytes equal the first row's, the mode <= keyDelta
		m := uint64(1)<<(8*sl+8) - 0x100
		want := binary.LittleEndian.Uint64(shapes) & m
		for ; o+8 <= len(shapes); o += sl + 1 {
			w := binary.LittleEndian.Uint64(shapes[o:])
			if w&m != want || byte(w) > keyDelta {
				return 0, false
			}
		}
	}
	for ; o < len(shapes); o += sl + 1 {
		if shapes[o] > keyDelta || !bytes.Equal(shapes[o+1:o+1+sl], first) {
			return 0, false
		}
	}
	return sl, true
}

// colRoom is the room the column rebuild needs after the rows: whole-word
// stores and loads may pass a row's end by up to 16 bytes.
const colRoom = 16

// uvarint8 returns x's uvarint as one little-endian word when it takes
// at most eight bytes (x < 1<<56), else x itself; and its length.
func uvarint8(x uint64) (uint64, uint8) {
	n := (bits.Len64(x|1) + 6) / 7
	if n > 8 {
		return x, uint8(n)
	}
	// Spread the 7-bit groups over bytes: 28-bit halves to 32-bit lanes,
	// 14-bit quarters to 16-bit lanes, 7-bit groups to bytes.
	v := x&(1<<28-1) | x>>28<<32
	v = v&0x00003fff00003fff | v&0x0fffc0000fffc000<<2
	v = v&0x007f007f007f007f | v&0x3f803f803f803f80<<1
	return v | 0x8080808080808080&(1<<(uint(8*(n-1))&63)-1), uint8(n) // &63: no shift-range check
}

func uvarintSize(x uint64) int { return (bits.Len64(x|1) + 6) / 7 }

// rebuildRows rebuilds a batch row by row: any mix of row shapes.
func (d *colDecoder) rebuildRows(dst, keys, shapes, lsns []byte, rows []Row, rawLen int, h *rowHasher) ([]byte, uint64, error) {
	bad := colBad
	count := len(rows)
	ncols := len(d.cols)
	cols := d.cols

	// Rows alias out; when out has to grow, earlier rows keep aliasing the
	// old array, whose bytes are final.
	out := dst[:0]
	if cap(out) < rawLen && rawLen <= 64<<20 {
		out = make([]byte, 0, rawLen+8) // +8: appendVarint's room at the end
	}
	var ko, so, lo int
	var prevKey []byte
	var prevLSN, sum uint64
	tooLong := func() ([]byte, uint64, error) { return bad("rows exceed the raw length %d", rawLen) }
	for i := 0; i < count; i++ {
		if so >= len(shapes) {
			return bad("shape stream ends at row %d", i)
		}
		mode := shapes[so]
		so++
		var key []byte
		switch mode {
		case keyLiteral:
			k, n := bytesAt(keys, ko)
			if n <= 0 {
				return bad("bad key at row %d", i)
			}
			if len(out)+n > rawLen {
				return tooLong()
			}
			out = append(out, keys[ko:ko+n]...)
			ko += n
			key = out[len(out)-len(k):]
		case keyDelta:
			l := len(prevKey)
			if i == 0 || l < 8 {
				return bad("key difference without a previous key at row %d", i)
			}
			dv, n := varintAt(keys, ko)
			if n <= 0 {
				return bad("bad key difference at row %d", i)
			}
			ko += n
			if len(out)+uvarintLen(uint64(l))+l > rawLen {
				return tooLong()
			}
			out = binary.AppendUvarint(out, uint64(l))
			out = append(out, prevKey...)
			key = out[len(out)-l:]
			binary.BigEndian.PutUint64(key[l-8:], binary.BigEndian.Uint64(key[l-8:])+uint64(dv))
		default:
			return bad("unknown key mode %d at row %d", mode, i)
		}
		key = key[:len(key):len(key)]
		prevKey = key
		// The row's length prefix is reserved as one byte and widened when
		// the row turns out 128 bytes or longer.
		nc, k := uvarintAt(shapes, so)
		if k <= 0 || nc > uint64(ncols) {
			return bad("bad column count at row %d", i)
		}
		bml := int(nc+7) / 8
		if len(shapes)-so-k < bml {
			return bad("shape stream ends at row %d", i)
		}
		if len(out)+1+k+bml > rawLen {
			return tooLong()
		}
		out = append(out, 0)
		encStart := len(out)
		out = append(out, shapes[so:so+k+bml]...)
		bm := shapes[so+k : so+k+bml]
		so += k + bml
		for c := 0; c < int(nc); c++ {
			if bm[c>>3]&(1<<(c&7)) != 0 {
				continue
			}
			if so >= len(shapes) {
				return bad("shape stream ends at row %d", i)
			}
			tag := shapes[so]
			so++
			cs := &cols[c]
			col, co := cs.data, cs.off
			switch tag {
			case tagInt, tagDate, tagTimestamp:
				dv, n := varintAt(col, co)
				if n <= 0 {
					return bad("bad integer in column %d at row %d", c, i)
				}
				co += n
				x := cs.prev + uint64(dv)
				cs.prev = x
				out = append(out, tag)
				out = appendVarint(out, int64(x))
			case tagFloat, tagBool, tagUUID:
				n := fixedLen(tag)
				if len(col)-co < n {
					return bad("column %d ends at row %d", c, i)
				}
				out = append(out, tag)
				out = append(out, col[co:co+n]...)
				co += n
			case tagNumeric, tagString, tagBytes:
				_, n := bytesAt(col, co)
				if n <= 0 {
					return bad("bad value in column %d at row %d", c, i)
				}
				out = append(out, tag)
				out = append(out, col[co:co+n]...)
				co += n
			default:
				return bad("unknown value tag %d in column %d at row %d", tag, c, i)
			}
			cs.off = co
		}
		// Values are checked once per row: a row overshoots rawLen by at
		// most its own values, which come from src.
		if len(out) > rawLen {
			return tooLong()
		}
		el := len(out) - encStart
		if el < 0x80 {
			out[encStart-1] = byte(el)
		} else {
			w := uvarintLen(uint64(el))
			if len(out)+w-1 > rawLen {
				return tooLong()
			}
			out = append(out, make([]byte, w-1)...)
			copy(out[encStart+w-1:], out[encStart:len(out)-(w-1)])
			binary.PutUvarint(out[encStart-1:], uint64(el))
			encStart += w - 1
		}
		enc := out[encStart:len(out):len(out)]
		dl, n := varintAt(lsns, lo)
		if n <= 0 {
			return bad("bad lsn at row %d", i)
		}
		lo += n
		lsn := prevLSN + uint64(dl)
		prevLSN = lsn
		if len(out)+uvarintLen(lsn) > rawLen {
			return tooLong()
		}
		out = binary.AppendUvarint(out, lsn)
		hv := h.hash(key, enc)
		setRow(&rows[i], key, enc, lsn, hv)
		sum += hv
	}
	if ko != len(keys) || so != len(shapes) || lo != len(lsns) {
		return bad("streams longer than %d rows", count)
	}
	for c := range cols {
		if cols[c].off != len(cols[c].data) {
			return bad("column %d longer than %d rows", c, count)
		}
	}
	if len(out) != rawLen {
		return bad("rows take %d bytes, raw length says %d", len(out), rawLen)
	}
	return out, sum, nil
}

// appendVarint is binary.AppendVarint, without a loop for up to eight
// bytes when dst has the room.
func appendVarint(dst []byte, x int64) []byte {
	ux := uint64(x) << 1
	if x < 0 {
		ux = ^ux
	}
	return appendUvarintFast(dst, ux)
}

// appendUvarintFast is binary.AppendUvarint, without a loop for up to eight
// bytes when dst has the room (it stores eight bytes and keeps n).
func appendUvarintFast(dst []byte, x uint64) []byte {
	if x < 0x80 {
		return append(dst, byte(x))
	}
	l := len(dst)
	if x >= 1<<56 || cap(dst)-l < 8 {
		return binary.AppendUvarint(dst, x)
	}
	v, n := uvarint8(x)
	dst = dst[:l+8]
	binary.LittleEndian.PutUint64(dst[l:], v)
	return dst[:l+int(n)]
}

// varintAt decodes a zig-zag varint at data[off:]: the one-byte case
// inline, up to eight bytes without a loop when eight bytes are there.
func varintAt(data []byte, off int) (int64, int) {
	if off < len(data) && data[off] < 0x80 {
		u := uint64(data[off])
		return int64(u>>1) ^ -int64(u&1), 1
	}
	if off+8 <= len(data) {
		x := binary.LittleEndian.Uint64(data[off:])
		if stop := ^x & 0x8080808080808080; stop != 0 {
			x = compact7(x & (stop ^ (stop - 1))) // the bytes up to the stop bit
			return int64(x>>1) ^ -int64(x&1), bits.TrailingZeros64(stop)/8 + 1
		}
	}
	if off >= len(data) {
		return 0, 0
	}
	return binary.Varint(data[off:])
}

// compact7 joins the 7-bit groups of up to eight varint bytes (in
// little-endian order; continuation bits are dropped): bytes to 14-bit
// groups in 16-bit lanes, to 28-bit groups in 32-bit lanes, to 56 bits.
func compact7(x uint64) uint64 {
	x &= 0x7f7f7f7f7f7f7f7f
	x = x&0x007f007f007f007f | x&0x7f007f007f007f00>>1
	x = x&0x00003fff00003fff | x&0x3fff00003fff0000>>2
	return x&0x000000000fffffff | x&0x0fffffff00000000>>4
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}
