package engine

import (
	"bytes"
	"math"
	"math/rand"
	"reflect"
	"sort"
	"strings"
	"testing"
)

func TestRowCodecRoundTrip(t *testing.T) {
	big := bytes.Repeat([]byte{0, 1, 2, 0xFF}, 1<<16)
	cases := []Row{
		{},
		{nil},
		{int64(0), int64(-1), int64(math.MaxInt64), int64(math.MinInt64)},
		{0.0, math.Copysign(0, -1), math.Inf(1), math.Inf(-1), math.SmallestNonzeroFloat64, math.MaxFloat64},
		{Numeric("0"), Numeric("-123456789012345678901234567890.000000000000000000001"), Numeric("NaN")},
		{true, false, nil, ""},
		{"", "héllo wörld ✓", strings.Repeat("x", 1000), "\x00nul"},
		{[]byte{}, big},
		{Date(0), Date(-2440588), Date(math.MaxInt32), Timestamp(0), Timestamp(math.MinInt64), Timestamp(math.MaxInt64)},
		{UUID{}, UUID{0xFF, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}},
		{nil, nil, nil, nil, nil, nil, nil, nil, nil, int64(1)},
	}
	for i, r := range cases {
		b, err := EncodeRow(nil, r)
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		got, n, err := DecodeRow(b)
		if err != nil || n != len(b) {
			t.Fatalf("%d: n=%d/%d err=%v", i, n, len(b), err)
		}
		if len(r) == 0 && len(got) == 0 {
			continue
		}
		for j := range r {
			if f, ok := r[j].(float64); ok && math.Signbit(f) != math.Signbit(got[j].(float64)) {
				t.Fatalf("%d/%d: sign of zero lost", i, j)
			}
		}
		if !reflect.DeepEqual(normBytes(r), normBytes(got)) {
			t.Fatalf("%d: got %#v want %#v", i, got, r)
		}
		// Canonical: re-encoding gives the same bytes.
		b2, _ := EncodeRow(nil, got)
		if !bytes.Equal(b, b2) {
			t.Fatalf("%d: not canonical", i)
		}
	}
	// Every NaN encodes the same way.
	a, _ := EncodeRow(nil, Row{math.NaN()})
	b, _ := EncodeRow(nil, Row{math.Float64frombits(0x7FF0000000000001)})
	if !bytes.Equal(a, b) {
		t.Fatal("NaN payloads leak into the encoding")
	}
}

func normBytes(r Row) Row {
	out := make(Row, len(r))
	for i, v := range r {
		if b, ok := v.([]byte); ok && len(b) == 0 {
			v = []byte{}
		}
		out[i] = v
	}
	return out
}

func TestDecodeRowRejectsTruncation(t *testing.T) {
	b, _ := EncodeRow(nil, Row{int64(5), "hello", 1.5, UUID{1}})
	for i := 0; i < len(b); i++ {
		if _, _, err := DecodeRow(b[:i]); err == nil {
			t.Fatalf("truncation at %d not detected", i)
		}
	}
}

func TestKeyEncodingPreservesOrder(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	gens := map[string]func() Value{
		"int":   func() Value { return rng.Int63() - rng.Int63() },
		"float": func() Value { return rng.NormFloat64() * math.Pow(10, float64(rng.Intn(20)-10)) },
		"text": func() Value {
			b := make([]byte, rng.Intn(6))
			for i := range b {
				b[i] = byte(rng.Intn(4)) // includes 0x00 to test escaping
			}
			return string(b)
		},
		"ts": func() Value { return Timestamp(rng.Int63() - rng.Int63()) },
	}
	less := func(a, b Value) bool {
		switch x := a.(type) {
		case int64:
			return x < b.(int64)
		case float64:
			return x < b.(float64)
		case string:
			return x < b.(string)
		case Timestamp:
			return x < b.(Timestamp)
		}
		panic("type")
	}
	for name, gen := range gens {
		vals := make([]Value, 500)
		for i := range vals {
			vals[i] = gen()
		}
		sort.Slice(vals, func(i, j int) bool { return less(vals[i], vals[j]) })
		for i := 1; i < len(vals); i++ {
			a, b := EncodeKey(nil, vals[i-1], int64(1)), EncodeKey(nil, vals[i], int64(0))
			if less(vals[i-1], vals[i]) && bytes.Compare(a, b) >= 0 {
				t.Fatalf("%s: order broken between %v and %v", name, vals[i-1], vals[i])
			}
		}
	}
	// NULL sorts last; -0 equals +0.
	if bytes.Compare(EncodeKey(nil, int64(math.MaxInt64)), EncodeKey(nil, nil)) >= 0 {
		t.Fatal("NULL does not sort last")
	}
	if !bytes.Equal(EncodeKey(nil, 0.0), EncodeKey(nil, math.Copysign(0, -1))) {
		t.Fatal("-0 and +0 differ as keys")
	}
}

func TestChangeSetRoundTrip(t *testing.T) {
	def := usersDef()
	def.Columns[1].Default = "'x'::text"
	def.Columns[0].Identity = true
	cs := &ChangeSet{
		Preconditions: []Precondition{
			{Kind: PreRowLSN, Table: "users", Key: key(int64(1)), LSN: 7},
			{Kind: PreAbsent, Table: "users", Key: key(int64(2))},
			{Kind: PreSequence, Table: "users", Seq: -1, Value: 9},
			{Kind: PreSchema, Table: "users", TableLSN: 3},
		},
		Ops: []Op{
			{Kind: OpCreateTable, Table: "users", Def: def},
			insertOp(t, def, Row{int64(1), "a", nil}),
			{Kind: OpDelete, Table: "users", Key: key(int64(1))},
			{Kind: OpCreateIndex, Table: "users", Index: &IndexDef{Name: "i", Columns: []int{1, 2}, Unique: true}},
			{Kind: OpDropIndex, Table: "users", Name: "i"},
			{Kind: OpAlterTable, Table: "users", Alter: &Alter{Kind: AlterAddColumn, Column: ColumnDef{Name: "z", Type: TypeVarchar, Length: 5}, Fill: "abc", Columns: []int{1}}},
			{Kind: OpTruncate, Table: "users"},
			{Kind: OpSetSequence, Table: "users", Seq: 0, Value: 42},
			{Kind: OpDropTable, Table: "users"},
		},
	}
	b := cs.Encode(nil)
	got, err := DecodeChangeSet(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Encode(nil), b) {
		t.Fatal("re-encoding differs")
	}
	if !reflect.DeepEqual(got.Ops[0].Def, def) {
		t.Fatalf("def: %#v", got.Ops[0].Def)
	}
	for i := 0; i < len(b); i++ {
		if _, err := DecodeChangeSet(b[:i]); err == nil {
			t.Fatalf("truncation at %d accepted", i)
		}
	}
	b[0] = 99
	if _, err := DecodeChangeSet(b); err == nil || !strings.Contains(err.Error(), "version 99") {
		t.Fatalf("unknown version: %v", err)
	}
}

func FuzzDecodeChangeSet(f *testing.F) {
	def := usersDef()
	f.Add((&ChangeSet{Ops: []Op{{Kind: OpCreateTable, Table: "users", Def: def}}}).Encode(nil))
	f.Add((&ChangeSet{Preconditions: []Precondition{{Kind: PreRowLSN, Table: "t", Key: "k", LSN: 1}}, Ops: []Op{{Kind: OpDelete, Table: "t", Key: "k"}}}).Encode(nil))
	f.Add([]byte{1, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		cs, err := DecodeChangeSet(b)
		if err != nil {
			return
		}
		// Whatever decodes must re-encode to something that decodes alike,
		// and applying it must never panic.
		again, err := DecodeChangeSet(cs.Encode(nil))
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !bytes.Equal(again.Encode(nil), cs.Encode(nil)) {
			t.Fatal("not stable")
		}
		e := New()
		_ = e.Apply(cs, 1)
	})
}

func FuzzDecodeRow(f *testing.F) {
	b, _ := EncodeRow(nil, Row{int64(1), "x", nil, 2.5, UUID{1}, Numeric("1.5"), []byte{1}, Date(3), Timestamp(4), true})
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, n, err := DecodeRow(b)
		if err != nil {
			return
		}
		again, err := EncodeRow(nil, r)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, b[:n]) {
			// Only non-canonical NaN payloads may differ.
			r2, _, err := DecodeRow(again)
			if err != nil || len(r2) != len(r) {
				t.Fatalf("re-encode differs: %x vs %x", again, b[:n])
			}
		}
	})
}
