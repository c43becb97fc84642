package engine

import (
	"encoding/binary"
	"math"
	"unsafe"
)

// rec is one stored row version or tombstone in a single allocation
// without pointers (so the garbage collector never scans it):
//
//	uvarint len(key) | key | uvarint lsn | uvarint len(row) | row
//
// A tombstone has no row (length 0; a canonical row is never empty). Key
// and row are handed out as strings that alias the allocation, so reads
// copy nothing. A rec is immutable.
type rec struct{ p *byte }

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

func newRec(key, row string, lsn uint64) rec {
	n := uvarintLen(uint64(len(key))) + len(key) + uvarintLen(lsn) + uvarintLen(uint64(len(row))) + len(row)
	b := make([]byte, 0, n)
	b = binary.AppendUvarint(b, uint64(len(key)))
	b = append(b, key...)
	b = binary.AppendUvarint(b, lsn)
	b = binary.AppendUvarint(b, uint64(len(row)))
	b = append(b, row...)
	return rec{unsafe.SliceData(b)}
}

// uvarint decodes the uvarint at p+off and returns it with the offset
// after it. Records are written by newRec, so no bounds are checked.
func (r rec) uvarint(off int) (uint64, int) {
	var x uint64
	for s := uint(0); ; s += 7 {
		c := *(*byte)(unsafe.Add(unsafe.Pointer(r.p), off))
		off++
		x |= uint64(c&0x7f) << s
		if c < 0x80 {
			return x, off
		}
	}
}

func (r rec) str(off, n int) string {
	if n == 0 {
		return "" // off may be the end of the allocation
	}
	return unsafe.String((*byte)(unsafe.Add(unsafe.Pointer(r.p), off)), n)
}

func (r rec) key() string {
	if c := *r.p; c < 0x80 {
		return r.str(1, int(c))
	}
	n, off := r.uvarint(0)
	return r.str(off, int(n))
}

// shortKey returns the key when it is shorter than 128 bytes (one length
// byte), the common case, cheaply enough to be inlined into searches;
// otherwise ok is false and the caller asks key.
func (r rec) shortKey() (k string, ok bool) {
	if c := *r.p; c < 0x80 && c > 0 {
		return unsafe.String((*byte)(unsafe.Add(unsafe.Pointer(r.p), 1)), int(c)), true
	}
	return "", false
}

// fields returns the key, the row encoding ("" for a tombstone) and the LSN.
func (r rec) fields() (key, row string, lsn uint64) {
	n, off := r.uvarint(0)
	key = r.str(off, int(n))
	lsn, off = r.uvarint(off + int(n))
	n, off = r.uvarint(off)
	return key, r.str(off, int(n)), lsn
}

func (r rec) lsn() uint64 {
	n, off := r.uvarint(0)
	l, _ := r.uvarint(off + int(n))
	return l
}

// rowFields locates the columns of a canonical row encoding: off[i] is the
// offset of column i's value, or -1 when it is NULL. It validates the
// encoding as DecodeRow does, without building values. off is reused when
// large enough.
func rowFields(b []byte, off []int32) ([]int32, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return nil, corruptf("bad column count")
	}
	if n > MaxColumns {
		return nil, corruptf("column count %d exceeds %d", n, MaxColumns)
	}
	pos := k
	bmLen := int(n+7) / 8
	if len(b)-pos < bmLen {
		return nil, corruptf("truncated NULL bitmap")
	}
	bm := b[pos : pos+bmLen]
	pos += bmLen
	off = off[:0]
	for i := 0; i < int(n); i++ {
		if bm[i/8]&(1<<(i%8)) != 0 {
			off = append(off, -1)
			continue
		}
		used, err := skipValue(b[pos:])
		if err != nil {
			return nil, err
		}
		off = append(off, int32(pos))
		pos += used
	}
	if n%8 != 0 && bm[bmLen-1]>>(n%8) != 0 {
		return nil, corruptf("stray bits in NULL bitmap")
	}
	return off, nil
}

// appendKeyFromRow appends the key encoding (as EncodeKey) of columns cols
// of the row encoding b whose columns rowFields located in off. It reports
// whether any of them is NULL. The encoding must have been validated.
func appendKeyFromRow(dst []byte, b []byte, off []int32, cols []int) ([]byte, bool) {
	hasNull := false
	for _, ci := range cols {
		o := off[ci]
		if o < 0 {
			hasNull = true
			dst = append(dst, keyNull)
			continue
		}
		p := b[o+1:]
		switch b[o] {
		case tagInt, tagTimestamp, tagDate:
			x, _ := binary.Varint(p)
			switch b[o] {
			case tagInt:
				dst = append(dst, keyInt)
			case tagTimestamp:
				dst = append(dst, keyTimestamp)
			default:
				dst = append(dst, keyDate)
			}
			dst = binary.BigEndian.AppendUint64(dst, uint64(x)^(1<<63))
		case tagString, tagBytes:
			l, k := binary.Uvarint(p)
			if b[o] == tagString {
				dst = append(dst, keyString)
			} else {
				dst = append(dst, keyBytes)
			}
			dst = appendEscaped(dst, p[k:k+int(l)])
		case tagBool:
			dst = append(dst, keyBool, p[0])
		case tagFloat:
			dst = append(dst, keyFloat)
			dst = appendKeyFloat(dst, math.Float64frombits(binary.BigEndian.Uint64(p)))
		default:
			v, _, _ := decodeValue(b[o:])
			dst = appendKeyValue(dst, v)
		}
	}
	return dst, hasNull
}

// skipKeyValues returns the length of the first n values of a key encoding.
func skipKeyValues(k string, n int) int {
	pos := 0
	for ; n > 0 && pos < len(k); n-- {
		t := k[pos]
		pos++
		switch t {
		case keyNull:
		case keyBool:
			pos++
		case keyUUID:
			pos += 16
		case keyString, keyBytes, keyNumeric:
			if t == keyNumeric {
				pos += 8
			}
			for pos+1 < len(k) && (k[pos] != 0 || k[pos+1] != 1) {
				if k[pos] == 0 {
					pos++ // escaped 0x00 0xFF
				}
				pos++
			}
			pos += 2
		default: // int, float, date, timestamp
			pos += 8
		}
	}
	return min(pos, len(k))
}
