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
