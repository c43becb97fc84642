package node

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/heliosdb/heliosdb-lite/engine"
)

func TestParseCronNext(t *testing.T) {
	base := time.Date(2025, 12, 8, 10, 17, 30, 0, time.UTC) // a Monday
	for _, tc := range []struct{ spec, want string }{
		{"0 */6 * * *", "2025-12-08 12:00"},
		{"0 2 * * *", "2025-12-09 02:00"},
		{"0 * * * *", "2025-12-08 11:00"},
		{"0 3 * * 0", "2025-12-14 03:00"},
		{"0 3 * * 7", "2025-12-14 03:00"},
		{"*/15 * * * *", "2025-12-08 10:30"},
		{"5,50 10 * * *", "2025-12-08 10:50"},
		{"0 0 1 1 *", "2026-01-01 00:00"},
		{"0 0 13 * 5", "2025-12-12 00:00"}, // either day field matches: Friday the 12th
		{"30 9-17/4 * * 1-5", "2025-12-08 13:30"},
	} {
		c, err := parseCron(tc.spec)
		if err != nil {
			t.Fatalf("%q: %v", tc.spec, err)
		}
		if got := c.next(base).Format("2006-01-02 15:04"); got != tc.want {
			t.Errorf("%q after %v = %s, want %s", tc.spec, base, got, tc.want)
		}
	}
	for _, bad := range []string{"", "* * * *", "60 * * * *", "* 24 * * *", "*/0 * * * *", "a * * * *", "5-1 * * * *"} {
		if _, err := parseCron(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func testScheduleNode(t *testing.T) *Node {
	cfg := DefaultConfig()
	cfg.Dump.BackupDir = t.TempDir()
	cfg.Dump.RetentionDays = 30
	return &Node{cfg: cfg, eng: engine.New(), log: slog.New(slog.NewTextHandler(io.Discard, nil)), shutdown: make(chan struct{})}
}

func TestScheduledDumpAndPrune(t *testing.T) {
	n := testScheduleNode(t)
	def := &engine.TableDef{Name: "t", Columns: []engine.ColumnDef{{Name: "a", Type: engine.TypeInt8}}, PrimaryKey: []int{0}}
	row, _ := engine.EncodeRow(nil, engine.Row{int64(1)})
	if err := n.eng.Apply(&engine.ChangeSet{Ops: []engine.Op{{Kind: engine.OpCreateTable, Table: "t", Def: def},
		{Kind: engine.OpInsert, Table: "t", Key: string(engine.EncodeKey(nil, int64(1))), Row: row}}}, 1); err != nil {
		t.Fatal(err)
	}
	if total, _ := n.eng.DirtyBytes(""); total == 0 {
		t.Fatal("no dirty bytes after a write")
	}
	path, err := n.scheduledDump(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if total, _ := n.eng.DirtyBytes(""); total != 0 {
		t.Fatalf("dirty bytes after scheduled dump = %d", total)
	}
	old := filepath.Join(n.cfg.Dump.BackupDir, "heliosdb-20000101-000000.heliodump")
	if err := os.WriteFile(old, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-31 * 24 * time.Hour)
	_ = os.Chtimes(old, past, past)
	n.pruneDumps(time.Now())
	if _, err := os.Stat(old); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("old dump not pruned")
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal("fresh dump pruned")
	}
}

func TestNotifyWebhook(t *testing.T) {
	got := make(chan map[string]any, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		_ = json.NewDecoder(r.Body).Decode(&m)
		got <- m
	}))
	defer srv.Close()
	n := testScheduleNode(t)
	n.cfg.Dump.NotifyWebhook = srv.URL
	n.notifyDumpFailure("schedule", errors.New("disk full"))
	select {
	case m := <-got:
		if m["event"] != "dump_failed" || m["error"] != "disk full" {
			t.Fatalf("webhook payload %v", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no webhook call")
	}
}
