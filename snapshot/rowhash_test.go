package snapshot

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/heliosdb/heliosdb-lite/engine"
)

// hashRun agrees with engine.RowHash for every prefix, key and encoding
// length around the XXH64 block and tail boundaries, whatever bytes
// surround the run.
func TestRowHashInPlace(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	buf := make([]byte, 400)
	for _, table := range []string{"", "t", "bench", "seven77", "eight888", "a_longer_table_name_of_33_bytes_x", strings.Repeat("n", 70)} {
		var h rowHasher
		h.reset(table)
		for kl := 0; kl <= 40; kl++ {
			for el := 0; el <= 140; el++ {
				for i := range buf {
					buf[i] = byte(rng.Uint32())
				}
				ks := rng.IntN(16)
				key, enc := buf[ks:ks+kl], buf[ks+kl+1:ks+kl+1+el]
				want := engine.RowHash(table, string(key), string(enc))
				if got := h.hashRun(buf, ks, kl, el); got != want {
					t.Fatalf("table %q key %d enc %d: %x, want %x", table, kl, el, got, want)
				}
				if got := h.hash(key, enc); got != want {
					t.Fatalf("hash: table %q key %d enc %d: %x, want %x", table, kl, el, got, want)
				}
			}
		}
	}
}

// BenchmarkRowHash hashes the bench rows (parsed beforehand) on one core:
// copied into the scratch and hashed by xxhash.Sum64 ("scratch"), or in
// place ("inplace").
func BenchmarkRowHash(b *testing.B) {
	snap, _ := benchSnap(b)
	batches := rawBatches(b, snap)
	type run struct {
		b          []byte
		ks, kl, el int
	}
	var runs []run
	for _, bt := range batches {
		for off := 0; off < len(bt); {
			kl, n := uvarintAt(bt, off)
			ks := off + n
			el, n2 := uvarintAt(bt, ks+int(kl))
			_, n3 := uvarintAt(bt, ks+int(kl)+n2+int(el))
			off = ks + int(kl) + n2 + int(el) + n3
			if n2 == 1 && off+8 <= len(bt) {
				runs = append(runs, run{bt, ks, int(kl), int(el)})
			}
		}
	}
	var h rowHasher
	h.reset("bench")
	for _, mode := range []string{"scratch", "inplace"} {
		b.Run(mode, func(b *testing.B) {
			var sum uint64
			start := processCPU()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for _, r := range runs {
					if mode == "scratch" {
						sum += h.hash(r.b[r.ks:r.ks+r.kl], r.b[r.ks+r.kl+1:r.ks+r.kl+1+r.el])
					} else {
						sum += h.hashRun(r.b, r.ks, r.kl, r.el)
					}
				}
			}
			b.ReportMetric(float64((processCPU()-start).Nanoseconds())/float64(b.N*len(runs)), "cpu-ns/row")
			sink = sum
		})
	}
}

var sink uint64

// A row length written in more bytes than it needs (no writer does) still
// hashes the row's own bytes, with room after the row for the in-place
// hash.
func TestDecodeRowsLongLength(t *testing.T) {
	var h rowHasher
	h.reset("t")
	data := append([]byte{1, 'k', 0x83, 0x00, 'a', 'b', 'c', 7}, make([]byte, 16)...)
	rows := make([]Row, 1)
	if _, off, err := decodeRows(&h, data, rows); err != nil || off != 8 {
		t.Fatal(off, err)
	}
	if want := engine.RowHash("t", "k", "abc"); rows[0].Hash != want || string(rows[0].Enc) != "abc" {
		t.Fatalf("%+v, hash want %x", rows[0], want)
	}
}
