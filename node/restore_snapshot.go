package node

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/raft"

	"github.com/heliosdb/heliosdb-lite/engine"
	"github.com/heliosdb/heliosdb-lite/fsm"
	"github.com/heliosdb/heliosdb-lite/replication"
	"github.com/heliosdb/heliosdb-lite/snapshot"
)

// Clean restore of the whole database through raft's user restore.
//
// The common restore (mode clean, every table, a dump that starts with a
// full segment) on the leader does not go through the log at all. The node
//
//  1. receives the dump, spooling it to a temporary file while
//     snapshot.Load builds the new state from the same bytes (the reader
//     checks every CRC, the loader every table's row count and row-hash sum
//     against the footer): a damaged file fails here, before any change;
//  2. appends one small incremental segment to the spooled file (the
//     "tail"): it creates the hidden restore-state table with its marker
//     row, lists every restored table (so hidden tables a raft-snapshot
//     file may carry are dropped), moves the state to a fresh LSN above
//     raft's last index, and sets the tombstone horizon there, so an
//     incremental dump asked for since an older LSN is refused (the rows
//     and deletes of the restore are not in any change log);
//  3. loads the tail on top of the state of step 1 (snapshot.Load with a
//     base, exactly what every other replica will do with the whole file),
//     parks the result in the FSM (fsm.PrepareUserRestore) and hands the
//     file to raft (replication.Node.UserRestore -> raft.Restore). Raft
//     copies it into its snapshot store, the FSM installs the parked state
//     in one atomic step (it does not decode the file again), and
//     followers receive the file by InstallSnapshot and load it.
//
// Clients see the old state until the install and the whole dump after
// it; no log entry carries data, and memory holds the new data once. In
// raft, the snapshot's index is meta.Index+1 when meta.Index is above its
// last index: the tail's LSN is chosen as raft's last index plus a gap
// (restoreIndexGap) that writes racing with the hand-over cannot fill, so
// the engine's LSN equals the snapshot's index. Writes still in flight when
// raft takes the snapshot fail (raft aborts them), as if they had come
// before the restore.
//
// Everything else (a --tables subset, append mode, salvage, an
// incremental file, a node that is not the leader) uses the staged path
// of restore.go.

// restoreIndexGap is how far above raft's last index the restored state's
// LSN is put (see above). Log indexes are 64-bit: the gap costs nothing.
const restoreIndexGap = 1 << 16

// peekFullDump reports whether br starts with a .heliodump whose first
// segment is a full one: file header (32 bytes), then the frame of the
// segment header section (12 bytes) whose payload starts with the mode.
// The whole byte is compared: a dump of a table subset (mode byte with
// the subset bit, SegmentHeader.Subset) must not take the snapshot path,
// which replaces the whole database.
func peekFullDump(br *bufio.Reader) bool {
	const modeAt = 32 + 12
	b, err := br.Peek(modeAt + 1)
	if err != nil {
		return false
	}
	return string(b[:len(snapshot.Magic)]) == snapshot.Magic && b[32] == 0x01 && snapshot.Mode(b[modeAt]) == snapshot.ModeFull
}

// snapshotRestoreEligible reports whether the restore can take the user
// restore path; the input's first segment is checked separately.
func (n *Node) snapshotRestoreEligible(ro restoreOptions) bool {
	return ro.mode == "clean" && ro.tables == nil && !ro.salvage && n.repl.IsLeader()
}

// spoolDir is where an incoming dump is spooled: the data directory (the
// snapshot store is on the same disk), else the system's temp directory.
func (n *Node) spoolDir() string {
	if d := n.cfg.Server.DataDir; d != "" && !n.cfg.Server.Memory {
		return d
	}
	return os.TempDir()
}

// runSnapshot is the user restore path. r is the whole COPY input.
func (rs *restorer) runSnapshot(r io.Reader) (string, error) {
	n := rs.n
	spool, err := newSpool(n.spoolDir())
	if err != nil {
		return "", fmt.Errorf("restore: spooling the dump: %w (nothing was changed)", err)
	}
	defer spool.Close()
	var head headRecorder
	loadStart := time.Now()
	res, err := snapshot.Load(rs.ctx, io.TeeReader(r, io.MultiWriter(&head, spool)), nil)
	if err == nil {
		err = spool.Flush()
	}
	if serr := spool.Err(); serr != nil {
		// The tee reports the spool's write error as a read error (a
		// torn tail, to the loader): it is this server's disk, not the
		// dump.
		return "", spoolError(spool, serr)
	}
	if err != nil {
		return "", &sqlStateErr{code: "XX001", err: fmt.Errorf("restore: reading the dump: %w (nothing was changed; check the file with heliosdb-lite verify)", err)}
	}
	if len(res.Segments) == 0 {
		return "", &sqlStateErr{code: "22023", err: errors.New("restore: the input holds no complete dump segment (nothing was changed)")}
	}
	dumpSize := spool.Size()
	last := &res.Segments[len(res.Segments)-1]

	lsn := max(n.repl.LastIndex(), last.LastLSN, n.eng.LSN()) + restoreIndexGap
	tail, names, err := restoreTail(res.State, last, lsn, n.cfg.Server.NodeID)
	if err != nil {
		return "", err
	}
	final, err := snapshot.Load(rs.ctx, bytes.NewReader(tail), res.State)
	if err != nil {
		return "", fmt.Errorf("restore: building the restore marker: %w (nothing was changed)", err)
	}
	if _, err := spool.f.Write(tail[snapshotFileHeaderLen:]); err != nil {
		return "", spoolError(spool, err)
	}
	size := dumpSize + int64(len(tail)-snapshotFileHeaderLen)
	if _, err := spool.f.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	forget := n.fsm.PrepareUserRestore(head.b, final.State)
	start := time.Now()
	meta := &raft.SnapshotMeta{Version: raft.SnapshotVersionMax, Index: lsn - 1, Size: size}
	sr := spool.reader(size)
	if len(res.Segments) == 1 {
		// The file is the dump's one full segment and the tail: the
		// snapshot store need not read that back from the disk.
		sr.facts = &fsm.ChainFacts{LastLSN: lsn, Segments: 2, BaseBytes: dumpSize}
	}
	err = n.repl.UserRestore(rs.ctx, meta, sr)
	forget()
	if errors.Is(err, replication.ErrNotLeader) {
		// Leadership moved while the dump was received: stage it from
		// the spool through the new leader instead.
		n.log.Info("restore: no longer the leader; restoring through the log instead", "restore_id", rs.id)
		if _, err := spool.f.Seek(0, io.SeekStart); err != nil {
			return "", err
		}
		rs.made = false
		return rs.run(io.LimitReader(spool.f, dumpSize))
	}
	if err != nil {
		return "", replErr(fmt.Errorf("restore: handing the dump to raft: %w (nothing was changed)", err))
	}
	installed := n.eng.Snapshot()
	n.log.Info("restore: installed through raft's user restore", "lsn", installed.LSN(), "bytes", size,
		"receive_and_load", start.Sub(loadStart).Round(time.Millisecond), "handover", time.Since(start).Round(time.Millisecond),
		"prepared_state_used", installed == final.State, "spool_adopted", sr.adopted, "spool_direct", spool.direct)
	rows := res.Rows
	return fmt.Sprintf("RESTORE tables=%d rows=%d verified=%d mismatched=0 lsn=%d source_lsn=%d damaged=0",
		len(names), rows, len(names), installed.LSN(), last.LastLSN), nil
}

// spoolError reports a failure to keep the incoming dump on this server's
// disk: SQLSTATE 53100 (disk_full) when the file system is full or over
// quota, 58030 (io_error) otherwise.
func spoolError(s *spool, err error) error {
	code := "58030"
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		code = "53100"
	}
	return &sqlStateErr{code: code, err: fmt.Errorf("restore: the server could not keep the incoming dump in %s after %d bytes: %w (nothing was changed; a clean restore needs room there for one copy of the dump file)", filepath.Dir(s.f.Name()), s.Size(), err)}
}

// snapshotFileHeaderLen is the .heliodump file header's length (format
// 1.x): the tail is written as a file of its own and appended without it.
const snapshotFileHeaderLen = 32

// restoreTail writes the tail segment (see above) as a complete file: the
// restored tables of st (hidden ones left out, so they are dropped) plus
// the restore-state table with its marker row, at LSN lsn with the
// tombstone horizon at lsn. names are the restored (visible) tables.
func restoreTail(st *engine.State, last *snapshot.SegmentHeader, lsn uint64, nodeID string) ([]byte, []string, error) {
	names := st.TableNames()
	marker, err := engine.EncodeRow(nil, engine.Row{int64(1), last.DumpID.String(), int64(last.LastLSN), last.NodeID})
	if err != nil {
		return nil, nil, err
	}
	all := append(slices.Clone(names), engine.RestoreStateTable)
	slices.Sort(all)
	schemas := make([]snapshot.TableSchema, len(all))
	totals := make([]snapshot.TableTotal, len(all))
	mord := -1
	for i, name := range all {
		if name == engine.RestoreStateTable {
			mord = i
			schemas[i] = snapshot.TableSchema{Def: restoreMarkerDef(), Meta: engine.TableMeta{DefLSN: lsn, CreatedLSN: lsn}, Full: true}
			totals[i] = snapshot.TableTotal{Rows: 1, HashSum: engine.RowHash(name, markerKey, string(marker))}
			continue
		}
		t, _ := st.Table(name)
		schemas[i] = snapshot.TableSchema{Def: t.Def(), Meta: t.Meta()}
		totals[i] = snapshot.TableTotal{Rows: uint64(t.Len()), HashSum: t.HashSum()}
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, nil, err
	}
	opts := snapshot.DefaultWriterOptions()
	opts.Compression, opts.Level, opts.Workers = snapshot.CompressNone, 0, 1
	opts.DumpID, opts.NodeID = id, nodeID
	var buf bytes.Buffer
	w, err := snapshot.NewWriter(&buf, opts)
	if err != nil {
		return nil, nil, err
	}
	h := snapshot.SegmentHeader{Mode: snapshot.ModeIncremental, BaseLSN: last.LastLSN, LastLSN: lsn, Horizon: lsn}
	err = w.BeginSegment(h, schemas)
	if err == nil {
		err = w.WriteRow(mord, markerKey, string(marker), lsn, totals[mord].HashSum)
	}
	if err == nil {
		_, err = w.EndSegment(totals)
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, nil, fmt.Errorf("restore: writing the restore marker: %w (nothing was changed)", err)
	}
	return buf.Bytes(), names, nil
}

// headRecorder keeps the first bytes written to it: the prefix by which
// the FSM recognises the stream whose state was prepared (the file header
// and the first segment header with its unique dump id).
type headRecorder struct{ b []byte }

const headLen = 4096

func (h *headRecorder) Write(p []byte) (int, error) {
	if k := headLen - len(h.b); k > 0 {
		h.b = append(h.b, p[:min(k, len(p))]...)
	}
	return len(p), nil
}
