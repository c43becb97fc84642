package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/heliosdb/heliosdb-lite/engine"
)

// Anti-entropy rows of cluster B.

var roundClient = &http.Client{Timeout: 6 * time.Minute}

func aeRound(ctx context.Context, leader *hnode) (aeReport, time.Duration, error) {
	var r aeReport
	if err := leader.postJSON(ctx, roundClient, "/antientropy/run", &r); err != nil {
		return r, 0, err
	}
	if r.Error != "" {
		return r, 0, fmt.Errorf("anti-entropy round: %s", r.Error)
	}
	d, err := time.ParseDuration(r.Duration)
	return r, d, err
}

// aeRows: rounds over the restored table with no difference, then with
// 100 rows deleted behind raft's back on one follower (the debug
// endpoint), found and repaired in the round.
func aeRows(ctx context.Context, cfg config, rep *report, c *hcluster, db bigDB, logf func(string, ...any)) error {
	leader, follower, err := c.follower(ctx)
	if err != nil {
		return err
	}
	var zeroMS, zeroB []float64
	for i := 0; i < cfg.Runs; i++ {
		r, d, err := aeRound(ctx, leader)
		if err != nil {
			return err
		}
		if len(r.Differences) != 0 {
			return fmt.Errorf("healthy cluster: anti-entropy found %d differences", len(r.Differences))
		}
		var most int64
		for _, n := range r.Nodes {
			most = max(most, n.Bytes)
		}
		zeroMS, zeroB = append(zeroMS, ms(d)), append(zeroB, float64(most))
	}
	b0 := newStat(zeroB)
	rep.add(row{Name: fmt.Sprintf("anti-entropy round, 0 differing of %d rows: bytes per node (most)", db.rows), Unit: "B", Ours: b0, Target: "<1024", Met: met(b0.Med < 1024)})
	rep.add(row{Name: fmt.Sprintf("anti-entropy round, 0 differing of %d rows: time", db.rows), Unit: "ms", Ours: newStat(zeroMS),
		Note: "POST /antientropy/run on the leader of a 3-process cluster (heliosdb_debug build), unthrottled; bytes = request + response bodies per node"})

	const diff = 100
	def := benchDef()
	var hundredMS, badB, goodB []float64
	for i := 0; i < cfg.Runs; i++ {
		logf("anti-entropy: deleting %d rows on %s behind raft's back (run %d)", diff, follower.id, i+1)
		for k := 0; k < diff; k++ {
			id := int64((k*(db.rows/diff) + i) % db.rows)
			key, err := def.KeyOf(engine.Row{id, int64(0), "", engine.Timestamp(0)})
			if err != nil {
				return err
			}
			q := url.Values{"table": {tableName}, "key": {hex.EncodeToString([]byte(key))}, "op": {"delete"}}
			if err := follower.postJSON(ctx, adminClient, "/debug/ae/corrupt?"+q.Encode(), nil); err != nil {
				return fmt.Errorf("corrupt %s: %w", follower.id, err)
			}
		}
		r, d, err := aeRound(ctx, leader)
		if err != nil {
			return err
		}
		if len(r.Differences) != diff && !r.Truncated {
			return fmt.Errorf("anti-entropy found %d differences, want %d", len(r.Differences), diff)
		}
		var bad, good int64
		for _, n := range r.Nodes {
			switch n.ID {
			case follower.id:
				bad = n.Bytes
			case leader.id:
			default:
				good = n.Bytes
			}
		}
		hundredMS, badB, goodB = append(hundredMS, ms(d)), append(badB, float64(bad)), append(goodB, float64(good))
	}
	rep.add(row{Name: fmt.Sprintf("anti-entropy round, 100 differing of %d rows: bytes with the divergent node", db.rows), Unit: "B", Ours: newStat(badB),
		AnchorName: "healthy follower", Anchor: newStat(goodB)})
	rep.add(row{Name: fmt.Sprintf("anti-entropy round, 100 differing of %d rows: time (find + repair through raft)", db.rows), Unit: "ms", Ours: newStat(hundredMS),
		AnchorName: "0 differing", Anchor: newStat(zeroMS)})
	return nil
}
