package node

import (
	"context"
	"fmt"
	"testing"

	"github.com/heliosdb/heliosdb-lite/engine"
	"github.com/heliosdb/heliosdb-lite/replication"
	"github.com/heliosdb/heliosdb-lite/sql"
)

// TestLeadershipLostIsNotReevaluated: a write whose proposal lost
// leadership before its commit was known may have committed. The client
// gets SQLSTATE 40003 (completion unknown) and the statement is not
// evaluated and proposed again by the server: with 40001 it was, and an
// update that had committed was applied twice (a chaos run saw an upsert
// undo another client's later write this way).
func TestLeadershipLostIsNotReevaluated(t *testing.T) {
	e := engine.New()
	cfg := sql.NewLocalConfig(e)
	local := cfg.Propose
	calls, lostAt := 0, -1
	cfg.Propose = func(ctx context.Context, cs *engine.ChangeSet) (uint64, error) {
		calls++
		lsn, err := local(ctx, cs)
		if calls == lostAt && err == nil {
			// Committed, but this node lost leadership before it learned so.
			return 0, replErr(fmt.Errorf("replication: %w", replication.ErrLeadershipLost))
		}
		return lsn, err
	}
	s := sql.New(cfg).NewLocalSession()
	ctx := context.Background()
	for _, q := range []string{"create table c (id int primary key, n int)", "insert into c values (1, 0)"} {
		if _, err := s.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{"update c set n = n + 1 where id = 1", "begin; update c set n = n + 1 where id = 1; commit"} {
		lostAt = calls + 1
		_, err := s.Exec(ctx, q)
		if got := replication.SQLState(err); got != "40003" {
			t.Fatalf("%s: error %v (SQLSTATE %s), want 40003", q, err, got)
		}
		if calls != lostAt {
			t.Fatalf("%s: proposed %d times after the lost leadership", q, calls-lostAt+1)
		}
		if q[0] == 'b' {
			_, _ = s.Exec(ctx, "rollback")
		}
	}
	res, err := s.Exec(ctx, "select n from c where id = 1")
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(res[0].Rows[0][0]); got != "2" {
		t.Fatalf("n = %s after two increments whose outcome was unknown (each applied once): want 2", got)
	}
}
