package antientropy

import (
	"context"
	"time"
)

// pacerChunk is how many rows a paced scan does between two checks of
// its schedule.
const pacerChunk = 1024

// pacer bounds the CPU a full-table scan of a rebuild costs by spreading
// it over time: at most rate rows per second (the scan sleeps whenever it
// is ahead of that schedule). It stops early when ctx is done: the round
// was abandoned. Zero rate means unpaced (ctx is still checked).
type pacer struct {
	ctx   context.Context
	rate  int64
	start time.Time
	rows  int64
	slept time.Duration
	now   func() time.Time
	sleep func(context.Context, time.Duration) error
}

func newPacer(ctx context.Context, rowsPerSec int64) *pacer {
	return &pacer{ctx: ctx, rate: rowsPerSec, start: time.Now(), now: time.Now, sleep: sleepCtx}
}

// step counts one row and reports whether the scan may go on.
func (p *pacer) step() bool {
	p.rows++
	if p.rows%pacerChunk != 0 {
		return true
	}
	if p.rate > 0 {
		due := p.start.Add(time.Duration(float64(p.rows) / float64(p.rate) * float64(time.Second)))
		if d := due.Sub(p.now()); d > 0 {
			if p.sleep(p.ctx, d) != nil {
				return false
			}
			p.slept += d
		}
	}
	return p.ctx.Err() == nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
