package fsm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/raft"

	"github.com/heliosdb/heliosdb-lite/engine"
	"github.com/heliosdb/heliosdb-lite/snapshot"
)

// EntryType is the first byte of every log entry this FSM understands.
// Part of the log format: never renumber.
type EntryType byte

// Entry types.
const (
	EntryChangeSet EntryType = 1 // engine.ChangeSet encoding
)

// Sentinel errors.
var (
	// ErrUnknownEntry: a log entry of a type this build does not know (a
	// newer node wrote it). Upgrade this node.
	ErrUnknownEntry = errors.New("fsm: unknown log entry type; this node is older than the one that wrote the entry, upgrade it")
	// ErrEmptyEntry: a log entry with no payload.
	ErrEmptyEntry = errors.New("fsm: empty log entry")
)

// EncodeChangeSet returns the log entry payload for a change set.
func EncodeChangeSet(cs *engine.ChangeSet) []byte {
	return cs.Encode([]byte{byte(EntryChangeSet)})
}

// Options configure how raft snapshots are written.
type Options struct {
	// Compression and Level of raft snapshots. lz4 by default: snapshots
	// are written often and read rarely, so speed beats ratio.
	Compression snapshot.Compression
	Level       int
	Logger      *slog.Logger
	// Chain, when set, is the snapshot store in use: Persist then appends
	// an incremental segment to its tip's chain instead of writing a full
	// snapshot, until the increments outweigh the full segment (then it
	// starts a new chain, which is the compaction).
	Chain *ChainStore
}

// FSM is the raft.FSM of one node.
type FSM struct {
	eng  *engine.Engine
	opts Options
	log  *slog.Logger
	// dumpHook is set once before raft starts (SetDumpHook).
	dumpHook DumpHook
	stats    persistStats
	rstats   restoreStats
	ae       aeState  // anti-entropy rounds (markers.go)
	prep     prepared // a user restore's state, built by the node (userrestore.go)
}

// New returns the FSM over e.
func New(e *engine.Engine, opts Options) *FSM {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Compression == 0 && opts.Level == 0 {
		opts.Compression = snapshot.CompressLZ4
	}
	return &FSM{eng: e, opts: opts, log: opts.Logger}
}

// SetChain makes Persist write incremental snapshots into c. Call it before
// raft starts (the replication layer opens the store, then raft).
// A full snapshot the store receives from a leader is loaded while it
// arrives (receiveload.go).
func (f *FSM) SetChain(c *ChainStore) {
	f.opts.Chain = c
	c.recv = f.startReceiveLoad
}

// Engine returns the engine the FSM applies to.
func (f *FSM) Engine() *engine.Engine { return f.eng }

// Apply is called by raft, on its FSM goroutine, once per committed log
// entry in index order. It returns nil or an error value (an *engine.Error
// carrying a SQLSTATE); raft hands that value back to the proposer.
func (f *FSM) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	if len(l.Data) == 0 {
		f.eng.AdvanceLSN(l.Index)
		return ErrEmptyEntry
	}
	switch EntryType(l.Data[0]) {
	case EntryChangeSet:
		cs, err := engine.DecodeChangeSet(l.Data[1:])
		if err != nil {
			f.eng.AdvanceLSN(l.Index)
			return err
		}
		f.aeTouch(cs)
		if err := f.eng.Apply(cs, l.Index); err != nil {
			return err
		}
		return nil
	case EntryDumpMark:
		return f.applyDumpMark(l)
	case EntryAEMark:
		return f.applyAEMark(l)
	case EntryAERepair:
		return f.applyAERepair(l)
	default:
		f.eng.AdvanceLSN(l.Index)
		f.log.Error("unknown log entry type", "type", l.Data[0], "index", l.Index)
		return fmt.Errorf("%w (type %d at index %d)", ErrUnknownEntry, l.Data[0], l.Index)
	}
}

// Snapshot returns quickly: it only captures the engine's immutable state.
// Persist runs later, concurrently with Apply.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	return &fsmSnapshot{state: f.eng.Snapshot(), opts: f.opts, log: f.log, stats: &f.stats}, nil
}

// Restore replaces the engine's state with a .heliodump stream (a raft
// snapshot from this node's store or from the leader). Called by raft with
// no concurrent Apply.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	start := time.Now()
	st, r := f.takePrepared(rc)
	if st != nil {
		f.eng.Install(st)
		f.aeReset()
		f.rstats.restored(RestoreStats{LastLSN: st.LSN()}, true)
		f.log.Info("restored snapshot (loaded while received)", "lsn", st.LSN())
		return nil
	}
	mark := markCost()
	hold := holdRestoreGC() // restoregc.go
	defer hold.release()
	hr := &holdReader{r: r, h: hold}
	res, err := snapshot.Load(context.Background(), hr, nil)
	if err != nil {
		return fmt.Errorf("fsm: restore: %w", err)
	}
	f.eng.Install(res.State)
	f.aeReset()
	hold.release()
	took, cost, read := time.Since(start), mark.since(), hr.n
	f.rstats.restored(RestoreStats{LastLSN: res.State.LSN(), LastRows: res.Rows, LastBytes: read, LastLoad: took,
		LastLoadCPU: cost.CPU}, false)
	f.log.Info("restored snapshot", "lsn", res.State.LSN(), "rows", res.Rows, "bytes", read, "took", took.Round(time.Millisecond),
		"cpu", cost.CPU.Round(time.Millisecond), "page_faults", cost.Faults, "gc_cycles", cost.GCCycles)
	return nil
}

type fsmSnapshot struct {
	state *engine.Snapshot
	opts  Options
	log   *slog.Logger
	stats *persistStats
}

// lsnSetter is the chain store's sink: told the LSN it reaches and where
// an appended segment starts.
type lsnSetter interface {
	SetLastLSN(uint64)
	Offset() int64
}

// Persist writes the snapshot as a .heliodump. The dump id and creation
// time derive from the LSN, so every node writes the same bytes for the
// same state, which lets tests and operators compare snapshots by checksum.
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	wo := snapshot.DefaultWriterOptions()
	wo.Compression = s.opts.Compression
	wo.Level = s.opts.Level
	wo.DumpID = SnapshotID(s.state.LSN())
	wo.CreatedAt = time.Unix(0, 0).UTC()
	// Hidden tables (a restore's staging) are replicated state too: a
	// replica installing this snapshot mid-restore must hold them.
	wo.Tables = s.state.AllTableNames()
	ls, chained := sink.(lsnSetter)
	if chained {
		ls.SetLastLSN(s.state.LSN())
	}
	if tip, ok := s.incrementalBase(); ok && chained {
		start := time.Now()
		wo.IncludeHidden = true
		sum, err := snapshot.WriteIncrementalSegment(context.Background(), sink, s.state, tip.LastLSN, ls.Offset(), wo)
		if err == nil {
			s.stats.record(s.state.LSN(), sum.Size, time.Since(start), true, nil)
			s.log.Info("incremental snapshot", "lsn", s.state.LSN(), "since", tip.LastLSN, "rows", sum.Rows,
				"bytes", sum.Size, "chain_segments", tip.Segments+1, "took", time.Since(start).Round(time.Millisecond))
			return sink.Close()
		}
		_ = sink.Cancel()
		return fmt.Errorf("fsm: persist incremental snapshot at LSN %d: %w", s.state.LSN(), err)
	}
	start := time.Now()
	sum, err := snapshot.WriteFull(context.Background(), sink, s.state, wo)
	if err != nil {
		s.stats.record(0, 0, 0, false, err)
		_ = sink.Cancel()
		return fmt.Errorf("fsm: persist snapshot at LSN %d: %w", s.state.LSN(), err)
	}
	s.stats.record(s.state.LSN(), sum.Size, time.Since(start), false, nil)
	return sink.Close()
}

// incrementalBase returns the chain tip to extend, or false when a full
// snapshot is due: no chain yet, the increments already outweigh the full
// segment (compaction), or the engine no longer holds the tombstones the
// increment would need.
func (s *fsmSnapshot) incrementalBase() (ChainRecord, bool) {
	if s.opts.Chain == nil {
		return ChainRecord{}, false
	}
	tip, ok := s.opts.Chain.Tip()
	if !ok || tip.LastLSN == 0 || tip.LastLSN > s.state.LSN() {
		return ChainRecord{}, false
	}
	if tip.Length-tip.BaseBytes >= tip.BaseBytes {
		return ChainRecord{}, false
	}
	if s.state.TombstoneHorizon() > tip.LastLSN {
		return ChainRecord{}, false
	}
	return tip, true
}

// Release is called when raft is done with the snapshot.
func (s *fsmSnapshot) Release() {}

// SnapshotID is the deterministic dump id of the raft snapshot at lsn.
func SnapshotID(lsn uint64) uuid.UUID {
	return uuid.NewSHA1(uuid.NameSpaceOID, fmt.Appendf(nil, "heliosdb-raft-snapshot/%d", lsn))
}
