package clustertests

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/heliosdb/heliosdb-lite/internal/proctest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// chaosDuration is HELIOSDB_CHAOS_DURATION (make chaos), default 45s in
// make test.
func chaosDuration(t *testing.T) time.Duration {
	if v := os.Getenv("HELIOSDB_CHAOS_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("HELIOSDB_CHAOS_DURATION=%q: %v", v, err)
		}
		return d
	}
	return 45 * time.Second
}

const chaosKeys = 24

// chaosReport is what a run prints.
type chaosReport struct {
	ops, okOps, failedOps atomic.Int64
	mu                    sync.Mutex // guards faults, recoveries
	faults                map[string]int
	recoveries            []time.Duration // heal -> first write served
	during                []time.Duration // fault -> first write served, while it lasts
}

// TestChaos runs clients against a 3-node cluster while injecting faults
// (leader kill, follower kill, leader pause, leader isolated, random
// halves, one-way cut, slow links), then heals, checks that a final write
// succeeds, that no acknowledged insert is missing, that all replicas are
// identical and that the register history is linearizable (porcupine).
func TestChaos(t *testing.T) {
	skipShort(t)
	dur := chaosDuration(t)
	c := NewCluster(t, 3, Options{SnapshotThreshold: 2048, TrailingLogs: 1024, SnapshotInterval: 2 * time.Second})
	mustExec(t, c.Nodes[0], "create table kv (k int primary key, v int not null)")
	mustExec(t, c.Nodes[0], ackedDDL)
	rep := &chaosReport{faults: map[string]int{}}
	h := newHistory()
	var ackMu sync.Mutex
	var acked []int64
	var nextID, nextVal atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	const clients = 6
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(client int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(c.Seed, uint64(client)))
			var conn *pgx.Conn
			var connNode *Node
			defer func() {
				if conn != nil {
					conn.Close(context.Background())
				}
			}()
			for ctx.Err() == nil {
				if conn == nil || rng.IntN(20) == 0 {
					if conn != nil {
						conn.Close(context.Background())
						conn = nil
					}
					connNode = c.Nodes[rng.IntN(len(c.Nodes))]
					cctx, ccancel := context.WithTimeout(ctx, time.Second)
					var err error
					conn, err = pgx.Connect(cctx, connNode.DSN())
					ccancel()
					if err != nil {
						conn = nil
						sleepCtx(ctx, 100*time.Millisecond)
						continue
					}
				}
				opCtx, opCancel := context.WithTimeout(ctx, 2*time.Second)
				var err error
				switch r := rng.IntN(100); {
				case r < 45:
					in := kvInput{Write: true, Key: rng.IntN(chaosKeys), Value: int(nextVal.Add(1))}
					call := h.now()
					_, err = conn.Exec(opCtx, "insert into kv (k, v) values ($1, $2) on conflict (k) do update set v = excluded.v", in.Key, in.Value)
					if ctx.Err() == nil || err == nil {
						h.add(client, in, call, kvOutput{}, err)
					} else {
						h.add(client, in, call, kvOutput{}, ctx.Err())
					}
				case r < 85:
					in := kvInput{Key: rng.IntN(chaosKeys)}
					call := h.now()
					var v int
					err = conn.QueryRow(opCtx, "select v from kv where k = $1", in.Key).Scan(&v)
					if errors.Is(err, pgx.ErrNoRows) {
						err, v = nil, 0
					}
					h.add(client, in, call, kvOutput{Value: v}, err)
				default:
					id := nextID.Add(1)
					_, err = conn.Exec(opCtx, "insert into acked (id, node) values ($1, $2)", id, connNode.ID)
					if err == nil {
						ackMu.Lock()
						acked = append(acked, id)
						ackMu.Unlock()
					}
				}
				opCancel()
				rep.ops.Add(1)
				if err != nil {
					rep.failedOps.Add(1)
					var pe *pgconn.PgError
					if !errors.As(err, &pe) { // connection-level: reconnect
						conn.Close(context.Background())
						conn = nil
					}
				} else {
					rep.okOps.Add(1)
				}
			}
		}(i)
	}

	faults := []string{"kill-leader", "kill-follower", "pause-leader", "isolate-leader", "random-halves", "one-way-leader-out", "slow-links", "leave-rejoin"}
	end := time.Now().Add(dur)
	for time.Now().Before(end) {
		kind := faults[c.Rand.IntN(len(faults))]
		hold := time.Duration(500+c.Rand.IntN(2500)) * time.Millisecond
		during := c.injectFault(kind, hold)
		rec, _ := c.timeToWrite(30 * time.Second)
		rep.mu.Lock()
		rep.faults[kind]++
		rep.recoveries = append(rep.recoveries, rec)
		if during >= 0 {
			rep.during = append(rep.during, during)
		}
		rep.mu.Unlock()
		served := "none"
		if during >= 0 {
			served = during.Round(time.Millisecond).String()
		}
		t.Logf("fault %-18s held %v: first write during the fault after %s; after heal %v", kind, hold.Round(time.Millisecond),
			served, rec.Round(time.Millisecond))
		time.Sleep(time.Duration(500+c.Rand.IntN(1500)) * time.Millisecond)
	}
	cancel()
	wg.Wait()

	// Heal everything, then the final write must succeed.
	c.Heal()
	for _, nd := range c.Nodes {
		if !nd.Running() {
			nd.launch()
		}
	}
	c.WaitReady(60 * time.Second)
	mustExec(t, c.Nodes[0], "insert into acked (id, node) values (-1, 'final')")
	c.EnsureSame() // rows, then identical cluster dump files at one LSN
	aeRep := c.EnsureNoDivergence()
	lost := c.EnsureAcked("acked", acked)
	res, n, info := h.check(90 * time.Second)

	rep.mu.Lock()
	defer rep.mu.Unlock()
	var fk []string
	for k, v := range rep.faults {
		fk = append(fk, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(fk)
	med, worst := medWorst(rep.recoveries)
	dmed, dworst := medWorst(rep.during)
	t.Logf("CHAOS REPORT seed=%d duration=%v\n  operations: %d (%d ok, %d failed)\n  faults: %s\n  linearizability (%d register ops): %s\n  acknowledged inserts: %d, lost: %d\n  replicas identical: yes (rows; identical cluster dump files; Merkle roots of %d nodes at LSN %d; anti-entropy differences: %d)\n  fault -> write served during the fault (%d faults): median %v, worst %v\n  heal -> write served: median %v, worst %v",
		c.Seed, dur, rep.ops.Load(), rep.okOps.Load(), rep.failedOps.Load(), strings.Join(fk, " "), n, res, len(acked), lost,
		len(aeRep.Nodes), aeRep.LSN, len(aeRep.Differences),
		len(rep.during), dmed.Round(time.Millisecond), dworst.Round(time.Millisecond), med.Round(time.Millisecond), worst.Round(time.Millisecond))
	switch res {
	case porcupine.Illegal:
		path, err := visualize(info, fmt.Sprintf("heliosdb-chaos-%d.html", c.Seed))
		t.Fatalf("history not linearizable (seed %d); porcupine's view of it: %s (%v)", c.Seed, path, err)
	case porcupine.Unknown:
		t.Logf("linearizability check timed out: inconclusive")
	}
}

// injectFault applies one fault for hold, then undoes it (restart,
// resume, heal).
//
// It returns how long after the fault started a write was first served
// during the fault, or -1 if none was (a minority cut off, or the hold
// shorter than the election).
func (c *Cluster) injectFault(kind string, hold time.Duration) time.Duration {
	leader := c.Leader(30 * time.Second)
	served := time.Duration(-1)
	start := time.Now()
	probe := func() {
		if _, ok := c.timeToWrite(hold); ok {
			served = time.Since(start)
		}
		time.Sleep(time.Until(start.Add(hold)))
	}
	switch kind {
	case "kill-leader":
		leader.Kill()
		probe()
		leader.launch()
	case "kill-follower":
		f := c.others(leader)[c.Rand.IntN(len(c.others(leader)))]
		f.Kill()
		probe()
		f.launch()
	case "pause-leader":
		leader.Pause()
		probe()
		leader.Resume()
	case "isolate-leader":
		c.Isolate(leader)
		probe()
		c.Heal()
	case "random-halves":
		ns := slices.Clone(c.Nodes)
		c.Rand.Shuffle(len(ns), func(i, j int) { ns[i], ns[j] = ns[j], ns[i] })
		k := 1 + c.Rand.IntN(len(ns)-1)
		c.Partition(ns[:k], ns[k:])
		probe()
		c.Heal()
	case "one-way-leader-out":
		c.CutOneWay([]*Node{leader}, c.others(leader))
		probe()
		c.Heal()
	case "slow-links":
		c.SlowLinks(time.Duration(5+c.Rand.IntN(40)) * time.Millisecond)
		probe()
		c.Heal()
	case "leave-rejoin":
		// A membership change under load: a follower leaves gracefully
		// (removed from raft at once), the two others go on, then it comes
		// back with its old data and is re-added, non-voter then voter.
		f := c.others(leader)[c.Rand.IntN(len(c.others(leader)))]
		if out, errOut, code := proctest.Run(c.t, "leave", "--http-addr", f.HTTPAddr()); code != 0 {
			c.t.Logf("leave %s: exit %d: %s%s", f.ID, code, out, errOut)
		}
		if !f.Wait(20 * time.Second) {
			f.Kill()
		}
		// The fault is the node's absence: measure from when it is gone,
		// not from when the leave request was sent.
		start = time.Now()
		probe()
		f.launch()
		c.WaitMembers(90*time.Second, f.ID+" voter again", func(ms []memberView) error {
			for _, m := range ms {
				if m.NodeID == f.ID && m.Voter {
					return nil
				}
			}
			return fmt.Errorf("%s not a voter yet", f.ID)
		})
	}
	return served
}

// timeToWrite measures how long until a write through some running node
// succeeds, and whether one did within timeout.
func (c *Cluster) timeToWrite(timeout time.Duration) (time.Duration, bool) {
	start := time.Now()
	for time.Since(start) < timeout {
		for _, nd := range c.Running() {
			left := timeout - time.Since(start)
			if left <= 0 {
				break
			}
			ctx, cancel := context.WithTimeout(context.Background(), min(300*time.Millisecond, left))
			err := nd.Exec(ctx, "insert into acked (id, node) values ($1, 'probe') on conflict (id) do nothing", -2-time.Now().UnixNano()%1_000_000_000)
			cancel()
			if err == nil && time.Since(start) <= timeout {
				return time.Since(start), true
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return timeout, false
}

func medWorst(ds []time.Duration) (time.Duration, time.Duration) {
	if len(ds) == 0 {
		return 0, 0
	}
	ds = slices.Clone(ds)
	slices.Sort(ds)
	return ds[len(ds)/2], ds[len(ds)-1]
}
