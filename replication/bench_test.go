package replication

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkReplicatedApply measures replicated single-entry writes on a
// 3-node on-disk cluster over loopback TCP, with 1, 8 and 64 concurrent
// clients, on the leader and through a follower (forwarding). Reports
// writes/s and p50/p99 latency. Run:
//
//	go test -run '^$' -bench ReplicatedApply -benchtime 3s ./replication
func BenchmarkReplicatedApply(b *testing.B) {
	c := newCluster(b, 3, true)
	d := DefaultConfig() // production timers, not the tests' short ones
	for _, tn := range c.nodes {
		tn.cfg.HeartbeatTimeout, tn.cfg.ElectionTimeout = d.HeartbeatTimeout, d.ElectionTimeout
		tn.cfg.LeaderLeaseTimeout, tn.cfg.CommitTimeout = d.LeaderLeaseTimeout, d.CommitTimeout
	}
	c.startAll()
	l := c.leader()
	c.waitVoters("n1", "n2", "n3")
	f := followers(c, l)[0]
	for _, target := range []struct {
		name string
		tn   *tnode
	}{{"leader", l}, {"follower", f}} {
		for _, clients := range []int{1, 8, 64} {
			b.Run(fmt.Sprintf("%s/clients=%d", target.name, clients), func(b *testing.B) {
				var next, retries atomic.Int64
				lat := make([][]time.Duration, clients)
				var wg sync.WaitGroup
				b.ResetTimer()
				start := time.Now()
				for w := range clients {
					wg.Add(1)
					go func() {
						defer wg.Done()
						ctx := ctxT(b, time.Minute)
						for {
							i := next.Add(1)
							if i > int64(b.N) {
								return
							}
							t0 := time.Now()
							cmd := []byte(fmt.Sprintf("set k%d %d", i, i))
							// The write is idempotent, so a retryable error
							// (including leadership lost) is retried, as
							// a client would; retries are counted.
							for {
								_, _, err := target.tn.n.Apply(ctx, cmd)
								if err == nil {
									break
								}
								if !IsRetryable(err) || ctx.Err() != nil {
									b.Error(err)
									return
								}
								retries.Add(1)
								time.Sleep(5 * time.Millisecond)
							}
							lat[w] = append(lat[w], time.Since(t0))
						}
					}()
				}
				wg.Wait()
				el := time.Since(start)
				b.StopTimer()
				all := slices.Concat(lat...)
				slices.Sort(all)
				if len(all) > 0 {
					b.ReportMetric(float64(len(all))/el.Seconds(), "writes/s")
					b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-µs")
					b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
					b.ReportMetric(float64(retries.Load()), "retries")
				}
			})
		}
	}
}
