package pgwire

import (
	"bytes"
	"testing"
)

// copyBigPieces are the writes of "copy big to stdout": small and large
// (above copyDirectMin) interleaved, each filled with its own byte.
func copyBigPieces() [][]byte {
	sizes := []int{3, copyDirectMin, 10, 2*copyDirectMin + 7, copyDirectMin - 1, 1 << 20, 4}
	out := make([][]byte, len(sizes))
	for i, n := range sizes {
		out[i] = bytes.Repeat([]byte{byte('a' + i)}, n)
	}
	return out
}

func TestCopyOutLargeWrites(t *testing.T) {
	ts := startServer(t, DefaultConfig())
	conn := ts.connect(t, nil)
	ctx := testCtx(t)
	for range 2 { // twice: the connection stays in step afterwards
		var out bytes.Buffer
		tag, err := conn.PgConn().CopyTo(ctx, &out, "copy big to stdout")
		if err != nil {
			t.Fatal(err)
		}
		want := bytes.Join(copyBigPieces(), nil)
		if !bytes.Equal(out.Bytes(), want) {
			t.Fatalf("CopyTo returned %d bytes, want %d in write order", out.Len(), len(want))
		}
		if tag.String() != "COPY 7" {
			t.Fatalf("tag %q, want COPY 7", tag)
		}
	}
	var one int32
	if err := conn.QueryRow(ctx, "select 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("select 1 after COPY: %d %v", one, err)
	}
}
