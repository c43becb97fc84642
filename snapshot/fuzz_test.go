package snapshot

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/heliosdb/heliosdb-lite/engine"
)

// FuzzReader feeds arbitrary bytes to every decoder of outside input:
// Reader (strict and tolerant), Load, Verify, ScanSegments and Salvage.
// None may panic, hang or allocate beyond the input's size bounds; a file
// that Loads must also Verify. The seed corpus in testdata/fuzz/FuzzReader
// holds small valid files (each codec, multi-segment) and damaged ones;
// regenerate it with SNAPSHOT_WRITE_CORPUS=1 go test -run TestWriteFuzzCorpus.
// The format 1.0 files of testdata/format-1.0 (row layout) are seeds too.
func FuzzReader(f *testing.F) {
	for _, c := range []Compression{CompressNone, CompressLZ4, CompressZstd} {
		b, _, _ := smallChain(f, c)
		f.Add(b)
	}
	for _, name := range []string{"chain-lz4", "chain-zstd"} {
		b, err := os.ReadFile(filepath.Join("testdata", "format-1.0", name+".heliodump"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := Load(context.Background(), bytes.NewReader(b), nil)
		rep, verr := Verify(bytes.NewReader(b))
		if err == nil && res != nil && verr != nil {
			t.Fatalf("loads but does not verify: %v", verr)
		}
		_ = rep.WriteText(&bytes.Buffer{})
		if s, err := ScanSegments(bytes.NewReader(b), int64(len(b))); err == nil && s != nil {
			_ = (&InspectReport{File: s.File, Segments: s.Segments}).WriteText(&bytes.Buffer{})
		}
		sr, _ := Salvage(bytes.NewReader(b), engine.NewBuilder(0))
		if sr != nil {
			_ = sr.WriteText(&bytes.Buffer{})
		}
	})
}

func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("SNAPSHOT_WRITE_CORPUS") == "" {
		t.Skip("set SNAPSHOT_WRITE_CORPUS=1 to rewrite testdata/fuzz/FuzzReader")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzReader")
	_ = os.MkdirAll(dir, 0o755)
	write := func(name string, b []byte) {
		content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []Compression{CompressNone, CompressLZ4, CompressZstd} {
		b, _, ends := smallChain(t, c)
		write("valid-"+c.String(), b)
		write("torn-"+c.String(), b[:ends[1]+7])
		flip := bytes.Clone(b)
		flip[len(flip)/2] ^= 0x10
		write("flipped-"+c.String(), flip)
	}
	write("header-only", appendFileHeader(nil, ProductVersion))
	write("garbage", []byte("HELIODMP\x01\x00\x00\x00garbage garbage garbage garbage"))
}
