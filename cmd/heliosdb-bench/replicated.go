package main

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

var writeClients = []int{1, 8, 64}

// writeShape is the duration of one load run and the failover repeats.
func writeShape(cfg config) (time.Duration, int) {
	if cfg.Smoke {
		return time.Second, 1
	}
	return 3 * time.Second, 10
}

// replicated holds one system's figures for the write and failover rows.
type replicated struct {
	writes   map[int]loadStats
	failover stat
	err      error // why the figures are missing, if they are
	foErr    error
}

// nextID numbers our bench rows across every run (primary keys never
// repeat, so every insert is a new row as every etcd put is a new key).
var nextID atomic.Int64

func pgxClient(dsn, sql string) func(ctx context.Context, i int) (client, error) {
	return func(ctx context.Context, i int) (client, error) {
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return client{}, err
		}
		return client{
			write: func(ctx context.Context, _ int64) error {
				_, err := c.Exec(ctx, sql, nextID.Add(1), benchPayload)
				return err
			},
			close: func() { c.Close(context.Background()) },
		}, nil
	}
}

const insertW = "insert into w values ($1, $2)"

// oursReplicated measures single-row inserts through the leader and the
// failover time of our 3-node cluster.
func oursReplicated(ctx context.Context, cfg config, c *hcluster, logf func(string, ...any)) replicated {
	d, runs := writeShape(cfg)
	r := replicated{writes: map[int]loadStats{}}
	leader, err := c.leader(ctx, 30*time.Second)
	if err == nil {
		err = leader.exec(ctx, "create table w (id bigint primary key, v text)")
	}
	if err != nil {
		r.err = err
		return r
	}
	for _, n := range writeClients {
		logf("ours: replicated writes, %d clients", n)
		var rs []loadResult
		for i := 0; i < cfg.Runs; i++ {
			lr, err := runLoad(ctx, n, d, nil, pgxClient(leader.dsn(), insertW))
			if err != nil {
				r.err = err
				return r
			}
			rs = append(rs, lr)
		}
		r.writes[n] = collect(rs)
	}
	logf("ours: failover x%d", runs)
	var xs []float64
	for i := 0; i < runs; i++ {
		fo, err := oursFailover(ctx, c)
		if err != nil {
			r.foErr = err
			return r
		}
		xs = append(xs, fo.Seconds())
	}
	r.failover = newStat(xs)
	return r
}

// oursFailover: SIGKILL the leader, then write through a survivor until a
// write is acknowledged; the time between is the failover. The killed node
// is restarted and the cluster made whole again before returning.
func oursFailover(ctx context.Context, c *hcluster) (time.Duration, error) {
	if err := c.waitReady(ctx, 60*time.Second); err != nil {
		return 0, err
	}
	leader, err := c.leader(ctx, 30*time.Second)
	if err != nil {
		return 0, err
	}
	survivor := c.others(leader)[0]
	conn, err := pgx.Connect(ctx, survivor.dsn())
	if err != nil {
		return 0, err
	}
	defer func() { conn.Close(context.Background()) }()
	start := time.Now()
	leader.kill()
	var last error
	for {
		if time.Since(start) > 30*time.Second {
			return 0, fmt.Errorf("no write acknowledged 30s after killing the leader: %v", last)
		}
		wctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		_, last = conn.Exec(wctx, insertW, nextID.Add(1), "failover")
		cancel()
		if last == nil {
			break
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		if conn.IsClosed() {
			if nc, err := pgx.Connect(ctx, survivor.dsn()); err == nil {
				conn = nc
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	d := time.Since(start)
	if err := leader.start(); err != nil {
		return d, err
	}
	return d, c.waitReady(ctx, 60*time.Second)
}

// etcdReplicated measures puts through the leader and the failover time of
// a 3-member etcd cluster, the same way.
func etcdReplicated(ctx context.Context, cfg config, l *lab, logf func(string, ...any)) replicated {
	d, runs := writeShape(cfg)
	r := replicated{writes: map[int]loadStats{}}
	logf("starting a 3-member etcd cluster")
	e, err := l.startEtcd(ctx)
	if err != nil {
		r.err = err
		return r
	}
	defer e.stop()
	leader, err := e.leader(ctx, 30*time.Second)
	if err != nil {
		r.err = err
		return r
	}
	run := 0
	for _, n := range writeClients {
		logf("etcd: puts, %d clients", n)
		var rs []loadResult
		for i := 0; i < cfg.Runs; i++ {
			run++
			lr, err := runLoad(ctx, n, d, nil, func(ctx context.Context, i int) (client, error) {
				return e.putClient(leader, fmt.Sprintf("bench/%d/%d/", run, i)), nil
			})
			if err != nil {
				r.err = err
				return r
			}
			rs = append(rs, lr)
		}
		r.writes[n] = collect(rs)
	}
	logf("etcd: failover x%d", runs)
	var xs []float64
	for i := 0; i < runs; i++ {
		fo, err := etcdFailover(ctx, e, i)
		if err != nil {
			r.foErr = err
			return r
		}
		xs = append(xs, fo.Seconds())
	}
	r.failover = newStat(xs)
	return r
}

func etcdFailover(ctx context.Context, e *etcdCluster, run int) (time.Duration, error) {
	if err := e.waitReady(ctx, 60*time.Second); err != nil {
		return 0, err
	}
	leader, err := e.leader(ctx, 30*time.Second)
	if err != nil {
		return 0, err
	}
	var survivor *etcdMember
	for _, m := range e.members {
		if m != leader {
			survivor = m
			break
		}
	}
	start := time.Now()
	leader.kill()
	var last error
	for seq := 0; ; seq++ {
		if time.Since(start) > 30*time.Second {
			return 0, fmt.Errorf("etcd: no put acknowledged 30s after killing the leader: %v", last)
		}
		wctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		last = e.put(wctx, survivor, "failover/"+strconv.Itoa(run)+"/"+strconv.Itoa(seq), "failover")
		cancel()
		if last == nil {
			break
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		time.Sleep(5 * time.Millisecond)
	}
	d := time.Since(start)
	if err := leader.start(); err != nil {
		return d, err
	}
	return d, e.waitReady(ctx, 60*time.Second)
}

// replicatedRows adds the write and failover rows, ours beside etcd.
func replicatedRows(rep *report, cfg config, ours, etcd replicated, etcdMissing string) {
	_, runs := writeShape(cfg)
	anchorName := "etcd 3 members, puts via JSON gateway"
	if etcdMissing != "" {
		anchorName = "etcd: " + etcdMissing
	} else if etcd.err != nil {
		anchorName = "etcd FAILED: " + oneLine(etcd.err.Error())
	}
	for _, n := range writeClients {
		base := fmt.Sprintf("replicated writes, %d clients (1-row inserts via leader vs etcd puts)", n)
		if ours.err != nil {
			rep.fail(base, ours.err)
			continue
		}
		o, a := ours.writes[n], etcd.writes[n]
		tput := row{Name: base + ": throughput", Unit: "writes/s", Ours: o.perSec, AnchorName: anchorName, Anchor: a.perSec, HigherBetter: true}
		if n == 64 {
			tput.Target = "≥1.00× etcd"
			if a.perSec.N > 0 {
				tput.Met = met(o.perSec.Med >= a.perSec.Med)
			}
		}
		if o.errs > 0 || a.errs > 0 {
			tput.Note = fmt.Sprintf("failed writes: ours %d, etcd %d", o.errs, a.errs)
		}
		rep.add(tput)
		rep.add(row{Name: base + ": p50 latency", Unit: "ms", Ours: o.p50, AnchorName: anchorName, Anchor: a.p50})
		rep.add(row{Name: base + ": p99 latency", Unit: "ms", Ours: o.p99, AnchorName: anchorName, Anchor: a.p99})
	}
	name := fmt.Sprintf("failover: leader SIGKILL to first acknowledged write (%d runs)", runs)
	switch {
	case ours.err != nil:
		rep.fail(name, ours.err)
	case ours.foErr != nil:
		rep.fail(name, ours.foErr)
	default:
		an := anchorName
		if etcd.foErr != nil {
			an = "etcd FAILED: " + oneLine(etcd.foErr.Error())
		}
		rep.add(row{Name: name, Unit: "s", Ours: ours.failover, AnchorName: an, Anchor: etcd.failover, Target: "<1.5", Met: met(ours.failover.Med < 1.5),
			Note: "ours: raft heartbeat/election timeouts 500ms/500ms (product defaults); etcd: defaults (heartbeat 100ms, election 1000ms); writes retried every 5ms with a 500ms timeout through a survivor"})
	}
}
