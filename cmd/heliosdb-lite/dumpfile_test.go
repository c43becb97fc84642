package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWriteDumpFile: the file holds exactly what was written; a failing
// writer leaves neither the file nor a temporary one behind.
func TestWriteDumpFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "d.heliodump")
	want := append([]byte("HELIODMP"), bytes.Repeat([]byte("0123456789abcdef"), 1<<16)...) // 1 MiB
	if err := writeDumpFile(path, func(w io.Writer) error {
		for i := 0; i < len(want); i += 3000 {
			if _, err := w.Write(want[i:min(i+3000, len(want))]); err != nil {
				return err
			}
		}
		// Before the end, the temporary file has no header: a dump
		// killed now leaves nothing that looks like a dump.
		if err := w.(interface{ Flush() error }).Flush(); err != nil {
			return err
		}
		m, _ := filepath.Glob(filepath.Join(dir, ".d.heliodump.tmp-*"))
		if len(m) != 1 {
			t.Fatalf("temporary files: %v", m)
		}
		b, err := os.ReadFile(m[0])
		// (What reached it so far: the writes go on in the background.)
		if err != nil || len(b) > len(want) || bytes.Contains(b[:min(len(b), fileHeaderLen)], want[:8]) || !bytes.Equal(b[min(len(b), fileHeaderLen):], want[min(len(b), fileHeaderLen):len(b)]) {
			t.Fatalf("temporary file mid-dump: %d bytes, header %q, %v", len(b), b[:min(len(b), fileHeaderLen)], err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("file differs (%d bytes, %v)", len(got), err)
	}
	boom := errors.New("connection lost")
	if err := writeDumpFile(filepath.Join(dir, "e.heliodump"), func(w io.Writer) error {
		_, _ = w.Write(want)
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("want the writer's error, got %v", err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("files left: %v", ents)
	}
}

// TestSyncingWriter: background fsyncs start as the bytes pass the
// interval, and the data arrives intact.
func TestSyncingWriter(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sw := &syncingWriter{f: f, every: 4 << 10}
	chunk := bytes.Repeat([]byte{7}, 1000)
	started := 0
	for i := 0; i < 100; i++ {
		before := sw.last
		if _, err := sw.Write(chunk); err != nil {
			t.Fatal(err)
		}
		if sw.last != before {
			started++
		}
	}
	if err := sw.wait(); err != nil {
		t.Fatal(err)
	}
	if started == 0 {
		t.Fatal("no background fsync started over 100 KB with a 4 KB interval")
	}
	if fi, _ := f.Stat(); fi.Size() != 100*1000 {
		t.Fatalf("size %d", fi.Size())
	}
}

type failAfter struct{ n int }

func (f *failAfter) Write(p []byte) (int, error) {
	if f.n -= len(p); f.n < 0 {
		return 0, errors.New("no space left on device")
	}
	return len(p), nil
}

// TestAsyncWriterError: a write that fails in the background (disk full)
// fails a later Write or the close, never silently.
func TestAsyncWriterError(t *testing.T) {
	a := newAsyncWriter(&failAfter{n: 10 << 20})
	chunk := make([]byte, 1<<20)
	var err error
	for i := 0; i < 64 && err == nil; i++ {
		_, err = a.Write(chunk)
	}
	if cerr := a.close(); err == nil {
		err = cerr
	}
	if err == nil || !strings.Contains(err.Error(), "no space") {
		t.Fatalf("want the write error, got %v", err)
	}
}

// TestAsyncWriterReleases: the bytes arrive whole and in order through the
// buffers (mapped outside the heap on Linux), close releases them, and a
// Write after close is refused instead of touching a released buffer.
func TestAsyncWriterReleases(t *testing.T) {
	var got bytes.Buffer
	a := newAsyncWriter(&got)
	var want []byte
	for i := 0; len(want) < 5*asyncBufSize; i++ {
		p := bytes.Repeat([]byte{byte(i)}, 1+i*997%(asyncBufSize/3))
		if _, err := a.Write(p); err != nil {
			t.Fatal(err)
		}
		want = append(want, p...)
	}
	if err := a.close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("%d bytes arrived, %d written, or they differ", got.Len(), len(want))
	}
	if a.bufs != nil {
		t.Fatal("buffers kept after close")
	}
	if _, err := a.Write([]byte("x")); err == nil {
		t.Fatal("write after close accepted")
	}
	if err := a.close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}
