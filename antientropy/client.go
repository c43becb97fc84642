package antientropy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// peerClient talks to one node's internal API and counts the bytes of
// request and response bodies exchanged with it (HTTP headers are not
// counted: they are a constant per call, and calls per round are few).
type peerClient struct {
	peer   Peer
	http   *http.Client
	token  string
	limit  *limiter
	bytes  atomic.Int64
	calls  atomic.Int64
	scheme string
}

func (p *peerClient) do(ctx context.Context, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, p.scheme+p.peer.Addr+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if p.token != "" {
		req.Header.Set(TokenHeader, p.token)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return fmt.Errorf("antientropy: %s %s on %s: %w", method, path, p.peer.ID, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	n := int64(len(body) + len(b))
	p.bytes.Add(n)
	p.calls.Add(1)
	if err != nil {
		return fmt.Errorf("antientropy: read answer of %s from %s: %w", path, p.peer.ID, err)
	}
	if resp.StatusCode/100 != 2 {
		var e errorReply
		_ = json.Unmarshal(b, &e)
		return fmt.Errorf("antientropy: %s on %s: HTTP %d: %s", path, p.peer.ID, resp.StatusCode, e.Err)
	}
	if err := p.limit.wait(ctx, n); err != nil {
		return err
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// RequestRound asks the node whose admin API is at addr (host:port) to run
// a round now if it leads (the internal trigger; token is the cluster RPC
// token). The round runs in the background there.
func RequestRound(ctx context.Context, client *http.Client, addr, token string) error {
	p := &peerClient{peer: Peer{ID: addr, Addr: addr}, http: client, token: token, scheme: "http://"}
	return p.do(ctx, "POST", pathTrigger, struct{}{}, nil)
}

// limiter bounds the bytes a round exchanges per second (over all peers).
// Zero rate means unlimited.
type limiter struct {
	rate  int64
	mu    sync.Mutex // guards start, total
	start time.Time
	total int64
}

func newLimiter(rate int64) *limiter { return &limiter{rate: rate, start: time.Now()} }

func (l *limiter) wait(ctx context.Context, n int64) error {
	if l == nil || l.rate <= 0 {
		return nil
	}
	l.mu.Lock()
	l.total += n
	due := l.start.Add(time.Duration(float64(l.total) / float64(l.rate) * float64(time.Second)))
	l.mu.Unlock()
	d := time.Until(due)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// parallel runs f for every client and returns the first error per peer.
func parallel(clients []*peerClient, f func(i int, c *peerClient) error) []error {
	errs := make([]error, len(clients))
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(i, c)
		}()
	}
	wg.Wait()
	return errs
}
