package replication

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestBatchedLinearizableReads: many concurrent reads on the leader of a
// three-node cluster share VerifyLeader rounds, and each sees every write
// acknowledged before it began.
func TestBatchedLinearizableReads(t *testing.T) {
	c := newCluster(t, 3, false)
	c.startAll()
	l := c.leader()
	c.waitVoters("n1", "n2", "n3")
	const readers, rounds = 32, 20
	for i := range rounds {
		mustApply(t, l.n, fmt.Sprintf("set k v%d", i))
		var wg sync.WaitGroup
		errs := make(chan error, readers)
		for range readers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := l.n.LinearizableRead(ctxT(t, 5*time.Second)); err != nil {
					errs <- err
					return
				}
				if v, _ := l.fsm.get("k"); v != fmt.Sprintf("v%d", i) {
					errs <- fmt.Errorf("read %q after writing v%d", v, i)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
	// The batcher goroutine ends when no read waits.
	eventually(t, 5*time.Second, "read batcher idle", func() bool {
		l.n.reads.mu.Lock()
		defer l.n.reads.mu.Unlock()
		return !l.n.reads.running
	})
}
