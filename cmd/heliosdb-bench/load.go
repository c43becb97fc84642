package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// loadResult is one closed-loop load run: every client issues its next
// write as soon as the previous one is acknowledged.
type loadResult struct {
	ok, errs int
	perSec   float64
	p50, p99 time.Duration
	// lat are the acknowledged writes' latencies and start offsets from
	// the run's start (for windows such as "during the dump").
	lat    []time.Duration
	starts []time.Duration
	first  error
}

// client is one connection's write function; close releases it.
type client struct {
	write func(ctx context.Context, seq int64) error
	close func()
}

// runLoad connects clients (before the clock starts), then writes for d
// (or until stop is closed, when non-nil), and returns throughput and
// latency percentiles of the acknowledged writes.
func runLoad(ctx context.Context, clients int, d time.Duration, stop <-chan struct{}, connect func(ctx context.Context, i int) (client, error)) (loadResult, error) {
	cs := make([]client, clients)
	defer func() {
		for _, c := range cs {
			if c.close != nil {
				c.close()
			}
		}
	}()
	for i := range cs {
		c, err := connect(ctx, i)
		if err != nil {
			return loadResult{}, fmt.Errorf("client %d: %w", i, err)
		}
		cs[i] = c
	}
	var mu sync.Mutex // guards res
	var res loadResult
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(d)
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat, starts []time.Duration
			var errs int
			var first error
			for seq := int64(0); time.Now().Before(end) && ctx.Err() == nil && !closed(stop); seq++ {
				t0 := time.Now()
				wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				err := c.write(wctx, int64(i)<<40|seq)
				cancel()
				if err != nil {
					errs++
					if first == nil {
						first = err
					}
					continue
				}
				lat = append(lat, time.Since(t0))
				starts = append(starts, t0.Sub(start))
			}
			mu.Lock()
			res.lat = append(res.lat, lat...)
			res.starts = append(res.starts, starts...)
			res.errs += errs
			if res.first == nil {
				res.first = first
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	res.ok = len(res.lat)
	if res.ok == 0 {
		if res.first == nil {
			res.first = ctx.Err()
		}
		return res, fmt.Errorf("no write acknowledged in %v: %v", d, res.first)
	}
	res.perSec = float64(res.ok) / elapsed.Seconds()
	res.p50, res.p99 = percentile(res.lat, 0.50), percentile(res.lat, 0.99)
	return res, nil
}

// percentile of xs (unsorted; not modified).
func percentile(xs []time.Duration, q float64) time.Duration {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[int(float64(len(s)-1)*q)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// loadStats are the medians over runs of one load shape.
type loadStats struct {
	perSec, p50, p99 stat
	errs             int
}

func collect(rs []loadResult) loadStats {
	var t, a, b []float64
	var s loadStats
	for _, r := range rs {
		t, a, b = append(t, r.perSec), append(a, ms(r.p50)), append(b, ms(r.p99))
		s.errs += r.errs
	}
	s.perSec, s.p50, s.p99 = newStat(t), newStat(a), newStat(b)
	return s
}

func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
