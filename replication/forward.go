package replication

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Internal RPC over the admin HTTP server. A follower sends the payload of
// Apply to the leader's /internal/raft/apply and asks /internal/raft/readindex
// for the leader's verified commit index. Answers are JSON (wireResult);
// errors keep their category (RemoteError.Kind) and SQLSTATE.
const (
	pathApply     = RPCPathPrefix + "apply"
	pathReadIndex = RPCPathPrefix + "readindex"
	pathStatus    = RPCPathPrefix + "status"

	tokenHeader   = "X-Heliosdb-Raft-Token"
	timeoutHeader = "X-Heliosdb-Timeout-Ms" // caller's remaining budget
	maxPayload    = 256 << 20               // bigger proposals belong in a snapshot
)

// wireResult is the body of every internal RPC answer.
type wireResult struct {
	Index uint64       `json:"index"`
	Resp  []byte       `json:"resp,omitempty"`
	Err   *RemoteError `json:"err,omitempty"`
	// status
	ID      string `json:"id,omitempty"`
	Applied uint64 `json:"applied,omitempty"`
	Last    uint64 `json:"last,omitempty"`
	Leader  bool   `json:"leader,omitempty"`
	// HasMember: the ?member= id is in this node's raft configuration.
	HasMember bool `json:"has_member,omitempty"`
}

// RPCHandler serves the internal RPCs. Mount it on the admin HTTP server:
//
//	mux.Handle(replication.RPCPathPrefix, node.RPCHandler())
//
// Requests carry the caller's remaining time; the handler stops waiting when
// the caller disconnects or that time is up.
func (n *Node) RPCHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+pathApply, n.handleApply)
	mux.HandleFunc("GET "+pathReadIndex, n.handleReadIndex)
	mux.HandleFunc("GET "+pathStatus, n.handleStatus)
	return n.authorize(mux)
}

func (n *Node) authorize(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.cfg.RPCToken != "" &&
			subtle.ConstantTimeCompare([]byte(r.Header.Get(tokenHeader)), []byte(n.cfg.RPCToken)) != 1 {
			writeResult(w, http.StatusUnauthorized, &wireResult{Err: toRemote(ErrUnauthorized)})
			return
		}
		h.ServeHTTP(w, r)
	})
}

func requestCtx(r *http.Request) (context.Context, context.CancelFunc) {
	if ms, err := strconv.ParseInt(r.Header.Get(timeoutHeader), 10, 64); err == nil && ms > 0 {
		return context.WithTimeout(r.Context(), time.Duration(ms)*time.Millisecond)
	}
	return context.WithCancel(r.Context())
}

func writeResult(w http.ResponseWriter, status int, res *wireResult) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(res)
}

func (n *Node) handleApply(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := requestCtx(r)
	defer cancel()
	payload, err := io.ReadAll(io.LimitReader(r.Body, maxPayload+1))
	if err != nil || len(payload) > maxPayload {
		writeResult(w, http.StatusBadRequest, &wireResult{Err: &RemoteError{Code: "54000", Message: "replication: forwarded payload unreadable or too large"}})
		return
	}
	// Only the leader proposes: a forwarded request is never forwarded
	// again, so a stale leader view cannot make requests loop.
	if !n.IsLeader() {
		writeResult(w, http.StatusOK, &wireResult{Err: toRemote(ErrNotLeader)})
		return
	}
	resp, idx, err := n.applyLocal(ctx, payload)
	res := &wireResult{Index: idx}
	if err == nil {
		res.Resp, err = n.codec.EncodeResponse(resp)
	}
	res.Err = toRemote(err)
	writeResult(w, http.StatusOK, res)
}

func (n *Node) handleReadIndex(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := requestCtx(r)
	defer cancel()
	idx, err := n.readIndex(ctx)
	writeResult(w, http.StatusOK, &wireResult{Index: idx, Err: toRemote(err)})
}

func (n *Node) handleStatus(w http.ResponseWriter, r *http.Request) {
	res := &wireResult{ID: n.cfg.NodeID, Applied: n.AppliedIndex(), Last: n.LastIndex(), Leader: n.IsLeader()}
	if id := r.URL.Query().Get("member"); id != "" {
		servers, err := n.configuration()
		res.Err = toRemote(err)
		for _, s := range servers {
			res.HasMember = res.HasMember || string(s.ID) == id
		}
	}
	writeResult(w, http.StatusOK, res)
}

// forwardApply sends payload to the leader. It retries only where nothing
// can have been proposed: no leader known yet, the connection was refused,
// or the target answered that it is not the leader.
func (n *Node) forwardApply(ctx context.Context, payload []byte) (any, uint64, error) {
	var res *wireResult
	err := n.forward(ctx, http.MethodPost, pathApply, payload, func(r *wireResult) { res = r })
	if err != nil {
		return nil, 0, err
	}
	if res.Err != nil {
		return nil, res.Index, res.Err
	}
	resp, err := n.codec.DecodeResponse(res.Resp)
	return resp, res.Index, err
}

func (n *Node) forwardReadIndex(ctx context.Context) (uint64, error) {
	var res *wireResult
	if err := n.forward(ctx, http.MethodGet, pathReadIndex, nil, func(r *wireResult) { res = r }); err != nil {
		return 0, err
	}
	if res.Err != nil {
		return 0, res.Err
	}
	return res.Index, nil
}

// forward runs one RPC against the current leader, retrying the safe cases
// until ctx or LeaderWait+ForwardTimeout ends.
func (n *Node) forward(ctx context.Context, method, path string, body []byte, ok func(*wireResult)) error {
	if n.disc == nil {
		return ErrNotLeader
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.LeaderWait+n.cfg.ForwardTimeout)
	defer cancel()
	backoff := 5 * time.Millisecond
	var lastErr error
	for {
		admin, err := n.leaderAdmin(ctx)
		if err != nil {
			if lastErr != nil {
				return fmt.Errorf("%w (last attempt: %v)", err, lastErr)
			}
			return err
		}
		res, err := n.call(ctx, admin, method, path, body)
		retry := false
		switch {
		case err == nil && res.Err != nil && res.Err.Kind == "not_leader":
			retry, err = true, res.Err // stale leader view; nothing proposed
		case err == nil:
			ok(res)
			return nil
		case isDialError(err):
			retry = true
		default:
			return err
		}
		lastErr = err
		if !retry {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %w (last attempt: %v)", ErrNoLeader, ctx.Err(), lastErr)
		case <-n.shutdownCh:
			return ErrShutdown
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 200*time.Millisecond)
	}
}

// leaderAdmin waits (bounded by LeaderWait and ctx) for a leader other than
// this node whose admin address gossip knows.
func (n *Node) leaderAdmin(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.LeaderWait)
	defer cancel()
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		if _, id := n.LeaderAddr(); id != "" {
			if m, ok := n.disc.meta(id); ok && m.AdminAddr != "" {
				return m.AdminAddr, nil
			}
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("%w: no leader with a known admin address: %w", ErrNoLeader, ctx.Err())
		case <-n.shutdownCh:
			return "", ErrShutdown
		case <-t.C:
		}
	}
}

// call performs one HTTP RPC to a peer's admin address.
func (n *Node) call(ctx context.Context, admin, method, path string, body []byte) (*wireResult, error) {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.ForwardTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+admin+path, rd)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrForward, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		req.Header.Set(timeoutHeader, strconv.FormatInt(max(time.Until(dl).Milliseconds(), 1), 10))
	}
	if n.cfg.RPCToken != "" {
		req.Header.Set(tokenHeader, n.cfg.RPCToken)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := n.client.Do(req)
	if err != nil {
		if ctx.Err() != nil && method == http.MethodPost {
			return nil, fmt.Errorf("%w: %w: %w", ErrOutcomeUnknown, ErrForward, err)
		}
		return nil, fmt.Errorf("%w: %s %s: %w", ErrForward, method, admin, err)
	}
	defer resp.Body.Close()
	var res wireResult
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxPayload*2)).Decode(&res); err != nil {
		return nil, fmt.Errorf("%w: %s %s: status %s, unreadable answer: %v", ErrForward, method, admin, resp.Status, err)
	}
	if resp.StatusCode != http.StatusOK && res.Err == nil {
		return nil, fmt.Errorf("%w: %s %s: status %s", ErrForward, method, admin, resp.Status)
	}
	return &res, nil
}

// isDialError: the request never reached the peer, so nothing was proposed.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}
