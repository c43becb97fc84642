package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/heliosdb/heliosdb-lite/engine"
	"github.com/heliosdb/heliosdb-lite/fsm"
	"github.com/heliosdb/heliosdb-lite/pgwire"
	"github.com/heliosdb/heliosdb-lite/replication"
	"github.com/heliosdb/heliosdb-lite/snapshot"
	"github.com/heliosdb/heliosdb-lite/sql"
)

// Version is the product version (also written into .heliodump files).
const Version = snapshot.ProductVersion

// Node is one running server.
type Node struct {
	cfg  Config
	log  *slog.Logger
	eng  *engine.Engine
	fsm  *fsm.FSM
	repl *replication.Node
	// chains is the on-disk snapshot store (nil in memory), set when raft
	// opens it.
	chains *fsm.ChainStore
	db     *sql.DB
	pg     *pgwire.Server
	pgLn   net.Listener

	httpSrv *http.Server
	httpLn  net.Listener

	started time.Time
	metrics metrics
	ae      aeWiring      // anti-entropy (antientropy.go)
	dumps   clusterDumps  // cluster-wide dump results of this node
	sched   scheduleState // scheduled cluster dumps (schedule_cluster.go)
	// lastDump: where `dump --append` to a new file continues (dump.go).
	lastDump lastDump
	// verifications caches the last verification of each stored dump.
	verifications backupVerifications

	// wg tracks the node's long-lived goroutines (runX methods).
	wg        sync.WaitGroup
	shutdown  chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// goFunc starts a named long-lived goroutine tracked by wg.
func (n *Node) goFunc(f func()) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		f()
	}()
}

// Start brings a node up: raft (recovering state from the data dir if
// any: newest snapshot, then log replay), the admin API, then the
// PostgreSQL listener last, so clients never reach a node that cannot
// serve. It returns once the node is accepting connections; in cluster
// mode the cluster may still be forming (see /ready).
func Start(ctx context.Context, cfg Config, logger *slog.Logger) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.Default()
	}
	n := &Node{cfg: cfg, log: logger, eng: engine.New(), started: time.Now(), shutdown: make(chan struct{})}
	comp, err := snapshot.ParseCompression(cfg.Raft.SnapshotCompression)
	if err != nil {
		return nil, configErr("[raft] snapshot_compression: %v", err)
	}
	n.fsm = fsm.New(n.eng, fsm.Options{Compression: comp, Logger: logger.With("component", "fsm")})
	n.fsm.SetDumpHook(n.onDumpMark)

	// Listeners first: binding errors (port in use) are reported before
	// any state is touched, and port 0 resolves to a real port to advertise.
	n.pgLn, err = net.Listen("tcp", cfg.PGAddr())
	if err != nil {
		return nil, fmt.Errorf("listen on %s for PostgreSQL clients: %w", cfg.PGAddr(), err)
	}
	if cfg.Cluster.HTTPAddr != "" {
		n.httpLn, err = net.Listen("tcp", cfg.Cluster.HTTPAddr)
		if err != nil {
			n.pgLn.Close()
			return nil, fmt.Errorf("listen on %s for the admin API: %w", cfg.Cluster.HTTPAddr, err)
		}
	}
	rc, err := n.replicationConfig()
	if err != nil {
		n.closeListeners()
		return nil, err
	}
	n.repl, err = replication.Open(ctx, rc, n.fsm)
	if err != nil {
		n.closeListeners()
		return nil, fmt.Errorf("start raft: %w", err)
	}
	if !rc.InMemory {
		// Raft holds the data directory now: no other process restores
		// into it, and this one has not started a restore yet.
		removeStaleSpools(n.spoolDir(), logger)
	}
	if err := n.startAntiEntropy(); err != nil {
		n.repl.Shutdown()
		n.closeListeners()
		return nil, err
	}
	n.db = sql.New(n.sqlConfig())
	pc := pgwire.DefaultConfig()
	pc.ListenAddr = n.pgLn.Addr().String()
	pc.TrustAll = cfg.Auth.Trust == "all"
	pc.TrustLoopback = cfg.Auth.Trust != "none"
	if cfg.Server.MaxConnections > 0 {
		pc.MaxConnections = cfg.Server.MaxConnections
	}
	for _, u := range cfg.Auth.Users {
		m := pgwire.AuthMethod(u.Method)
		if m == "" {
			m = pgwire.AuthSCRAM
		}
		pc.Users = append(pc.Users, pgwire.User{Name: u.Name, Password: u.Password, Method: m})
	}
	n.pg, err = pgwire.New(pc, n.db, logger.With("component", "pgwire"))
	if err != nil {
		n.repl.Shutdown()
		n.closeListeners()
		return nil, err
	}
	if n.httpLn != nil {
		n.httpSrv = &http.Server{Handler: n.adminHandler(), ReadHeaderTimeout: 10 * time.Second}
		n.goFunc(n.runAdmin)
	}
	if !cfg.Clustered() {
		// Alone, the node is its own quorum: wait for it to elect itself so
		// the first client statement does not meet "not the leader".
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, _, werr := n.repl.WaitForLeader(wctx)
		cancel()
		if werr != nil {
			_ = n.Close()
			return nil, fmt.Errorf("single node did not become leader: %w", werr)
		}
	}
	n.goFunc(n.runPG)
	if err := n.StartDumpSchedule(); err != nil { // [dump] schedule, see schedule.go
		n.Close()
		return nil, err
	}
	n.goFunc(n.runVerifyBackups)
	n.goFunc(func() { n.runStagingJanitor(n.stagingIdle()) })
	logger.Info("node started", "node_id", cfg.Server.NodeID, "pg_addr", n.PGAddr(), "data_dir", cfg.Server.DataDir,
		"memory", cfg.Server.DataDir == "", "cluster", cfg.Clustered(), "version", Version)
	return n, nil
}

func (n *Node) closeListeners() {
	if n.pgLn != nil {
		n.pgLn.Close()
	}
	if n.httpLn != nil {
		n.httpLn.Close()
	}
}

func (n *Node) runPG() {
	if err := n.pg.Serve(context.Background(), n.pgLn); err != nil && !errors.Is(err, pgwire.ErrServerClosed) {
		n.log.Error("PostgreSQL server stopped", "err", err)
	}
}

func (n *Node) runAdmin() {
	if err := n.httpSrv.Serve(n.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
		n.log.Error("admin server stopped", "err", err)
	}
}

func (n *Node) replicationConfig() (replication.Config, error) {
	cfg := n.cfg
	rc := replication.DefaultConfig()
	rc.NodeID = cfg.Server.NodeID
	rc.Logger = n.log.With("component", "raft")
	rc.DataDir = cfg.Server.DataDir
	rc.InMemory = cfg.Server.Memory || cfg.Server.DataDir == ""
	if !cfg.Clustered() {
		// No peers to wait for: short timers make a lone node (the default
		// `heliosdb-lite start`) elect itself within ~100 ms of starting.
		rc.HeartbeatTimeout, rc.ElectionTimeout, rc.LeaderLeaseTimeout = 100*time.Millisecond, 100*time.Millisecond, 100*time.Millisecond
	}
	// On disk, raft snapshots are .heliodump chains: after the first full
	// snapshot each one appends only what changed (fsm.ChainStore).
	rc.SnapshotStore = func(dir string, retain int) (raft.SnapshotStore, error) {
		cs, err := fsm.OpenChainStore(dir, retain)
		if err != nil {
			return nil, err
		}
		n.fsm.SetChain(cs)
		n.chains = cs
		return cs, nil
	}
	if cfg.Raft.SnapshotThreshold > 0 {
		rc.SnapshotThreshold = cfg.Raft.SnapshotThreshold
	}
	if cfg.Raft.SnapshotInterval.Duration > 0 {
		rc.SnapshotInterval = cfg.Raft.SnapshotInterval.Duration
	}
	if cfg.Raft.TrailingLogs > 0 {
		rc.TrailingLogs = cfg.Raft.TrailingLogs
	}
	raftAddr := cfg.Cluster.RaftAddr
	if raftAddr == "" {
		// Alone, raft still needs a transport address; it is never dialled
		// by anyone, so any free loopback port will do.
		p, err := freePort()
		if err != nil {
			return rc, fmt.Errorf("pick a raft port: %w", err)
		}
		raftAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
	}
	rc.RaftBind = raftAddr
	rc.RaftAdvertise = cfg.Cluster.RaftAdvertise
	if cfg.Clustered() {
		rc.GossipBind = cfg.Cluster.GossipAddr
		rc.GossipAdvertise = cfg.Cluster.GossipAdvertise
		rc.Join = cfg.Cluster.Join
		rc.BootstrapExpect = cfg.Cluster.BootstrapExpect
		rc.AdminAddr = advertised(cfg.Cluster.HTTPAdvertise, n.httpLn.Addr().String())
		rc.PGAddr = advertised(cfg.Cluster.PGAdvertise, n.pgLn.Addr().String())
		rc.RPCToken = cfg.Cluster.RPCToken
		if cfg.Cluster.DeadServerGrace.Duration > 0 {
			rc.DeadServerGrace = cfg.Cluster.DeadServerGrace.Duration
		}
	}
	if err := rc.Validate(); err != nil {
		return rc, configErr("%v", err)
	}
	return rc, nil
}

func advertised(explicit, bound string) string {
	if explicit != "" {
		return explicit
	}
	return bound
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// PGAddr is the address PostgreSQL clients connect to.
func (n *Node) PGAddr() string { return n.pgLn.Addr().String() }

// HTTPAddr is the admin API address ("" when disabled).
func (n *Node) HTTPAddr() string {
	if n.httpLn == nil {
		return ""
	}
	return n.httpLn.Addr().String()
}

// Engine returns the node's engine (tests, diagnostics).
func (n *Node) Engine() *engine.Engine { return n.eng }

// Replication returns the raft node.
func (n *Node) Replication() *replication.Node { return n.repl }

// SQL returns the SQL layer.
func (n *Node) SQL() *sql.DB { return n.db }

// Close shuts the node down in order: stop accepting clients and end
// sessions (so no new writes start), stop the admin API, then raft (which
// closes its log store). Safe to call more than once.
func (n *Node) Close() error {
	n.closeOnce.Do(func() { n.closeErr = n.closeSteps() })
	return n.closeErr
}

// closeSteps stops the node's servers, anti-entropy and raft and waits for
// its goroutines; run once, inside closeOnce (Close, or a reinstall just
// before it replaces the process). It returns the first error.
func (n *Node) closeSteps() error {
	close(n.shutdown)
	err := n.pg.Close()
	if n.httpSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = n.httpSrv.Shutdown(ctx)
		cancel()
	}
	n.stopAntiEntropy()
	if rerr := n.repl.Shutdown(); rerr != nil && err == nil {
		err = rerr
	}
	n.wg.Wait()
	if n.chains != nil {
		n.chains.WaitRemovals() // no file deletion outlives the node
	}
	return err
}

// Leave asks the cluster to remove this node gracefully, then closes it.
func (n *Node) Leave(ctx context.Context) error {
	if n.cfg.Clustered() {
		if err := n.repl.Leave(ctx); err != nil {
			n.log.Warn("graceful leave failed", "err", err)
		}
	}
	return n.Close()
}
