package clustertests

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// tableDump is one node's content of one table: rows as text, sorted.
type tableDump struct {
	rows []string
	hash string
}

// dumpNode reads every user table of nd with local reads (the caller has
// waited until every node applied the same index, so local is exact).
func dumpNode(ctx context.Context, nd *Node) (map[string]tableDump, error) {
	c, err := pgx.Connect(ctx, nd.DSN())
	if err != nil {
		return nil, err
	}
	defer c.Close(context.Background())
	if _, err := c.Exec(ctx, "set heliosdb.read_consistency = 'local'"); err != nil {
		return nil, err
	}
	rows, err := c.Query(ctx, "select table_name from information_schema.tables where table_schema = 'public' order by 1")
	if err != nil {
		return nil, err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	out := map[string]tableDump{}
	for _, name := range names {
		rs, err := c.Query(ctx, fmt.Sprintf("select * from %q", name), pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			return nil, err
		}
		var lines []string
		for rs.Next() {
			vals := rs.RawValues()
			parts := make([]string, len(vals))
			for i, v := range vals {
				if v == nil {
					parts[i] = "NULL"
				} else {
					parts[i] = string(v)
				}
			}
			lines = append(lines, strings.Join(parts, "|"))
		}
		if err := rs.Err(); err != nil {
			return nil, err
		}
		slices.Sort(lines)
		h := sha256.Sum256([]byte(strings.Join(lines, "\n")))
		out[name] = tableDump{rows: lines, hash: hex.EncodeToString(h[:8])}
	}
	return out, nil
}

// EnsureSame waits until every running node applied the leader's commit
// index, then compares every table's sorted rows (and their hash) across
// the nodes, and then the canonical dumps: a cluster-wide dump whose files
// must be byte-identical on every running member at one LSN
// (EnsureSameDump). It fails the test on any difference.
//
// Statements whose client gave up (a cancelled context) may still commit
// after the writers stopped, so the comparison only counts when the
// leader's commit index did not move while the nodes were read; otherwise
// it is repeated (bounded).
func (c *Cluster) EnsureSame() {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var ref map[string]tableDump
	var idx uint64
	for attempt := 1; ; attempt++ {
		idx = c.WaitForApplied(60 * time.Second)
		var diff error
		ref, diff = c.compareNodes(ctx)
		st, err := c.Leader(30 * time.Second).Status()
		if err != nil {
			c.t.Fatal(err)
		}
		stable := st.CommitIndex == idx
		if diff == nil && stable {
			break
		}
		if attempt == 10 || (diff != nil && stable) {
			if diff == nil {
				diff = fmt.Errorf("commit index still moving (%d -> %d)", idx, st.CommitIndex)
			}
			c.t.Fatalf("EnsureSame (attempt %d, index %d): %v", attempt, idx, diff)
		}
		time.Sleep(200 * time.Millisecond)
	}
	var sum []string
	for name, td := range ref {
		sum = append(sum, fmt.Sprintf("%s:%d rows/%s", name, len(td.rows), td.hash))
	}
	slices.Sort(sum)
	c.t.Logf("EnsureSame: %d nodes identical at index >= %d: %s", len(c.Running()), idx, strings.Join(sum, " "))
	c.t.Logf("EnsureSame: identical cluster dump files at one LSN:\n%s", c.EnsureSameDump(idx))
}

// countOn returns select count(*) from table on nd (linearizable).
func countOn(ctx context.Context, nd *Node, table string) (int64, error) {
	c, err := pgx.Connect(ctx, nd.DSN())
	if err != nil {
		return 0, err
	}
	defer c.Close(context.Background())
	var n int64
	err = c.QueryRow(ctx, "select count(*) from "+table).Scan(&n)
	return n, err
}

// idsOn returns the ids in table (column id) on nd, local read.
func idsOn(ctx context.Context, nd *Node, table string) (map[int64]bool, error) {
	c, err := pgx.Connect(ctx, nd.DSN())
	if err != nil {
		return nil, err
	}
	defer c.Close(context.Background())
	if _, err := c.Exec(ctx, "set heliosdb.read_consistency = 'local'"); err != nil {
		return nil, err
	}
	rows, err := c.Query(ctx, "select id from "+table)
	if err != nil {
		return nil, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, err
	}
	m := make(map[int64]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	return m, nil
}

// EnsureAcked checks that every acknowledged id is in table on every
// running node (after EnsureSame has waited for them to catch up).
func (c *Cluster) EnsureAcked(table string, acked []int64) int {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lost := 0
	for _, nd := range c.Running() {
		have, err := idsOn(ctx, nd, table)
		if err != nil {
			c.t.Fatalf("read %s on %s: %v", table, nd.ID, err)
		}
		for _, id := range acked {
			if !have[id] {
				lost++
				c.t.Errorf("acknowledged id %d missing on %s", id, nd.ID)
			}
		}
	}
	return lost
}

// compareNodes dumps every running node and returns the first node's
// tables, or an error describing the first difference.
func (c *Cluster) compareNodes(ctx context.Context) (map[string]tableDump, error) {
	var ref map[string]tableDump
	var refID string
	for _, nd := range c.Running() {
		d, err := dumpNode(ctx, nd)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", nd.ID, err)
		}
		if ref == nil {
			ref, refID = d, nd.ID
			continue
		}
		if len(d) != len(ref) {
			return nil, fmt.Errorf("%s has %d tables, %s has %d", nd.ID, len(d), refID, len(ref))
		}
		for name, td := range ref {
			od, ok := d[name]
			if !ok {
				return nil, fmt.Errorf("table %s missing on %s", name, nd.ID)
			}
			if od.hash != td.hash {
				return nil, fmt.Errorf("table %s differs: %s has %d rows (hash %s), %s has %d rows (hash %s)",
					name, refID, len(td.rows), td.hash, nd.ID, len(od.rows), od.hash)
			}
		}
	}
	return ref, nil
}
