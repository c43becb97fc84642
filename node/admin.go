package node

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/heliosdb/heliosdb-lite/replication"
)

// adminHandler serves the admin API. It binds to loopback by default
// (--http-addr); internal raft RPCs are authenticated by the cluster's
// RPC token when one is configured.
func (n *Node) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/health", n.handleHealth)
	mux.HandleFunc("/ready", n.handleReady)
	mux.HandleFunc("/metrics", n.handleMetrics)
	mux.HandleFunc("/members", n.handleMembers)
	mux.HandleFunc("/status", n.handleStatus)
	mux.HandleFunc("/leave", n.handleLeave) // node/cluster.go
	mux.Handle(replication.RPCPathPrefix, n.repl.RPCHandler())
	mux.HandleFunc("/internal/dumps/", n.handleDumpRecord)
	mux.HandleFunc("/internal/backups", n.handleLocalBackups)
	n.mountAntiEntropy(mux) // node/antientropy.go
	return mux
}

// handleHealth: the process is up and serving HTTP (liveness).
func (n *Node) handleHealth(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprintln(w, "ok")
}

// handleReady: the node can serve linearizable reads and writes now: a
// leader is known and this node has caught up with it (readiness).
func (n *Node) handleReady(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := n.repl.LinearizableRead(ctx); err != nil {
		http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ready")
}

// Status is the node's view of itself, as served on /status.
type Status struct {
	NodeID     string `json:"node_id"`
	Version    string `json:"version"`
	PGAddr     string `json:"pg_addr"`
	Leader     string `json:"leader"`
	IsLeader   bool   `json:"is_leader"`
	AppliedLSN uint64 `json:"applied_lsn"`
	LastIndex  uint64 `json:"last_index"`
	Tables     int    `json:"tables"`
	Rows       int64  `json:"rows"`
	DirtyBytes int64  `json:"dirty_bytes"`
	Uptime     string `json:"uptime"`
	DataDir    string `json:"data_dir"`
}

// Status collects the node's status.
func (n *Node) Status() Status {
	snap := n.eng.Snapshot()
	st := Status{NodeID: n.cfg.Server.NodeID, Version: Version, PGAddr: n.PGAddr(), IsLeader: n.repl.IsLeader(),
		AppliedLSN: n.eng.LSN(), LastIndex: n.repl.LastIndex(), Uptime: time.Since(n.started).Round(time.Second).String(), DataDir: n.cfg.Server.DataDir}
	_, st.Leader = n.repl.LeaderAddr()
	for _, name := range snap.TableNames() {
		t, _ := snap.Table(name)
		st.Tables++
		st.Rows += int64(t.Len())
	}
	st.DirtyBytes, _ = n.eng.DirtyBytes("")
	return st
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func (n *Node) handleStatus(w http.ResponseWriter, _ *http.Request) { writeJSON(w, n.statusView()) }

func (n *Node) handleMembers(w http.ResponseWriter, _ *http.Request) {
	ms, err := n.repl.Members()
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	writeJSON(w, n.memberViews(ms))
}

// metrics are the node's own counters; raft's are read from its stats.
type metrics struct {
	mu          sync.Mutex // guards everything below
	writes      uint64
	writeErrors uint64
	// writeBuckets counts write latencies at or below each bound.
	writeBuckets [len(latencyBounds)]uint64
	writeSum     time.Duration
	dumps        uint64
	dumpErrors   uint64
	dumpSeconds  float64
}

var latencyBounds = [...]time.Duration{time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond,
	25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond, time.Second, 5 * time.Second}

func (m *metrics) observeWrite(d time.Duration, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.writes++
	if err != nil {
		m.writeErrors++
	}
	m.writeSum += d
	for i, b := range latencyBounds {
		if d <= b {
			m.writeBuckets[i]++
		}
	}
}

func (m *metrics) observeDump(d time.Duration, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.dumps++
	if err != nil {
		m.dumpErrors++
	}
	m.dumpSeconds += d.Seconds()
}

// handleMetrics writes the Prometheus text exposition format.
func (n *Node) handleMetrics(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	var b strings.Builder
	gauge := func(name, help string, v float64) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n%s %g\n", name, help, name, name, v)
	}
	counter := func(name, help string, v float64) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s counter\n%s %g\n", name, help, name, name, v)
	}
	st := n.Status()
	gauge("heliosdb_applied_lsn", "Last log index applied to the engine.", float64(st.AppliedLSN))
	gauge("heliosdb_raft_last_index", "Last raft log index.", float64(st.LastIndex))
	leader := 0.0
	if st.IsLeader {
		leader = 1
	}
	gauge("heliosdb_is_leader", "1 if this node is the raft leader.", leader)
	gauge("heliosdb_rows", "Rows stored.", float64(st.Rows))
	gauge("heliosdb_dirty_bytes", "Bytes changed since the last completed dump.", float64(st.DirtyBytes))
	n.metrics.mu.Lock()
	counter("heliosdb_writes_total", "Change sets proposed by this node.", float64(n.metrics.writes))
	counter("heliosdb_write_errors_total", "Change sets that failed.", float64(n.metrics.writeErrors))
	fmt.Fprintf(&b, "# HELP heliosdb_write_seconds Latency of replicated writes.\n# TYPE heliosdb_write_seconds histogram\n")
	for i, bound := range latencyBounds {
		fmt.Fprintf(&b, "heliosdb_write_seconds_bucket{le=\"%g\"} %d\n", bound.Seconds(), n.metrics.writeBuckets[i])
	}
	fmt.Fprintf(&b, "heliosdb_write_seconds_bucket{le=\"+Inf\"} %d\nheliosdb_write_seconds_sum %g\nheliosdb_write_seconds_count %d\n",
		n.metrics.writes, n.metrics.writeSum.Seconds(), n.metrics.writes)
	gauge("heliosdb_connections", "PostgreSQL client connections open now.", float64(n.pg.Connections()))
	ps := n.fsm.PersistStats()
	fmt.Fprintf(&b, "# HELP heliosdb_snapshots_total Raft snapshots persisted, by kind.\n# TYPE heliosdb_snapshots_total counter\n")
	fmt.Fprintf(&b, "heliosdb_snapshots_total{kind=\"full\"} %d\nheliosdb_snapshots_total{kind=\"incremental\"} %d\nheliosdb_snapshots_total{kind=\"failed\"} %d\n", ps.Full, ps.Incremental, ps.Failed)
	gauge("heliosdb_snapshot_last_seconds", "Time to persist the last raft snapshot.", ps.LastDuration.Seconds())
	gauge("heliosdb_snapshot_last_bytes", "Bytes written by the last raft snapshot.", float64(ps.LastBytes))
	rs := n.fsm.RestoreStats()
	counter("heliosdb_snapshot_restores_total", "Raft snapshots restored (from this node's store at start, or received from the leader).", float64(rs.Restores))
	gauge("heliosdb_snapshot_restore_last_bytes", "Size of the last restored snapshot stream.", float64(rs.LastBytes))
	gauge("heliosdb_snapshot_restore_last_rows", "Rows in the last restored snapshot.", float64(rs.LastRows))
	gauge("heliosdb_snapshot_restore_last_load_seconds", "Time the last restored snapshot took to decode, verify and load (overlaps the receive when it came from the leader).", rs.LastLoad.Seconds())
	gauge("heliosdb_snapshot_restore_last_receive_seconds", "First to last byte of the last snapshot received from the leader (0: read from this node's store).", rs.LastReceive.Seconds())
	counter("heliosdb_dumps_total", "Dumps served.", float64(n.metrics.dumps))
	counter("heliosdb_dump_errors_total", "Dumps that failed.", float64(n.metrics.dumpErrors))
	counter("heliosdb_dump_seconds_total", "Time spent writing dumps.", n.metrics.dumpSeconds)
	n.metrics.mu.Unlock()
	stats := n.repl.Stats()
	keys := make([]string, 0, len(stats))
	for k := range stats {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		var f float64
		if _, err := fmt.Sscan(stats[k], &f); err == nil {
			gauge("heliosdb_raft_"+k, "hashicorp/raft stat "+k+".", f)
		}
	}
	n.writeAntiEntropyMetrics(&b)
	_, _ = w.Write([]byte(b.String()))
}
