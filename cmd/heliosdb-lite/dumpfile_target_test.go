package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestWriteDumpFileTargets: --output onto something other than a plain
// file. A device (/dev/null) and a named pipe are written into, never
// replaced; a symbolic link keeps pointing where it did and its target
// gets the dump; a directory is refused and left alone.
func TestWriteDumpFileTargets(t *testing.T) {
	dir := t.TempDir()
	payload := append([]byte("HELIODMP"), bytes.Repeat([]byte("dump bytes "), 1<<16)...)
	write := func(path string) error {
		return writeDumpFile(path, func(w io.Writer) error {
			_, err := w.Write(payload)
			return err
		})
	}

	// A device: written into, still a device afterwards.
	if err := write(os.DevNull); err != nil {
		t.Fatalf("dump to %s: %v", os.DevNull, err)
	}
	if fi, err := os.Lstat(os.DevNull); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		t.Fatalf("%s is no longer a character device: %v %v", os.DevNull, fi.Mode(), err)
	}

	// A named pipe: a reader at the other end gets every byte.
	fifo := filepath.Join(dir, "pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte, 1)
	go func() {
		f, err := os.Open(fifo)
		if err != nil {
			got <- nil
			return
		}
		defer f.Close()
		b, _ := io.ReadAll(f)
		got <- b
	}()
	if err := write(fifo); err != nil {
		t.Fatalf("dump to a FIFO: %v", err)
	}
	if b := <-got; !bytes.Equal(b, payload) {
		t.Fatalf("the FIFO's reader got %d bytes, want %d", len(b), len(payload))
	}
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Fatalf("the FIFO was replaced: %v %v", fi.Mode(), err)
	}

	// A symbolic link: the link stays, its target holds the dump.
	real := filepath.Join(dir, "real.heliodump")
	if err := os.WriteFile(real, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "latest.heliodump")
	if err := os.Symlink("real.heliodump", link); err != nil {
		t.Fatal(err)
	}
	if err := write(link); err != nil {
		t.Fatalf("dump to a symlink: %v", err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the symlink was replaced: %v %v", fi.Mode(), err)
	}
	if b, err := os.ReadFile(real); err != nil || !bytes.Equal(b, payload) {
		t.Fatalf("the link's target holds %d bytes (%v), want the dump", len(b), err)
	}

	// A directory: refused, untouched.
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := write(sub); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Fatalf("dump onto a directory: %v", err)
	}
	if fi, err := os.Stat(sub); err != nil || !fi.IsDir() {
		t.Fatalf("the directory was replaced: %v", err)
	}
}
