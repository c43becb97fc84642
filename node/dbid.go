package node

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/heliosdb/heliosdb-lite/engine"
)

// The database id identifies the lineage of a database: every dump
// records it (SegmentHeader.ClusterID), and an increment is refused when
// the file it continues came from another database (its LSNs would mean
// nothing here: the file would become unrestorable).
//
// It lives in a hidden table, so it is replicated through raft and kept
// in raft snapshots: every node of a cluster has the same id, across
// restarts and leader changes. It is created on the first dump (a change
// set with the random value chosen before proposing, so Apply stays
// deterministic, and a precondition that no id exists, so two nodes
// cannot both create one). User dumps leave hidden tables out, so a
// restore never copies the source's id: a database restored from another
// one's dump keeps its own id (or gets a new one when the restore
// replaced the whole state), and appending from it to the source's files
// is refused.
const dbIDTable = engine.HiddenPrefix + "database_id"

var dbIDKey = string(engine.EncodeKey(nil, int64(1)))

func dbIDDef() *engine.TableDef {
	return &engine.TableDef{
		Name: dbIDTable,
		Columns: []engine.ColumnDef{
			{Name: "id", Type: engine.TypeInt8, NotNull: true},
			{Name: "database_id", Type: engine.TypeText, NotNull: true},
		},
		PrimaryKey: []int{0},
	}
}

// databaseID returns the database id recorded in s, "" if none yet.
func databaseID(s *engine.Snapshot) string {
	t, ok := s.Table(dbIDTable)
	if !ok {
		return ""
	}
	r, ok := t.Get(dbIDKey)
	if !ok {
		return ""
	}
	row, err := r.Decode()
	if err != nil || len(row) < 2 {
		return ""
	}
	id, _ := row[1].(string)
	return id
}

// ensureDatabaseID returns the database id, creating it if the database
// has none yet. Creating it is one small raft entry; when another node
// creates one at the same time, the precondition makes ours fail and the
// winner's id is returned.
func (n *Node) ensureDatabaseID(ctx context.Context) (string, error) {
	// Once created the id stays: one in this node's applied state is
	// committed, and every dump after the first skips a linearizable read
	// (a leader round trip) here. The dump itself reads the id from the
	// snapshot it writes.
	if id := databaseID(n.eng.Snapshot()); id != "" {
		return id, nil
	}
	snap, err := n.readSnapshot(ctx, "linearizable")
	if err != nil {
		return "", err
	}
	if id := databaseID(snap); id != "" {
		return id, nil
	}
	id := uuid.NewString()
	row, err := engine.EncodeRow(nil, engine.Row{int64(1), id})
	if err != nil {
		return "", err
	}
	cs := &engine.ChangeSet{}
	if _, ok := snap.Table(dbIDTable); ok {
		cs.Preconditions = append(cs.Preconditions, engine.Precondition{Kind: engine.PreAbsent, Table: dbIDTable, Key: dbIDKey})
	} else {
		// TableLSN 0: the table must still be absent.
		cs.Preconditions = append(cs.Preconditions, engine.Precondition{Kind: engine.PreSchema, Table: dbIDTable})
		cs.Ops = append(cs.Ops, engine.Op{Kind: engine.OpCreateTable, Table: dbIDTable, Def: dbIDDef()})
	}
	cs.Ops = append(cs.Ops, engine.Op{Kind: engine.OpUpsert, Table: dbIDTable, Key: dbIDKey, Row: row})
	if _, perr := n.propose(ctx, cs); perr != nil {
		// Lost a race with another node creating it? Then use theirs.
		snap, err := n.readSnapshot(ctx, "linearizable")
		if err == nil {
			if other := databaseID(snap); other != "" {
				return other, nil
			}
		}
		return "", fmt.Errorf("dump: recording the database id: %w", perr)
	}
	n.log.Info("database id created", "database_id", id)
	return id, nil
}
