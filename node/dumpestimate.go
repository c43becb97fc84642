package node

import (
	"bytes"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"

	"github.com/heliosdb/heliosdb-lite/engine"
	"github.com/heliosdb/heliosdb-lite/snapshot"
)

// Rates used to turn sizes into time for dump --dry-run: measured
// end-to-end dump throughput per codec on this class of machine (see
// cmd/heliosdb-lite bench). They are orientation, not a promise.
var estimateRate = map[snapshot.Compression]float64{
	snapshot.CompressNone: 400 << 20,
	snapshot.CompressLZ4:  250 << 20,
	snapshot.CompressZstd: 120 << 20,
}

// sampleBytes bounds the rows compressed to measure the ratio.
const sampleBytes = 4 << 20

// writeDumpEstimate answers dump --dry-run: it writes
//
//	raw=<bytes> compressed=<bytes> seconds=<float> tables=<n> rows=<n>
//
// The compressed size comes from really dumping a sample of rows spread
// over the tables (so the ratio is the data's own), scaled to the total.
func writeDumpEstimate(w io.Writer, snap *engine.Snapshot, wo snapshot.WriterOptions, since *uint64) error {
	names := wo.Tables
	if names == nil {
		names = snap.TableNames()
	}
	var raw, rows int64
	for _, name := range names {
		t, ok := snap.Table(name)
		if !ok {
			return badOption("tables", fmt.Errorf("table %q does not exist", name))
		}
		raw += t.Bytes()
		rows += int64(t.Len())
	}
	if since != nil {
		// An increment: the rows and deletes since the chain's end.
		changes, err := snap.ChangesSince(*since)
		if err != nil {
			return &sqlStateErr{code: "72000", err: err}
		}
		raw, rows = 0, 0
		for _, tc := range changes {
			for _, r := range tc.Rows {
				raw += int64(len(r.Key) + len(r.Enc) + 10)
			}
			for _, tb := range tc.Tombstones {
				raw += int64(len(tb.Key) + 10)
			}
			rows += int64(len(tc.Rows))
		}
	}
	// Sample: the first rows of each table, up to an equal share each.
	share := int64(sampleBytes)
	if len(names) > 0 {
		share = max(share/int64(len(names)), 64<<10)
	}
	var sample bytes.Buffer
	var sampled int64
	for _, name := range names {
		t, _ := snap.Table(name)
		var got int64
		t.Scan(func(r engine.RowRef) bool {
			sample.WriteString(r.Key)
			sample.WriteString(r.Enc)
			got += int64(len(r.Enc))
			return got < share
		})
		sampled += got
	}
	ratio := 1.0
	if sample.Len() > 0 && wo.Compression != snapshot.CompressNone {
		if c, err := compressedSize(sample.Bytes(), wo.Compression, wo.Level); err == nil && c > 0 {
			ratio = float64(c) / float64(sample.Len())
		}
	}
	compressed := int64(float64(raw)*ratio) + 4096
	secs := float64(raw) / estimateRate[wo.Compression]
	_, err := fmt.Fprintf(w, "raw=%d compressed=%d seconds=%.1f tables=%d rows=%d\n", raw, compressed, secs, len(names), rows)
	return err
}

// compressedSize compresses b as the dump writer would (same codecs and
// levels) and returns the size.
func compressedSize(b []byte, c snapshot.Compression, level int) (int, error) {
	switch c {
	case snapshot.CompressZstd:
		if level == 0 {
			level = 3
		}
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(level)), zstd.WithEncoderConcurrency(1))
		if err != nil {
			return 0, err
		}
		defer enc.Close()
		return len(enc.EncodeAll(b, nil)), nil
	case snapshot.CompressLZ4:
		dst := make([]byte, lz4.CompressBlockBound(len(b)))
		var n int
		var err error
		if level > 1 {
			n, err = lz4.CompressBlockHC(b, dst, lz4.CompressionLevel(1<<(8+level)), nil, nil)
		} else {
			var c lz4.Compressor
			n, err = c.CompressBlock(b, dst)
		}
		return n, err
	}
	return len(b), nil
}
