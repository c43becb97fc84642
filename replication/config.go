package replication

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"
)

// Config configures a Node. Start from DefaultConfig and change what you
// need; Open calls Validate.
type Config struct {
	// NodeID is this server's raft ID and memberlist name. It must be stable
	// across restarts: a node that restarts under another ID is a new server.
	NodeID string

	// RaftBind is the TCP address the raft transport listens on ("host:port";
	// "0.0.0.0:7000" is allowed here). RaftAdvertise is the address peers dial;
	// it must be routable, so it may not be an unspecified address. Empty
	// means RaftBind (which then must not be 0.0.0.0 either).
	RaftBind      string
	RaftAdvertise string

	// DataDir holds raft.db (raft-boltdb/v2 log + stable store), snapshots/
	// and, for recovery, peers.json. Empty DataDir or InMemory=true keeps
	// everything in memory: nothing survives Shutdown (tests, ephemeral
	// nodes).
	DataDir  string
	InMemory bool

	// SnapshotThreshold is how many log entries since the previous snapshot
	// trigger a new one (checked every SnapshotInterval, with jitter).
	// TrailingLogs is how many entries are kept in the log after a snapshot:
	// a follower that is behind by fewer than that catches up by log replay
	// instead of receiving the whole snapshot. The defaults (8192 / 10240)
	// keep the last ~10k writes: at a few thousand writes per second a
	// follower that was away for a couple of seconds (a restart, a GC pause,
	// a short partition) replays the log.
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	TrailingLogs      uint64
	// SnapshotRetain is how many snapshots the file store keeps (>= 1).
	SnapshotRetain int
	// SnapshotStore, when set, opens the snapshot store used on disk
	// instead of raft's FileSnapshotStore (the node uses a store of
	// incremental .heliodump chains). dir is DataDir.
	SnapshotStore func(dir string, retain int) (raft.SnapshotStore, error)

	// HeartbeatTimeout, ElectionTimeout and LeaderLeaseTimeout are raft's
	// timers. Followers start a (pre-)election after a random time between
	// HeartbeatTimeout and 2*HeartbeatTimeout without hearing from the
	// leader; the leader sends heartbeats every HeartbeatTimeout/10 and
	// steps down when it has not heard from a quorum for LeaderLeaseTimeout.
	// The defaults (500ms / 500ms / 400ms) give a new leader ~0.6–1.1 s after
	// the old one dies on a LAN (round trips well below 1 ms), against raft's
	// library defaults of 1 s / 1 s / 500 ms (2–3 s). Do not go below ~5x the
	// worst network round trip plus fsync stall plus GC pause, or leadership
	// flaps: on a shared 2-core host at load 10, 300ms leases expired under
	// write load (see DESIGN.md); raise all three on overloaded hosts.
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	// CommitTimeout bounds how long a follower may wait to learn the commit
	// index when there is nothing else to send.
	CommitTimeout time.Duration
	// MaxAppendEntries caps a single AppendEntries batch.
	MaxAppendEntries int

	// TransportTimeout is the raft TCP transport's I/O deadline;
	// TransportMaxPool the number of pooled connections per peer.
	TransportTimeout time.Duration
	TransportMaxPool int

	// Logger receives everything (raft and memberlist through adapters).
	// Nil means slog.Default().
	Logger *slog.Logger

	// --- cluster mode -------------------------------------------------------
	// GossipBind empty means single-node mode: no memberlist, no
	// forwarding, and a one-voter configuration is bootstrapped when there
	// is no existing state.

	// GossipBind / GossipAdvertise: memberlist's address ("host:port").
	// GossipAdvertise must be routable; empty means GossipBind.
	GossipBind      string
	GossipAdvertise string
	// Join lists gossip addresses of any existing members. Joining is
	// retried in the background until one answers.
	Join []string
	// BootstrapExpect: when this many servers are visible in gossip and
	// none of them has raft state, the one with the lowest NodeID
	// bootstraps all of them as voters (once). 0 means never bootstrap:
	// wait to be added by an existing leader. A node with existing state
	// never bootstraps.
	BootstrapExpect int
	// PGAddr and AdminAddr are published in the gossip metadata. AdminAddr
	// is where this node's admin HTTP server mounts RPCHandler under
	// RPCPathPrefix; followers send forwarded writes and read-index
	// requests there. Required in cluster mode.
	PGAddr    string
	AdminAddr string
	// RPCToken, when set, must be presented by peers on internal RPCs (all
	// nodes share it). Leave empty only on a trusted network.
	RPCToken string

	// DeadServerGrace: a voter that gossip reports dead (or that gossip does
	// not know at all) for this long is removed from the raft configuration
	// by the leader. Short values make a cluster shrink on a transient
	// failure; the node is re-added when it comes back.
	DeadServerGrace time.Duration
	// ReconcileInterval is how often the leader reconciles raft membership
	// with gossip even without gossip events.
	ReconcileInterval time.Duration
	// PromoteMaxLag: a non-voter is promoted to voter once its applied index
	// is within this many entries of the leader's last index.
	PromoteMaxLag uint64
	// MetaRefreshInterval: how often this node republishes its gossip
	// metadata (applied index, raft state) when it changed.
	MetaRefreshInterval time.Duration
	// ForwardTimeout bounds one forwarded request when the caller's context
	// has no earlier deadline. LeaderWait bounds how long a request waits for
	// a leader to appear before failing with ErrNoLeader.
	ForwardTimeout time.Duration
	LeaderWait     time.Duration
	// Gossip, when non-nil, may adjust the memberlist configuration (which
	// starts from memberlist.DefaultLANConfig) before it is used; tests use
	// it for faster probing.
	Gossip func(*memberlist.Config)

	// ResponseCodec encodes FSM responses for forwarded applies. Nil means
	// BytesCodec.
	ResponseCodec ResponseCodec
}

// RPCPathPrefix is where the admin HTTP server mounts RPCHandler.
const RPCPathPrefix = "/internal/raft/"

// DefaultConfig returns a configuration for a single node in memory with
// timeouts tuned for a LAN. Set NodeID, RaftBind and DataDir at least.
func DefaultConfig() Config {
	return Config{
		RaftBind:            "127.0.0.1:7000",
		SnapshotThreshold:   8192,
		SnapshotInterval:    30 * time.Second,
		TrailingLogs:        10240,
		SnapshotRetain:      2,
		HeartbeatTimeout:    500 * time.Millisecond,
		ElectionTimeout:     500 * time.Millisecond,
		LeaderLeaseTimeout:  400 * time.Millisecond,
		CommitTimeout:       50 * time.Millisecond,
		MaxAppendEntries:    256,
		TransportTimeout:    10 * time.Second,
		TransportMaxPool:    3,
		DeadServerGrace:     30 * time.Second,
		ReconcileInterval:   time.Second,
		PromoteMaxLag:       256,
		MetaRefreshInterval: 500 * time.Millisecond,
		ForwardTimeout:      10 * time.Second,
		LeaderWait:          3 * time.Second,
	}
}

// ClusterMode reports whether gossip (and hence forwarding and the
// reconciler) is configured.
func (c *Config) ClusterMode() bool { return c.GossipBind != "" }

func (c *Config) inMemory() bool { return c.InMemory || c.DataDir == "" }

func (c *Config) raftAdvertise() string {
	if c.RaftAdvertise != "" {
		return c.RaftAdvertise
	}
	return c.RaftBind
}

func (c *Config) gossipAdvertise() string {
	if c.GossipAdvertise != "" {
		return c.GossipAdvertise
	}
	return c.GossipBind
}

// Validate reports the first problem found, wrapped in ErrInvalidConfig,
// naming the field and what to do.
func (c *Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	if c.NodeID == "" {
		return bad("NodeID is empty: every node needs a stable, unique id (e.g. --node-id n1)")
	}
	if len(c.NodeID) > 128 {
		return bad("NodeID %q is longer than 128 bytes", c.NodeID[:16]+"...")
	}
	if err := checkHostPort("RaftBind", c.RaftBind, false); err != nil {
		return bad("%v", err)
	}
	if err := checkHostPort("RaftAdvertise", c.raftAdvertise(), true); err != nil {
		return bad("%v", err)
	}
	if c.SnapshotRetain < 1 {
		return bad("SnapshotRetain is %d; it must be at least 1", c.SnapshotRetain)
	}
	if c.SnapshotThreshold == 0 {
		return bad("SnapshotThreshold is 0; it must be positive")
	}
	if c.SnapshotInterval < 5*time.Millisecond {
		return bad("SnapshotInterval %v is too short (minimum 5ms)", c.SnapshotInterval)
	}
	if c.HeartbeatTimeout < 5*time.Millisecond {
		return bad("HeartbeatTimeout %v is too short (minimum 5ms)", c.HeartbeatTimeout)
	}
	if c.ElectionTimeout < c.HeartbeatTimeout {
		return bad("ElectionTimeout %v must be >= HeartbeatTimeout %v", c.ElectionTimeout, c.HeartbeatTimeout)
	}
	if c.LeaderLeaseTimeout < 5*time.Millisecond || c.LeaderLeaseTimeout > c.HeartbeatTimeout {
		return bad("LeaderLeaseTimeout %v must be between 5ms and HeartbeatTimeout %v", c.LeaderLeaseTimeout, c.HeartbeatTimeout)
	}
	if c.CommitTimeout < time.Millisecond {
		return bad("CommitTimeout %v is too short (minimum 1ms)", c.CommitTimeout)
	}
	if c.MaxAppendEntries < 1 || c.MaxAppendEntries > 1024 {
		return bad("MaxAppendEntries %d must be between 1 and 1024", c.MaxAppendEntries)
	}
	if c.TransportTimeout <= 0 || c.TransportMaxPool < 1 {
		return bad("TransportTimeout must be positive and TransportMaxPool at least 1")
	}
	if c.ForwardTimeout <= 0 || c.LeaderWait <= 0 {
		return bad("ForwardTimeout and LeaderWait must be positive")
	}
	if !c.ClusterMode() {
		if len(c.Join) > 0 || c.BootstrapExpect > 1 {
			return bad("Join/BootstrapExpect need GossipBind (cluster mode)")
		}
		return nil
	}
	if err := checkHostPort("GossipBind", c.GossipBind, false); err != nil {
		return bad("%v", err)
	}
	if err := checkHostPort("GossipAdvertise", c.gossipAdvertise(), true); err != nil {
		return bad("%v", err)
	}
	if err := checkHostPort("AdminAddr", c.AdminAddr, true); err != nil {
		return bad("%v (cluster mode: followers forward writes to the leader's admin address)", err)
	}
	if c.BootstrapExpect < 0 || c.BootstrapExpect > 7 {
		return bad("BootstrapExpect %d must be between 0 and 7", c.BootstrapExpect)
	}
	if c.DeadServerGrace <= 0 || c.ReconcileInterval <= 0 || c.MetaRefreshInterval <= 0 {
		return bad("DeadServerGrace, ReconcileInterval and MetaRefreshInterval must be positive")
	}
	for _, j := range c.Join {
		if _, _, err := net.SplitHostPort(j); err != nil {
			return bad("Join address %q: %v (want host:port of a member's gossip address)", j, err)
		}
	}
	return nil
}

// checkHostPort validates "host:port"; advertised addresses must name a
// specific host (peers cannot dial 0.0.0.0) and a non-zero port.
func checkHostPort(field, addr string, advertised bool) error {
	if addr == "" {
		return fmt.Errorf("%s is empty", field)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%s %q: %v (want host:port)", field, addr, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("%s %q: bad port", field, addr)
	}
	if !advertised {
		return nil
	}
	if p == 0 {
		return fmt.Errorf("%s %q: port 0 cannot be advertised", field, addr)
	}
	if host == "" {
		return fmt.Errorf("%s %q: no host; advertise a routable address", field, addr)
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		return fmt.Errorf("%s %q is not routable (0.0.0.0/::); set it to an address peers can reach", field, addr)
	}
	return nil
}
