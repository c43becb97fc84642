package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/heliosdb/heliosdb-lite/internal/proctest"
)

// The guide's size-tracking pipeline, as written:
//
//	heliosdb-lite dump --output backup.heliodump --compress zstd --verbose | \
//	tee >(grep "Dump complete" | awk '{print $NF}')
//
// needs the verbose lines on standard output; the grep | awk branch prints
// the last field of the summary line.
func TestDumpVerbosePipeline(t *testing.T) {
	src := proctest.Start(t, "src", "--memory")
	psql(t, src, fillSQL)
	dir := t.TempDir()
	cmd := exec.Command("bash", "-c", `set -o pipefail; "$BIN" dump --port $PORT --output backup.heliodump --compress zstd --verbose | tee >(grep "Dump complete" | awk '{print $NF}' > last-field); wait`)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "BIN="+proctest.Binary(t), "PORT="+strconv.Itoa(src.Port))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !regexp.MustCompile(`Dump complete: 3 tables, 7,500 rows, .* \(compressed: .*\)`).Match(out) {
		t.Fatalf("no summary line through tee:\n%s", out)
	}
	// The process substitution may finish after bash: wait for its file.
	var last []byte
	for i := 0; i < 100; i++ {
		if last, err = os.ReadFile(filepath.Join(dir, "last-field")); err == nil && len(last) > 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !regexp.MustCompile(`^(B|KB|MB|GB)\)\n$`).Match(last) {
		t.Fatalf("grep | awk branch printed %q", last)
	}
	if _, err := os.Stat(filepath.Join(dir, "backup.heliodump")); err != nil {
		t.Fatal(err)
	}
}
