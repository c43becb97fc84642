package pgwire

import (
	"math"
	"strconv"
)

// AppendFloat appends f in PostgreSQL's text output for real (bitSize 32)
// or double precision (64) under extra_float_digits >= 1, the default
// since PostgreSQL 12 and what pgjdbc and pg_dump set: the shortest
// digits that read back as the same value of that width, in exponent
// form (a sign and at least two digits: 1e+06, 1e-05) when the decimal
// exponent is below -4 or at least 15 for double precision (6 for real),
// else positional; Infinity, -Infinity and NaN spelled so. Clients parse
// exactly these spellings (pgjdbc rejects Go's "+Inf").
func AppendFloat(buf []byte, f float64, bitSize int) []byte {
	switch {
	case math.IsNaN(f):
		return append(buf, "NaN"...)
	case math.IsInf(f, 1):
		return append(buf, "Infinity"...)
	case math.IsInf(f, -1):
		return append(buf, "-Infinity"...)
	}
	if bitSize == 32 {
		// strconv's shortest 'g' switches to exponent form exactly where
		// PostgreSQL's float4 output does (exponent < -4 or >= 6).
		return strconv.AppendFloat(buf, float64(float32(f)), 'g', -1, 32)
	}
	start := len(buf)
	buf = strconv.AppendFloat(buf, f, 'e', -1, 64)
	exp := 0
	for i := len(buf) - 1; i > start; i-- {
		if buf[i] == 'e' {
			exp, _ = strconv.Atoi(string(buf[i+1:]))
			break
		}
	}
	if exp < -4 || exp >= 15 {
		return buf
	}
	return strconv.AppendFloat(buf[:start], f, 'f', -1, 64)
}
