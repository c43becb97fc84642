package node

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/google/uuid"

	"github.com/heliosdb/heliosdb-lite/engine"
	"github.com/heliosdb/heliosdb-lite/fsm"
	"github.com/heliosdb/heliosdb-lite/replication"
	"github.com/heliosdb/heliosdb-lite/snapshot"
)

// Restore over the wire (COPY heliosdb.restore FROM STDIN WITH (...)).
//
// A clean restore of a whole dump on the leader goes through raft's user
// restore instead (restore_snapshot.go); everything else takes the staged
// path described here.
//
// Atomicity without a giant log entry: the dump's batches are proposed as
// many ordinary change sets into hidden staging tables (engine.StagingDef,
// invisible to clients and to user dumps), one change set per dump batch,
// so memory holds the data once (the staging tables) and every raft entry
// stays batch-sized. One final small change set then swaps or merges the
// staging tables into place (engine.OpPromote), drops what a clean restore
// removes and records in the hidden table engine.RestoreStateTable which
// source LSN the database now mirrors. Clients see the old state up to
// that entry and the restored one after it. On any failure, including the
// client going away, the staging tables are dropped with a change set.
//
// Because everything goes through propose, a restore works on any node of
// a cluster and every replica applies the same entries.
//
// The batch change sets are pipelined: up to maxInFlight of them are
// proposed before the oldest is waited for, so reading, decoding and
// encoding the next batches overlap the FSM applying the previous ones.
// Raft applies them in proposal order (replication.ApplyAsync), and the
// staging batches of one table touch disjoint keys anyway. Every other
// change set (create, drop, the swap) and every check against the staged
// state first waits for all batches in flight.

// restoreLocks holds one mutex per node: restores on one node run one at a
// time (two would race for the final swap anyway).
var restoreLocks sync.Map // *Node -> *sync.Mutex

// restoreMarkerDef is the hidden bookkeeping table: one row (id 1) with
// the dump id and the last LSN of the dump chain the database was last
// restored to. Incremental restores check their base_lsn against it.
func restoreMarkerDef() *engine.TableDef {
	return &engine.TableDef{
		Name: engine.RestoreStateTable,
		Columns: []engine.ColumnDef{
			{Name: "id", Type: engine.TypeInt8, NotNull: true},
			{Name: "dump_id", Type: engine.TypeText},
			{Name: "last_lsn", Type: engine.TypeInt8},
			{Name: "source", Type: engine.TypeText},
		},
		PrimaryKey: []int{0},
	}
}

var markerKey = string(engine.EncodeKey(nil, int64(1)))

// restoreMarker returns the marker row (id, dump_id, last_lsn, source)
// and the LSN that wrote it; ok is false when no restore left one.
func restoreMarker(s *engine.Snapshot) (row engine.Row, rowLSN uint64, ok bool) {
	t, found := s.Table(engine.RestoreStateTable)
	if !found {
		return nil, 0, false
	}
	r, found := t.Get(markerKey)
	if !found {
		return nil, 0, false
	}
	row, err := r.Decode()
	if err != nil || len(row) < 4 {
		return nil, 0, false
	}
	return row, r.LSN, true
}

// restoredLSN returns the source LSN the state was last restored to.
func restoredLSN(s *engine.Snapshot) (lsn uint64, rowLSN uint64, ok bool) {
	row, rowLSN, ok := restoreMarker(s)
	if !ok {
		return 0, 0, false
	}
	v, _ := row[2].(int64)
	return uint64(v), rowLSN, true
}

// salvagedSource marks, in the restore marker's source column, a state
// restored by a salvage that lost rows.
const salvagedSource = "salvage: incomplete"

// restoredBySalvage reports whether the state was last restored by a
// salvage that lost rows.
func restoredBySalvage(s *engine.Snapshot) bool {
	row, _, ok := restoreMarker(s)
	if !ok {
		return false
	}
	src, _ := row[3].(string)
	return src == salvagedSource
}

type restoreOptions struct {
	mode       string // clean | append
	onConflict string // error | skip | update
	tables     map[string]bool
	salvage    bool
}

func parseRestoreOptions(opts map[string]string) (restoreOptions, error) {
	ro := restoreOptions{mode: "clean", onConflict: "error"}
	for k, v := range opts {
		switch k {
		case "mode":
			if v != "clean" && v != "append" {
				return ro, badOption("mode", fmt.Errorf("%q: want clean or append", v))
			}
			ro.mode = v
		case "on_conflict":
			if v != "error" && v != "skip" && v != "update" {
				return ro, badOption("on_conflict", fmt.Errorf("%q: want error, skip or update", v))
			}
			ro.onConflict = v
		case "tables":
			for _, t := range strings.Split(v, ",") {
				if t = strings.TrimSpace(t); t != "" {
					if ro.tables == nil {
						ro.tables = map[string]bool{}
					}
					ro.tables[t] = true
				}
			}
		case "salvage":
			ro.salvage = v == "true" || v == "on" || v == "1"
		default:
			return ro, badOption(k, errors.New("unknown option (known: mode, on_conflict, tables, salvage)"))
		}
	}
	return ro, nil
}

// stagedTable is one table being restored.
type stagedTable struct {
	name    string
	policy  engine.PromotePolicy
	footer  *snapshot.TableStats // whole-table totals from the last footer
	checked bool                 // staging matched the footer before the swap
	rows    uint64               // rows staged (salvage: a table with none and no footer is kept)
}

type restorer struct {
	n      *Node
	ctx    context.Context
	opts   restoreOptions
	id     string
	delta  bool // the input starts with an incremental segment
	first  *snapshot.SegmentHeader
	last   *snapshot.SegmentHeader
	staged map[string]*stagedTable
	skip   map[string]bool
	rows   uint64
	damage int
	kept   []string // salvage: tables left as they were (nothing recovered, footer lost)
	torn   bool     // salvage: the input ended inside a segment (or with junk)
	// subset: a segment of the input is marked as part of a dump of a
	// table subset (dump --tables); listed: every table a segment of the
	// input listed. A clean restore of a subset drops only listed tables.
	subset bool
	listed map[string]bool
	made   bool // a staging table may exist (cleanup needed on failure)

	inflight []*replication.ApplyFuture // batch proposals not yet waited for, oldest first
	ops      []engine.Op                // reused for every batch's change set
}

// maxInFlight bounds the batch change sets proposed and not yet applied
// (each about one dump batch, 2 MiB raw by default).
const maxInFlight = 4

// copyRestoreIn serves COPY heliosdb.restore FROM STDIN WITH (mode 'clean'
// | 'append', on_conflict 'error' | 'skip' | 'update', tables 'a,b',
// salvage 'true'). The returned command tag reports what was restored and
// whether the per-table row-hash sums equal the dump footer's:
//
//	RESTORE tables=3 rows=1200 verified=3 mismatched=0 lsn=57 source_lsn=41
func (n *Node) copyRestoreIn(ctx context.Context, opts map[string]string, r io.Reader) (string, error) {
	ro, err := parseRestoreOptions(opts)
	if err != nil {
		return "", err
	}
	mu, _ := restoreLocks.LoadOrStore(n, &sync.Mutex{})
	if !mu.(*sync.Mutex).TryLock() {
		return "", &sqlStateErr{code: "55006", err: errors.New("another restore is running on this node: wait for it to finish")}
	}
	defer mu.(*sync.Mutex).Unlock()
	rs := &restorer{n: n, ctx: ctx, opts: ro, id: uuid.NewString()[:8], staged: map[string]*stagedTable{}, skip: map[string]bool{}}
	start := time.Now()
	br := bufio.NewReaderSize(r, 64<<10)
	var tag string
	if n.snapshotRestoreEligible(ro) && peekFullDump(br) {
		tag, err = rs.runSnapshot(br)
	} else {
		tag, err = rs.run(br)
	}
	if err != nil {
		if rs.made {
			rs.cleanup()
		}
		n.log.Warn("restore failed", "err", err, "took", time.Since(start).Round(time.Millisecond))
		return "", err
	}
	n.log.Info("restore complete", "tag", tag, "took", time.Since(start).Round(time.Millisecond))
	return tag, nil
}

func (rs *restorer) run(r io.Reader) (string, error) {
	rd := snapshot.NewReaderWith(r, snapshot.ReaderOptions{Tolerant: rs.opts.salvage})
	defer rd.Close()
	for {
		it, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if rs.opts.salvage && errors.Is(err, snapshot.ErrTornTail) {
				// A salvage keeps what came before the cut (a truncated
				// copy, a torn append, or bytes after the last segment):
				// the batches read are intact, the rest is lost.
				rs.n.log.Warn("restore --salvage: the input ends inside a segment or with bytes that are no section; restoring what came before", "restore_id", rs.id, "err", err)
				rs.torn = true
				break
			}
			return "", &sqlStateErr{code: "XX001", err: fmt.Errorf("restore: reading the dump: %w (nothing was changed; check the file with heliosdb-lite verify)", err)}
		}
		if err := rs.item(it); err != nil {
			return "", err
		}
	}
	if rs.first == nil {
		return "", &sqlStateErr{code: "22023", err: errors.New("restore: the input holds no complete dump segment (nothing was changed)")}
	}
	if err := rs.checkTables(); err != nil {
		return "", err
	}
	return rs.finish()
}

// checkTables refuses a table subset naming a table the dump does not
// restore to (its last segment's list), as dump --tables does for a table
// the database lacks: restoring "nothing" for a misspelt name would pass
// silently.
func (rs *restorer) checkTables() error {
	var missing []string
	for name := range rs.opts.tables {
		if !slices.Contains(rs.last.Tables, name) {
			missing = append(missing, strconv.Quote(name))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	slices.Sort(missing)
	return &sqlStateErr{code: "42P01", err: fmt.Errorf("restore: the dump holds no table %s (its tables: %s; nothing was changed)",
		strings.Join(missing, ", "), strings.Join(rs.last.Tables, ", "))}
}

func (rs *restorer) propose(cs *engine.ChangeSet) error {
	if err := rs.wait(0); err != nil {
		return err
	}
	if len(cs.Ops) == 0 {
		return nil
	}
	_, err := rs.n.propose(rs.ctx, cs)
	return err
}

// proposeAsync encodes cs (which may alias the reader's buffers: nothing
// of it is kept) and proposes it without waiting, keeping at most
// maxInFlight proposals outstanding.
func (rs *restorer) proposeAsync(cs *engine.ChangeSet) error {
	if err := rs.wait(maxInFlight - 1); err != nil {
		return err
	}
	size := 16
	for i := range cs.Ops {
		op := &cs.Ops[i]
		size += len(op.Table) + len(op.Key) + len(op.Row) + 3*binary.MaxVarintLen32 + 1
	}
	buf := append(make([]byte, 0, size), byte(fsm.EntryChangeSet))
	rs.inflight = append(rs.inflight, rs.n.repl.ApplyAsync(rs.ctx, cs.Encode(buf)))
	return nil
}

// wait waits for batch proposals until at most keep are in flight. The
// first failure is returned; the rest are still waited for by later calls
// (cleanup's propose waits for all of them before dropping staging).
func (rs *restorer) wait(keep int) error {
	for len(rs.inflight) > keep {
		f := rs.inflight[0]
		rs.inflight[0] = nil
		rs.inflight = rs.inflight[1:]
		start := time.Now()
		_, _, err := f.Wait(rs.ctx)
		rs.n.metrics.observeWrite(time.Since(start), err)
		if err != nil {
			return replErr(err)
		}
	}
	return nil
}

func (rs *restorer) item(it *snapshot.Item) error {
	switch it.Kind {
	case snapshot.ItemSegment:
		return rs.segment(it.Segment)
	case snapshot.ItemTable:
		return rs.table(it.Table)
	case snapshot.ItemRows, snapshot.ItemTombstones:
		b := it.Batch
		if rs.skip[b.Table] || rs.staged[b.Table] == nil {
			return nil
		}
		sn := engine.StagingName(rs.id, b.Table)
		ops := rs.ops[:0]
		// Keys and rows alias the reader's buffers: proposeAsync encodes
		// the change set before the next Next, so they need no copy.
		for i := range b.Rows {
			row := &b.Rows[i]
			ops = append(ops, engine.Op{Kind: engine.OpUpsert, Table: sn, Key: bytesView(row.Key), Row: row.Enc})
		}
		for _, t := range b.Tombstones {
			ops = append(ops, engine.Op{Kind: engine.OpTombstone, Table: sn, Key: t.Key})
		}
		rs.rows += uint64(len(b.Rows))
		rs.staged[b.Table].rows += uint64(len(b.Rows))
		err := rs.proposeAsync(&engine.ChangeSet{Ops: ops})
		clear(ops) // drop the references into the reader's buffers
		rs.ops = ops
		return err
	case snapshot.ItemFooter:
		return rs.footer(it.Footer)
	case snapshot.ItemDamage:
		rs.damage++
	}
	return nil
}

func (rs *restorer) segment(h *snapshot.SegmentHeader) error {
	rs.subset = rs.subset || h.Subset
	if rs.listed == nil {
		rs.listed = map[string]bool{}
	}
	for _, name := range h.Tables {
		rs.listed[name] = true
	}
	if rs.first == nil {
		rs.first = h
		rs.delta = h.Mode == snapshot.ModeIncremental
		if rs.delta {
			snap, err := rs.n.readSnapshot(rs.ctx, "linearizable")
			if err != nil {
				return err
			}
			at, _, ok := restoredLSN(snap)
			if ok && restoredBySalvage(snap) {
				return &sqlStateErr{code: "55000", err: errors.New("restore: the database was restored with --salvage from a damaged dump, which lost rows, so an incremental dump cannot continue it: restore an intact full dump first, then the increments (nothing was changed)")}
			}
			if !ok || at != h.BaseLSN {
				have := "no dump has been restored into this database"
				if ok {
					have = fmt.Sprintf("the database was last restored to LSN %d", at)
				}
				return &sqlStateErr{code: "55000", err: fmt.Errorf("restore: this incremental dump continues from LSN %d, but %s: a file is missing or out of order; restore the base dump, then each increment in order (nothing was changed)", h.BaseLSN, have)}
			}
		}
	} else if h.Mode == snapshot.ModeFull {
		// A later full segment supersedes everything staged so far.
		if err := rs.dropStaging(); err != nil {
			return err
		}
		rs.staged = map[string]*stagedTable{}
		rs.delta = false
	} else {
		// Tables an incremental segment does not list were dropped since.
		for name := range rs.staged {
			if !slices.Contains(h.Tables, name) {
				if err := rs.propose(&engine.ChangeSet{Ops: []engine.Op{{Kind: engine.OpDropTable, Table: engine.StagingName(rs.id, name)}}}); err != nil {
					return err
				}
				delete(rs.staged, name)
			}
		}
	}
	rs.last = h
	return nil
}

func (rs *restorer) table(ts *snapshot.TableSchema) error {
	name := ts.Def.Name
	if engine.IsHidden(name) || (rs.opts.tables != nil && !rs.opts.tables[name]) {
		rs.skip[name] = true
		return nil
	}
	sn := engine.StagingName(rs.id, name)
	var ops []engine.Op
	st := rs.staged[name]
	replace := rs.last.Mode == snapshot.ModeFull || ts.Full
	if st == nil || replace {
		if st != nil {
			ops = append(ops, engine.Op{Kind: engine.OpDropTable, Table: sn})
		}
		policy := engine.PromoteReplace
		if rs.delta && !replace {
			policy = engine.PromoteDelta
		}
		st = &stagedTable{name: name, policy: policy}
		rs.staged[name] = st
		ops = append(ops, engine.Op{Kind: engine.OpCreateTable, Table: sn, Def: engine.StagingDef(rs.id, ts.Def)})
		rs.made = true
	}
	ops = append(ops, engine.Op{Kind: engine.OpSetSequence, Table: sn, Seq: -1, Value: ts.Meta.RowIDSeq})
	for i, v := range ts.Meta.Seqs {
		if i < len(ts.Def.Columns) {
			ops = append(ops, engine.Op{Kind: engine.OpSetSequence, Table: sn, Seq: i, Value: v})
		}
	}
	return rs.propose(&engine.ChangeSet{Ops: ops})
}

// footer records the dump's whole-table totals and checks every table
// staged for replacement against them: the swap happens only if the
// staged rows are exactly what was dumped.
func (rs *restorer) footer(f *snapshot.Footer) error {
	if err := rs.wait(0); err != nil {
		return err
	}
	// Our proposals are applied on the leader, but a follower serving the
	// restore may not have applied them yet: read behind the barrier.
	snap, err := rs.n.readSnapshot(rs.ctx, "linearizable")
	if err != nil {
		return err
	}
	for i := range f.Tables {
		ft := f.Tables[i]
		st := rs.staged[ft.Name]
		if st == nil {
			continue
		}
		st.footer = &ft
		st.checked = false
		merging := !rs.delta && rs.opts.mode == "append"
		if st.policy != engine.PromoteReplace || rs.opts.salvage || merging {
			continue
		}
		t, ok := snap.Table(engine.StagingName(rs.id, ft.Name))
		if !ok {
			continue
		}
		if uint64(t.Len()) != ft.TableRows || t.HashSum() != ft.TableHashSum {
			return &sqlStateErr{code: "XX001", err: fmt.Errorf("restore: table %q: staged %d rows with row-hash sum 0x%016x, the dump's footer records %d rows with 0x%016x (nothing was changed)",
				ft.Name, t.Len(), t.HashSum(), ft.TableRows, ft.TableHashSum)}
		}
		st.checked = true
	}
	return nil
}

// finish proposes the swap and reports the outcome.
func (rs *restorer) finish() (string, error) {
	if err := rs.wait(0); err != nil {
		return "", err
	}
	snap, err := rs.n.readSnapshot(rs.ctx, "linearizable")
	if err != nil {
		return "", err
	}
	if err := rs.precheckDelta(snap); err != nil {
		return "", err
	}
	cs := &engine.ChangeSet{}
	// The marker row must be unchanged since we read it: two restores
	// racing through different nodes cannot both win.
	if _, rowLSN, ok := restoredLSN(snap); ok {
		cs.Preconditions = append(cs.Preconditions, engine.Precondition{Kind: engine.PreRowLSN, Table: engine.RestoreStateTable, Key: markerKey, LSN: rowLSN})
	} else if _, ok := snap.Table(engine.RestoreStateTable); ok {
		cs.Preconditions = append(cs.Preconditions, engine.Precondition{Kind: engine.PreAbsent, Table: engine.RestoreStateTable, Key: markerKey})
	} else {
		cs.Preconditions = append(cs.Preconditions, engine.Precondition{Kind: engine.PreSchema, Table: engine.RestoreStateTable})
		cs.Ops = append(cs.Ops, engine.Op{Kind: engine.OpCreateTable, Table: engine.RestoreStateTable, Def: restoreMarkerDef()})
	}
	// Clean restores of the whole database (and increments, which list
	// every table that still exists) drop the tables the dump lacks. A
	// dump of a table subset (dump --tables, and its increments) drops
	// only the tables its segments listed and no longer hold (dropped at
	// the source), as pg_restore --clean of a pg_dump -t file: every other
	// table is left alone.
	if rs.opts.tables == nil && (rs.delta || rs.opts.mode == "clean") {
		for _, name := range snap.TableNames() {
			if rs.subset && !rs.listed[name] {
				continue
			}
			if rs.staged[name] == nil && (!rs.delta || !slices.Contains(rs.last.Tables, name)) {
				cs.Ops = append(cs.Ops, engine.Op{Kind: engine.OpDropTable, Table: name})
			}
		}
	}
	names := make([]string, 0, len(rs.staged))
	for name := range rs.staged {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		st := rs.staged[name]
		if rs.opts.salvage && st.footer == nil && st.rows == 0 && st.policy == engine.PromoteReplace {
			// Nothing of it was recovered and the dump's count of its rows
			// is lost with the footer: whatever it held, replacing the
			// server's table with an empty one would only lose more.
			// Keep the table as it is (reported as kept).
			cs.Ops = append(cs.Ops, engine.Op{Kind: engine.OpDropTable, Table: engine.StagingName(rs.id, name)})
			rs.kept = append(rs.kept, name)
			continue
		}
		policy := st.policy
		if !rs.delta && rs.opts.mode == "append" {
			policy = map[string]engine.PromotePolicy{"error": engine.PromoteMergeError, "skip": engine.PromoteMergeSkip, "update": engine.PromoteMergeUpdate}[rs.opts.onConflict]
		}
		cs.Ops = append(cs.Ops, engine.Op{Kind: engine.OpPromote, Table: engine.StagingName(rs.id, name), Name: name, Seq: int(policy)})
	}
	source := rs.last.NodeID
	if rs.opts.salvage && (rs.damage > 0 || rs.torn) {
		// Rows of the chain are missing: no increment may continue it.
		source = salvagedSource
	}
	marker, err := engine.EncodeRow(nil, engine.Row{int64(1), rs.last.DumpID.String(), int64(rs.last.LastLSN), source})
	if err != nil {
		return "", err
	}
	cs.Ops = append(cs.Ops, engine.Op{Kind: engine.OpUpsert, Table: engine.RestoreStateTable, Key: markerKey, Row: marker})
	lsn, err := rs.n.propose(rs.ctx, cs)
	if err != nil {
		var ee *engine.Error
		if errors.As(err, &ee) {
			msg := ee.Error()
			if d := ee.Detail(); d != "" {
				msg += ": " + d
			}
			return "", &sqlStateErr{code: ee.Code, err: fmt.Errorf("restore (%s mode, on conflict %s): %s (nothing was changed)", rs.opts.mode, rs.opts.onConflict, msg)}
		}
		return "", err
	}
	rs.made = false
	if rs.n.repl.AppliedIndex() < lsn {
		// A follower: wait until the swap is applied here too.
		if _, err := rs.n.readSnapshot(rs.ctx, "linearizable"); err != nil {
			return "", err
		}
	}
	verified, mismatched := rs.verifyAfter(lsn, names)
	damaged := rs.damage
	if rs.torn {
		damaged++
	}
	tag := fmt.Sprintf("RESTORE tables=%d rows=%d verified=%d mismatched=%s lsn=%d source_lsn=%d damaged=%d",
		len(names)-len(rs.kept), rs.rows, verified, mismatched, lsn, rs.last.LastLSN, damaged)
	if len(rs.kept) > 0 {
		tag += " kept=" + strings.Join(rs.kept, ",")
	}
	return tag, nil
}

// precheckDelta computes, for every table an increment changes in place
// (PromoteDelta), the row count and row-hash sum the table would have
// after the swap, from the state the swap applies to, and refuses the
// restore before anything changes when they are not the footer's: the
// table changed since the chain's base was restored, and applying the
// increment would leave neither the old data nor the dump's. (The check
// after the swap remains for writes that land in between.)
func (rs *restorer) precheckDelta(snap *engine.Snapshot) error {
	if rs.opts.salvage {
		return nil
	}
	for name, st := range rs.staged {
		if st.policy != engine.PromoteDelta || st.footer == nil || st.checked {
			continue
		}
		target, ok := snap.Table(name)
		stg, ok2 := snap.Table(engine.StagingName(rs.id, name))
		if !ok || !ok2 {
			continue // the promote itself reports it
		}
		rows, hash := uint64(target.Len()), target.HashSum()
		deleted := map[string]bool{} // by a tombstone first, as the promote does
		stg.Tombstones(func(key string, _ uint64) bool {
			if old, found := target.Get(key); found {
				rows--
				hash -= old.Hash
				deleted[key] = true
			}
			return true
		})
		stg.Scan(func(r engine.RowRef) bool {
			if old, found := target.Get(r.Key); found && !deleted[r.Key] {
				rows--
				hash -= old.Hash
			}
			rows++
			hash += r.Hash // staged rows hash under the table's own name
			return true
		})
		if rows != st.footer.TableRows || hash != st.footer.TableHashSum {
			return &sqlStateErr{code: "55000", err: fmt.Errorf("restore: table %q changed since the dump chain's base was restored: with this increment it would hold %d rows where the dump's footer says %d, or other rows (row-hash sum %016x, footer %016x); restore the base dump with --mode clean, then the increments in order (nothing was changed)",
				name, rows, st.footer.TableRows, hash, st.footer.TableHashSum)}
		}
	}
	return nil
}

// verifyAfter compares each restored table with the footer's whole-table
// totals. Replaced tables were checked before the swap; merged and delta
// tables are checked on the state right after the swap (skipped, and not
// counted, if other writes already touched them).
func (rs *restorer) verifyAfter(lsn uint64, names []string) (verified int, mismatched string) {
	snap := rs.n.eng.Snapshot()
	var bad []string
	for _, name := range names {
		st := rs.staged[name]
		if st.checked {
			verified++
			continue
		}
		if st.footer == nil || slices.Contains(rs.kept, name) {
			continue
		}
		t, ok := snap.Table(name)
		if !ok {
			continue
		}
		if uint64(t.Len()) == st.footer.TableRows && t.HashSum() == st.footer.TableHashSum {
			verified++ // a salvaged table that lost nothing verifies too
		} else if snap.LSN() == lsn && !rs.opts.salvage && (rs.delta || rs.opts.mode != "append") {
			// A merge legitimately differs from the dump (the table held
			// other rows); an increment or replacement must not.
			bad = append(bad, name)
		}
	}
	if len(bad) == 0 {
		return verified, "0"
	}
	return verified, strconv.Itoa(len(bad)) + ":" + strings.Join(bad, ",")
}

// dropStaging drops every staging table of this restore.
func (rs *restorer) dropStaging() error {
	if err := rs.wait(0); err != nil {
		return err
	}
	cs := &engine.ChangeSet{}
	for _, name := range rs.n.eng.Snapshot().AllTableNames() {
		if id, ok := engine.IsStaging(name); ok && id == rs.id {
			cs.Ops = append(cs.Ops, engine.Op{Kind: engine.OpDropTable, Table: name})
		}
	}
	return rs.propose(cs)
}

// cleanup runs after a failure, when the client's context may be gone.
func (rs *restorer) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rs.ctx = ctx
	_ = rs.wait(0) // batches in flight may still create rows in staging
	if err := rs.dropStaging(); err != nil {
		rs.n.log.Error("restore: dropping staging tables failed; they stay hidden until the next restart of the cluster's state", "restore_id", rs.id, "err", err)
	}
}

// bytesView views b as a string without copying; the string is valid only
// while b is (here: until the change set holding it is encoded).
func bytesView(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
