package sql

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func TestLockTableDeadlockAndHandOff(t *testing.T) {
	lt := newLockTable()
	ctx := context.Background()
	var a, b, c lockOwner
	ka, kb := lockKey{table: "t", key: "a"}, lockKey{table: "t", key: "b"}
	if w, _, err := lt.acquire(ctx, &a, []lockKey{ka}); w || err != nil {
		t.Fatal(w, err)
	}
	if w, _, err := lt.acquire(ctx, &b, []lockKey{kb}); w || err != nil {
		t.Fatal(w, err)
	}
	// b waits for a; a asking for b's lock closes the cycle.
	bDone := make(chan error, 1)
	go func() {
		_, lsn, err := lt.acquire(ctx, &b, []lockKey{ka})
		if err == nil && lsn != 7 {
			err = fmt.Errorf("handed over with lsn %d, want 7", lsn)
		}
		bDone <- err
	}()
	waitFor(t, func() bool { lt.mu.Lock(); defer lt.mu.Unlock(); return b.waiting != nil })
	if _, _, err := lt.acquire(ctx, &a, []lockKey{kb}); !isDeadlock(err) {
		t.Fatalf("want 40P01, got %v", err)
	}
	// c queues behind b for ka; a's release hands ka to b first.
	cDone := make(chan error, 1)
	go func() { _, _, err := lt.acquire(ctx, &c, []lockKey{ka}); cDone <- err }()
	waitFor(t, func() bool { lt.mu.Lock(); defer lt.mu.Unlock(); return c.waiting != nil })
	lt.releaseAll(&a, 7)
	if err := <-bDone; err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-cDone:
		t.Fatalf("c overtook b: %v", err)
	case <-time.After(10 * time.Millisecond):
	}
	lt.releaseAll(&b, 0)
	if err := <-cDone; err != nil {
		t.Fatal(err)
	}
	// A cancelled wait leaves the queue.
	cctx, cancel := context.WithCancel(ctx)
	dDone := make(chan error, 1)
	var d lockOwner
	go func() { _, _, err := lt.acquire(cctx, &d, []lockKey{ka}); dDone <- err }()
	waitFor(t, func() bool { lt.mu.Lock(); defer lt.mu.Unlock(); return d.waiting != nil })
	cancel()
	if err := <-dDone; err == nil {
		t.Fatal("cancelled wait succeeded")
	}
	lt.releaseAll(&c, 0)
	lt.releaseAll(&d, 0)
	if n := len(lt.mu.locks); n != 0 {
		t.Fatalf("%d locks left", n)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10s")
		}
		time.Sleep(time.Millisecond)
	}
}
