package fsm

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"github.com/heliosdb/heliosdb-lite/engine"
)

// EntryDumpMark asks every node to write the same dump at the same LSN:
// the LSN of the marker itself. Because every replica applies the log in
// the same order, the engine state each node sees at the marker is the
// same, and with the marker's dump id and timestamp the files are byte for
// byte identical (a cluster-wide dump with one command). A node that is
// down applies the marker when it catches up, and writes its file then.
const EntryDumpMark EntryType = 2

// DumpMark is the marker's payload (JSON, so fields can be added).
type DumpMark struct {
	Version int       `json:"v"`
	ID      string    `json:"id"` // dump_id (UUIDv7)
	Name    string    `json:"name"`
	At      time.Time `json:"at"` // created_at, fixed by the proposer
	// Compression and Level of the file; Tables limits it (nil: all).
	Compression string   `json:"compression"`
	Level       int      `json:"level"`
	Tables      []string `json:"tables,omitempty"`
	// AppendTo, when set, names an earlier cluster dump file in each
	// node's backup_dir to append an incremental segment to.
	AppendTo string `json:"append_to,omitempty"`
	// ScheduledTick is the Unix time of the [dump] schedule tick this
	// marker is for (0: an operator's dump). Nodes ignore a scheduled
	// marker whose tick is not newer than the last one they applied.
	ScheduledTick int64 `json:"scheduled_tick,omitempty"`
}

// EncodeDumpMark returns the log entry payload of m.
func EncodeDumpMark(m DumpMark) ([]byte, error) {
	m.Version = 1
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return append([]byte{byte(EntryDumpMark)}, b...), nil
}

// DumpHook is told about every dump marker this node applies, on raft's FSM
// goroutine: it must return at once and do the writing elsewhere. snap is
// the engine state at exactly the marker's LSN (immutable; safe to keep).
type DumpHook func(m DumpMark, lsn uint64, snap *engine.Snapshot)

// SetDumpHook installs the hook (before raft starts).
func (f *FSM) SetDumpHook(h DumpHook) { f.dumpHook = h }

func (f *FSM) applyDumpMark(l *raft.Log) any {
	f.eng.AdvanceLSN(l.Index)
	var m DumpMark
	if err := json.Unmarshal(l.Data[1:], &m); err != nil || m.ID == "" {
		return fmt.Errorf("fsm: malformed dump marker at index %d", l.Index)
	}
	if f.dumpHook != nil {
		f.dumpHook(m, l.Index, f.eng.Snapshot())
	}
	return nil
}
