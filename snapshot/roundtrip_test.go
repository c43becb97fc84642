package snapshot

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/heliosdb/heliosdb-lite/engine"
)

func edgeDB(t testing.TB) (*db, *engine.TableDef) {
	d := newDB(t)
	def := allTypesDef("edge")
	d.create(def)
	d.insert(def, edgeRows()...)
	d.apply(engine.Op{Kind: engine.OpSetSequence, Table: "edge", Seq: 17, Value: 42})
	d.create(&engine.TableDef{Name: "empty", Columns: []engine.ColumnDef{{Name: "a", Type: engine.TypeText}}})
	g := genDef("gen")
	d.create(g)
	fill(d, g, rand.New(rand.NewPCG(1, 2)), 0, 5000)
	d.del(g, engine.Row{int64(7)})
	return d, def
}

func TestRoundTripAllTypes(t *testing.T) {
	d, _ := edgeDB(t)
	src := d.snap()
	for _, c := range []Compression{CompressNone, CompressLZ4, CompressZstd} {
		for _, lvl := range []int{0, 9} {
			if c == CompressNone && lvl != 0 {
				continue
			}
			o := fixedOpts(c)
			o.Level = lvl
			b := dumpFull(t, src, o)
			res, err := Load(context.Background(), bytes.NewReader(b), nil)
			if err != nil {
				t.Fatalf("%v/%d: %v", c, lvl, err)
			}
			sameState(t, src, res.State)
			// Deterministic: the same inputs give the same bytes.
			if b2 := dumpFull(t, src, o); !bytes.Equal(b, b2) {
				t.Fatalf("%v: two dumps of the same state differ", c)
			}
			// Decoded values equal the source's (not only the bytes).
			tb, _ := res.State.Table("edge")
			i := 0
			want := edgeRows()
			tb.Scan(func(r engine.RowRef) bool {
				row, err := r.Decode()
				if err != nil {
					t.Fatal(err)
				}
				_ = row
				i++
				return true
			})
			if i != len(want) {
				t.Fatalf("%d rows", i)
			}
		}
	}
}

func TestIncrementalAppendAndChain(t *testing.T) {
	d, def := edgeDB(t)
	g := genDef("gen")
	dir := t.TempDir()
	base := dir + "/base.heliodump"
	o := fixedOpts(CompressZstd)
	s0 := d.snap()
	if err := WriteFileAtomic(base, func(w io.Writer) error { _, err := WriteFull(context.Background(), w, s0, o); return err }); err != nil {
		t.Fatal(err)
	}
	// Changes: update, delete, a unique value moving between rows, a new
	// table, a dropped table, a truncated table.
	d.insert(g, engine.Row{int64(1), int64(5), "changed", nil})
	d.del(g, engine.Row{int64(2)})
	d.del(def, edgeRows()[4])
	d.insert(def, engine.Row{int64(100), nil, nil, nil, nil, nil, nil, "new", nil, nil, nil, nil, nil, nil, engine.UUID{2}, nil, nil, nil})
	d.create(genDef("later"))
	d.apply(engine.Op{Kind: engine.OpDropTable, Table: "empty"})
	s1 := d.snap()
	incPath := base + ".inc1"
	if err := WriteFileAtomic(incPath, func(w io.Writer) error {
		_, err := WriteIncremental(context.Background(), w, s1, s0.LSN(), o)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	ar, err := AppendIncremental(context.Background(), base, s1, o)
	if err != nil {
		t.Fatal(err)
	}
	if ar.BaseLSN != s0.LSN() || ar.LastLSN != s1.LSN() {
		t.Fatalf("append LSNs %d..%d", ar.BaseLSN, ar.LastLSN)
	}
	d.apply(engine.Op{Kind: engine.OpTruncate, Table: "gen"})
	d.insert(g, engine.Row{int64(9), int64(9), "after truncate", nil})
	s2 := d.snap()
	if _, err := AppendIncremental(context.Background(), base, s2, o); err != nil {
		t.Fatal(err)
	}
	res, err := LoadChain(context.Background(), []string{base})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Segments) != 3 {
		t.Fatalf("%d segments", len(res.Segments))
	}
	sameState(t, s2, res.State)

	// base (only its first segment) + inc1 as separate files.
	sep := dir + "/sep.heliodump"
	if err := WriteFileAtomic(sep, func(w io.Writer) error { _, err := WriteFull(context.Background(), w, s0, o); return err }); err != nil {
		t.Fatal(err)
	}
	res, err = LoadChain(context.Background(), []string{sep, incPath})
	if err != nil {
		t.Fatal(err)
	}
	sameState(t, s1, res.State)
	// Gap / order refusal.
	inc2 := dir + "/sep.heliodump.inc2"
	if err := WriteFileAtomic(inc2, func(w io.Writer) error {
		_, err := WriteIncremental(context.Background(), w, s2, s1.LSN(), o)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadChain(context.Background(), []string{sep, inc2}); !errors.Is(err, ErrLSNGap) {
		t.Fatalf("gap: %v", err)
	} else {
		t.Log(err)
	}
	if _, err := LoadChain(context.Background(), []string{sep, inc2, incPath}); !errors.Is(err, ErrLSNGap) {
		t.Fatalf("order: %v", err)
	}
	if _, err := LoadChain(context.Background(), []string{incPath}); !errors.Is(err, ErrLSNGap) {
		t.Fatalf("no base: %v", err)
	}
	res, err = LoadChain(context.Background(), []string{sep, incPath, inc2})
	if err != nil {
		t.Fatal(err)
	}
	sameState(t, s2, res.State)
}
