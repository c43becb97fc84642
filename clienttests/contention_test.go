package clienttests

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heliosdb/heliosdb-lite/internal/proctest"
	"github.com/jackc/pgx/v5"
)

// TestHotRowContention runs 16 concurrent TPC-B-like sessions (all update
// the single branch row) through the real server with a data dir: no
// transaction may fail, the bank invariant must hold, and the balances
// the clients read back must chain like a serial execution: with positive
// deltas, each account's observed balances sorted ascending step by
// exactly the delta of the transaction that saw them, ending at the final
// balance.
func TestHotRowContention(t *testing.T) {
	const sessions, txPerSession, accounts = 16, 30, 200
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	n := proctest.Start(t, "node", "--data-dir", t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := n.Connect(ctx)
	var sb strings.Builder
	sb.WriteString(`CREATE TABLE br (bid int PRIMARY KEY, bbalance int);
		CREATE TABLE te (tid int PRIMARY KEY, bid int, tbalance int);
		CREATE TABLE ac (aid int PRIMARY KEY, bid int, abalance int);
		CREATE TABLE hi (tid int, bid int, aid int, delta int, mtime timestamp);
		INSERT INTO br VALUES (1, 0);
		INSERT INTO te SELECT g, 1, 0 FROM generate_series(1, 10) g;`)
	fmt.Fprintf(&sb, "INSERT INTO ac SELECT g, 1, 0 FROM generate_series(1, %d) g;", accounts)
	if _, err := c.Exec(ctx, sb.String()); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, sessions)
	obs := make([][]tpcbObs, sessions)
	for i := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			obs[i], err = tpcbSession(ctx, n, rand.New(rand.NewPCG(seed, uint64(i))), txPerSession, accounts, i%2 == 0)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if t.Failed() {
		return
	}
	seen := map[int][]tpcbObs{}
	for _, os := range obs {
		for _, o := range os {
			seen[o.aid] = append(seen[o.aid], o)
		}
	}
	for aid, os := range seen {
		slices.SortFunc(os, func(a, b tpcbObs) int { return cmp.Compare(a.after, b.after) })
		prev := int64(0)
		for _, o := range os {
			if o.after-o.delta != prev {
				t.Fatalf("account %d: observed %+v after balance %d: not a serial history %+v", aid, o, prev, os)
			}
			prev = o.after
		}
		var final int64
		if err := c.QueryRow(ctx, "SELECT abalance FROM ac WHERE aid = $1", aid).Scan(&final); err != nil || final != prev {
			t.Fatalf("account %d: final %d, observed chain ends at %d (%v)", aid, final, prev, err)
		}
	}
	var acc, tel, br, hist, nhist int64
	err := c.QueryRow(ctx, `SELECT (SELECT sum(abalance) FROM ac), (SELECT sum(tbalance) FROM te),
		(SELECT sum(bbalance) FROM br), (SELECT coalesce(sum(delta), 0) FROM hi), (SELECT count(*) FROM hi)`).Scan(&acc, &tel, &br, &hist, &nhist)
	if err != nil {
		t.Fatal(err)
	}
	if acc != hist || tel != hist || br != hist || nhist != sessions*txPerSession {
		t.Fatalf("invariant broken: accounts %d tellers %d branches %d history %d (%d rows)", acc, tel, br, hist, nhist)
	}
	var bad int64
	if err := c.QueryRow(ctx, `SELECT count(*) FROM ac LEFT JOIN (SELECT aid, sum(delta) AS d FROM hi GROUP BY aid) h ON h.aid = ac.aid
		WHERE ac.abalance <> coalesce(h.d, 0)`).Scan(&bad); err != nil || bad != 0 {
		t.Fatalf("%d accounts disagree with history (%v)", bad, err)
	}
}

// tpcbObs is what one committed transaction told its client.
type tpcbObs struct {
	aid          int
	delta, after int64
}

// tpcbSession runs n TPC-B-like transactions (pgbench's statements) on its
// own connection and returns what each committed one read back.
func tpcbSession(ctx context.Context, node *proctest.Node, rng *rand.Rand, n, accounts int, simple bool) ([]tpcbObs, error) {
	cfg, err := pgx.ParseConfig(node.DSN())
	if err != nil {
		return nil, err
	}
	if simple {
		cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	}
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer c.Close(context.Background())
	var out []tpcbObs
	for range n {
		aid, tid, delta := 1+rng.IntN(accounts), 1+rng.IntN(10), 1+rng.IntN(5000)
		tx, err := c.Begin(ctx)
		if err != nil {
			return out, err
		}
		var after int64
		steps := []func() error{
			func() error {
				_, err := tx.Exec(ctx, "UPDATE ac SET abalance = abalance + $1 WHERE aid = $2", delta, aid)
				return err
			},
			func() error { return tx.QueryRow(ctx, "SELECT abalance FROM ac WHERE aid = $1", aid).Scan(&after) },
			func() error {
				_, err := tx.Exec(ctx, "UPDATE te SET tbalance = tbalance + $1 WHERE tid = $2", delta, tid)
				return err
			},
			func() error {
				_, err := tx.Exec(ctx, "UPDATE br SET bbalance = bbalance + $1 WHERE bid = 1", delta)
				return err
			},
			func() error {
				_, err := tx.Exec(ctx, "INSERT INTO hi VALUES ($1, 1, $2, $3, now())", tid, aid, delta)
				return err
			},
			func() error { return tx.Commit(ctx) },
		}
		for i, step := range steps {
			if err := step(); err != nil {
				_ = tx.Rollback(ctx)
				return out, fmt.Errorf("step %d: %w", i, err)
			}
		}
		out = append(out, tpcbObs{aid: aid, delta: int64(delta), after: after})
	}
	return out, nil
}
