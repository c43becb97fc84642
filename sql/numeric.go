package sql

import (
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/heliosdb/heliosdb-lite/engine"
)

// decimal is an exact decimal: unscaled * 10^-scale. NaN is nan.
type decimal struct {
	u     *big.Int
	scale int32
	nan   bool
}

var bigTen = big.NewInt(10)

func pow10(n int32) *big.Int {
	return new(big.Int).Exp(bigTen, big.NewInt(int64(n)), nil)
}

func parseDecimal(s string) (decimal, bool) {
	n, ok := engine.NormalizeNumeric(s)
	if !ok {
		// Exponent notation (1e5, 2.5E-3) is valid numeric input.
		if f, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return decFromFloat(f), true
		}
		return decimal{}, false
	}
	return decFromNumeric(n), true
}

func decFromNumeric(n engine.Numeric) decimal {
	s := string(n)
	if s == "NaN" {
		return decimal{nan: true}
	}
	intPart, frac, _ := strings.Cut(s, ".")
	u, ok := new(big.Int).SetString(intPart+frac, 10)
	if !ok {
		return decimal{u: new(big.Int)}
	}
	return decimal{u: u, scale: int32(len(frac))}
}

func decFromInt(i int64) decimal { return decimal{u: big.NewInt(i)} }

func decFromFloat(f float64) decimal {
	s := strconv.FormatFloat(f, 'f', -1, 64)
	// PostgreSQL keeps 15 significant digits when converting float8.
	if g := strconv.FormatFloat(f, 'g', 15, 64); !strings.ContainsAny(g, "e") {
		s = g
	} else if r, err := strconv.ParseFloat(g, 64); err == nil {
		s = strconv.FormatFloat(r, 'f', -1, 64)
	}
	d, _ := decFromNumericString(s)
	return d
}

func decFromNumericString(s string) (decimal, bool) {
	n, ok := engine.NormalizeNumeric(s)
	if !ok {
		return decimal{}, false
	}
	return decFromNumeric(n), true
}

func (d decimal) numeric() engine.Numeric {
	if d.nan {
		return "NaN"
	}
	neg := d.u.Sign() < 0
	digits := new(big.Int).Abs(d.u).String()
	if d.scale > 0 {
		for int32(len(digits)) <= d.scale {
			digits = "0" + digits
		}
		digits = digits[:int32(len(digits))-d.scale] + "." + digits[int32(len(digits))-d.scale:]
	} else if d.scale < 0 {
		digits += strings.Repeat("0", int(-d.scale))
	}
	if neg && strings.Trim(digits, "0.") != "" {
		digits = "-" + digits
	}
	return engine.Numeric(digits)
}

func (d decimal) rescale(s int32) decimal {
	if d.nan || s == d.scale {
		return d
	}
	if s > d.scale {
		return decimal{u: new(big.Int).Mul(d.u, pow10(s-d.scale)), scale: s}
	}
	// Round half away from zero, as PostgreSQL's numeric does.
	div := pow10(d.scale - s)
	q, r := new(big.Int).QuoRem(d.u, div, new(big.Int))
	r2 := new(big.Int).Mul(new(big.Int).Abs(r), big.NewInt(2))
	if r2.Cmp(div) >= 0 {
		if d.u.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return decimal{u: q, scale: s}
}

func decAlign(a, b decimal) (decimal, decimal) {
	if a.scale < b.scale {
		a = a.rescale(b.scale)
	} else if b.scale < a.scale {
		b = b.rescale(a.scale)
	}
	return a, b
}

func decAdd(a, b decimal) decimal {
	if a.nan || b.nan {
		return decimal{nan: true}
	}
	a, b = decAlign(a, b)
	return decimal{u: new(big.Int).Add(a.u, b.u), scale: a.scale}
}

func decSub(a, b decimal) decimal {
	if a.nan || b.nan {
		return decimal{nan: true}
	}
	a, b = decAlign(a, b)
	return decimal{u: new(big.Int).Sub(a.u, b.u), scale: a.scale}
}

func decMul(a, b decimal) decimal {
	if a.nan || b.nan {
		return decimal{nan: true}
	}
	return decimal{u: new(big.Int).Mul(a.u, b.u), scale: a.scale + b.scale}
}

func decDiv(a, b decimal) (decimal, error) {
	if a.nan || b.nan {
		return decimal{nan: true}, nil
	}
	if b.u.Sign() == 0 {
		return decimal{}, errorf(codeDivisionByZero, "division by zero")
	}
	// Result scale: at least 16 significant digits, at least the inputs'
	// scales (PostgreSQL's select_div_scale, simplified).
	fa, _ := new(big.Float).SetInt(a.u).Float64()
	fb, _ := new(big.Float).SetInt(b.u).Float64()
	q := math.Abs(fa/fb) * math.Pow(10, float64(b.scale-a.scale))
	// PostgreSQL counts in base-10000 digits: 16 significant decimal
	// digits, adjusted by the quotient's weight in groups of four.
	w := int32(0)
	if q > 0 && !math.IsInf(q, 0) {
		w = int32(math.Floor(math.Log10(q) / 4))
	}
	scale := 16 - 4*w
	scale = max(scale, a.scale, b.scale, 0)
	scale = min(scale, 1000)
	// a/b at scale s: a.u * 10^(s + b.scale - a.scale + 1) / b.u, then round.
	shift := scale + b.scale - a.scale + 1
	num := new(big.Int).Set(a.u)
	den := new(big.Int).Set(b.u)
	if shift >= 0 {
		num.Mul(num, pow10(shift))
	} else {
		den.Mul(den, pow10(-shift))
	}
	qq := new(big.Int).Quo(num, den)
	return decimal{u: qq, scale: scale + 1}.rescale(scale), nil
}

func decMod(a, b decimal) (decimal, error) {
	if b.u.Sign() == 0 {
		return decimal{}, errorf(codeDivisionByZero, "division by zero")
	}
	a, b = decAlign(a, b)
	return decimal{u: new(big.Int).Rem(a.u, b.u), scale: a.scale}, nil
}

func decCmp(a, b decimal) int {
	if a.nan || b.nan {
		switch {
		case a.nan && b.nan:
			return 0
		case a.nan:
			return 1
		}
		return -1
	}
	a, b = decAlign(a, b)
	return a.u.Cmp(b.u)
}

func (d decimal) float() float64 {
	if d.nan {
		return math.NaN()
	}
	f, _ := strconv.ParseFloat(string(d.numeric()), 64)
	return f
}

// toInt rounds half away from zero and reports whether it fits in int64.
func (d decimal) toInt() (int64, bool) {
	if d.nan {
		return 0, false
	}
	r := d.rescale(0)
	if !r.u.IsInt64() {
		return 0, false
	}
	return r.u.Int64(), true
}

// applyTypmod rounds d to numeric(prec, scale) and checks the precision.
func (d decimal) applyTypmod(prec, scale int32) (decimal, error) {
	if prec <= 0 || d.nan {
		return d, nil
	}
	r := d.rescale(scale)
	digits := int32(len(new(big.Int).Abs(r.u).String()))
	if r.u.Sign() != 0 && digits-scale > prec-scale {
		return decimal{}, &Error{Code: codeNumericRange, Msg: "numeric field overflow",
			Det: "A field with precision " + strconv.Itoa(int(prec)) + ", scale " + strconv.Itoa(int(scale)) + " must round to an absolute value less than 10^" + strconv.Itoa(int(prec-scale)) + "."}
	}
	return r, nil
}

// trimScale removes trailing fractional zeros (for aggregates like avg,
// whose PostgreSQL scale we do not model exactly).
func (d decimal) trimScale(minScale int32) decimal {
	for d.scale > minScale {
		q, r := new(big.Int).QuoRem(d.u, bigTen, new(big.Int))
		if r.Sign() != 0 {
			break
		}
		d = decimal{u: q, scale: d.scale - 1}
	}
	return d
}
