package main

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// TestWriteDumpFileDirect: a dump of several buffers (written with
// O_DIRECT where the file system allows it) arrives intact, whatever the
// sizes of the writes, with its header written last.
func TestWriteDumpFileDirect(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "d.heliodump")
	rng := rand.New(rand.NewPCG(1, 2))
	want := make([]byte, 5*asyncBufSize+12345)
	for i := range want {
		want[i] = byte(rng.Uint32())
	}
	copy(want, "HELIODMP")
	if err := writeDumpFile(path, func(w io.Writer) error {
		for p := want; len(p) > 0; {
			n := min(len(p), 1+rng.IntN(3<<20))
			if _, err := w.Write(p[:n]); err != nil {
				return err
			}
			p = p[n:]
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("file differs (%d bytes of %d, %v)", len(got), len(want), err)
	}
}

// TestFileSinkFallback: after a write that cannot go directly (not a
// whole aligned buffer), the sink goes on through the page cache at the
// right offset, and later aligned buffers land where they belong.
func TestFileSinkFallback(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := &fileSink{direct: openDirect(f.Name()), sw: &syncingWriter{f: f, every: 1 << 30}}
	var want []byte
	write := func(n int, aligned bool) {
		b := make([]byte, n)
		if aligned {
			b = alignedBuf(n)[:n]
		}
		for i := range b {
			b[i] = byte(len(want) + i*7)
		}
		if k, err := s.Write(b); err != nil || k != n {
			t.Fatalf("write %d: %d, %v", n, k, err)
		}
		want = append(want, b...)
	}
	write(2*directAlign, true)
	write(directAlign, true)
	write(100, false)
	write(directAlign, true)
	write(3*directAlign, true)
	s.close()
	if err := s.sw.wait(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(f.Name())
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("file differs (%d bytes of %d, %v)", len(got), len(want), err)
	}
}

// TestFileSinkPaddedTail: a last buffer of any length is written directly,
// padded with zeros in its room, and finish cuts the file to the bytes
// written; a write after a padded one lands right after it (through the
// page cache) and overwrites the padding.
func TestFileSinkPaddedTail(t *testing.T) {
	for _, after := range []int{0, 50} {
		f, err := os.Create(filepath.Join(t.TempDir(), "f"))
		if err != nil {
			t.Fatal(err)
		}
		s := &fileSink{direct: openDirect(f.Name()), sw: &syncingWriter{f: f, every: 1 << 30}}
		var want []byte
		write := func(n int, room bool) {
			b := alignedBuf(n)[:n]
			if room {
				b = alignedBuf(n + 2*directAlign)[:n]
			}
			for i := range b {
				b[i] = byte(len(want) + i*7 + 1)
			}
			if k, err := s.Write(b); err != nil || k != n {
				t.Fatalf("write %d: %d, %v", n, k, err)
			}
			want = append(want, b...)
		}
		write(2*directAlign, false)
		write(100, true)
		if openDirect(f.Name()) != nil && !s.padded {
			t.Fatal("the tail was not written directly")
		}
		if after > 0 {
			write(after, false)
		}
		s.close()
		if err := s.finish(); err != nil {
			t.Fatal(err)
		}
		if err := s.sw.wait(); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(f.Name())
		f.Close()
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("after %d: file differs (%d bytes of %d, %v)", after, len(got), len(want), err)
		}
	}
}
