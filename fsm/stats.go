package fsm

import (
	"sync"
	"time"
)

// PersistStats describes the snapshots this node persisted (for metrics).
type PersistStats struct {
	Full, Incremental uint64 // snapshots written of each kind
	Failed            uint64
	LastLSN           uint64
	LastBytes         int64
	LastDuration      time.Duration
	LastIncremental   bool
}

// persistStats guards PersistStats; Persist runs on raft's snapshot
// goroutine while metrics read from HTTP handlers.
type persistStats struct {
	mu sync.Mutex // guards s
	s  PersistStats
}

func (p *persistStats) record(lsn uint64, bytes int64, d time.Duration, incremental bool, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		p.s.Failed++
		return
	}
	if incremental {
		p.s.Incremental++
	} else {
		p.s.Full++
	}
	p.s.LastLSN, p.s.LastBytes, p.s.LastDuration, p.s.LastIncremental = lsn, bytes, d, incremental
}

// PersistStats returns the snapshot statistics so far.
func (f *FSM) PersistStats() PersistStats {
	f.stats.mu.Lock()
	defer f.stats.mu.Unlock()
	return f.stats.s
}

// RestoreStats describes the last snapshot this node restored: at start
// from its own store, or received from the leader (InstallSnapshot). It
// splits a rejoin's time into what the disk or network gave and what the
// load (decode, verify, build the state) took.
type RestoreStats struct {
	Restores uint64 // snapshots restored since the process started
	LastLSN  uint64
	LastRows uint64
	// LastBytes is the size of the restored .heliodump stream.
	LastBytes int64
	// LastLoad is the time snapshot.Load took; for a snapshot loaded while
	// it was received it overlaps LastReceive.
	LastLoad time.Duration
	// LastLoadCPU is the CPU time the process used during the load (every
	// thread: decode workers, collector, page faults), or for a snapshot
	// loaded while it was received, from its first byte to its last and the
	// load's end (the receive's own work included).
	LastLoadCPU time.Duration
	// LastReceive is the time from the first to the last byte of a
	// snapshot received from the leader (0 for one read from this node's
	// store).
	LastReceive time.Duration
	// LastReceived: the snapshot came from the leader.
	LastReceived bool
}

// restoreStats guards RestoreStats and the figures of a receive whose
// state waits for Restore.
type restoreStats struct {
	mu      sync.Mutex // guards s and pending
	s       RestoreStats
	pending *RestoreStats // a received snapshot's figures, until Restore installs it
}

// received notes a snapshot loaded while it arrived; Restore counts it
// when it installs that state.
func (r *restoreStats) received(s RestoreStats) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pending = &s
}

// receiveCost adds the CPU time of the receive and load whose figures
// received noted.
func (r *restoreStats) receiveCost(cpu time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pending != nil {
		r.pending.LastLoadCPU = cpu
	}
}

// restored counts a Restore. fromReceive says the state was the one a
// receive built (its figures were noted by received); otherwise s holds
// the figures of the load Restore did itself.
func (r *restoreStats) restored(s RestoreStats, fromReceive bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if fromReceive && r.pending != nil {
		s = *r.pending
	}
	r.pending = nil
	s.Restores = r.s.Restores + 1
	r.s = s
}

// RestoreStats returns the restore statistics so far.
func (f *FSM) RestoreStats() RestoreStats {
	f.rstats.mu.Lock()
	defer f.rstats.mu.Unlock()
	return f.rstats.s
}
