package antientropy_test

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/heliosdb/heliosdb-lite/antientropy"
	"github.com/heliosdb/heliosdb-lite/engine"
	"github.com/heliosdb/heliosdb-lite/replication"
)

func benchRows() int {
	if v, err := strconv.Atoi(os.Getenv("AE_BENCH_ROWS")); err == nil && v > 0 {
		return v
	}
	return 1_000_000
}

// installRows gives every node the same n rows in kv, generated directly
// into the engines (a restore, not through the log): the table is created
// through raft, then one state with the rows is built on top of the
// leader's and installed on every node at the same LSN. Nothing else
// writes meanwhile, so the replicas are identical afterwards.
func (c *tcluster) installRows(n int) {
	c.t.Helper()
	l := c.leader()
	if _, err := c.apply(l, &engine.ChangeSet{Ops: []engine.Op{{Kind: engine.OpCreateTable, Table: "kv", Def: kvDef}}}); err != nil {
		c.t.Fatal(err)
	}
	c.caughtUp()
	base := l.eng.Snapshot()
	tab, _ := base.Table("kv")
	bld := engine.NewBuilderFrom(base, base.LSN())
	bld.TrustRows()
	if err := bld.CreateTable(tab.Def(), tab.Meta()); err != nil {
		c.t.Fatal(err)
	}
	var enc []byte
	for i := range n {
		id := int64(i)
		key := engine.EncodeKey(nil, id)
		var err error
		if enc, err = engine.EncodeRow(enc[:0], engine.Row{id, "value-" + strconv.Itoa(i)}); err != nil {
			c.t.Fatal(err)
		}
		if err := bld.PutHashed("kv", key, enc, base.LSN(), engine.RowHash("kv", string(key), string(enc))); err != nil {
			c.t.Fatal(err)
		}
	}
	st := bld.Finish()
	for _, tn := range c.nodes {
		if tn.eng.LSN() != base.LSN() {
			c.t.Fatalf("%s at LSN %d, want %d: the cluster is not idle", tn.id, tn.eng.LSN(), base.LSN())
		}
		tn.eng.Install(st)
	}
}

// BenchmarkRound: one anti-entropy round over a 3-node raft cluster in
// this process (real raft over TCP, each node's internal API served over
// loopback HTTP, exactly the product's Replica and Runner), N rows, one
// follower differing in d rows (changed behind raft's back before each
// round). A round = marker through raft, roots, descent, row lists, row
// images, and the repair proposed and committed through raft. Reports
// per round the bytes exchanged (request + response bodies) with the
// divergent follower, the healthy follower and the coordinator itself, and
// the round's wall time (ns/op; the corruption is outside the timer) and
// CPU time (cpu-ms/round: this process, i.e. the three nodes together,
// raft and HTTP included; robust on a shared machine where wall time is
// not).
//
//	AE_BENCH_ROWS=10000000 go test -run '^$' -bench Round -benchtime 3x -timeout 30m ./antientropy/
func BenchmarkRound(b *testing.B) {
	n := benchRows()
	// The machine running benchmarks may be shared: rounds are bounded by
	// 10 RoundTimeouts (generous here: the figure is what a round takes),
	// and raft's timeouts are relaxed so that a starved process keeps its
	// leader.
	c := newClusterWith(b, 3, func(rc *replication.Config, ac *antientropy.Config) {
		if rc != nil {
			rc.HeartbeatTimeout, rc.ElectionTimeout, rc.LeaderLeaseTimeout = 2*time.Second, 2*time.Second, time.Second
		}
		if ac != nil {
			ac.RoundTimeout = time.Minute
		}
	})
	t0 := time.Now()
	c.installRows(n)
	b.Logf("%d rows installed on 3 nodes in %v", n, time.Since(t0).Round(time.Millisecond))
	// roles picks the current leader and its two followers (leadership
	// may move on a starved machine between rounds).
	roles := func() (l, bad, good *tnode) {
		l = c.leader()
		for _, tn := range c.nodes {
			switch {
			case tn == l:
			case bad == nil:
				bad = tn
			default:
				good = tn
			}
		}
		return l, bad, good
	}
	iter := 0
	for _, d := range []int{0, 1, 100, 10000} {
		b.Run(fmt.Sprintf("rows=%d/diff=%d", n, d), func(b *testing.B) {
			var badB, goodB, selfB int64
			var cpu time.Duration
			for range b.N {
				b.StopTimer()
				iter++
				l, bad, good := roles()
				for k := range d {
					id := int64((k*(n/d) + iter) % n)
					if err := bad.eng.DebugPutRow("kv", kvKey(id), kvRow(b, id, "corrupt-"+strconv.Itoa(iter)), false); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
				cpu0 := processCPU()
				rep, err := l.runner.RunNow(ctxT(b, 10*time.Minute))
				for try := 0; try < 3 && (errors.Is(err, antientropy.ErrNotLeader) || replication.IsRetryable(err)); try++ {
					b.Logf("round: %v; retrying on the current leader", err)
					if l = c.leader(); l == bad {
						b.Fatal("the divergent node became the leader")
					}
					rep, err = l.runner.RunNow(ctxT(b, 10*time.Minute))
				}
				cpu += processCPU() - cpu0
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if got := len(rep.Differences); got != min(d, 1000) || rep.Repaired != d {
					b.Fatalf("found %d differences (truncated %v), repaired %d; want %d", got, rep.Truncated, rep.Repaired, d)
				}
				for _, nr := range rep.Nodes {
					switch nr.ID {
					case bad.id:
						badB = nr.Bytes
					case good.id:
						goodB = nr.Bytes
					default:
						selfB = nr.Bytes
					}
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(badB), "B/divergent-node")
			b.ReportMetric(float64(goodB), "B/healthy-node")
			b.ReportMetric(float64(selfB), "B/coordinator")
			b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/round")
		})
	}
	b.StopTimer()
	c.ensureSame()
}
