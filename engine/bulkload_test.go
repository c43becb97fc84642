package engine

import (
	"bytes"
	"slices"
	"testing"
)

// The PutHashed fast path builds the same state as Apply: rows, index
// entries, hash sums and leaf sums, with a slow-path row after it.
// PutChecked (rows validated by the caller with CheckRow) builds the same.
func TestBuilderPutHashedMatchesApply(t *testing.T) {
	for _, checked := range []bool{false, true} {
		testBuilderPutHashed(t, checked)
	}
}

func testBuilderPutHashed(t *testing.T, checked bool) {
	def := benchDef(3)
	e, _ := loadRows(t, 5000, 3)
	src := e.Snapshot()
	tb, _ := src.Table("b")
	b := NewBuilder(src.LSN())
	b.TrustRows()
	if err := b.CreateTable(def, tb.Meta()); err != nil {
		t.Fatal(err)
	}
	tb.Scan(func(r RowRef) bool {
		put := b.PutHashed
		if checked {
			if err := CheckRow([]byte(r.Enc)); err != nil {
				t.Fatal(err)
			}
			put = b.PutChecked
		}
		if err := put("b", []byte(r.Key), []byte(r.Enc), r.LSN, r.Hash); err != nil {
			t.Fatal(err)
		}
		return true
	})
	got := b.Finish()
	gt, _ := got.Table("b")
	if gt.HashSum() != tb.HashSum() || !slices.Equal(gt.Leaves(), tb.Leaves()) || gt.Bytes() != tb.Bytes() {
		t.Fatal("hash, leaf sums or bytes differ")
	}
	if !bytes.Equal(Canonical(got), Canonical(src)) {
		t.Fatal("canonical encodings differ")
	}
	for ix := range def.Indexes {
		var a, c []string
		tb.IndexScan(ix, nil, nil, func(r RowRef) bool { a = append(a, r.Key); return true })
		gt.IndexScan(ix, nil, nil, func(r RowRef) bool { c = append(c, r.Key); return true })
		if !slices.Equal(a, c) {
			t.Fatalf("index %d differs", ix)
		}
	}
}

func TestBuilderPutHashedOutOfOrder(t *testing.T) {
	def := benchDef(1)
	b := NewBuilder(10)
	b.TrustRows()
	if err := b.CreateTable(def, TableMeta{}); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int64{5, 7, 6, 7} {
		enc, _ := EncodeRow(nil, benchRow(i))
		k := key(i)
		if err := b.PutHashed("b", []byte(k), enc, 3, RowHash("b", k, string(enc))); err != nil {
			t.Fatal(err)
		}
	}
	st := b.Finish()
	tb, _ := st.Table("b")
	n := 0
	tb.IndexScan(0, nil, nil, func(RowRef) bool { n++; return true })
	if tb.Len() != 3 || n != 3 {
		t.Fatalf("rows %d, index entries %d; want 3", tb.Len(), n)
	}
	e := New()
	_ = e.Apply(create(def), 1)
	cs := &ChangeSet{}
	for _, i := range []int64{5, 6, 7} {
		cs.Ops = append(cs.Ops, insertOp(t, def, benchRow(i)))
	}
	_ = e.Apply(cs, 2)
	ref, _ := e.Snapshot().Table("b")
	if ref.HashSum() != tb.HashSum() || !slices.Equal(ref.Leaves(), tb.Leaves()) {
		t.Fatal("sums differ from Apply")
	}
}

// CheckRow accepts what EncodeRow writes and refuses what DecodeRow
// refuses.
func TestCheckRow(t *testing.T) {
	good, err := EncodeRow(nil, Row{int64(1), nil, "x", Date(3), true, 2.5})
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckRow(good); err != nil {
		t.Fatal(err)
	}
	bad := [][]byte{
		nil,
		good[:len(good)-1], // truncated
		{1, 0x02},          // stray bit in the NULL bitmap past column 0
		{1, 0, tagBool, 2}, // bool neither 0 nor 1
		{1, 0, 0x7f},       // unknown tag
		{1, 0, tagDate, 0x80, 0x80, 0x80, 0x80, 0x20}, // date out of range
	}
	for i, b := range bad {
		_, _, derr := DecodeRow(b)
		if derr == nil {
			t.Fatalf("case %d: DecodeRow accepts %x", i, b)
		}
		if err := CheckRow(b); err == nil {
			t.Fatalf("case %d: CheckRow accepts %x", i, b)
		}
	}
}
