package pgwire

import (
	"math"
	"testing"
)

// tenth is a variable so that tenth+2*tenth is computed in float64, not
// as an exact constant.
var tenth = 0.1

// TestAppendFloat checks the text form of real and double precision
// values against what PostgreSQL 15 prints (extra_float_digits = 1).
func TestAppendFloat(t *testing.T) {
	cases := []struct {
		f    float64
		bits int
		want string
	}{
		{math.Inf(1), 64, "Infinity"},
		{math.Inf(-1), 32, "-Infinity"},
		{math.NaN(), 64, "NaN"},
		{math.NaN(), 32, "NaN"},
		{1e308, 64, "1e+308"},
		{1e15, 64, "1e+15"},
		{1e14, 64, "100000000000000"},
		{123456789012345678, 64, "1.2345678901234568e+17"},
		{1e-5, 64, "1e-05"},
		{0.0001, 64, "0.0001"},
		{5e-324, 64, "5e-324"},
		{tenth + 2*tenth, 64, "0.30000000000000004"},
		{math.Copysign(0, -1), 64, "-0"},
		{float64(float32(1.1)), 32, "1.1"},
		{float64(float32(0.1)), 32, "0.1"},
		{1e6, 32, "1e+06"},
		{100000, 32, "100000"},
		{1e-5, 32, "1e-05"},
		{float64(float32(3.4028235e38)), 32, "3.4028235e+38"},
		{float64(float32(1.1)), 64, "1.100000023841858"},
	}
	for _, c := range cases {
		if got := string(AppendFloat([]byte("x"), c.f, c.bits)); got != "x"+c.want {
			t.Errorf("AppendFloat(%v, %d) = %q, want %q", c.f, c.bits, got[1:], c.want)
		}
	}
}

// TestEncodeFloatText: row values of float4/float8 columns go out in
// PostgreSQL's text form; the binary form is unchanged.
func TestEncodeFloatText(t *testing.T) {
	for _, c := range []struct {
		oid  uint32
		v    any
		want string
	}{
		{701, math.Inf(1), "Infinity"},
		{701, 1e308, "1e+308"},
		{700, float64(float32(1.1)), "1.1"},
		{700, float32(1e6), "1e+06"},
		{700, math.Inf(-1), "-Infinity"},
		{25, 1e15, "1e+15"},
	} {
		out, err := EncodeValue(c.oid, TextFormat, c.v, nil)
		if err != nil || string(out) != c.want {
			t.Errorf("EncodeValue(%d, %v) = %q, %v; want %q", c.oid, c.v, out, err, c.want)
		}
	}
	out, err := EncodeValue(701, BinaryFormat, 1e308, nil)
	if err != nil || len(out) != 8 || math.Float64frombits(beUint64(out)) != 1e308 {
		t.Errorf("binary float8: %x %v", out, err)
	}
	out, err = EncodeValue(700, BinaryFormat, float64(float32(1.1)), nil)
	if err != nil || len(out) != 4 || math.Float32frombits(uint32(beUint64(append(make([]byte, 4), out...)))) != float32(1.1) {
		t.Errorf("binary float4: %x %v", out, err)
	}
}

func beUint64(b []byte) uint64 {
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}
