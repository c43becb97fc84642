package snapshot

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/heliosdb/heliosdb-lite/engine"
)

// encodeBoth encodes raw (n rows) with plans and the generic way and fails
// unless both give the same bytes or both refuse the batch. It returns
// the layout (nil when refused).
func encodeBoth(t *testing.T, e, g *colEncoder, raw []byte, n int) []byte {
	t.Helper()
	c1, err1 := e.encode(nil, raw, n)
	c2, err2 := g.encode(nil, raw, n)
	if (err1 == nil) != (err2 == nil) {
		t.Fatalf("plans: %v, generic: %v", err1, err2)
	}
	if err1 != nil {
		return nil
	}
	if !bytes.Equal(c1, c2) {
		t.Fatalf("plans and generic encodings differ:\n%x\n%x", c1, c2)
	}
	return c1
}

// randColBatch is a batch of n rows over ncols columns with the mixes
// that take the plans' other ways: NULLs in some columns (shapes > 8
// bytes when ncols > 56, more shapes than maxEncPlans), integers negative,
// at and past eight varint bytes, changing sign; a column whose values
// change type behind the same NULL bitmap; strings of 127 bytes and
// longer; keys short, of 9 to 16 bytes, long, composite; LSNs of 1 to 10
// bytes.
func randColBatch(rng *rand.Rand, n, ncols int, nullP float64, mixTypes bool) ([][]byte, []engine.Row, []uint64) {
	keys := make([][]byte, n)
	rows := make([]engine.Row, n)
	lsns := make([]uint64, n)
	keyKind := rng.IntN(5)
	ints := []int64{0, 1, -1, 63, 64, -65, 1 << 20, 1<<55 - 1, 1 << 55, -1 << 55, math.MaxInt64, math.MinInt64}
	lsn := rng.Uint64N(1 << 20)
	for i := range rows {
		r := make(engine.Row, ncols)
		for c := range r {
			if rng.Float64() < nullP {
				continue
			}
			kind := c % 9
			if mixTypes && c == 0 && rng.IntN(3) == 0 {
				kind = 7 // a string where integers are expected
			}
			switch kind {
			case 0, 1:
				if rng.IntN(4) == 0 {
					r[c] = ints[rng.IntN(len(ints))]
				} else {
					r[c] = int64(i*1000) + rng.Int64N(50) - 10
				}
			case 2:
				r[c] = engine.Timestamp(1_700_000_000_000_000 + int64(i)*1_000_000 + rng.Int64N(1_000_000))
			case 3:
				r[c] = rng.Float64()
			case 4:
				r[c] = rng.IntN(2) == 0
			case 5:
				r[c] = engine.UUID{byte(i), byte(c)}
			case 6:
				r[c] = engine.Date(rng.Int64N(40000) - 20000)
			case 7:
				r[c] = strings.Repeat("t", []int{0, 3, 14, 15, 16, 127, 128, 300}[rng.IntN(8)])
			default:
				r[c] = []byte{byte(i), 2, 3}[:rng.IntN(4)]
			}
		}
		rows[i] = r
		switch keyKind {
		case 0:
			keys[i] = engine.EncodeKey(nil, int64(i*7))
		case 1:
			keys[i] = []byte{byte(i)}[:rng.IntN(2)]
		case 2:
			keys[i] = binary.BigEndian.AppendUint64([]byte("ab\x00")[:1+rng.IntN(3)], uint64(i)*1000)
		case 3:
			keys[i] = binary.BigEndian.AppendUint64([]byte(strings.Repeat("p", 130)), uint64(i))
		default:
			keys[i] = binary.BigEndian.AppendUint64([]byte("12345678"), rng.Uint64())
		}
		switch rng.IntN(8) {
		case 0:
			lsn = rng.Uint64()
		case 1:
			lsn -= rng.Uint64N(100)
		default:
			lsn += rng.Uint64N(3)
		}
		lsns[i] = lsn
	}
	return keys, rows, lsns
}

// The plans and the generic way write the same bytes for every batch, and
// the decoder rebuilds it; every single-byte change of a batch is refused
// by both or encoded alike.
func TestColumnEncodePlansAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(testSeed(t), 7))
	var e, g colEncoder
	g.generic = true
	var d colDecoder
	var h rowHasher
	for it := 0; it < 300; it++ {
		n := 1 + rng.IntN(80)
		ncols := []int{1, 4, 9, 56, 57, 70}[rng.IntN(6)]
		nullP := []float64{0, 0, 0.05, 0.5}[rng.IntN(4)]
		keys, rows, lsns := randColBatch(rng, n, ncols, nullP, it%5 == 0)
		raw := colRaw(t, keys, rows, lsns)
		cols := encodeBoth(t, &e, &g, raw, n)
		if cols == nil {
			t.Fatalf("batch %d refused", it)
		}
		h.reset("t")
		if out, _, err := d.decode(nil, cols, make([]Row, n), len(raw), &h); err != nil || !bytes.Equal(out, raw) {
			t.Fatalf("batch %d: rebuilt rows differ (%v)", it, err)
		}
		if it%10 == 0 && len(raw) < 4<<10 {
			m := bytes.Clone(raw)
			for i := range m {
				for _, x := range []byte{1, 0x80, 0xff} {
					m[i] ^= x
					encodeBoth(t, &e, &g, m, n)
					m[i] ^= x
				}
			}
		}
	}
}

// A varint written in more bytes than needed (no engine writes one) is
// read as its value by both ways.
func TestColumnEncodeLongVarint(t *testing.T) {
	var raw []byte
	for i := 0; i < 40; i++ {
		enc := []byte{2, 0, tagInt, 0x84, 0x80, 0x00, tagTimestamp, 0x80 | byte(i), 0x01}
		raw = append(raw, 1, byte(i), byte(len(enc)))
		raw = append(raw, enc...)
		raw = append(raw, 5)
	}
	var e, g colEncoder
	g.generic = true
	if encodeBoth(t, &e, &g, raw, 40) == nil {
		t.Fatal("refused")
	}
}
