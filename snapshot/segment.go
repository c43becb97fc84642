package snapshot

import (
	"context"
	"io"

	"github.com/heliosdb/heliosdb-lite/engine"
)

// WriteIncrementalSegment writes one incremental segment with no file
// header: the bytes to append to an existing .heliodump whose last segment
// ends at sinceLSN. Raft snapshot chains use it (the chain file already has
// its header); offset is where the segment will start in that file, for the
// offsets reported in the summary.
func WriteIncrementalSegment(ctx context.Context, w io.Writer, snap *engine.Snapshot, sinceLSN uint64, offset int64, opts WriterOptions) (*Summary, error) {
	wr, err := newWriter(w, opts)
	if err != nil {
		return nil, err
	}
	defer wr.Close() // on a panic too: stops the workers and the output goroutine (Close is idempotent)
	wr.off = offset
	sum, err := writeIncSegment(ctx, wr, snap, sinceLSN, nil)
	if cerr := wr.Close(); err == nil && cerr != nil {
		err = cerr
	}
	return sum, err
}
