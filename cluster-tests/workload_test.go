package clustertests

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// writer inserts rows (id, node) into table acked through the given
// nodes, round robin, one connection per node, reconnecting after errors.
// It remembers which ids were acknowledged.
type writer struct {
	c      *Cluster
	nodes  []*Node
	nextID atomic.Int64

	mu     sync.Mutex // guards acked, errs
	acked  []int64
	errs   int
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

const ackedDDL = "create table acked (id bigint primary key, node text not null)"

// startWriters runs n concurrent writers until stop.
func (c *Cluster) startWriters(n int, nodes []*Node, base int64) *writer {
	ctx, cancel := context.WithCancel(context.Background())
	w := &writer{c: c, nodes: nodes, cancel: cancel}
	w.nextID.Store(base)
	for i := 0; i < n; i++ {
		w.wg.Add(1)
		go func(i int) {
			defer w.wg.Done()
			w.run(ctx, i)
		}(i)
	}
	return w
}

func (w *writer) run(ctx context.Context, worker int) {
	conns := make([]*pgx.Conn, len(w.nodes))
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close(context.Background())
			}
		}
	}()
	for i := worker; ctx.Err() == nil; i++ {
		k := i % len(w.nodes)
		nd := w.nodes[k]
		if conns[k] == nil {
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			c, err := pgx.Connect(cctx, nd.DSN())
			cancel()
			if err != nil {
				w.fail()
				sleepCtx(ctx, 50*time.Millisecond)
				continue
			}
			conns[k] = c
		}
		id := w.nextID.Add(1)
		opCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
		_, err := conns[k].Exec(opCtx, "insert into acked (id, node) values ($1, $2)", id, nd.ID)
		cancel()
		if err != nil {
			w.fail()
			conns[k].Close(context.Background())
			conns[k] = nil
			sleepCtx(ctx, 20*time.Millisecond)
			continue
		}
		w.mu.Lock()
		w.acked = append(w.acked, id)
		w.mu.Unlock()
	}
}

func (w *writer) fail() {
	w.mu.Lock()
	w.errs++
	w.mu.Unlock()
}

// stop ends the writers and returns the acknowledged ids and the number
// of failed attempts.
func (w *writer) stop() ([]int64, int) {
	w.cancel()
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]int64(nil), w.acked...), w.errs
}

func (w *writer) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acked)
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// waitAcked waits until the writers have n more acknowledgements (so a
// test knows the cluster serves writes), bounded by timeout.
func (w *writer) waitMore(n int, timeout time.Duration) bool {
	target := w.count() + n
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if w.count() >= target {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}
