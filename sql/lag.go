package sql

import (
	"fmt"
	"time"
)

// replicationLag formats SHOW heliosdb.replication_lag: how many log
// entries this node has not applied yet, and how long ago it last heard
// from the leader. A 'local' read may miss at most those entries.
func (db *DB) replicationLag() string {
	if db.cfg.ReplicationLag == nil {
		return "0 entries, 0ms"
	}
	n, d := db.cfg.ReplicationLag()
	return fmt.Sprintf("%d entries, %dms", n, d.Round(time.Millisecond).Milliseconds())
}
