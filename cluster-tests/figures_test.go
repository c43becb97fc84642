package clustertests

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestClusterFigures prints the failover time (leader SIGKILL to the first
// acknowledged write through a survivor, median of HELIOSDB_FAILOVER_RUNS,
// default 10) and replicated single-row insert throughput and latency of a
// 3-node cluster at 1, 8 and 64 clients. Timings are figures, not pass/fail
// criteria: run with `make cluster-bench` (HELIOSDB_CLUSTER_BENCH=1).
func TestClusterFigures(t *testing.T) {
	if os.Getenv("HELIOSDB_CLUSTER_BENCH") == "" {
		t.Skip("figures: set HELIOSDB_CLUSTER_BENCH=1 (make cluster-bench)")
	}
	runs := 10
	if v := os.Getenv("HELIOSDB_FAILOVER_RUNS"); v != "" {
		runs, _ = strconv.Atoi(v)
	}
	c := NewCluster(t, 3, Options{})
	mustExec(t, c.Nodes[0], ackedDDL)
	mustExec(t, c.Nodes[0], "create table bench (id bigint primary key, payload text)")

	var nextID atomic.Int64
	for _, clients := range []int{1, 8, 64} {
		for _, via := range []string{"leader", "all nodes"} {
			leader := c.Leader(10 * time.Second)
			nodes := c.Nodes
			if via == "leader" {
				nodes = []*Node{leader}
			}
			n, lat := writeLoad(t, nodes, clients, 5*time.Second, &nextID)
			slices.Sort(lat)
			p := func(q float64) time.Duration { return lat[int(float64(len(lat)-1)*q)] }
			t.Logf("THROUGHPUT clients=%-3d via %-9s %7.0f writes/s  p50 %v  p99 %v", clients, via, float64(n)/5, p(0.5).Round(10*time.Microsecond), p(0.99).Round(10*time.Microsecond))
		}
	}

	var fo []time.Duration
	for i := 0; i < runs; i++ {
		c.WaitReady(60 * time.Second)
		leader := c.Leader(10 * time.Second)
		survivor := c.others(leader)[0]
		conn, err := pgx.Connect(context.Background(), survivor.DSN())
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		leader.Kill()
		for time.Since(start) < 30*time.Second {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			_, err = conn.Exec(ctx, "insert into acked values ($1, 'failover')", nextID.Add(1))
			cancel()
			if err == nil {
				break
			}
			if conn.IsClosed() {
				conn, _ = pgx.Connect(context.Background(), survivor.DSN())
			}
			time.Sleep(5 * time.Millisecond)
		}
		d := time.Since(start)
		conn.Close(context.Background())
		fo = append(fo, d)
		t.Logf("failover run %d: leader %s killed, write acknowledged through %s after %v", i+1, leader.ID, survivor.ID, d.Round(time.Millisecond))
		leader.launch()
	}
	slices.Sort(fo)
	t.Logf("FAILOVER median %v of %d runs (min %v, max %v)", fo[len(fo)/2].Round(time.Millisecond), len(fo), fo[0].Round(time.Millisecond), fo[len(fo)-1].Round(time.Millisecond))
	c.WaitReady(60 * time.Second)
	c.EnsureSame()
}

// writeLoad runs clients inserting single rows for d and returns how many
// were acknowledged and their latencies.
func writeLoad(t *testing.T, nodes []*Node, clients int, d time.Duration, nextID *atomic.Int64) (int, []time.Duration) {
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	end := time.Now().Add(d)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			conn, err := pgx.Connect(context.Background(), nodes[i%len(nodes)].DSN())
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close(context.Background())
			var mine []time.Duration
			for time.Now().Before(end) {
				s := time.Now()
				if _, err := conn.Exec(context.Background(), "insert into bench values ($1, 'x')", nextID.Add(1)); err != nil {
					t.Error(fmt.Errorf("bench insert: %w", err))
					return
				}
				mine = append(mine, time.Since(s))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	return len(lat), lat
}
