package antientropy

import (
	"context"
	"testing"
	"time"
)

// fakeClock drives a pacer: time moves only when the pacer sleeps (plus
// work per step, to model a scan that costs time itself).
type fakeClock struct {
	now    time.Time
	slept  time.Duration
	sleeps int
}

func pacedScan(ctx context.Context, rate int64, rows int, work time.Duration) (*pacer, *fakeClock, int) {
	clk := &fakeClock{now: time.Unix(1000, 0)}
	p := newPacer(ctx, rate)
	p.start, p.now = clk.now, func() time.Time { return clk.now }
	p.sleep = func(ctx context.Context, d time.Duration) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		clk.now = clk.now.Add(d)
		clk.slept += d
		clk.sleeps++
		return nil
	}
	done := 0
	for range rows {
		clk.now = clk.now.Add(work)
		done++
		if !p.step() {
			break
		}
	}
	return p, clk, done
}

func TestPacerHoldsTheRate(t *testing.T) {
	const rate, rows = 2048, 20 * pacerChunk
	p, clk, done := pacedScan(context.Background(), rate, rows, 0)
	if done != rows {
		t.Fatalf("scanned %d rows, want %d", done, rows)
	}
	// Free work: the whole duration is sleep, exactly rows/rate.
	if want := time.Duration(rows) * time.Second / rate; clk.slept != want || p.slept != want {
		t.Fatalf("slept %v (pacer says %v), want %v", clk.slept, p.slept, want)
	}
	if clk.sleeps != rows/pacerChunk {
		t.Fatalf("%d sleeps, want one per chunk (%d)", clk.sleeps, rows/pacerChunk)
	}
}

func TestPacerDoesNotSleepWhenBehind(t *testing.T) {
	// Each row costs more than the rate allows: never ahead, never sleeps.
	_, clk, done := pacedScan(context.Background(), 1000, 5*pacerChunk, 2*time.Millisecond)
	if done != 5*pacerChunk || clk.sleeps != 0 {
		t.Fatalf("scanned %d, slept %d times; want all rows, no sleep", done, clk.sleeps)
	}
}

func TestPacerUnpaced(t *testing.T) {
	_, clk, done := pacedScan(context.Background(), 0, 10*pacerChunk, 0)
	if done != 10*pacerChunk || clk.sleeps != 0 {
		t.Fatalf("scanned %d, slept %d times; want all rows, no sleep", done, clk.sleeps)
	}
}

func TestPacerStopsWhenAbandoned(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, rate := range []int64{0, 1000} {
		_, _, done := pacedScan(ctx, rate, 10*pacerChunk, 0)
		if done != pacerChunk {
			t.Fatalf("rate %d: scanned %d rows after cancel, want to stop at the first check (%d)", rate, done, pacerChunk)
		}
	}
}
