package node

import (
	"context"
	"crypto/rand"
	"errors"
	"time"

	"github.com/heliosdb/heliosdb-lite/engine"
	"github.com/heliosdb/heliosdb-lite/fsm"
	"github.com/heliosdb/heliosdb-lite/replication"
	"github.com/heliosdb/heliosdb-lite/sql"
)

// sqlConfig connects the SQL layer to raft (writes) and to the engine
// behind the right read barrier (reads).
func (n *Node) sqlConfig() sql.Config {
	return sql.Config{
		Propose:    n.propose,
		Snapshot:   n.readSnapshot,
		Clock:      time.Now,
		Rand:       rand.Reader,
		DirtyBytes: n.eng.DirtyBytes,
		Members:    n.sqlMembers,
		// SHOW heliosdb.replication_lag (node/cluster.go).
		ReplicationLag: n.replicationLag,
		Version:        Version,
		// SHOW heliosdb.node_id: which member a session is connected to
		// (the restore CLI compares it with heliosdb.members to find the
		// leader).
		Settings: map[string]string{"heliosdb.node_id": n.cfg.Server.NodeID},
		CopyTargets: map[string]sql.CopyTarget{
			"dump":         {Out: n.copyDumpOut},
			"restore":      {In: n.copyRestoreIn},
			"cluster_dump": {Out: n.copyClusterDumpOut},
			"backup_file":  {Out: n.copyBackupFileOut},
			"backups":      {Out: n.copyBackupsOut},
		},
	}
}

// propose replicates a change set and returns the LSN it was applied at.
// Engine errors (constraint violations, 40001 conflicts) come back as they
// are, also through a forwarding follower (as replication.RemoteError with
// the same SQLSTATE); replication errors are given a SQLSTATE so the client
// can tell a retryable failure from a permanent one.
func (n *Node) propose(ctx context.Context, cs *engine.ChangeSet) (uint64, error) {
	start := time.Now()
	_, idx, err := n.repl.Apply(ctx, fsm.EncodeChangeSet(cs))
	n.metrics.observeWrite(time.Since(start), err)
	if err != nil {
		return 0, replErr(err)
	}
	return idx, nil
}

// readSnapshot returns a state to read at the requested consistency:
// linearizable (default) waits for a read index confirmed by the leader;
// leader_lease trusts the leader's lease without a round trip (on a
// follower it falls back to linearizable); local reads whatever this node
// has applied, possibly stale (SHOW heliosdb.replication_lag says how much).
func (n *Node) readSnapshot(ctx context.Context, consistency string) (*engine.Snapshot, error) {
	if err := n.readFence(); err != nil {
		return nil, err
	}
	switch consistency {
	case "local":
	case "leader_lease":
		if !n.repl.IsLeader() {
			if err := n.repl.LinearizableRead(ctx); err != nil {
				return nil, replErr(err)
			}
		}
	default:
		if err := n.repl.LinearizableRead(ctx); err != nil {
			return nil, replErr(err)
		}
	}
	return n.eng.Snapshot(), nil
}

func (n *Node) sqlMembers() []sql.MemberInfo {
	ms, err := n.repl.Members()
	if err != nil {
		return nil
	}
	var leaderApplied uint64
	for _, m := range ms {
		if m.Role == replication.RoleLeader {
			leaderApplied = m.AppliedIndex
		}
	}
	out := make([]sql.MemberInfo, 0, len(ms))
	for _, m := range ms {
		mi := sql.MemberInfo{NodeID: m.ID, Role: string(m.Role), Voter: m.Voter, PgAddr: m.PGAddr, AppliedLSN: m.AppliedIndex, Healthy: m.Healthy}
		if m.ID == n.cfg.Server.NodeID {
			mi.AppliedLSN = n.repl.AppliedIndex()
			if mi.PgAddr == "" {
				mi.PgAddr = n.PGAddr()
			}
		}
		if leaderApplied > mi.AppliedLSN {
			mi.Lag = leaderApplied - mi.AppliedLSN
		}
		if m.LastContact >= 0 {
			mi.LastContact = time.Now().Add(-m.LastContact)
		}
		out = append(out, mi)
	}
	return out
}

// sqlStateErr gives a replication error the SQLSTATE clients act on.
type sqlStateErr struct {
	code string
	err  error
}

func (e *sqlStateErr) Error() string    { return e.err.Error() }
func (e *sqlStateErr) Unwrap() error    { return e.err }
func (e *sqlStateErr) SQLState() string { return e.code }

func replErr(err error) error {
	var s interface{ SQLState() string }
	if errors.As(err, &s) && s.SQLState() != "" {
		return err
	}
	return &sqlStateErr{code: replication.SQLState(err), err: err}
}
