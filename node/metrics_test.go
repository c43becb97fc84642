package node

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestMetrics: /metrics exposes, in Prometheus text format, open client
// connections, raft snapshot counts and timings (full, then incremental),
// writes and raft's own stats.
func TestMetrics(t *testing.T) {
	c := DefaultConfig()
	c.Server.Port = 0
	c.Server.DataDir = t.TempDir()
	c.Cluster.HTTPAddr = freeAddr(t)
	n := startNode(t, c)
	conn := connect(t, n)
	ctx := context.Background()
	if _, err := conn.Exec(ctx, "create table m (id int primary key)"); err != nil {
		t.Fatal(err)
	}
	if err := n.repl.Snapshot(); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "insert into m values (1)"); err != nil {
		t.Fatal(err)
	}
	if err := n.repl.Snapshot(); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + n.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(body)
	for _, want := range []string{
		"heliosdb_connections 1\n",
		`heliosdb_snapshots_total{kind="full"} 1` + "\n",
		`heliosdb_snapshots_total{kind="incremental"} 1` + "\n",
		"# TYPE heliosdb_write_seconds histogram",
		"heliosdb_writes_total 2\n",
		"heliosdb_raft_last_snapshot_index",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if t.Failed() {
		t.Log(text)
	}
}
