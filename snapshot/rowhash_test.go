package snapshot

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/heliosdb/heliosdb-lite/engine"
)

// hashWin, hashWin2 and hashWin4 agree with engine.RowHash for every prefix, key
// and encoding length around the XXH64 block and tail boundaries, whatever
// bytes surround the run (its length byte zeroed).
func TestRowHashInPlace(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	buf := make([]byte, 600)
	for _, table := range []string{"", "t", "bench", "seven77", "eight888", "a_longer_table_name_of_33_bytes_x", strings.Repeat("n", 70)} {
		var h rowHasher
		h.reset(table)
		for kl := 0; kl <= 40; kl++ {
			for el := 0; el <= 140; el++ {
				for i := range buf {
					buf[i] = byte(rng.Uint32())
				}
				ks := 40 + rng.IntN(16)
				key, enc := buf[ks:ks+kl], buf[ks+kl+1:ks+kl+1+el]
				want := engine.RowHash(table, string(key), string(enc))
				if n := h.pre + kl + 1 + el; h.winPre == h.pre && n >= 32 {
					buf[ks+kl] = 0
					if got := h.hashWin(buf, ks-h.pre, n); got != want {
						t.Fatalf("table %q key %d enc %d: %x, want %x", table, kl, el, got, want)
					}
					// a second window: the row 200 bytes on, with another length
					m := max(h.pre+kl+1+rng.IntN(100), 32)
					copy(buf[200+ks-h.pre:], buf[ks-h.pre:ks-h.pre+m])
					want2 := engine.RowHash(table, string(buf[200+ks:200+ks+kl]), string(buf[200+ks+kl+1:200+ks-h.pre+m]))
					if g0, g1 := h.hashWin2(buf, ks-h.pre, n, 200+ks-h.pre, m); g0 != want || g1 != want2 {
						t.Fatalf("pair: table %q key %d enc %d/%d: %x %x, want %x %x", table, kl, el, m, g0, g1, want, want2)
					}
					if n < 64 {
						checkWin4(t, &h, rng, buf[ks-h.pre:], kl, n, want)
					}
				}
				if got := h.hash(key, enc); got != want {
					t.Fatalf("hash: table %q key %d enc %d: %x, want %x", table, kl, el, got, want)
				}
			}
		}
	}
}

// checkWin4 checks hashWin4 on the window w[:n] (key length kl, hash
// want) and three more of the same key with other encodings, of 32 to 63
// bytes, at unaligned offsets.
func checkWin4(t *testing.T, h *rowHasher, rng *rand.Rand, w []byte, kl, n int, want uint64) {
	t.Helper()
	var bases, lens [4]int
	var wants [4]uint64
	b := make([]byte, 4*80)
	for i := range 4 {
		m := n
		if i > 0 {
			m = max(h.pre+kl+1+rng.IntN(64-h.pre-kl-1), 32)
		}
		bases[i], lens[i] = 80*i+rng.IntN(8), m
		copy(b[bases[i]:], w[:m])
		wants[i] = engine.RowHash(h.table, string(w[h.pre:h.pre+kl]), string(b[bases[i]+h.pre+kl+1:bases[i]+m]))
	}
	var got [4]uint64
	got[0], got[1], got[2], got[3] = h.hashWin4(b, bases[0], lens[0], bases[1], lens[1], bases[2], lens[2], bases[3], lens[3])
	if got != wants || wants[0] != want {
		t.Fatalf("four: table %q key %d lengths %v: %x, want %x", h.table, kl, lens, got, wants)
	}
}

// BenchmarkRowHash hashes the bench rows (parsed beforehand) on one core:
// copied into the scratch and hashed by xxhash.Sum64 ("scratch"), or in
// place with the length byte zeroed, one row at a time ("window"), two
// ("window2") or four ("window4").
func BenchmarkRowHash(b *testing.B) {
	snap, _ := benchSnap(b)
	batches := rawBatches(b, snap)
	type run struct {
		b, w       []byte // w: b with the run's length byte zeroed
		ks, kl, el int
	}
	var runs []run
	for _, bt := range batches {
		w := append([]byte(nil), bt...)
		for off := 0; off < len(bt); {
			kl, n := uvarintAt(bt, off)
			ks := off + n
			el, n2 := uvarintAt(bt, ks+int(kl))
			_, n3 := uvarintAt(bt, ks+int(kl)+n2+int(el))
			off = ks + int(kl) + n2 + int(el) + n3
			if n2 == 1 && off+8 <= len(bt) {
				w[ks+int(kl)] = 0
				runs = append(runs, run{bt, w, ks, int(kl), int(el)})
			}
		}
	}
	var h rowHasher
	h.reset("bench")
	for _, mode := range []string{"scratch", "window", "window2", "window4"} {
		b.Run(mode, func(b *testing.B) {
			var sum uint64
			start := processCPU()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for j := 0; j < len(runs); j++ {
					r := runs[j]
					if n := h.pre + r.kl + 1 + r.el; mode != "scratch" && (r.ks < h.pre || n < 32) {
						sum += h.hash(r.b[r.ks:r.ks+r.kl], r.b[r.ks+r.kl+1:r.ks+r.kl+1+r.el])
						continue
					}
					switch {
					case mode == "window4" && j+3 < len(runs) && &runs[j+3].w[0] == &r.w[0] && runs[j+1].kl == r.kl && runs[j+2].kl == r.kl && runs[j+3].kl == r.kl:
						q, u, v := runs[j+1], runs[j+2], runs[j+3]
						a, c, d, e := h.hashWin4(r.w, r.ks-h.pre, h.pre+r.kl+1+r.el, q.ks-h.pre, h.pre+q.kl+1+q.el, u.ks-h.pre, h.pre+u.kl+1+u.el, v.ks-h.pre, h.pre+v.kl+1+v.el)
						sum += a + c + d + e
						j += 3
					case mode == "window2" && j+1 < len(runs) && &runs[j+1].w[0] == &r.w[0] && h.pre+runs[j+1].kl+1+runs[j+1].el >= 32:
						q := runs[j+1]
						a, c := h.hashWin2(r.w, r.ks-h.pre, h.pre+r.kl+1+r.el, q.ks-h.pre, h.pre+q.kl+1+q.el)
						sum += a + c
						j++
					case mode == "scratch":
						sum += h.hash(r.b[r.ks:r.ks+r.kl], r.b[r.ks+r.kl+1:r.ks+r.kl+1+r.el])
					default:
						sum += h.hashWin(r.w, r.ks-h.pre, h.pre+r.kl+1+r.el)
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

// decodeRows zeroes the one-byte lengths while it hashes and puts them
// back: the input is unchanged afterwards, after an error too, and the
// hashes are engine.RowHash's.
func TestDecodeRowsRestoresInput(t *testing.T) {
	var h rowHasher
	h.reset("bench")
	var data []byte
	var want []uint64
	for i := 0; i < 150; i++ {
		key := engine.EncodeKey(nil, int64(i))
		enc := strings.Repeat("v", i%70)
		want = append(want, engine.RowHash("bench", string(key), enc))
		data = appendBytesU(data, key)
		data = appendBytesU(data, []byte(enc))
		data = appendUvarint(data, uint64(i))
	}
	for _, cut := range []int{len(data), len(data) - 1} { // the last LSN cut off: an error
		in := append([]byte(nil), data[:cut]...)
		rows := make([]Row, len(want))
		_, _, err := decodeRows(&h, in, rows)
		if (err != nil) != (cut < len(data)) || !bytes.Equal(in, data[:cut]) {
			t.Fatalf("cut %d: %v, input changed: %v", cut, err, !bytes.Equal(in, data[:cut]))
		}
		for i := 0; err == nil && i < len(rows); i++ {
			if rows[i].Hash != want[i] || rows[i].LSN != uint64(i) {
				t.Fatalf("row %d: hash %x lsn %d, want %x", i, rows[i].Hash, rows[i].LSN, want[i])
			}
		}
	}
}
