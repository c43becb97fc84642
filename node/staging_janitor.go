package node

import (
	"context"
	"time"

	"github.com/heliosdb/heliosdb-lite/engine"
)

// Leftover staging tables.
//
// A large COPY (sql/copy_staged.go) and a restore of some tables or in
// append mode (restore.go) write their rows into hidden staging tables and
// promote them with one small change set; on any failure they drop the
// staging table themselves. Only a node that dies in the middle (or a drop
// that cannot reach a leader) leaves one behind: invisible to clients, but
// replicated, kept in every raft snapshot and holding memory forever. The
// leader looks at the staging tables each stagingIdle; those of a COPY or
// restore (one id) whose row counts, row-hash sums and schemas did not
// change between two looks have had no write for at least that long, and
// are dropped. Its writer, if it is
// still alive after all, then fails with "relation does not exist" at its
// next write or at its promote: nothing of it reaches the live tables.

// stagingIdle is how long a staging table must go without a write before
// the leader drops it. A COPY or restore writes one every 8 MiB of rows.
const stagingIdle = 10 * time.Minute

// stagingLook is what the janitor compares between two looks, per COPY or
// restore (one id, one staging table per table it fills: a restore's first
// table sits still while the next ones fill).
type stagingLook struct {
	tables, rows int
	hash         uint64 // sum of the tables' row-hash sums
	schemaLSN    uint64 // newest
}

func (n *Node) runStagingJanitor(every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	var last map[string]stagingLook
	for {
		select {
		case <-n.shutdown:
			return
		case <-tick.C:
		}
		if !n.repl.IsLeader() {
			last = nil // a new term: start over, two looks from now
			continue
		}
		last = n.dropIdleStaging(last)
	}
}

// dropIdleStaging drops the staging tables of every id unchanged since
// prev (the previous look) and returns this look.
func (n *Node) dropIdleStaging(prev map[string]stagingLook) map[string]stagingLook {
	snap := n.eng.Snapshot()
	now := map[string]stagingLook{}
	names := map[string][]string{}
	for _, name := range snap.AllTableNames() {
		id, ok := engine.IsStaging(name)
		if !ok {
			continue
		}
		t, ok := snap.Table(name)
		if !ok {
			continue
		}
		l := now[id]
		l.tables++
		l.rows += t.Len()
		l.hash += t.HashSum()
		l.schemaLSN = max(l.schemaLSN, t.SchemaLSN())
		now[id] = l
		names[id] = append(names[id], name)
	}
	for id, look := range now {
		if p, seen := prev[id]; !seen || p != look {
			continue
		}
		ops := make([]engine.Op, 0, len(names[id]))
		for _, name := range names[id] {
			ops = append(ops, engine.Op{Kind: engine.OpDropTable, Table: name})
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := n.propose(ctx, &engine.ChangeSet{Ops: ops})
		cancel()
		if err != nil {
			n.log.Warn("could not drop leftover staging tables", "id", id, "err", err)
			continue // still in now: tried again next time
		}
		delete(now, id)
		n.log.Warn("dropped leftover staging tables: no write to them for longer than the idle limit (an interrupted COPY or restore)",
			"id", id, "tables", look.tables, "rows", look.rows, "idle_limit", n.stagingIdle())
	}
	return now
}

func (n *Node) stagingIdle() time.Duration {
	if n.cfg.stagingIdle > 0 {
		return n.cfg.stagingIdle
	}
	return stagingIdle
}
