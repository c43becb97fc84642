package snapshot

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/heliosdb/heliosdb-lite/engine"
)

// keyLeaf agrees with engine.LeafOf for keys of every length around the
// XXH64 steps (4- and 8-byte rounds, the 32-byte stripe).
func TestKeyLeaf(t *testing.T) {
	rng := rand.New(rand.NewPCG(testSeed(t), 7))
	for n := 0; n <= 80; n++ {
		for range 50 {
			k := make([]byte, n)
			for i := range k {
				k[i] = byte(rng.Uint32())
			}
			if got, want := keyLeaf(k), engine.LeafOf(string(k)); got != want {
				t.Fatalf("key %x: leaf %d, engine.LeafOf %d", k, got, want)
			}
		}
	}
}

// The leaf sums the decode workers compute (ReaderOptions.LeafSums) are
// those of engine.LeafOf for every batch, in both layouts and every codec,
// and a Load (which hands them to the engine) builds tables whose leaf
// sums are the dumped tables': short keys, keys of 32 bytes and more, and
// a table in many batches.
func TestLoadLeafSums(t *testing.T) {
	rng := rand.New(rand.NewPCG(testSeed(t), 8))
	d := newDB(t)
	gen := genDef("g")
	d.create(gen)
	fill(d, gen, rng, 0, 6000)
	long := &engine.TableDef{Name: "long", PKName: "long_pkey", PrimaryKey: []int{0}, Columns: []engine.ColumnDef{
		{Name: "k", Type: engine.TypeText, NotNull: true}, {Name: "v", Type: engine.TypeInt8}}}
	d.create(long)
	var rows []engine.Row
	for i := range 500 {
		rows = append(rows, engine.Row{strings.Repeat("k", i%70) + strconv.Itoa(i), int64(i)})
	}
	d.insert(long, rows...)
	at := allTypesDef("at")
	d.create(at)
	d.insert(at, edgeRows()...)
	src := d.snap()
	for _, c := range []Compression{CompressNone, CompressLZ4, CompressZstd} {
		for _, rowBatches := range []bool{false, true} {
			o := fixedOpts(c)
			o.RowBatches = rowBatches
			file := dumpFull(t, src, o)
			rd := NewReaderWith(bytes.NewReader(file), ReaderOptions{CheckRows: true, LeafSums: true})
			batches := 0
			for {
				it, err := rd.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if it.Kind != ItemRows {
					continue
				}
				batches++
				if it.Batch.Leaves == nil {
					t.Fatalf("codec %v rows %v: batch %d of %s has no leaf sums", c, rowBatches, it.Batch.Index, it.Batch.Table)
				}
				var want engine.LeafSums
				for _, r := range it.Batch.Rows {
					want[engine.LeafOf(string(r.Key))] += r.Hash
				}
				if *it.Batch.Leaves != want {
					t.Fatalf("codec %v rows %v: batch %d of %s: leaf sums differ", c, rowBatches, it.Batch.Index, it.Batch.Table)
				}
			}
			rd.Close()
			if batches < 4 {
				t.Fatalf("only %d row batches: the test wants several", batches)
			}
			res, err := Load(context.Background(), bytes.NewReader(file), nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range src.TableNames() {
				a, _ := src.Table(name)
				b, _ := res.State.Table(name)
				if !slices.Equal(a.Leaves(), b.Leaves()) || a.HashSum() != b.HashSum() {
					t.Fatalf("codec %v rows %v: table %s: leaf or hash sums differ after Load", c, rowBatches, name)
				}
			}
		}
	}
}
