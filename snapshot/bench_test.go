package snapshot

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/heliosdb/heliosdb-lite/engine"
)

// Benchmarks: go test -run '^$' -bench . ./snapshot/
// Dataset size: SNAPSHOT_BENCH_MB (default 64) MB of logical row data, the
// rows of make bench (cmd/heliosdb-bench/dataset.go): a sequential bigint
// key, a small int, a short text from a vocabulary and a timestamp
// increasing with the key. MB/s are of logical data (the raw row entries);
// "ratio" is logical/file bytes.

var benchData struct {
	once sync.Once
	snap *engine.Snapshot
	raw  int64
}

func benchSnap(b *testing.B) (*engine.Snapshot, int64) {
	benchData.once.Do(func() {
		mb := 64
		if v, err := strconv.Atoi(os.Getenv("SNAPSHOT_BENCH_MB")); err == nil && v > 0 {
			mb = v
		}
		d := newDB(b)
		def := genDef("bench")
		d.create(def)
		rng := rand.New(rand.NewPCG(1, 1))
		n := mb << 20 / 40 // ~40 logical bytes per row
		for i := 0; i < n; i += 1000 {
			rows := make([]engine.Row, 0, 1000)
			for id := i; id < min(i+1000, n); id++ {
				rows = append(rows, benchRow(rng, int64(id)))
			}
			d.insert(def, rows...)
		}
		benchData.snap = d.snap()
		var buf countWriter
		s, err := WriteFull(context.Background(), &buf, benchData.snap, WriterOptions{Compression: CompressNone})
		if err != nil {
			b.Fatal(err)
		}
		benchData.raw = int64(s.RawBytes)
	})
	return benchData.snap, benchData.raw
}

// benchRow is cmd/heliosdb-bench's row (dataset.go).
func benchRow(rng *rand.Rand, id int64) engine.Row {
	const epochMicros = 1_700_000_000_000_000
	return engine.Row{id, int64(rng.IntN(1000)), words[rng.IntN(len(words))] + "-" + strconv.Itoa(rng.IntN(1000)),
		engine.Timestamp(epochMicros + id*1_000_000 + rng.Int64N(1_000_000))}
}

// cpuMeter reports logical MB per CPU second of the process (all
// goroutines and the garbage collector), which a busy shared machine
// disturbs far less than wall-clock MB/s.
type cpuMeter struct {
	start time.Duration
}

func startCPU(b *testing.B) *cpuMeter {
	b.ResetTimer()
	return &cpuMeter{start: processCPU()}
}

func (m *cpuMeter) report(b *testing.B, raw int64) {
	if d := processCPU() - m.start; d > 0 {
		b.ReportMetric(float64(raw)*float64(b.N)/1e6/d.Seconds(), "MB/cpu-s")
	}
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

var codecs = []struct {
	name string
	c    Compression
	rows bool // WriterOptions.RowBatches: the row layout of format 1.0
}{{"none", CompressNone, false}, {"lz4", CompressLZ4, false}, {"zstd3", CompressZstd, false}}

// layouts adds the row layout of the compressed codecs to codecs.
var layouts = append(codecs[:3:3], struct {
	name string
	c    Compression
	rows bool
}{"lz4-rows", CompressLZ4, true}, struct {
	name string
	c    Compression
	rows bool
}{"zstd3-rows", CompressZstd, true})

func BenchmarkEncode(b *testing.B) {
	snap, raw := benchSnap(b)
	for _, cc := range layouts {
		b.Run(cc.name, func(b *testing.B) {
			o := DefaultWriterOptions()
			o.Compression, o.Level, o.RowBatches = cc.c, 0, cc.rows
			b.SetBytes(raw)
			var out countWriter
			m := startCPU(b)
			for i := 0; i < b.N; i++ {
				out.n = 0
				if _, err := WriteFull(context.Background(), &out, snap, o); err != nil {
					b.Fatal(err)
				}
			}
			m.report(b, raw)
			b.ReportMetric(float64(raw)/float64(out.n), "ratio")
		})
	}
}

func encoded(b *testing.B, snap *engine.Snapshot, c Compression, rows bool) []byte {
	o := DefaultWriterOptions()
	o.Compression, o.Level, o.RowBatches = c, 0, rows
	var buf bytes.Buffer
	if _, err := WriteFull(context.Background(), &buf, snap, o); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkDecode reads every row of the file (verifying every checksum and
// the footer's row-hash sums) without building an engine state.
func BenchmarkDecode(b *testing.B) {
	snap, raw := benchSnap(b)
	for _, cc := range layouts {
		b.Run(cc.name, func(b *testing.B) {
			file := encoded(b, snap, cc.c, cc.rows)
			b.SetBytes(raw)
			m := startCPU(b)
			for i := 0; i < b.N; i++ {
				rd := NewReader(bytes.NewReader(file))
				for {
					_, err := rd.Next()
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				rd.Close()
			}
			m.report(b, raw)
			b.ReportMetric(float64(raw)/float64(len(file)), "ratio")
		})
	}
}

// BenchmarkLoad restores into an engine state (engine.Builder is the cost).
func BenchmarkLoad(b *testing.B) {
	snap, raw := benchSnap(b)
	for _, cc := range codecs {
		b.Run(cc.name, func(b *testing.B) {
			file := encoded(b, snap, cc.c, cc.rows)
			b.SetBytes(raw)
			m := startCPU(b)
			for i := 0; i < b.N; i++ {
				if _, err := Load(context.Background(), bytes.NewReader(file), nil); err != nil {
					b.Fatal(err)
				}
			}
			m.report(b, raw)
		})
	}
}

// rawBatches is the dump's raw batch bytes, cut as the writer cuts them.
func rawBatches(b *testing.B, snap *engine.Snapshot) [][]byte {
	var out [][]byte
	rd := NewReader(bytes.NewReader(encoded(b, snap, CompressNone, false)))
	defer rd.Close()
	var cur []byte
	for {
		it, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		if it.Kind != ItemRows {
			continue
		}
		cur = cur[:0]
		for _, r := range it.Batch.Rows {
			cur = appendRaw(cur, r)
		}
		out = append(out, bytes.Clone(cur))
	}
	return out
}

func appendRaw(dst []byte, r Row) []byte {
	dst = appendBytesU(dst, r.Key)
	dst = appendBytesU(dst, r.Enc)
	return appendUvarint(dst, r.LSN)
}

// BenchmarkCodec is the codec alone on the same batches with both cores
// (one goroutine per core, each compressing every other batch): the
// ceiling the format's encode and decode are compared with.
func BenchmarkCodec(b *testing.B) {
	snap, raw := benchSnap(b)
	batches := rawBatches(b, snap)
	workers := 2
	for _, cc := range codecs[1:] {
		b.Run(cc.name+"/compress", func(b *testing.B) {
			b.SetBytes(raw)
			var stored int64
			m := startCPU(b)
			for i := 0; i < b.N; i++ {
				var wg sync.WaitGroup
				var mu sync.Mutex
				stored = 0
				for w := 0; w < workers; w++ {
					wg.Add(1)
					go func(w int) {
						defer wg.Done()
						c, _ := newCompressor(cc.c, defaultLevel(cc.c))
						defer c.close()
						var out []byte
						var n int64
						for j := w; j < len(batches); j += workers {
							out, _ = c.compress(out[:0], batches[j])
							n += int64(len(out))
						}
						mu.Lock()
						stored += n
						mu.Unlock()
					}(w)
				}
				wg.Wait()
			}
			m.report(b, raw)
			b.ReportMetric(float64(raw)/float64(stored), "ratio")
		})
		b.Run(cc.name+"/decompress", func(b *testing.B) {
			c, _ := newCompressor(cc.c, defaultLevel(cc.c))
			comp := make([][]byte, len(batches))
			codec := make([]Compression, len(batches))
			for j, bt := range batches {
				var out []byte
				out, codec[j] = c.compress(nil, bt)
				comp[j] = out
			}
			c.close()
			b.SetBytes(raw)
			m := startCPU(b)
			for i := 0; i < b.N; i++ {
				var wg sync.WaitGroup
				for w := 0; w < workers; w++ {
					wg.Add(1)
					go func(w int) {
						defer wg.Done()
						d := newDecompressor()
						defer d.close()
						var dst []byte
						for j := w; j < len(comp); j += workers {
							out, err := d.decompress(dst, codec[j], comp[j], len(batches[j]))
							if err != nil {
								panic(err)
							}
							dst = out
						}
					}(w)
				}
				wg.Wait()
			}
			m.report(b, raw)
		})
	}
}

func defaultLevel(c Compression) int {
	o := WriterOptions{Compression: c}
	o.fill()
	return o.Level
}

func appendBytesU(dst, b []byte) []byte {
	dst = appendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

func appendUvarint(dst []byte, v uint64) []byte {
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

// BenchmarkColumns is the column layout alone on one core: building it
// from the raw batches (encode) and rebuilding and hashing the rows
// (decode).
func BenchmarkColumns(b *testing.B) {
	snap, raw := benchSnap(b)
	batches := rawBatches(b, snap)
	counts := make([]int, len(batches))
	for i, bt := range batches {
		for off := 0; off < len(bt); counts[i]++ {
			_, n1 := bytesAt(bt, off)
			_, n2 := bytesAt(bt, off+n1)
			_, n3 := uvarintAt(bt, off+n1+n2)
			off += n1 + n2 + n3
		}
	}
	var e colEncoder
	cols := make([][]byte, len(batches))
	for i, bt := range batches {
		var err error
		if cols[i], err = e.encode(nil, bt, counts[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("encode", func(b *testing.B) {
		b.SetBytes(raw)
		var out []byte
		m := startCPU(b)
		for i := 0; i < b.N; i++ {
			for j, bt := range batches {
				out, _ = e.encode(out[:0], bt, counts[j])
			}
		}
		m.report(b, raw)
	})
	b.Run("rows", func(b *testing.B) {
		// The row layout's parse and hash (decodeRows) on the same rows.
		b.SetBytes(raw)
		var h rowHasher
		h.reset("bench")
		var rows []Row
		m := startCPU(b)
		for i := 0; i < b.N; i++ {
			for j, bt := range batches {
				rows = append(rows[:0], make([]Row, counts[j])...)
				if _, _, err := decodeRows(&h, bt, rows); err != nil {
					b.Fatal(err)
				}
			}
		}
		m.report(b, raw)
	})
	for _, mode := range []string{"decode", "decode-by-row"} {
		b.Run(mode, func(b *testing.B) {
			benchColDecode(b, raw, cols, batches, counts, mode)
		})
	}
}

// benchColDecode rebuilds and hashes the rows of cols on one core, column
// at a time or (byRow) with the general row-by-row rebuild.
func benchColDecode(b *testing.B, raw int64, cols, batches [][]byte, counts []int, mode string) {
	b.SetBytes(raw)
	d := colDecoder{rowByRow: mode == "decode-by-row"}
	var h rowHasher
	h.reset("bench")
	var out []byte
	rows := make([]Row, 0)
	m := startCPU(b)
	for i := 0; i < b.N; i++ {
		for j, c := range cols {
			rows = append(rows[:0], make([]Row, counts[j])...)
			var err error
			if out, _, err = d.decode(out, c, rows, len(batches[j]), &h); err != nil {
				b.Fatal(err)
			}
		}
	}
	m.report(b, raw)
}
