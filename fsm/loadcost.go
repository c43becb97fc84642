package fsm

import (
	"runtime/metrics"
	"time"
)

// loadCost is what a snapshot load cost the process: CPU (every thread,
// the collector's included), minor page faults (first touches of fresh
// heap memory) and collections. A node restarting from its store does
// nothing else while it loads, so these are the load's own; for a load
// beside a receive they include the receive.
type loadCost struct {
	CPU      time.Duration
	Faults   int64
	GCCycles uint64
}

// costMark is the process's counters at the start of a load.
type costMark struct {
	cpu    time.Duration
	faults int64
	gcs    uint64
}

func markCost() costMark {
	cpu, faults := processUsage()
	return costMark{cpu: cpu, faults: faults, gcs: gcCycles()}
}

func (m costMark) since() loadCost {
	cpu, faults := processUsage()
	return loadCost{CPU: cpu - m.cpu, Faults: faults - m.faults, GCCycles: gcCycles() - m.gcs}
}

// gcCycles is the number of collections the process has completed.
func gcCycles() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
