package node

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"testing"
)

// The restore spool returns exactly what was written to it, with the tail
// appended after Flush, through WriteTo (raft's copy into the snapshot
// store) and through Read; on Linux the bulk goes through direct I/O and
// the unaligned end through the page cache.
func TestSpoolRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{0, 1, 4095, 4096, 4097, 4<<20 - 1, 4 << 20, 9<<20 + 12345} {
		dir := t.TempDir()
		s, err := newSpool(dir)
		if err != nil {
			t.Fatal(err)
		}
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		for p := data; len(p) > 0; {
			k := min(len(p), 1+rng.IntN(300000))
			if n, err := s.Write(p[:k]); err != nil || n != k {
				t.Fatalf("size %d: Write %d: %d, %v", size, k, n, err)
			}
			p = p[k:]
		}
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
		if size == 0 {
			t.Logf("direct I/O: %v", s.direct)
		}
		if s.Size() != int64(size) {
			t.Fatalf("Size %d, want %d", s.Size(), size)
		}
		tail := []byte("tail segment bytes")
		if _, err := s.f.Write(tail); err != nil {
			t.Fatal(err)
		}
		want := append(bytes.Clone(data), tail...)
		var got recordWriter
		n, err := s.reader(int64(len(want))).WriteTo(&got)
		if err != nil || n != int64(len(want)) || !bytes.Equal(got.b, want) {
			t.Fatalf("size %d (direct %v): WriteTo %d bytes, %v; equal %v", size, s.direct, n, err, bytes.Equal(got.b, want))
		}
		if len(want) > 64 && got.first > 64 {
			t.Fatalf("size %d: first write of %d bytes", size, got.first)
		}
		if _, err := s.f.Seek(0, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		if b, err := io.ReadAll(s.reader(int64(len(want)))); err != nil || !bytes.Equal(b, want) {
			t.Fatalf("size %d: Read: %v", size, err)
		}
		name := s.f.Name()
		s.Close()
		if _, err := os.Stat(name); !os.IsNotExist(err) {
			t.Fatalf("spool file left behind: %v", err)
		}
	}
}

// A spool closed without Flush (a failed restore) stops its writer and
// removes its file.
func TestSpoolCloseUnflushed(t *testing.T) {
	s, err := newSpool(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(make([]byte, 13<<20)); err != nil {
		t.Fatal(err)
	}
	name := s.f.Name()
	s.Close()
	if _, err := os.Stat(name); !os.IsNotExist(err) {
		t.Fatalf("spool file left behind: %v", err)
	}
}

type recordWriter struct {
	b     []byte
	first int
}

func (w *recordWriter) Write(p []byte) (int, error) {
	if w.b == nil {
		w.first = len(p)
	}
	w.b = append(w.b, p...)
	return len(p), nil
}
