package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime"
	"sync"
	"time"

	"github.com/heliosdb/heliosdb-lite/engine"
	"github.com/heliosdb/heliosdb-lite/snapshot"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

var codecs = []struct {
	name string
	c    snapshot.Compression
}{{"none", snapshot.CompressNone}, {"lz4", snapshot.CompressLZ4}, {"zstd", snapshot.CompressZstd}}

func mbps(bytes int64, d time.Duration) float64 { return float64(bytes) / 1e6 / d.Seconds() }

// timeRuns runs fn n times and returns the durations.
func timeRuns(ctx context.Context, n int, fn func() error) ([]time.Duration, error) {
	var ds []time.Duration
	for i := 0; i < n; i++ {
		if err := ctx.Err(); err != nil {
			return ds, err
		}
		runtime.GC()
		t0 := time.Now()
		if err := fn(); err != nil {
			return ds, err
		}
		ds = append(ds, time.Since(t0))
	}
	return ds, nil
}

func rates(bytes int64, ds []time.Duration) stat {
	var xs []float64
	for _, d := range ds {
		xs = append(xs, mbps(bytes, d))
	}
	return newStat(xs)
}

func dumpFile(snap *engine.Snapshot, c snapshot.Compression) ([]byte, *snapshot.Summary, error) {
	var buf bytes.Buffer
	o := snapshot.DefaultWriterOptions()
	o.Compression, o.Level = c, 0
	sum, err := snapshot.WriteFull(context.Background(), &buf, snap, o)
	return buf.Bytes(), sum, err
}

// rawBatches cuts the logical rows the way the writer does (2 MiB
// batches), for the raw-codec anchor.
func rawBatches(file []byte) ([][]byte, error) {
	rd := snapshot.NewReader(bytes.NewReader(file))
	defer rd.Close()
	var out [][]byte
	for {
		it, err := rd.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if it.Kind != snapshot.ItemRows {
			continue
		}
		var b []byte
		for _, r := range it.Batch.Rows {
			b = appendUvarint(b, uint64(len(r.Key)))
			b = append(b, r.Key...)
			b = appendUvarint(b, uint64(len(r.Enc)))
			b = append(b, r.Enc...)
			b = appendUvarint(b, r.LSN)
		}
		out = append(out, b)
	}
}

func appendUvarint(dst []byte, v uint64) []byte {
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

// parallel runs fn(i) for every batch on GOMAXPROCS goroutines, each with
// its own codec state from mk.
func parallel[S any](n int, mk func() S, fn func(s S, i int)) {
	w := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for g := 0; g < w; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			s := mk()
			for i := g; i < n; i += w {
				fn(s, i)
			}
		}(g)
	}
	wg.Wait()
}

// rawCodec measures the codec alone on the batches with every core:
// compress and decompress MB/s of logical data. Apples to apples with the
// writer and reader: the same 2 MiB row batches, the same level (lz4 fast,
// zstd 3), one single-threaded codec state per goroutine and GOMAXPROCS
// goroutines (the writer's and reader's worker count), output buffers
// reused from batch to batch as the writer's pooled ones are. The writer
// compresses its column layout of these rows (format 1.1), so the codec
// here works on more bytes than the writer's does.
func rawCodec(ctx context.Context, runs int, name string, batches [][]byte, raw int64) (comp, decomp stat, err error) {
	type zs struct {
		e   *zstd.Encoder
		d   *zstd.Decoder
		lz  lz4.Compressor
		buf []byte
	}
	out := make([][]byte, len(batches))
	mk := func() *zs {
		e, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(3)), zstd.WithEncoderConcurrency(1), zstd.WithEncoderCRC(false))
		d, _ := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
		return &zs{e: e, d: d}
	}
	compress := func(s *zs, i int) {
		if name == "lz4" {
			bound := lz4.CompressBlockBound(len(batches[i]))
			if cap(s.buf) < bound {
				s.buf = make([]byte, bound)
			}
			n, _ := s.lz.CompressBlock(batches[i], s.buf[:bound])
			out[i] = s.buf[:n]
			return
		}
		s.buf = s.e.EncodeAll(batches[i], s.buf[:0])
		out[i] = s.buf
	}
	ds, err := timeRuns(ctx, runs, func() error { parallel(len(batches), mk, compress); return nil })
	if err != nil {
		return comp, decomp, err
	}
	comp = rates(raw, ds)
	// Keep one compressed copy of every batch for the decompression runs.
	keep := func(s *zs, i int) {
		compress(s, i)
		out[i] = bytes.Clone(out[i])
	}
	parallel(len(batches), mk, keep)
	dsts := make([][]byte, len(batches))
	for i := range dsts {
		dsts[i] = make([]byte, len(batches[i]))
	}
	var derr error
	var mu sync.Mutex
	decompress := func(s *zs, i int) {
		var e error
		if name == "lz4" {
			_, e = lz4.UncompressBlock(out[i], dsts[i])
		} else {
			_, e = s.d.DecodeAll(out[i], dsts[i][:0])
		}
		if e != nil {
			mu.Lock()
			derr = e
			mu.Unlock()
		}
	}
	ds, err = timeRuns(ctx, runs, func() error { parallel(len(batches), mk, decompress); return derr })
	return comp, rates(raw, ds), err
}

// inProcess measures the .heliodump writer, reader and restore on the
// engine state, the raw codec on the same bytes, snapshots full vs
// incremental, engine apply and memory.
func inProcess(ctx context.Context, cfg config, rep *report, ours map[string]stat, logf func(string, ...any)) (*engine.Engine, int64, error) {
	n := rowsFor(cfg)
	logf("building an engine with %d rows", n)
	e, err := buildEngine(n, 1)
	if err != nil {
		return nil, 0, err
	}
	snap := e.Snapshot()
	var raw int64
	files := map[string][]byte{}
	for _, cc := range codecs {
		f, sum, err := dumpFile(snap, cc.c)
		if err != nil {
			return nil, 0, err
		}
		files[cc.name], raw = f, int64(sum.RawBytes)
	}
	logf("dataset: %d rows, %.1f MB logical", n, float64(raw)/1e6)
	batches, err := rawBatches(files["none"])
	if err != nil {
		return nil, 0, err
	}
	enc := map[string]stat{}
	dec := map[string]stat{}
	load := map[string]stat{}
	for _, cc := range codecs {
		logf("encode/decode/restore %s", cc.name)
		o := snapshot.DefaultWriterOptions()
		o.Compression, o.Level = cc.c, 0
		ds, err := timeRuns(ctx, cfg.Runs, func() error {
			_, err := snapshot.WriteFull(ctx, &countWriter{}, snap, o)
			return err
		})
		if err != nil {
			return nil, 0, err
		}
		enc[cc.name] = rates(raw, ds)
		ds, err = timeRuns(ctx, cfg.Runs, func() error { return readAll(files[cc.name]) })
		if err != nil {
			return nil, 0, err
		}
		dec[cc.name] = rates(raw, ds)
		ds, err = timeRuns(ctx, cfg.Runs, func() error {
			_, err := snapshot.Load(ctx, bytes.NewReader(files[cc.name]), nil)
			return err
		})
		if err != nil {
			return nil, 0, err
		}
		load[cc.name] = rates(raw, ds)
	}
	for _, cc := range codecs {
		ours["enc "+cc.name], ours["load "+cc.name] = enc[cc.name], load[cc.name]
	}
	guideDump := map[string]float64{"none": 66, "lz4": 45, "zstd": 28}
	guideRestore := map[string]float64{"none": 40, "lz4": 33, "zstd": 25}
	for _, cc := range codecs {
		ratio := float64(raw) / float64(len(files[cc.name]))
		rep.add(row{Name: "encode " + cc.name + " (in-process writer)", Unit: "MB/s", Ours: enc[cc.name], AnchorName: "guide dump", AnchorFixed: guideDump[cc.name],
			Target: targetEnc(cc.name), Met: metEnc(cc.name, enc[cc.name]), Note: fmt.Sprintf("compression ratio %.2f×", ratio)})
	}
	for _, cc := range codecs {
		t, m := "≥1000", dec[cc.name].Med >= 1000
		if cc.name == "zstd" {
			t, m = "≥500", dec[cc.name].Med >= 500
		}
		rep.add(row{Name: "decode " + cc.name + " (reader, CRC + row hashes)", Unit: "MB/s", Ours: dec[cc.name], AnchorName: "guide restore", AnchorFixed: guideRestore[cc.name], Target: t, Met: met(m)})
	}
	for _, cc := range codecs {
		rep.add(row{Name: "restore " + cc.name + " into engine (Load)", Unit: "MB/s", Ours: load[cc.name], AnchorName: "guide restore", AnchorFixed: guideRestore[cc.name], Target: "≥300", Met: met(load[cc.name].Med >= 300)})
	}
	for _, name := range []string{"lz4", "zstd"} {
		logf("raw codec %s", name)
		comp, decomp, err := rawCodec(ctx, cfg.Runs, name, batches, raw)
		if err != nil {
			return nil, 0, err
		}
		ours["raw comp "+name] = comp
		rep.add(row{Name: "codec " + name + ": our encode vs raw compressor", Unit: "MB/s", Ours: enc[name], AnchorName: "raw " + name + " all cores", Anchor: comp,
			Target: "≥0.90×", HigherBetter: true, Met: met(enc[name].Med >= 0.9*comp.Med)})
		rep.add(row{Name: "codec " + name + ": our decode vs raw decompressor", Unit: "MB/s", Ours: dec[name], AnchorName: "raw " + name + " all cores", Anchor: decomp, HigherBetter: true})
	}
	return e, raw, nil
}

func targetEnc(name string) string {
	if name == "none" {
		return "≥1000"
	}
	return "≥0.90× raw codec (below)"
}

func metEnc(name string, s stat) *bool {
	if name == "none" {
		return met(s.Med >= 1000)
	}
	return nil
}

func readAll(file []byte) error {
	rd := snapshot.NewReader(bytes.NewReader(file))
	defer rd.Close()
	for {
		_, err := rd.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// runInProcessOnly is -only inproc: the in-process rows (writer, reader,
// restore, raw codecs) and the engine rows, without PostgreSQL, the wire
// rows or any cluster, to iterate on the format and the engine at any
// -size.
func runInProcessOnly(ctx context.Context, cfg config, rep *report, logf func(string, ...any)) (*report, error) {
	ours := map[string]stat{}
	e, _, err := inProcess(ctx, cfg, rep, ours, logf)
	if err != nil {
		return rep, err
	}
	logf("engine rows")
	if err := engineRows(ctx, cfg, rep, e); err != nil {
		return rep, err
	}
	rep.Elapsed = time.Since(rep.Started)
	rep.Env = append(rep.Env, fmt.Sprintf("in-process and engine rows only (-only inproc): elapsed %s", rep.Elapsed.Round(time.Second)))
	return rep, ctx.Err()
}
