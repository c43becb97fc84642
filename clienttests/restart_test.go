package clienttests

import (
	"context"
	"flag"
	"math/rand"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heliosdb/heliosdb-lite/internal/proctest"
	"github.com/jackc/pgx/v5"
)

var seed = flag.Int64("seed", 0, "seed for the kill timings of TestRestartDurability (0: time-based)")

// TestRestartDurability writes in a loop through pgx (autocommit inserts
// and two-statement transactions), SIGKILLs the server at a seeded random
// moment, restarts it and checks that every acknowledged write is there;
// then the same with SIGTERM. Replay with -seed.
func TestRestartDurability(t *testing.T) {
	s := *seed
	if s == 0 {
		s = time.Now().UnixNano()
	}
	t.Logf("seed %d (replay with -seed %d)", s, s)
	rng := rand.New(rand.NewSource(s))
	n := proctest.Start(t, "node", "--data-dir", t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := n.Connect(ctx)
	if _, err := c.Exec(ctx, "CREATE TABLE acked (id int PRIMARY KEY, v text NOT NULL); CREATE TABLE pairs (id int PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	c.Close(ctx)
	acked := map[int]bool{}
	next := 0
	for round := 0; round < 4; round++ {
		kill := round < 3
		var mu sync.Mutex
		var wg sync.WaitGroup
		stop := make(chan struct{})
		var stopping atomic.Bool // set before the server is signalled
		for w := 0; w < 2; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				conn, err := proctestConnect(ctx, n)
				if err != nil {
					return
				}
				defer conn.Close(context.Background())
				for i := 0; i < 100000; i++ {
					select {
					case <-stop:
						return
					default:
					}
					mu.Lock()
					id := next
					next++
					mu.Unlock()
					var err error
					if id%2 == 0 {
						_, err = conn.Exec(ctx, "INSERT INTO acked VALUES ($1, 'v')", id)
					} else {
						err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
							if _, err := tx.Exec(ctx, "INSERT INTO acked VALUES ($1, 'tx')", id); err != nil {
								return err
							}
							_, err := tx.Exec(ctx, "INSERT INTO pairs VALUES ($1)", id)
							return err
						})
					}
					if err != nil {
						if !stopping.Load() {
							t.Errorf("write %d failed while the server runs: %v", id, err)
						}
						return // unacknowledged
					}
					mu.Lock()
					acked[id] = true
					mu.Unlock()
				}
			}(w)
		}
		time.Sleep(time.Duration(100+rng.Intn(500)) * time.Millisecond)
		stopping.Store(true)
		if kill {
			n.Kill()
		} else {
			close(stop)
			wg.Wait()
			n.Stop()
		}
		if kill {
			close(stop)
			wg.Wait()
		}
		n.Restart()
		conn := n.Connect(ctx)
		rows, err := conn.Query(ctx, "SELECT a.id, p.id IS NOT NULL FROM acked a LEFT JOIN pairs p ON a.id = p.id")
		if err != nil {
			t.Fatal(err)
		}
		have := map[int]bool{}
		for rows.Next() {
			var id int
			var paired bool
			if err := rows.Scan(&id, &paired); err != nil {
				t.Fatal(err)
			}
			have[id] = true
			if paired != (id%2 == 1) {
				t.Errorf("round %d: row %d half of a transaction", round, id)
			}
		}
		if rows.Err() != nil {
			t.Fatal(rows.Err())
		}
		var lost []int
		for id := range acked {
			if !have[id] {
				lost = append(lost, id)
			}
		}
		if len(lost) > 0 {
			t.Fatalf("round %d (kill=%v): %d acknowledged rows lost, e.g. %v", round, kill, len(lost), lost[:min(5, len(lost))])
		}
		t.Logf("round %d (SIGKILL=%v): %d acknowledged rows survived, %d present", round, kill, len(acked), len(have))
		conn.Close(ctx)
	}
	if len(acked) == 0 {
		t.Fatal("no write was acknowledged")
	}
}
