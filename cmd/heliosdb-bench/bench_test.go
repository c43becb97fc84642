package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestSmoke runs the whole harness at tiny sizes and checks that every row
// was produced (with a figure, or skipped with a reason), not how fast.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	var cfg config
	cfg.smokeDefaults()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var log strings.Builder
	rep, err := run(ctx, cfg, &log)
	t.Log(log.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + rep.Text())
	want := []string{"encode none", "encode lz4", "encode zstd", "decode none", "decode lz4", "decode zstd",
		"restore none into engine", "restore lz4 into engine", "restore zstd into engine", "codec lz4", "codec zstd",
		"dump none", "dump lz4", "dump zstd", "restore none", "restore lz4", "restore zstd", "pgbench",
		"replicated writes", "failover", "rejoin: restart", "rejoin: rebuilt", "anti-entropy round, 0", "anti-entropy round, 100",
		"cluster dump", "write p99 during a cluster dump", "engine Apply", "engine Snapshot()", "snapshot", "memory"}
	for _, w := range want {
		found := false
		for _, r := range rep.Rows {
			if strings.HasPrefix(r.Name, w) {
				found = true
				if r.Failed != "" {
					t.Errorf("row %q failed: %s", r.Name, r.Failed)
				} else if r.Skipped != "" {
					t.Logf("row %q skipped: %s", r.Name, r.Skipped)
				} else if r.Ours.N == 0 && r.Anchor.N == 0 {
					t.Errorf("row %q has no figure", r.Name)
				}
			}
		}
		if !found {
			t.Errorf("no row %q", w)
		}
	}
	if md := rep.Markdown(); !strings.Contains(md, "| benchmark |") {
		t.Error("markdown table missing")
	}
}
