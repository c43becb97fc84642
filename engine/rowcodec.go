package engine

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Value kind tags in the canonical row encoding. Part of the format: never
// renumber.
const (
	tagInt       byte = 1 // zigzag varint
	tagFloat     byte = 2 // 8 bytes big-endian IEEE 754, NaN canonical
	tagNumeric   byte = 3 // uvarint length + canonical decimal text
	tagBool      byte = 4 // 1 byte, 0 or 1
	tagString    byte = 5 // uvarint length + UTF-8 bytes
	tagBytes     byte = 6 // uvarint length + bytes
	tagDate      byte = 7 // zigzag varint days since 1970-01-01
	tagTimestamp byte = 8 // zigzag varint microseconds since epoch
	tagUUID      byte = 9 // 16 bytes
)

// canonicalNaN is the single bit pattern every NaN is encoded as, so equal
// rows always have equal bytes and hashes.
const canonicalNaN = 0x7FF8000000000000

// MaxRowBytes bounds one encoded row (1 GiB as in PostgreSQL's field limit);
// decoders refuse larger lengths instead of allocating them.
const MaxRowBytes = 1 << 30

// EncodeRow appends the canonical encoding of r to dst and returns it.
//
// Layout: uvarint column count; NULL bitmap (ceil(n/8) bytes, bit i of byte
// i/8 set when column i is NULL); then each non-NULL value as a kind tag and
// its payload. The encoding is self-describing (it needs no schema to be
// decoded), which lets salvage and verify read rows of unknown tables.
func EncodeRow(dst []byte, r Row) ([]byte, error) {
	n := len(r)
	dst = binary.AppendUvarint(dst, uint64(n))
	bm := len(dst)
	for i := 0; i < (n+7)/8; i++ {
		dst = append(dst, 0)
	}
	for i, v := range r {
		if v == nil {
			dst[bm+i/8] |= 1 << (i % 8)
			continue
		}
		var err error
		dst, err = appendValue(dst, v)
		if err != nil {
			return nil, fmt.Errorf("column %d: %w", i, err)
		}
	}
	return dst, nil
}

func appendValue(dst []byte, v Value) ([]byte, error) {
	switch x := v.(type) {
	case int64:
		dst = append(dst, tagInt)
		return binary.AppendVarint(dst, x), nil
	case float64:
		dst = append(dst, tagFloat)
		bits := math.Float64bits(x)
		if x != x {
			bits = canonicalNaN
		}
		return binary.BigEndian.AppendUint64(dst, bits), nil
	case Numeric:
		dst = append(dst, tagNumeric)
		dst = binary.AppendUvarint(dst, uint64(len(x)))
		return append(dst, x...), nil
	case bool:
		b := byte(0)
		if x {
			b = 1
		}
		return append(dst, tagBool, b), nil
	case string:
		dst = append(dst, tagString)
		dst = binary.AppendUvarint(dst, uint64(len(x)))
		return append(dst, x...), nil
	case []byte:
		dst = append(dst, tagBytes)
		dst = binary.AppendUvarint(dst, uint64(len(x)))
		return append(dst, x...), nil
	case Date:
		dst = append(dst, tagDate)
		return binary.AppendVarint(dst, int64(x)), nil
	case Timestamp:
		dst = append(dst, tagTimestamp)
		return binary.AppendVarint(dst, int64(x)), nil
	case UUID:
		dst = append(dst, tagUUID)
		return append(dst, x[:]...), nil
	}
	return nil, newErrorf(CodeDatatypeMismatch, "engine: cannot encode value of Go type %T", v)
}

// DecodeRow decodes one canonical row from the start of b and returns it
// with the number of bytes consumed. It never allocates more than len(b)
// permits, so it is safe on untrusted input.
func DecodeRow(b []byte) (Row, int, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return nil, 0, corruptf("bad column count")
	}
	if n > MaxColumns {
		return nil, 0, corruptf("column count %d exceeds %d", n, MaxColumns)
	}
	off := k
	bmLen := int(n+7) / 8
	if len(b)-off < bmLen {
		return nil, 0, corruptf("truncated NULL bitmap")
	}
	bm := b[off : off+bmLen]
	off += bmLen
	r := make(Row, n)
	for i := 0; i < int(n); i++ {
		if bm[i/8]&(1<<(i%8)) != 0 {
			continue
		}
		v, used, err := decodeValue(b[off:])
		if err != nil {
			return nil, 0, fmt.Errorf("column %d: %w", i, err)
		}
		r[i] = v
		off += used
	}
	// Bits past n in the last bitmap byte must be zero: one row, one encoding.
	if n%8 != 0 && bm[bmLen-1]>>(n%8) != 0 {
		return nil, 0, corruptf("stray bits in NULL bitmap")
	}
	return r, off, nil
}

func decodeValue(b []byte) (Value, int, error) {
	if len(b) == 0 {
		return nil, 0, corruptf("truncated value")
	}
	tag, p := b[0], b[1:]
	switch tag {
	case tagInt, tagDate, tagTimestamp:
		x, k := binary.Varint(p)
		if k <= 0 {
			return nil, 0, corruptf("bad varint")
		}
		switch tag {
		case tagDate:
			if x < math.MinInt32 || x > math.MaxInt32 {
				return nil, 0, corruptf("date out of range")
			}
			return Date(x), 1 + k, nil
		case tagTimestamp:
			return Timestamp(x), 1 + k, nil
		}
		return x, 1 + k, nil
	case tagFloat:
		if len(p) < 8 {
			return nil, 0, corruptf("truncated float")
		}
		return math.Float64frombits(binary.BigEndian.Uint64(p)), 9, nil
	case tagBool:
		if len(p) < 1 || p[0] > 1 {
			return nil, 0, corruptf("bad bool")
		}
		return p[0] == 1, 2, nil
	case tagUUID:
		if len(p) < 16 {
			return nil, 0, corruptf("truncated uuid")
		}
		var u UUID
		copy(u[:], p)
		return u, 17, nil
	case tagNumeric, tagString, tagBytes:
		l, k := binary.Uvarint(p)
		if k <= 0 || l > uint64(len(p)-k) {
			return nil, 0, corruptf("bad length")
		}
		data := p[k : k+int(l)]
		used := 1 + k + int(l)
		switch tag {
		case tagNumeric:
			return Numeric(data), used, nil
		case tagString:
			return string(data), used, nil
		}
		return append([]byte{}, data...), used, nil
	}
	return nil, 0, corruptf("unknown value tag %d", tag)
}

// RowColumnCount returns the column count of an encoded row without
// decoding it.
func RowColumnCount(enc []byte) (int, error) {
	n, k := binary.Uvarint(enc)
	if k <= 0 || n > MaxColumns {
		return 0, corruptf("bad column count")
	}
	return int(n), nil
}
