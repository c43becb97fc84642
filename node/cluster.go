package node

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/heliosdb/heliosdb-lite/replication"
)

// MemberView is one member as served on /members (and printed by
// `heliosdb-lite members`). Field names match the heliosdb.members view.
type MemberView struct {
	NodeID      string `json:"node_id"`
	Role        string `json:"role"`
	Voter       bool   `json:"voter"`
	PGAddr      string `json:"pg_addr"`
	RaftAddr    string `json:"raft_addr"`
	AdminAddr   string `json:"admin_addr"`
	GossipAddr  string `json:"gossip_addr"`
	GossipState string `json:"gossip_state"`
	AppliedLSN  uint64 `json:"applied_lsn"`
	Lag         uint64 `json:"lag"`
	// LastContactMS is -1 when unknown.
	LastContactMS int64 `json:"last_contact_ms"`
	Healthy       bool  `json:"healthy"`
}

// memberViews turns replication members into the admin API's view. Lag is
// measured against the leader's applied index as this node knows it (its
// own when it leads, else the leader's last gossip), so it is approximate
// for other nodes by up to one metadata refresh interval.
func (n *Node) memberViews(ms []replication.Member) []MemberView {
	var leaderApplied uint64
	for _, m := range ms {
		if m.Role == replication.RoleLeader {
			leaderApplied = m.AppliedIndex
		}
	}
	out := make([]MemberView, 0, len(ms))
	for _, m := range ms {
		v := MemberView{NodeID: m.ID, Role: string(m.Role), Voter: m.Voter, PGAddr: m.PGAddr, RaftAddr: m.RaftAddr,
			AdminAddr: m.AdminAddr, GossipAddr: m.GossipAddr, GossipState: m.GossipState, AppliedLSN: m.AppliedIndex,
			LastContactMS: -1, Healthy: m.Healthy}
		if m.ID == n.cfg.Server.NodeID {
			// A single node has no gossip metadata to carry its addresses.
			if v.PGAddr == "" {
				v.PGAddr = n.PGAddr()
			}
			if v.AdminAddr == "" && n.httpLn != nil {
				v.AdminAddr = n.httpLn.Addr().String()
			}
		}
		if leaderApplied > v.AppliedLSN {
			v.Lag = leaderApplied - v.AppliedLSN
		}
		if m.LastContact >= 0 {
			v.LastContactMS = m.LastContact.Milliseconds()
		}
		out = append(out, v)
	}
	return out
}

// StatusView is /status: the node's Status plus its raft view.
type StatusView struct {
	Status
	Cluster  bool   `json:"cluster"`
	Role     string `json:"role"`
	LeaderID string `json:"leader_id"`
	// RaftApplied is the last log index applied (the LSN a read sees).
	RaftApplied uint64 `json:"raft_applied_index"`
	CommitIndex uint64 `json:"commit_index"`
	// LagEntries and LastContactMS are what SHOW heliosdb.replication_lag
	// reports.
	LagEntries    uint64 `json:"lag_entries"`
	LastContactMS int64  `json:"last_contact_ms"`
	Term          uint64 `json:"term"`
	Voters        int    `json:"voters"`
}

func (n *Node) statusView() StatusView {
	st := n.Status()
	stats := n.repl.Stats()
	num := func(k string) uint64 { v, _ := strconv.ParseUint(stats[k], 10, 64); return v }
	lag, since := n.replicationLag()
	v := StatusView{Status: st, Cluster: n.cfg.Clustered(), Role: stats["state"], LeaderID: stats["leader_id"],
		RaftApplied: n.repl.AppliedIndex(), CommitIndex: num("commit_index"), LagEntries: lag,
		LastContactMS: since.Milliseconds(), Term: num("term"), Voters: int(num("num_peers")) + 1}
	v.Leader = v.LeaderID
	return v
}

// replicationLag is the source of SHOW heliosdb.replication_lag: entries
// committed in the cluster that this node has not applied yet (the larger
// of its own commit index and the leader's last published applied index,
// minus what it applied) and the time since it last heard from the leader
// (0 on the leader). Never blocks.
func (n *Node) replicationLag() (uint64, time.Duration) {
	// raft's applied index also counts entries the FSM never sees (no-ops,
	// barriers); the FSM's counts only what it applied. Either is current.
	applied := max(n.repl.AppliedIndex(), n.repl.Raft().AppliedIndex())
	if n.repl.IsLeader() {
		commit, _ := strconv.ParseUint(n.repl.Stats()["commit_index"], 10, 64)
		if commit > applied {
			return commit - applied, 0
		}
		return 0, 0
	}
	target, _ := strconv.ParseUint(n.repl.Raft().Stats()["commit_index"], 10, 64)
	if ms, err := n.repl.Members(); err == nil {
		for _, m := range ms {
			if m.Role == replication.RoleLeader && m.AppliedIndex > target {
				target = m.AppliedIndex
			}
		}
	}
	var since time.Duration
	if lc := n.repl.Raft().LastContact(); !lc.IsZero() {
		since = time.Since(lc)
	}
	if target > applied {
		return target - applied, since
	}
	return 0, since
}

// Done is closed when the node starts shutting down (Close, or a graceful
// leave requested over the admin API); the process should then exit.
func (n *Node) Done() <-chan struct{} { return n.shutdown }

// handleLeave (POST /leave) removes this node from the cluster gracefully
// and then shuts it down: the answer is sent once the leader has removed
// it (or the attempt failed), the shutdown happens after the answer. When
// the cluster has an RPC token, the request must carry it like internal
// RPCs do (X-Heliosdb-Raft-Token).
func (n *Node) handleLeave(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	if !n.cfg.Clustered() {
		http.Error(w, "not in cluster mode", http.StatusBadRequest)
		return
	}
	if tok := n.cfg.Cluster.RPCToken; tok != "" && subtle.ConstantTimeCompare([]byte(r.Header.Get("X-Heliosdb-Raft-Token")), []byte(tok)) != 1 {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	err := n.repl.Leave(r.Context())
	if err != nil {
		http.Error(w, "leave failed: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "left the cluster; shutting down")
	// Not a goFunc: Close waits for those, and this goroutine calls Close.
	go func() {
		if err := n.Close(); err != nil {
			n.log.Warn("close after leave", "err", err)
		}
	}()
}
