package snapshot

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestWriteFileAtomicTargets: the node's and the cluster dump's writer
// follows a symbolic link (the link stays) and writes into a device
// instead of replacing it.
func TestWriteFileAtomicTargets(t *testing.T) {
	dir := t.TempDir()
	write := func(path, s string) error {
		return WriteFileAtomic(path, func(w io.Writer) error {
			_, err := io.WriteString(w, s)
			return err
		})
	}
	real := filepath.Join(dir, "real")
	link := filepath.Join(dir, "link")
	if err := os.Symlink("real", link); err != nil {
		t.Fatal(err)
	}
	if err := write(link, "through the link"); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link was replaced: %v", err)
	}
	if b, err := os.ReadFile(real); err != nil || string(b) != "through the link" {
		t.Fatalf("target: %q %v", b, err)
	}
	if err := write(os.DevNull, "discarded"); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(os.DevNull); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		t.Fatalf("%s is no longer a device: %v", os.DevNull, err)
	}
	if err := write(dir, "x"); err == nil {
		t.Fatal("a directory was accepted as the output")
	}
	// A link to a file not written yet: created there.
	if err := os.Symlink("first", filepath.Join(dir, "next")); err != nil {
		t.Fatal(err)
	}
	if err := write(filepath.Join(dir, "next"), "new"); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "first")); err != nil || string(b) != "new" {
		t.Fatalf("a link to a new file: %q %v", b, err)
	}
	// A link into a directory that does not exist: an error, nothing made.
	if err := os.Symlink("nowhere/at/all", filepath.Join(dir, "dangling")); err != nil {
		t.Fatal(err)
	}
	if err := write(filepath.Join(dir, "dangling"), "x"); err == nil {
		t.Fatal("a link into a missing directory was accepted")
	}
	if fi, err := os.Lstat(filepath.Join(dir, "dangling")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the dangling link was replaced: %v", err)
	}
}
