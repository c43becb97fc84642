package sql

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heliosdb/heliosdb-lite/engine"
	"github.com/heliosdb/heliosdb-lite/pgwire"
)

// MemberInfo is one cluster member as shown by heliosdb.members.
type MemberInfo struct {
	NodeID      string
	Role        string // leader, follower, candidate, learner
	Voter       bool
	PgAddr      string
	AppliedLSN  uint64
	Lag         uint64 // entries behind the leader's commit index
	LastContact time.Time
	Healthy     bool
}

// CopyTarget is a special COPY relation in schema heliosdb (for example
// heliosdb.dump): Out serves COPY ... TO STDOUT, In serves COPY ... FROM
// STDIN. opts are the generic COPY options, lower-cased keys, values as
// text. Either may be nil (the direction is then refused with 0A000).
type CopyTarget struct {
	Out func(ctx context.Context, opts map[string]string, w io.Writer) error
	In  func(ctx context.Context, opts map[string]string, r io.Reader) (tag string, err error)
}

// Config wires the SQL layer to the rest of the server.
type Config struct {
	// Propose replicates and applies a change set and returns its LSN. It
	// returns engine errors unchanged (40001 conflicts, 23505, ...) or a
	// replication error. It may block; ctx bounds it. Called from session
	// goroutines concurrently.
	Propose func(ctx context.Context, cs *engine.ChangeSet) (lsn uint64, err error)
	// Snapshot returns a state to read, after whatever barrier the
	// consistency level ("linearizable", "leader_lease", "local") needs.
	Snapshot func(ctx context.Context, consistency string) (*engine.Snapshot, error)
	// Clock is the wall clock (now(), current_timestamp).
	Clock func() time.Time
	// Rand is the entropy source for gen_random_uuid and random() seeds.
	Rand io.Reader
	// DirtyBytes reports bytes changed since the last dump (total, and for
	// the named table). May be nil.
	DirtyBytes func(table string) (total, tbl int64)
	// Members lists the cluster for heliosdb.members. May be nil.
	Members func() []MemberInfo
	// ReplicationLag says how stale a 'local' read on this node may be,
	// for SHOW heliosdb.replication_lag: entries the node has not applied
	// yet and time since it last heard from the leader (0 on the leader).
	// Called from session goroutines; must not block. May be nil (then
	// the lag is reported as 0).
	ReplicationLag func() (entries uint64, sinceContact time.Duration)
	// Settings override or add server parameters (server_version, ...).
	Settings map[string]string
	// CopyTargets are the relations of COPY heliosdb.<name>.
	CopyTargets map[string]CopyTarget
	// MaxRetries bounds the re-evaluations of an autocommit statement (or
	// a transaction's replay) after serialization failures. 0 = default 10.
	MaxRetries int
	// Version is the product version shown by version().
	Version string
}

// DB is the SQL layer of one server. It implements pgwire.Backend and is
// safe for concurrent use by many sessions.
type DB struct {
	cfg     Config
	started time.Time
	nextPID atomic.Int32

	// randMu guards cfg.Rand, which need not be safe for concurrent use.
	randMu sync.Mutex
	// locks is the node's row lock table (locks.go).
	locks *lockTable
	// rowIDs hands out hidden row ids (rowid.go).
	rowIDs *rowIDAlloc
}

var _ pgwire.Backend = (*DB)(nil)

// New returns a DB for cfg. Propose and Snapshot are required; Clock and
// Rand default to the system clock and crypto/rand.
func New(cfg Config) *DB {
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.MaxRetries <= 0 {
		cfg.MaxRetries = 10
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	db := &DB{cfg: cfg, started: cfg.Clock(), locks: newLockTable(), rowIDs: newRowIDAlloc()}
	return db
}

func (db *DB) versionString() string {
	return fmt.Sprintf("PostgreSQL 15.0 (HeliosDB-Lite %s) on x86_64-pc-linux-gnu, compiled by Go, 64-bit", db.cfg.Version)
}

func (db *DB) randBytes(b []byte) error {
	db.randMu.Lock()
	defer db.randMu.Unlock()
	_, err := io.ReadFull(db.cfg.Rand, b)
	return err
}

func (db *DB) newUUID() (any, error) {
	var u engine.UUID
	if err := db.randBytes(u[:]); err != nil {
		return nil, errorf(codeInternal, "gen_random_uuid: %v", err)
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u, nil
}

func (db *DB) newRNG() *mrand.Rand {
	var seed [16]byte
	_ = db.randBytes(seed[:])
	s1 := uint64(seed[0]) | uint64(seed[1])<<8 | uint64(seed[2])<<16 | uint64(seed[3])<<24 | uint64(seed[4])<<32 | uint64(seed[5])<<40 | uint64(seed[6])<<48 | uint64(seed[7])<<56
	s2 := uint64(seed[8]) | uint64(seed[9])<<8 | uint64(seed[10])<<16 | uint64(seed[11])<<24 | uint64(seed[12])<<32
	return mrand.New(mrand.NewPCG(s1, s2))
}

// NewSession implements pgwire.Backend.
func (db *DB) NewSession(ctx context.Context, info pgwire.StartupInfo) (pgwire.Session, error) {
	return db.newSession(info), nil
}

func (db *DB) newSession(info pgwire.StartupInfo) *Session {
	s := &Session{db: db, user: info.User, database: info.Database, pid: db.nextPID.Add(1) + 1000, rng: db.newRNG()}
	if s.user == "" {
		s.user = "postgres"
	}
	if s.database == "" {
		s.database = s.user
	}
	s.settings = defaultSettings(db.cfg.Settings)
	s.settings["session_authorization"] = s.user
	for k, v := range info.Params {
		switch k {
		case "user", "database", "replication":
			continue
		case "options":
			continue
		}
		if _, known := s.settings[canonicalSetting(k)]; known {
			s.settings[canonicalSetting(k)] = v
		}
	}
	return s
}

// ExecLocal runs a query string as one session (simple protocol) and
// returns the results of every statement. It is meant for tests and tools.
func (db *DB) ExecLocal(ctx context.Context, query string) ([]*pgwire.Result, error) {
	s := db.newSession(pgwire.StartupInfo{User: "postgres", Database: "postgres"})
	defer s.Close()
	return s.Exec(ctx, query)
}

// NewLocalSession returns a session not attached to a connection (tests,
// embedded use). Close it when done.
func (db *DB) NewLocalSession() *Session {
	return db.newSession(pgwire.StartupInfo{User: "postgres", Database: "postgres"})
}

// Exec runs every statement of query in order (simple protocol) and stops
// at the first error, returning the results so far. Several statements
// run as one implicit transaction block, as over the wire (implicit.go).
func (s *Session) Exec(ctx context.Context, query string) ([]*pgwire.Result, error) {
	stmts, err := s.PrepareSimple(ctx, query)
	if err != nil {
		return nil, err
	}
	var out []*pgwire.Result
	for _, st := range stmts {
		res, err := st.Execute(ctx, nil)
		if err != nil {
			_ = s.EndQuery(ctx, true) // a rollback: cannot fail
			return out, err
		}
		out = append(out, res)
	}
	return out, s.EndQuery(ctx, false)
}

// localProposer applies change sets to an engine directly, with increasing
// LSNs, for tests and the no-raft mode.
type localProposer struct {
	mu  sync.Mutex // serializes Apply and LSN allocation
	e   *engine.Engine
	lsn uint64
}

// NewLocalProposer returns a Propose function that applies change sets to
// e in order with LSNs e.LSN()+1, +2, ... under a mutex.
func NewLocalProposer(e *engine.Engine) func(ctx context.Context, cs *engine.ChangeSet) (uint64, error) {
	p := &localProposer{e: e}
	return func(ctx context.Context, cs *engine.ChangeSet) (uint64, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		lsn := max(p.e.LSN(), p.lsn) + 1
		p.lsn = lsn
		if err := p.e.Apply(cs, lsn); err != nil {
			return lsn, err
		}
		return lsn, nil
	}
}

// NewLocalConfig returns a Config serving e without replication (tests,
// --memory single-process mode).
func NewLocalConfig(e *engine.Engine) Config {
	return Config{
		Propose:    NewLocalProposer(e),
		Snapshot:   func(context.Context, string) (*engine.Snapshot, error) { return e.Snapshot(), nil },
		DirtyBytes: e.DirtyBytes,
	}
}
