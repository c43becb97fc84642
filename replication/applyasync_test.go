package replication

import (
	"fmt"
	"testing"
	"time"
)

// TestApplyAsyncOrder: entries proposed without waiting are applied in
// call order with consecutive indexes, and each future reports what Apply
// would have (response, index, FSM error).
func TestApplyAsyncOrder(t *testing.T) {
	n, err := Open(ctxT(t, 5*time.Second), testConfig(t, "solo"), newKV())
	if err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown()
	if _, _, err := n.WaitForLeader(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, 10*time.Second)
	const count = 200
	futures := make([]*ApplyFuture, 0, count+1)
	for i := range count {
		futures = append(futures, n.ApplyAsync(ctx, fmt.Appendf(nil, "set k %d", i)))
	}
	futures = append(futures, n.ApplyAsync(ctx, []byte("fail 23505 duplicate key")))
	var first uint64
	for i, f := range futures[:count] {
		resp, idx, err := f.Wait(ctx)
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		if i == 0 {
			first = idx
			continue
		}
		if idx != first+uint64(i) {
			t.Fatalf("entry %d has index %d, want %d", i, idx, first+uint64(i))
		}
		if prev := fmt.Sprint(i - 1); string(resp.([]byte)) != prev {
			t.Fatalf("entry %d saw previous value %q, want %q (applied out of order)", i, resp, prev)
		}
	}
	_, idx, err := futures[count].Wait(ctx)
	if SQLState(err) != "23505" || idx != first+count {
		t.Fatalf("fsm error: idx=%d err=%v", idx, err)
	}
	if _, idx2, err2 := futures[count].Wait(ctx); idx2 != idx || SQLState(err2) != "23505" {
		t.Fatalf("second Wait: %d %v", idx2, err2)
	}
	n.Shutdown()
	if _, _, err := n.ApplyAsync(ctx, []byte("set a 1")).Wait(ctx); err != ErrShutdown {
		t.Fatalf("after shutdown: %v", err)
	}
}
