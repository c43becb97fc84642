package engine

import (
	"encoding/binary"
	"math"
)

// Key encoding: an order-preserving, prefix-free byte string for a tuple of
// values. Comparing two encodings with bytes.Compare orders the tuples the
// way PostgreSQL's default ASC ordering does (NULLs last). Keys of the same
// table always have the same column types, so kinds never interleave.
const (
	keyInt       byte = 0x10
	keyFloat     byte = 0x11
	keyNumeric   byte = 0x12
	keyBool      byte = 0x13
	keyString    byte = 0x14
	keyBytes     byte = 0x15
	keyDate      byte = 0x16
	keyTimestamp byte = 0x17
	keyUUID      byte = 0x18
	keyNull      byte = 0xFF // sorts after every value: NULLS LAST
)

// EncodeKey appends the order-preserving encoding of vals to dst.
func EncodeKey(dst []byte, vals ...Value) []byte {
	for _, v := range vals {
		dst = appendKeyValue(dst, v)
	}
	return dst
}

// EncodeRowID is the key of a row in a table without a primary key.
func EncodeRowID(id int64) string { return string(EncodeKey(nil, id)) }

func appendKeyValue(dst []byte, v Value) []byte {
	switch x := v.(type) {
	case nil:
		return append(dst, keyNull)
	case int64:
		dst = append(dst, keyInt)
		return binary.BigEndian.AppendUint64(dst, uint64(x)^(1<<63))
	case float64:
		dst = append(dst, keyFloat)
		return appendKeyFloat(dst, x)
	case Numeric:
		// Approximate order by the float value, exact identity by the text.
		// Callers re-check range predicates on fetched rows, so the rare
		// rounding tie only affects the order of equal-looking keys.
		dst = append(dst, keyNumeric)
		f := numericFloat(x)
		dst = appendKeyFloat(dst, f)
		return appendEscaped(dst, []byte(x))
	case bool:
		b := byte(0)
		if x {
			b = 1
		}
		return append(dst, keyBool, b)
	case string:
		dst = append(dst, keyString)
		return appendEscaped(dst, []byte(x))
	case []byte:
		dst = append(dst, keyBytes)
		return appendEscaped(dst, x)
	case Date:
		dst = append(dst, keyDate)
		return binary.BigEndian.AppendUint64(dst, uint64(int64(x))^(1<<63))
	case Timestamp:
		dst = append(dst, keyTimestamp)
		return binary.BigEndian.AppendUint64(dst, uint64(int64(x))^(1<<63))
	case UUID:
		dst = append(dst, keyUUID)
		return append(dst, x[:]...)
	}
	// Unknown Go types cannot reach here through validated rows.
	panic("engine: EncodeKey: unsupported value type")
}

func appendKeyFloat(dst []byte, f float64) []byte {
	if f == 0 {
		f = 0 // -0 and +0 are equal keys, as in PostgreSQL
	}
	bits := math.Float64bits(f)
	if f != f {
		bits = canonicalNaN // NaN sorts above every number, as in PostgreSQL
	}
	if bits&(1<<63) != 0 {
		bits = ^bits
	} else {
		bits |= 1 << 63
	}
	return binary.BigEndian.AppendUint64(dst, bits)
}

// appendEscaped writes b with 0x00 escaped as 0x00 0xFF and terminates it
// with 0x00 0x01, which keeps the encoding order-preserving and prefix-free.
func appendEscaped(dst, b []byte) []byte {
	for _, c := range b {
		if c == 0 {
			dst = append(dst, 0, 0xFF)
			continue
		}
		dst = append(dst, c)
	}
	return append(dst, 0, 1)
}

func numericFloat(n Numeric) float64 {
	if n == "NaN" {
		return math.NaN()
	}
	var f float64
	var neg bool
	s := string(n)
	if s != "" && s[0] == '-' {
		neg = true
		s = s[1:]
	}
	scale := 0.0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '.' {
			scale = 1
			continue
		}
		d := float64(c - '0')
		if scale == 0 {
			f = f*10 + d
		} else {
			scale /= 10
			f += d * scale
		}
	}
	if neg {
		f = -f
	}
	return f
}

// PrefixEnd returns the smallest key greater than every key with the given
// prefix (for range scans over a key prefix), or nil if none exists.
func PrefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xFF {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
