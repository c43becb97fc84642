package replication

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// Node is one raft server: the raft instance, its stores and transport, and
// in cluster mode gossip discovery, the reconciler and forwarding.
// All methods are safe for concurrent use.
type Node struct {
	cfg    Config
	log    *slog.Logger
	hlog   hclog.Logger
	codec  ResponseCodec
	raft   *raft.Raft
	trans  *raft.NetworkTransport
	st     *stores
	fsm    *trackingFSM
	client *http.Client // forwarding and status RPCs to peers

	// raftRef is raft for code that raft's own goroutines run (the
	// transport's waitingTransport.wanted), which may start before Open
	// sets n.raft.
	raftRef atomic.Pointer[raft.Raft]

	// hadState: raft state existed when Open ran (never bootstrap then).
	hadState bool
	// readyTerm is the term in which this node, as leader, has seen a
	// barrier complete; only then is its commit index safe for read-index
	// (a new leader may not yet know what its predecessor committed).
	readyTerm atomic.Uint64
	// reads batches concurrent read-index confirmations (readindex.go).
	reads readRounds

	disc    *discovery  // nil in single-node mode
	leaving atomic.Bool // set by Leave; published in gossip metadata

	// reconcileCh pokes the reconciler (gossip events, leadership gained).
	reconcileCh chan struct{}
	// hb: followers whose heartbeats from this leader fail (hbwatch.go).
	hb hbHealth

	shutdownCh   chan struct{} // closed once by Shutdown; ends every runX
	wg           sync.WaitGroup
	shutdownOnce sync.Once
	shutdownErr  error
}

// Open starts a raft server for fsm as described by cfg. It restores the
// newest snapshot and replays the log after it (raft does both before
// returning), bootstraps when allowed (see Config.BootstrapExpect), applies
// a pending peers.json recovery, and in cluster mode starts gossip.
//
// ctx bounds only the start-up (joining gossip); the node runs until
// Shutdown.
func Open(ctx context.Context, cfg Config, fsm raft.FSM) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if fsm == nil {
		return nil, fmt.Errorf("%w: fsm is nil", ErrInvalidConfig)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	n := &Node{
		cfg:         cfg,
		log:         cfg.Logger.With("node", cfg.NodeID),
		codec:       cfg.ResponseCodec,
		reconcileCh: make(chan struct{}, 1),
		shutdownCh:  make(chan struct{}),
		client:      &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute}},
	}
	if n.codec == nil {
		n.codec = BytesCodec{}
	}
	n.hlog = newHclog(n.log, "raft")

	st, err := openStores(&n.cfg, n.hlog)
	if err != nil {
		return nil, err
	}
	n.st = st
	ok := false
	defer func() {
		if !ok {
			if n.raft != nil {
				_ = n.raft.Shutdown().Error()
			}
			if n.trans != nil {
				_ = n.trans.Close()
			}
			_ = st.close()
		}
	}()

	adv, err := net.ResolveTCPAddr("tcp", cfg.raftAdvertise())
	if err != nil {
		return nil, fmt.Errorf("%w: RaftAdvertise %q: %v", ErrInvalidConfig, cfg.raftAdvertise(), err)
	}
	n.trans, err = raft.NewTCPTransportWithLogger(cfg.RaftBind, adv, cfg.TransportMaxPool, cfg.TransportTimeout, n.hlog.Named("transport"))
	if err != nil {
		return nil, fmt.Errorf("replication: listen for raft on %s: %w", cfg.RaftBind, err)
	}
	wt := &waitingTransport{NetworkTransport: n.trans, wanted: n.replicatingTo, stop: n.shutdownCh, poll: waitPoll}

	rc := n.raftConfig()
	n.fsm = newTrackingFSM(fsm)
	n.fsm.snapIndex = func() uint64 { return newestSnapshotIndex(st.snaps) }

	if err := n.recoverFromPeersJSON(rc); err != nil {
		return nil, err
	}

	n.hadState, err = raft.HasExistingState(st.logs, st.stable, st.snaps)
	if err != nil {
		return nil, fmt.Errorf("replication: check existing raft state: %w", err)
	}
	n.raft, err = raft.NewRaft(rc, n.fsm, st.logs, st.stable, st.snaps, wt)
	if err != nil {
		return nil, fmt.Errorf("replication: start raft: %w", err)
	}
	n.raftRef.Store(n.raft)

	if !cfg.ClusterMode() && !n.hadState {
		if err := n.bootstrap([]raft.Server{n.self()}); err != nil {
			return nil, err
		}
	}
	if cfg.ClusterMode() {
		if err := n.startDiscovery(ctx); err != nil {
			return nil, err
		}
	}
	ok = true
	n.log.Info("replication: node open", "raft_addr", cfg.raftAdvertise(), "data_dir", cfg.DataDir,
		"in_memory", cfg.inMemory(), "existing_state", n.hadState, "cluster", cfg.ClusterMode())
	return n, nil
}

func (n *Node) raftConfig() *raft.Config {
	c := raft.DefaultConfig()
	c.LocalID = raft.ServerID(n.cfg.NodeID)
	c.Logger = n.hlog
	c.HeartbeatTimeout = n.cfg.HeartbeatTimeout
	c.ElectionTimeout = n.cfg.ElectionTimeout
	c.LeaderLeaseTimeout = n.cfg.LeaderLeaseTimeout
	c.CommitTimeout = n.cfg.CommitTimeout
	c.MaxAppendEntries = n.cfg.MaxAppendEntries
	c.SnapshotThreshold = n.cfg.SnapshotThreshold
	c.SnapshotInterval = n.cfg.SnapshotInterval
	c.TrailingLogs = n.cfg.TrailingLogs
	// A restarted node must come back with its FSM state (newest snapshot,
	// then log replay), so never skip the restore.
	c.NoSnapshotRestoreOnStart = false
	// A removed server keeps running so it can be re-added when it shows
	// up in gossip again; pre-vote keeps it from disrupting the cluster.
	c.ShutdownOnRemove = false
	return c
}

func (n *Node) self() raft.Server {
	return raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(n.cfg.NodeID), Address: raft.ServerAddress(n.cfg.raftAdvertise())}
}

// bootstrap writes the initial configuration. Only called without existing
// state; raft refuses (ErrCantBootstrap) if state appeared meanwhile, which
// is harmless.
func (n *Node) bootstrap(servers []raft.Server) error {
	err := n.raft.BootstrapCluster(raft.Configuration{Servers: servers}).Error()
	if err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
		return fmt.Errorf("replication: bootstrap: %w", err)
	}
	n.log.Info("replication: bootstrapped", "servers", len(servers), "err", err)
	return nil
}

// goFunc runs f as a tracked goroutine: Shutdown waits for it. f must return
// when shutdownCh closes.
func (n *Node) goFunc(f func()) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		f()
	}()
}

// ID returns this node's id.
func (n *Node) ID() string { return n.cfg.NodeID }

// Raft exposes the raft instance for callers that need an API not wrapped
// here (metrics, tests). Do not Shutdown it directly.
func (n *Node) Raft() *raft.Raft { return n.raft }

// IsLeader reports whether this node currently believes it is the leader.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// LeaderAddr returns the leader's raft address and id, empty if unknown.
func (n *Node) LeaderAddr() (addr, id string) {
	a, i := n.raft.LeaderWithID()
	return string(a), string(i)
}

// AppliedIndex is the last log index the FSM has consumed (applied or
// restored). Reads served locally reflect at least this index.
func (n *Node) AppliedIndex() uint64 {
	idx, _ := n.fsm.applied()
	return idx
}

// LastIndex is the last index in this node's log (not necessarily
// committed).
func (n *Node) LastIndex() uint64 { return n.raft.LastIndex() }

// WaitForLeader blocks until some leader is known (anywhere in the cluster)
// and returns its raft address and id.
func (n *Node) WaitForLeader(ctx context.Context) (addr, id string, err error) {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		if a, i := n.LeaderAddr(); a != "" {
			return a, i, nil
		}
		select {
		case <-ctx.Done():
			return "", "", fmt.Errorf("%w: %w", ErrNoLeader, ctx.Err())
		case <-n.shutdownCh:
			return "", "", ErrShutdown
		case <-t.C:
		}
	}
}

// Apply proposes payload and returns the FSM's response and the entry's
// log index (the LSN). On a follower in cluster mode the payload is
// forwarded to the leader; in single-node mode a follower returns
// ErrNotLeader. If the FSM's response is an error it is returned as err
// (with the index: the entry is committed and failed identically on every
// node). If ctx ends after proposing, err matches ErrOutcomeUnknown.
func (n *Node) Apply(ctx context.Context, payload []byte) (resp any, index uint64, err error) {
	if n.closed() {
		return nil, 0, ErrShutdown
	}
	if n.IsLeader() || !n.cfg.ClusterMode() {
		resp, index, err = n.applyLocal(ctx, payload)
		if !errors.Is(err, ErrNotLeader) || !n.cfg.ClusterMode() {
			return resp, index, err
		}
		// Lost leadership before proposing: forwarding is safe.
	}
	return n.forwardApply(ctx, payload)
}

// applyLocal proposes on this node, which must be the leader.
func (n *Node) applyLocal(ctx context.Context, payload []byte) (any, uint64, error) {
	f := n.raft.Apply(payload, n.enqueueTimeout(ctx))
	if err := n.waitFuture(ctx, f); err != nil {
		return nil, 0, err
	}
	resp := f.Response()
	if e, ok := resp.(error); ok {
		return nil, f.Index(), e
	}
	return resp, f.Index(), nil
}

// enqueueTimeout bounds how long raft may wait to accept a proposal.
func (n *Node) enqueueTimeout(ctx context.Context) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		if d := time.Until(dl); d > 0 {
			return d
		}
		return time.Millisecond
	}
	return n.cfg.ForwardTimeout
}

// waitFuture waits for f with ctx. The helper goroutine ends when raft
// answers the future, which it always does (at the latest on shutdown).
func (n *Node) waitFuture(ctx context.Context, f raft.Future) error {
	if ctx.Done() != nil {
		done := make(chan struct{})
		go func() { _ = f.Error(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", ErrOutcomeUnknown, ctx.Err())
		}
	}
	return mapRaftErr(f.Error())
}

// mapRaftErr translates raft's errors into this package's categories.
func mapRaftErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipTransferInProgress),
		errors.Is(err, raft.ErrNotVoter):
		return fmt.Errorf("%w: %w", ErrNotLeader, err)
	case errors.Is(err, raft.ErrLeadershipLost), errors.Is(err, raft.ErrAbortedByRestore):
		return fmt.Errorf("%w: %w", ErrLeadershipLost, err)
	case errors.Is(err, raft.ErrRaftShutdown):
		return fmt.Errorf("%w: %w", ErrShutdown, err)
	case errors.Is(err, raft.ErrEnqueueTimeout):
		// Not proposed: the leader is overloaded or stepping down.
		return fmt.Errorf("%w: %w", ErrNoLeader, err)
	}
	return err
}

// Barrier waits until every entry committed before the call is applied to
// this node's FSM. On the leader it is raft's Barrier (a log entry); on a
// follower it is LinearizableRead.
func (n *Node) Barrier(ctx context.Context) error {
	if !n.IsLeader() {
		if !n.cfg.ClusterMode() {
			return ErrNotLeader
		}
		return n.LinearizableRead(ctx)
	}
	return n.waitFuture(ctx, n.raft.Barrier(n.enqueueTimeout(ctx)))
}

// LinearizableRead returns once this node's FSM reflects every write
// acknowledged before the call began, so a local read that follows is
// linearizable. The leader confirms its leadership with a quorum
// (VerifyLeader) and takes its commit index; a follower asks the leader for
// that index. Then the node waits until it has applied it. A node that is
// far behind (restarting, installing a snapshot) blocks until caught up or
// ctx ends.
func (n *Node) LinearizableRead(ctx context.Context) error {
	var idx uint64
	var err error
	if n.IsLeader() || !n.cfg.ClusterMode() {
		idx, err = n.readIndex(ctx)
		if errors.Is(err, ErrNotLeader) && n.cfg.ClusterMode() {
			idx, err = n.forwardReadIndex(ctx)
		}
	} else {
		idx, err = n.forwardReadIndex(ctx)
	}
	if err != nil {
		return err
	}
	return n.waitApplied(ctx, idx)
}

// readIndex is the leader's half of the read path: the commit index as of a
// successful VerifyLeader, taken only in a term in which a barrier has
// completed (so the commit index covers everything earlier leaders
// committed).
func (n *Node) readIndex(ctx context.Context) (uint64, error) {
	if n.raft.State() != raft.Leader {
		return 0, ErrNotLeader
	}
	term := n.raft.CurrentTerm()
	if n.readyTerm.Load() != term {
		if err := n.waitFuture(ctx, n.raft.Barrier(n.enqueueTimeout(ctx))); err != nil {
			return 0, err
		}
		n.readyTerm.Store(term)
	}
	if !n.cfg.ClusterMode() {
		// The only voter: no other leader can exist, and every write
		// acknowledged so far has been applied here.
		idx, _ := n.fsm.applied()
		return idx, nil
	}
	return n.verifiedCommitIndex(ctx)
}

// waitApplied waits until the FSM state includes index idx. Entries the FSM
// never sees (no-op entries of new leaders, barriers) count as applied once
// raft has dispatched them and every FSM-visible entry before them has been
// applied.
func (n *Node) waitApplied(ctx context.Context, idx uint64) error {
	var tick *time.Ticker
	for {
		applied, changed := n.fsm.applied()
		if applied >= idx || n.onlyInvisibleBetween(applied, idx) {
			if tick != nil {
				tick.Stop()
			}
			return nil
		}
		if tick == nil {
			tick = time.NewTicker(5 * time.Millisecond)
			defer tick.Stop()
		}
		select {
		case <-changed:
		case <-tick.C:
		case <-ctx.Done():
			return fmt.Errorf("replication: waiting to apply index %d (applied %d): %w", idx, applied, ctx.Err())
		case <-n.shutdownCh:
			return ErrShutdown
		}
	}
}

// onlyInvisibleBetween reports whether raft has dispatched idx and every
// entry in (applied, idx] is one the FSM never receives.
func (n *Node) onlyInvisibleBetween(applied, idx uint64) bool {
	if n.raft.AppliedIndex() < idx || idx-applied > 64 {
		return false
	}
	var l raft.Log
	for i := applied + 1; i <= idx; i++ {
		if err := n.st.logs.GetLog(i, &l); err != nil {
			return false
		}
		if l.Type == raft.LogCommand || l.Type == raft.LogConfiguration {
			return false
		}
	}
	return true
}

// Snapshot takes a snapshot now (user-triggered) and compacts the log down
// to TrailingLogs. Nothing new since the last snapshot is not an error.
func (n *Node) Snapshot() error {
	err := n.raft.Snapshot().Error()
	if errors.Is(err, raft.ErrNothingNewToSnapshot) {
		return nil
	}
	return mapRaftErr(err)
}

// UserRestore replaces the whole cluster's state with the snapshot in r
// (leader only); see raft.Raft.Restore for its caveats. Every node's FSM is
// reset through Restore or InstallSnapshot.
func (n *Node) UserRestore(ctx context.Context, meta *raft.SnapshotMeta, r io.Reader) error {
	if !n.IsLeader() {
		return ErrNotLeader
	}
	return mapRaftErr(n.raft.Restore(meta, r, n.enqueueTimeout(ctx)))
}

// Stats returns raft's stats plus this package's.
func (n *Node) Stats() map[string]string {
	s := n.raft.Stats()
	s["node_id"] = n.cfg.NodeID
	s["fsm_applied_index"] = strconv.FormatUint(n.AppliedIndex(), 10)
	s["cluster_mode"] = strconv.FormatBool(n.cfg.ClusterMode())
	s["in_memory"] = strconv.FormatBool(n.cfg.inMemory())
	if a, id := n.LeaderAddr(); a != "" {
		s["leader_addr"], s["leader_id"] = a, id
	}
	if n.disc != nil {
		s["gossip_members"] = strconv.Itoa(n.disc.ml.NumMembers())
	}
	return s
}

func (n *Node) closed() bool {
	select {
	case <-n.shutdownCh:
		return true
	default:
		return false
	}
}

// Shutdown stops the node without leaving the cluster (a restart is
// expected; use Leave to go for good). Order: stop background loops, stop
// raft (which completes every pending future with ErrShutdown and closes the
// transport), wait for loops, stop gossip, close the stores. Safe to call
// more than once; later calls return the first call's result.
func (n *Node) Shutdown() error {
	n.shutdownOnce.Do(func() {
		close(n.shutdownCh)
		err := n.raft.Shutdown().Error()
		n.wg.Wait()
		if n.disc != nil {
			if e := n.disc.ml.Shutdown(); e != nil && err == nil {
				err = e
			}
		}
		if e := n.st.close(); e != nil && err == nil {
			err = e
		}
		n.client.CloseIdleConnections()
		n.shutdownErr = err
		n.log.Info("replication: node shut down", "err", err)
	})
	return n.shutdownErr
}

// recoverFromPeersJSON applies DataDir/peers.json if present (see
// recover.go), then renames it so it is applied once.
func (n *Node) recoverFromPeersJSON(rc *raft.Config) error {
	if n.cfg.inMemory() {
		return nil
	}
	path := filepath.Join(n.cfg.DataDir, peersJSONFile)
	if _, err := os.Stat(path); err != nil {
		return nil
	}
	conf, err := raft.ReadConfigJSON(path)
	if err != nil {
		return fmt.Errorf("replication: read %s: %w (fix or delete the file)", path, err)
	}
	n.log.Warn("replication: recovering cluster configuration from peers.json", "path", path, "servers", len(conf.Servers))
	if err := raft.RecoverCluster(rc, n.fsm, n.st.logs, n.st.stable, n.st.snaps, n.trans, conf); err != nil {
		return fmt.Errorf("replication: recover from %s: %w", path, err)
	}
	if err := os.Rename(path, path+".applied"); err != nil {
		return fmt.Errorf("replication: recovered, but could not rename %s (remove it before the next start): %w", path, err)
	}
	return nil
}
