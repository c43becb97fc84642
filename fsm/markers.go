package fsm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"

	"github.com/heliosdb/heliosdb-lite/engine"
)

// Anti-entropy log entries (see antientropy/DESIGN.md).
//
// EntryAEMark opens round R at its log index M: every node freezes a
// copy-on-write view of its engine exactly at M, and from then on records
// which (table, key) the log's change sets touch. EntryAERepair carries the
// majority's row images as of M; each node installs an image only for keys
// no change set touched since M, so the repair never undoes a write that
// raft committed after the cut. Which keys were touched depends only on the
// log, so the filter is the same on every node: healthy replicas rewrite
// identical bytes (the rows' LSN becomes the repair's index everywhere) and
// the divergent one is fixed.
const (
	EntryAEMark   EntryType = 16 // uvarint round id
	EntryAERepair EntryType = 17 // uvarint round id, engine.ChangeSet encoding
)

// aeMaxTouched bounds the keys recorded for the open round. A round whose
// log traffic touches more keys is marked overflowed, and its repairs are
// skipped on every node alike (the coordinator retries in a later round).
const aeMaxTouched = 1 << 20

// aeKeepRounds is how many frozen views a node keeps. A view pins the rows
// overwritten since its marker, so only the newest rounds are kept.
const aeKeepRounds = 2

// ErrAERoundClosed is the response of a repair entry for a round that is no
// longer open on this node (a later marker closed it, the node restored a
// snapshot since, or the round overflowed): nothing was installed.
var ErrAERoundClosed = errors.New("fsm: anti-entropy round is closed; repair skipped")

// EncodeAEMark returns the log entry payload opening anti-entropy round.
func EncodeAEMark(round uint64) []byte {
	return binary.AppendUvarint([]byte{byte(EntryAEMark)}, round)
}

// EncodeAERepair returns the log entry payload of a repair for round.
func EncodeAERepair(round uint64, cs *engine.ChangeSet) []byte {
	return cs.Encode(binary.AppendUvarint([]byte{byte(EntryAERepair)}, round))
}

// AERound is a frozen view of this node's state at a marker.
type AERound struct {
	Round uint64
	LSN   uint64 // the marker's log index; Snap.LSN() == LSN
	Snap  *engine.Snapshot
}

// aeState is the node-local anti-entropy bookkeeping of an FSM. Apply
// writes it on raft's FSM goroutine; AERound reads it from HTTP handlers.
type aeState struct {
	open atomic.Bool // a round is open: change sets must be recorded
	mu   struct {
		sync.Mutex // guards the fields below
		rounds     []AERound
		cur        uint64              // the open round (0: none)
		keys       map[string]struct{} // table "\x00" key touched since cur's marker
		tables     map[string]bool     // tables whose every row was touched (DDL)
		overflow   bool
	}
}

// AERound returns the frozen view of round, if this node applied its
// marker and still keeps it.
func (f *FSM) AERound(round uint64) (AERound, bool) {
	a := &f.ae
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, r := range a.mu.rounds {
		if r.Round == round {
			return r, true
		}
	}
	return AERound{}, false
}

func (f *FSM) applyAEMark(l *raft.Log) any {
	round, k := binary.Uvarint(l.Data[1:])
	f.eng.AdvanceLSN(l.Index)
	if k <= 0 || k != len(l.Data)-1 {
		return fmt.Errorf("fsm: malformed anti-entropy marker at index %d", l.Index)
	}
	a := &f.ae
	a.mu.Lock()
	defer a.mu.Unlock()
	a.mu.rounds = append(a.mu.rounds, AERound{Round: round, LSN: l.Index, Snap: f.eng.Snapshot()})
	if len(a.mu.rounds) > aeKeepRounds {
		a.mu.rounds = append(a.mu.rounds[:0:0], a.mu.rounds[len(a.mu.rounds)-aeKeepRounds:]...)
	}
	a.mu.cur, a.mu.keys, a.mu.tables, a.mu.overflow = round, map[string]struct{}{}, map[string]bool{}, false
	a.open.Store(true)
	return nil
}

// aeTouch records the keys cs touches, whether or not it applies: what
// counts is the log, which every node shares.
func (f *FSM) aeTouch(cs *engine.ChangeSet) {
	a := &f.ae
	if !a.open.Load() {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := range cs.Ops {
		op := &cs.Ops[i]
		switch op.Kind {
		case engine.OpInsert, engine.OpUpdate, engine.OpUpsert, engine.OpDelete:
			if len(a.mu.keys) >= aeMaxTouched {
				a.mu.overflow = true
				continue
			}
			a.mu.keys[op.Table+"\x00"+op.Key] = struct{}{}
		case engine.OpSetSequence:
		default: // DDL: every row of the table may have changed
			a.mu.tables[op.Table] = true
			if op.Alter != nil && op.Alter.NewName != "" {
				a.mu.tables[op.Alter.NewName] = true
			}
		}
	}
}

// aeReset forgets every round: after a snapshot restore this node has not
// seen the log between the markers and the snapshot, so it can no longer
// tell which keys were touched. Repairs for those rounds are skipped here;
// the next round finds whatever remains.
func (f *FSM) aeReset() {
	a := &f.ae
	a.mu.Lock()
	defer a.mu.Unlock()
	a.mu.rounds, a.mu.cur, a.mu.keys, a.mu.tables, a.mu.overflow = nil, 0, nil, nil, false
	a.open.Store(false)
}

func (f *FSM) applyAERepair(l *raft.Log) any {
	round, k := binary.Uvarint(l.Data[1:])
	if k <= 0 {
		f.eng.AdvanceLSN(l.Index)
		return fmt.Errorf("fsm: malformed anti-entropy repair at index %d", l.Index)
	}
	cs, err := engine.DecodeChangeSet(l.Data[1+k:])
	if err != nil {
		f.eng.AdvanceLSN(l.Index)
		return err
	}
	a := &f.ae
	a.mu.Lock()
	open := a.mu.cur == round && a.mu.keys != nil && !a.mu.overflow
	var keep []engine.Op
	if open {
		for _, op := range cs.Ops {
			_, touched := a.mu.keys[op.Table+"\x00"+op.Key]
			if touched || a.mu.tables[op.Table] || (op.Kind != engine.OpUpsert && op.Kind != engine.OpDelete) {
				continue
			}
			keep = append(keep, op)
		}
	}
	a.mu.Unlock()
	if !open {
		f.eng.AdvanceLSN(l.Index)
		return ErrAERoundClosed
	}
	if len(keep) == 0 {
		f.eng.AdvanceLSN(l.Index)
		return nil
	}
	if err := f.eng.Apply(&engine.ChangeSet{Ops: keep}, l.Index); err != nil {
		f.log.Error("anti-entropy repair failed on this node", "round", round, "index", l.Index, "err", err)
		return err
	}
	return nil
}
