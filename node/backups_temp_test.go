package node

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A dump's temporary file (".NAME.heliodump.tmp-N", a dump being written
// or one killed mid-way) is neither verified, which raised a false ALARM
// on every pass, nor listed; one untouched for an hour is removed.
func TestVerifyBackupsSkipsDumpTemps(t *testing.T) {
	n := testScheduleNode(t)
	var logs bytes.Buffer
	n.log = slog.New(slog.NewTextHandler(&logs, nil))
	path, err := n.scheduledDump(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	dir := n.cfg.Dump.BackupDir
	fresh := filepath.Join(dir, ".cluster-20261122-071500-ab12.heliodump.tmp-172376765")
	stale := filepath.Join(dir, ".heliosdb-20261121-000000.heliodump.tmp-99")
	for _, p := range []string{fresh, stale} {
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(stale, past, past); err != nil {
		t.Fatal(err)
	}
	n.verifyBackups()
	if strings.Contains(logs.String(), "ALARM") {
		t.Fatalf("a temporary file raised an alarm:\n%s", logs.String())
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Fatalf("a fresh temporary file (a dump being written) was removed: %v", err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a temporary file untouched for 2h is still there: %v", err)
	}
	entries, err := n.LocalBackups()
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].File != filepath.Base(path) || !strings.HasPrefix(entries[0].Verified, "ok") {
		t.Fatalf("catalog: %+v", entries)
	}
}
