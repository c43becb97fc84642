package antientropy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heliosdb/heliosdb-lite/engine"
)

// Sentinel errors.
var (
	// ErrNotLeader: rounds are coordinated by the leader; ask it.
	ErrNotLeader = errors.New("antientropy: this node is not the leader")
	// ErrNoQuorum: too few voters reached the round's marker in time to
	// decide what the majority holds; the round is abandoned.
	ErrNoQuorum = errors.New("antientropy: no quorum at the cut")
	// ErrClosed: the runner was closed.
	ErrClosed = errors.New("antientropy: runner closed")
	// ErrInvalidConfig: a configuration value is out of range.
	ErrInvalidConfig = errors.New("antientropy: invalid configuration")
)

// Peer is one voter and the admin address its internal API is served on.
type Peer struct {
	ID   string
	Addr string // host:port
}

// Cluster is what a Runner needs of the local raft node. Implemented by
// FromReplication; tests may fake it.
type Cluster interface {
	ID() string
	IsLeader() bool
	// Apply proposes payload through the log and returns its index.
	Apply(ctx context.Context, payload []byte) (any, uint64, error)
	// Voters lists the voters of the current configuration, self included.
	Voters() ([]Peer, error)
	// TransferLeadership hands leadership to the voter id and returns once
	// it leads (or the transfer failed).
	TransferLeadership(ctx context.Context, id string) error
}

// Config tunes a Runner. Start from DefaultConfig.
type Config struct {
	// Interval between scheduled rounds (0: only on demand).
	Interval time.Duration
	// MaxBytesPerSec bounds the bytes a round exchanges (0: unlimited).
	MaxBytesPerSec int64
	// RebuildEvery: every Nth round recomputes the row hashes from the
	// stored rows instead of trusting the incremental leaves (0: never).
	RebuildEvery int
	// RoundTimeout bounds how long a round waits for voters to apply its
	// marker, and each round as a whole is bounded by 10x this.
	RoundTimeout time.Duration
	// RebuildTimeout bounds a rebuild round as a whole instead (when
	// larger): nodes pace the rescan of their rows (Replica.SetRebuildRate),
	// so a rebuild of a large table takes rows / rate.
	RebuildTimeout time.Duration
	// MaxRowsPerBucket: a bucket this small is compared by its rows.
	MaxRowsPerBucket int
	// RepairBatch is the number of row images per repair log entry.
	RepairBatch int
	// LargeDiff: a replica that differs in more rows than this is fenced
	// while it is repaired.
	LargeDiff int
	// ReinstallThreshold: a follower that differs from the majority in at
	// least this many keys is reinstalled (it leaves raft, drops its raft
	// state and rejoins empty to receive a snapshot) instead of being
	// repaired row by row through the log. 0 disables.
	ReinstallThreshold int
	// MaxReportedDiffs bounds the differences listed in a report.
	MaxReportedDiffs int
	// Token is the cluster RPC token sent to peers.
	Token string
	// Marker and Repair encode the log entries (fsm.EncodeAEMark,
	// fsm.EncodeAERepair); injected so this package need not import fsm.
	Marker func(round uint64) []byte
	Repair func(round uint64, cs *engine.ChangeSet) []byte
	Logger *slog.Logger
	// HTTPClient talks to peers (default: a client with keep-alives).
	HTTPClient *http.Client
}

// DefaultConfig returns the defaults: a round every 10 minutes, a rebuild
// every 6th round, 4 MB/s.
func DefaultConfig() Config {
	return Config{
		Interval:         10 * time.Minute,
		MaxBytesPerSec:   4 << 20,
		RebuildEvery:     6,
		RoundTimeout:     10 * time.Second,
		RebuildTimeout:   time.Hour,
		MaxRowsPerBucket: 32,
		RepairBatch:      1000,
		LargeDiff:        10000,
		MaxReportedDiffs: 1000,

		ReinstallThreshold: 10000,
	}
}

// Validate checks c.
func (c *Config) Validate() error {
	switch {
	case c.Interval < 0:
		return fmt.Errorf("%w: interval %v is negative", ErrInvalidConfig, c.Interval)
	case c.MaxBytesPerSec < 0:
		return fmt.Errorf("%w: max_bytes_per_sec %d is negative", ErrInvalidConfig, c.MaxBytesPerSec)
	case c.RoundTimeout <= 0:
		return fmt.Errorf("%w: round timeout must be positive", ErrInvalidConfig)
	case c.RebuildTimeout < 0:
		return fmt.Errorf("%w: rebuild timeout %v is negative", ErrInvalidConfig, c.RebuildTimeout)
	case c.MaxRowsPerBucket < 1 || c.RepairBatch < 1 || c.MaxReportedDiffs < 1:
		return fmt.Errorf("%w: bucket, batch and report sizes must be positive", ErrInvalidConfig)
	case c.ReinstallThreshold < 0:
		return fmt.Errorf("%w: reinstall_threshold %d is negative (0 disables)", ErrInvalidConfig, c.ReinstallThreshold)
	case c.Marker == nil || c.Repair == nil:
		return fmt.Errorf("%w: Marker and Repair encoders are required", ErrInvalidConfig)
	}
	return nil
}

type counters struct {
	rounds, failed, differences, repaired, fenced, transfers, noMajority, bytes, reinstalled atomic.Uint64
}

// Runner schedules rounds on the leader and keeps the last report. Every
// node runs one; only the leader's does anything. Safe for concurrent use.
type Runner struct {
	cfg     Config
	cluster Cluster
	replica *Replica
	log     *slog.Logger
	client  *http.Client
	metrics counters

	runMu sync.Mutex // serializes rounds

	// beforeRepair, when set (tests), runs after the differences are known
	// and before the repair is proposed.
	beforeRepair func(round uint64)

	mu struct {
		sync.Mutex // guards the fields below
		last       *Report
		seq        uint64 // rounds started by this runner (rebuild cadence)
		lastID     uint64
	}

	trigger   chan struct{}
	shutdown  chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// NewRunner returns a runner for the local node. replica is this node's
// Replica (its fence is reported in metrics). Call Start to schedule.
func NewRunner(cfg Config, cluster Cluster, replica *Replica) (*Runner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	r := &Runner{cfg: cfg, cluster: cluster, replica: replica, log: cfg.Logger,
		client: cfg.HTTPClient, trigger: make(chan struct{}, 1), shutdown: make(chan struct{})}
	if r.client == nil {
		r.client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8, IdleConnTimeout: time.Minute}}
	}
	if replica != nil {
		replica.SetTrigger(r.Trigger)
	}
	return r, nil
}

// Start begins the schedule (runLoop).
func (r *Runner) Start() {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.runLoop()
	}()
}

// Close stops the schedule and waits for a running round to end. Safe to
// call more than once.
func (r *Runner) Close() {
	r.closeOnce.Do(func() { close(r.shutdown) })
	r.wg.Wait()
}

// Trigger asks for a round as soon as possible (non-blocking).
func (r *Runner) Trigger() {
	select {
	case r.trigger <- struct{}{}:
	default:
	}
}

func (r *Runner) runLoop() {
	var tick <-chan time.Time
	if r.cfg.Interval > 0 {
		t := time.NewTicker(r.cfg.Interval)
		defer t.Stop()
		tick = t.C
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-r.shutdown
		cancel()
	}()
	for {
		select {
		case <-r.shutdown:
			return
		case <-tick:
		case <-r.trigger:
		}
		if !r.cluster.IsLeader() {
			continue
		}
		if _, err := r.RunNow(ctx); err != nil && !errors.Is(err, ErrNotLeader) && ctx.Err() == nil {
			r.log.Warn("anti-entropy round failed", "err", err)
		}
	}
}

// Last returns the last report (nil before the first round).
func (r *Runner) Last() *Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mu.last
}

// RunNow runs one round now on this node, which must be the leader, and
// returns its report (also when the round failed: err says why).
func (r *Runner) RunNow(ctx context.Context) (*Report, error) {
	return r.run(ctx, false)
}

// RunRebuild runs a round that recomputes every row hash from the stored
// rows (catching corrupted row bytes whose stored hash still matches).
func (r *Runner) RunRebuild(ctx context.Context) (*Report, error) {
	return r.run(ctx, true)
}

func (r *Runner) run(ctx context.Context, forceRebuild bool) (*Report, error) {
	select {
	case <-r.shutdown:
		return nil, ErrClosed
	default:
	}
	if !r.cluster.IsLeader() {
		return nil, ErrNotLeader
	}
	r.runMu.Lock()
	defer r.runMu.Unlock()

	r.mu.Lock()
	r.mu.seq++
	rebuild := forceRebuild || (r.cfg.RebuildEvery > 0 && r.mu.seq%uint64(r.cfg.RebuildEvery) == 0)
	id := uint64(time.Now().UnixNano())
	if id <= r.mu.lastID {
		id = r.mu.lastID + 1
	}
	r.mu.lastID = id
	r.mu.Unlock()

	limit := 10 * r.cfg.RoundTimeout
	if rebuild {
		limit = max(limit, r.cfg.RebuildTimeout)
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()

	start := time.Now()
	rep := &Report{Round: id, Coordinator: r.cluster.ID(), Rebuild: rebuild, Started: start.UTC()}
	rd := &round{r: r, id: id, rebuild: rebuild, rep: rep}
	err := r.prepare(ctx, rd)
	if err == nil {
		err = rd.run(ctx)
	}
	for i, p := range rd.peers {
		if i < len(rep.Nodes) {
			rep.Nodes[i].Bytes, rep.Nodes[i].Calls = p.bytes.Load(), p.calls.Load()
		}
		r.metrics.bytes.Add(uint64(p.bytes.Load()))
	}
	rep.Duration = Duration(time.Since(start))
	r.metrics.rounds.Add(1)
	if err != nil {
		r.metrics.failed.Add(1)
		rep.Error = err.Error()
	}
	if len(rep.Differences) > 0 || len(rep.SchemaDifferences) > 0 {
		r.log.Warn("anti-entropy round found differences", "round", id, "lsn", rep.LSN,
			"differences", len(rep.Differences), "repaired", rep.Repaired, "reinstalled", rep.Reinstalled, "fenced", rep.Fenced, "transferred_to", rep.TransferredTo)
	} else {
		r.log.Debug("anti-entropy round", "round", id, "lsn", rep.LSN, "took", time.Since(start))
	}
	r.mu.Lock()
	r.mu.last = rep
	r.mu.Unlock()
	return rep, err
}

// prepare lists the voters and proposes the marker.
func (r *Runner) prepare(ctx context.Context, rd *round) error {
	voters, err := r.cluster.Voters()
	if err != nil {
		return fmt.Errorf("antientropy: list voters: %w", err)
	}
	slices.SortFunc(voters, func(a, b Peer) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	lim := newLimiter(r.cfg.MaxBytesPerSec)
	rd.self = -1
	for i, v := range voters {
		if v.Addr == "" {
			return fmt.Errorf("antientropy: voter %s has no known admin address yet", v.ID)
		}
		rd.peers = append(rd.peers, &peerClient{peer: v, http: r.client, token: r.cfg.Token, limit: lim, scheme: "http://"})
		if v.ID == r.cluster.ID() {
			rd.self = i
		}
	}
	if rd.self < 0 {
		return fmt.Errorf("antientropy: this node (%s) is not a voter", r.cluster.ID())
	}
	_, lsn, err := r.cluster.Apply(ctx, r.cfg.Marker(rd.id))
	if err != nil {
		return fmt.Errorf("antientropy: propose marker: %w", err)
	}
	rd.lsn, rd.rep.LSN = lsn, lsn
	return nil
}

// WriteMetrics writes the Prometheus text exposition of the counters.
func (r *Runner) WriteMetrics(w io.Writer) {
	c := func(name, help string, v uint64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", name, help, name, name, v)
	}
	g := func(name, help string, v float64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n%s %g\n", name, help, name, name, v)
	}
	m := &r.metrics
	c("heliosdb_antientropy_rounds_total", "Anti-entropy rounds coordinated by this node.", m.rounds.Load())
	c("heliosdb_antientropy_rounds_failed_total", "Anti-entropy rounds that failed.", m.failed.Load())
	c("heliosdb_antientropy_differences_total", "Keys found differing between replicas.", m.differences.Load())
	c("heliosdb_antientropy_repaired_total", "Row images proposed as repairs.", m.repaired.Load())
	c("heliosdb_antientropy_fenced_total", "Replicas fenced by this coordinator.", m.fenced.Load())
	c("heliosdb_antientropy_no_majority_total", "Keys with no majority image (alarm).", m.noMajority.Load())
	c("heliosdb_antientropy_leadership_transfers_total", "Leadership handed over because this leader held minority images.", m.transfers.Load())
	c("heliosdb_antientropy_reinstalled_total", "Followers asked to reinstall themselves (leave, drop raft state, rejoin empty) for a large difference.", m.reinstalled.Load())
	c("heliosdb_antientropy_bytes_total", "Bytes exchanged with replicas by rounds.", m.bytes.Load())
	if r.replica != nil {
		f := 0.0
		if on, _ := r.replica.Fenced(); on {
			f = 1
		}
		g("heliosdb_antientropy_fenced", "1 while this node is fenced (serves no reads).", f)
		c("heliosdb_antientropy_leaf_mismatch_total", "Rebuilds that found this node's rows disagreeing with its hashes (local corruption).", r.replica.LeafMismatches())
	}
	if last := r.Last(); last != nil {
		g("heliosdb_antientropy_last_round_lsn", "Marker LSN of the last round.", float64(last.LSN))
		g("heliosdb_antientropy_last_round_differences", "Differences found by the last round.", float64(len(last.Differences)))
		g("heliosdb_antientropy_last_round_seconds", "Duration of the last round.", time.Duration(last.Duration).Seconds())
	}
}
