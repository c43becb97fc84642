package snapshot

import (
	"fmt"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// compressor compresses batches with one codec and level. One per worker
// goroutine: none of the codec states are safe for concurrent use.
type compressor struct {
	codec Compression
	level int
	lz4   lz4.Compressor
	lz4hc lz4.CompressorHC
	zstd  *zstd.Encoder
}

// zstdLevel maps the user's zstd level (1-19, as the zstd CLI) to the
// klauspost encoder levels, which approximate the reference levels by
// ratio: 1-2 fastest (~zstd 1), 3-5 default (~zstd 3), 6-9 better
// (~zstd 7), 10-19 best (~zstd 11). klauspost has no slower levels.
func zstdLevel(level int) zstd.EncoderLevel { return zstd.EncoderLevelFromZstd(level) }

// lz4Level maps 1 to LZ4's fast compressor and 2-9 to LZ4-HC with that
// search depth (lz4.Level2..Level9).
func lz4Level(level int) lz4.CompressionLevel {
	if level <= 1 {
		return lz4.Fast
	}
	return lz4.CompressionLevel(1 << (8 + level - 1))
}

func newCompressor(codec Compression, level int) (*compressor, error) {
	c := &compressor{codec: codec, level: level}
	switch codec {
	case CompressNone:
	case CompressLZ4:
		c.lz4hc.Level = lz4Level(level)
	case CompressZstd:
		enc, err := zstd.NewWriter(nil,
			zstd.WithEncoderLevel(zstdLevel(level)),
			zstd.WithEncoderConcurrency(1),
			zstd.WithEncoderCRC(false), // the section CRC32C covers the stored bytes
			zstd.WithZeroFrames(true),
		)
		if err != nil {
			return nil, err
		}
		c.zstd = enc
	default:
		return nil, fmt.Errorf("%w: unknown compression %d", ErrInvalidOptions, codec)
	}
	return c, nil
}

// compress appends the compressed form of raw to dst and returns it and the
// codec used. When compression does not make the batch smaller the batch
// is stored raw (codec none), so a batch never grows by more than its
// header. The result is deterministic for a given codec and level.
func (c *compressor) compress(dst, raw []byte) ([]byte, Compression) {
	start := len(dst)
	switch c.codec {
	case CompressLZ4:
		bound := lz4.CompressBlockBound(len(raw))
		dst = grow(dst, bound)
		var n int
		var err error
		if c.level <= 1 {
			n, err = c.lz4.CompressBlock(raw, dst[start:start+bound])
		} else {
			n, err = c.lz4hc.CompressBlock(raw, dst[start:start+bound])
		}
		if err == nil && n > 0 && n < len(raw) {
			return dst[:start+n], CompressLZ4
		}
	case CompressZstd:
		out := c.zstd.EncodeAll(raw, dst[:start])
		if len(out)-start < len(raw) {
			return out, CompressZstd
		}
		dst = out
	}
	return append(dst[:start], raw...), CompressNone
}

// bound is the output room compressTo needs for n raw bytes.
func (c *compressor) bound(n int) int {
	switch c.codec {
	case CompressLZ4:
		return lz4.CompressBlockBound(n)
	case CompressZstd:
		return n + n/128 + 64
	}
	return 0
}

// compressTo compresses raw into dst[:0] (which should have bound room)
// and reports whether the result is smaller than raw; when it is not, the
// caller stores raw as is (codec none) and dst is returned for reuse.
// Deterministic for a given codec and level, as compress.
func (c *compressor) compressTo(dst, raw []byte) ([]byte, bool) {
	switch c.codec {
	case CompressLZ4:
		bound := lz4.CompressBlockBound(len(raw))
		dst = grow(dst[:0], bound)[:bound]
		var n int
		var err error
		if c.level <= 1 {
			n, err = c.lz4.CompressBlock(raw, dst)
		} else {
			n, err = c.lz4hc.CompressBlock(raw, dst)
		}
		if err == nil && n > 0 && n < len(raw) {
			return dst[:n], true
		}
		return dst[:0], false
	case CompressZstd:
		out := c.zstd.EncodeAll(raw, dst[:0])
		if len(out) < len(raw) {
			return out, true
		}
		return out[:0], false
	}
	return dst[:0], false
}

func (c *compressor) close() {
	if c.zstd != nil {
		_ = c.zstd.Close()
	}
}

// decompressor is one reader worker's codec state.
type decompressor struct {
	zstd    *zstd.Decoder
	cols    colDecoder
	hash    rowHasher
	rows    rowsFree // the Reader's Batch.Rows slices
	bufs    bufFree  // the Reader's buffers
	scratch []byte   // the decompressed column layout of the last batch
}

func newDecompressor() *decompressor { return &decompressor{} }

// decompress expands stored into dst (reused when large enough), which must
// come out exactly rawLen bytes long. rawLen has been bounded by the caller.
func (d *decompressor) decompress(dst []byte, codec Compression, stored []byte, rawLen int) ([]byte, error) {
	switch codec {
	case CompressNone:
		if len(stored) != rawLen {
			return nil, fmt.Errorf("stored %d bytes, raw length says %d", len(stored), rawLen)
		}
		return stored, nil
	case CompressLZ4:
		dst = grow(dst[:0], rawLen)[:rawLen]
		n, err := lz4.UncompressBlock(stored, dst)
		if err != nil {
			return nil, fmt.Errorf("lz4: %w", err)
		}
		if n != rawLen {
			return nil, fmt.Errorf("lz4 block expands to %d bytes, raw length says %d", n, rawLen)
		}
		return dst, nil
	case CompressZstd:
		if d.zstd == nil {
			zd, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(MaxBatchRaw), zstd.IgnoreChecksum(true))
			if err != nil {
				return nil, err
			}
			d.zstd = zd
		}
		out, err := d.zstd.DecodeAll(stored, grow(dst[:0], rawLen)[:0])
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		if len(out) != rawLen {
			return nil, fmt.Errorf("zstd frame expands to %d bytes, raw length says %d", len(out), rawLen)
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown codec %d", codec)
}

func (d *decompressor) close() {
	if d.zstd != nil {
		d.zstd.Close()
	}
}

// grow returns b with room for n more bytes.
func grow(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b[:len(b)+n][:len(b)]
	}
	nb := make([]byte, len(b), len(b)+n)
	copy(nb, b)
	return nb
}
