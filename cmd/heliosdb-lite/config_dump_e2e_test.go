package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heliosdb/heliosdb-lite/internal/proctest"
)

// TestStartRefusesBadDumpConfig: `start` checks [dump] before it serves:
// a compression level the codec does not take, an invalid cron schedule
// (with or without backup_dir) and a schedule or size threshold with no
// backup_dir to write to are configuration errors (exit 2) naming the key,
// like an unknown compression is; a good [dump] section starts.
func TestStartRefusesBadDumpConfig(t *testing.T) {
	dir := t.TempDir()
	backups := filepath.Join(dir, "backups")
	for i, c := range []struct{ toml, want string }{
		{`compression = "gzip"`, `compression = "gzip"`},
		{"compression = \"zstd\"\ncompression_level = 50\nbackup_dir = \"" + backups + "\"", "[dump] compression_level = 50: zstd level 50 out of range 1-19"},
		{"compression_level = 50", "[dump] compression_level = 50: zstd level 50 out of range 1-19"},
		{"compression = \"lz4\"\ncompression_level = 10", "[dump] compression_level = 10: lz4 level 10 out of range 1-9"},
		{"compression_level = -1", "[dump] compression_level = -1"},
		{`schedule = "61 * * * *"`, `[dump] schedule = "61 * * * *"`},
		{"schedule = \"61 * * * *\"\nbackup_dir = \"" + backups + "\"", `[dump] schedule = "61 * * * *"`},
		{`schedule = "0 * * * *"`, "[dump] schedule is set but [dump] backup_dir is not"},
		{"wal_size_threshold = 1048576", "[dump] wal_size_threshold is set but [dump] backup_dir is not"},
	} {
		path := filepath.Join(dir, "bad"+strconv.Itoa(i)+".toml")
		if err := os.WriteFile(path, []byte("[dump]\n"+c.toml+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		// A node that accepts the config serves until killed.
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		cmd := exec.CommandContext(ctx, proctest.Binary(t), "start", "--config", path, "--memory", "--port", strconv.Itoa(proctest.FreePort(t)))
		var se strings.Builder
		cmd.Stderr = &se
		err := cmd.Run()
		cancel()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(se.String(), c.want) {
			t.Fatalf("start with [dump] %s: %v, stderr %q; want exit 2 and %q", c.toml, err, se.String(), c.want)
		}
	}
	good := filepath.Join(dir, "good.toml")
	cfg := "[dump]\nschedule = \"0 */6 * * *\"\ncompression = \"zstd\"\ncompression_level = 19\nbackup_dir = \"" + backups + "\"\nwal_size_threshold = 1073741824\n"
	if err := os.WriteFile(good, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	n := proctest.Start(t, "good", "--config", good, "--memory")
	if got := psql(t, n, "select 1"); got != "1" {
		t.Fatalf("a node with a good [dump] section: %q", got)
	}
}

// TestClusterDumpNeedsBackupDir: `dump --cluster` on a node without
// [dump] backup_dir is refused before a marker enters the log, naming the
// setting; nothing is left to fail again when the node restarts.
func TestClusterDumpNeedsBackupDir(t *testing.T) {
	n := proctest.Start(t, "node", "--data-dir", filepath.Join(t.TempDir(), "data"))
	psql(t, n, fillSQL)
	_, se := cli(t, n, 1, "dump", "--cluster", "--wait", "30s")
	if !strings.Contains(se, "[dump] backup_dir") || !strings.Contains(se, "nothing was started") {
		t.Fatalf("dump --cluster without backup_dir: %s", se)
	}
	n.Stop()
	n.Restart()
	if log := n.Log(); strings.Contains(log, "cluster dump not written") || strings.Contains(log, "cluster dump failed") {
		t.Fatalf("a refused cluster dump was attempted:\n%s", log)
	}
}
