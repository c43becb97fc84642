package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heliosdb/heliosdb-lite/internal/proctest"
)

// TestInspectReadsHeadersVerifyReadsData: inspect describes a file from
// its headers and footers (exit 3 when those are damaged or the file ends
// early) and says that it did not read the data batches; a damaged batch
// is verify's to find (exit 3), as docs/operations.md says.
func TestInspectReadsHeadersVerifyReadsData(t *testing.T) {
	src := proctest.Start(t, "src", "--memory")
	psql(t, src, fillSQL)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.heliodump")
	cli(t, src, 0, "dump", "--output", good, "--compress", "none")
	b, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	// A byte of a users row (an uncompressed dump holds its text as is)
	// lies inside a data batch.
	bad := filepath.Join(dir, "bad.heliodump")
	flipped := append([]byte(nil), b...)
	at := bytes.Index(b, []byte("user1500@"))
	if at < 0 {
		t.Fatal("no users row text in the uncompressed dump")
	}
	flipped[at] ^= 0x5a
	if err := os.WriteFile(bad, flipped, 0o644); err != nil {
		t.Fatal(err)
	}
	out, _ := cli(t, nil, 0, "inspect", "--input", bad, "--table", "users")
	if !strings.Contains(out, "  Row count: 3000\n") || !strings.Contains(out, "Data batches: not read (heliosdb-lite verify --input "+bad+" checks every checksum)") {
		t.Fatalf("inspect of a file with a damaged batch:\n%s", out)
	}
	if _, se := cli(t, nil, 3, "verify", "--input", bad); !strings.Contains(se, "damaged") {
		t.Fatalf("verify of a damaged batch: %s", se)
	}
	half := filepath.Join(dir, "half.heliodump")
	if err := os.WriteFile(half, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	cli(t, nil, 3, "inspect", "--input", half)
}
