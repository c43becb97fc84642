package fsm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/heliosdb/heliosdb-lite/snapshot"
)

// ChainStore is a raft.SnapshotStore whose snapshots are prefixes of
// .heliodump chain files. The first snapshot of a chain is a full dump; a
// later one appends only an incremental segment (the rows and deletes since
// the previous snapshot) to the same file and records the new length, so a
// snapshot costs in proportion to the change, not to the database. Opening
// a snapshot streams the chain file up to its recorded length: a follower
// that needs a snapshot receives the whole chain as one stream, and
// snapshot.Load replays it segment by segment.
//
// Layout under dir: chains/<id>.heliodump (chain files) and
// metas/<id>.json (one record per snapshot). Records and new chain files
// are written to a temporary name, fsynced and renamed, so a crash leaves
// either the old or the new snapshot, never a half one; an append that was
// cut short leaves bytes past every recorded length, which the next append
// truncates away.
type ChainStore struct {
	dir    string
	retain int

	// mu guards the files and tip: raft persists one snapshot at a time,
	// but List/Open run concurrently with it (InstallSnapshot to a follower).
	mu  sync.Mutex
	tip *ChainRecord

	removals sync.WaitGroup // chain files being deleted (removeLater)

	// recv starts a load beside a full snapshot received from outside
	// (receiveload.go); nil: none. Set before raft starts (FSM.SetChain).
	recv func() *receiveLoad
}

// ChainRecord is the metadata of one snapshot.
type ChainRecord struct {
	Meta raft.SnapshotMeta
	// Chain is the chain file name (in chains/); Length the snapshot's
	// prefix of it.
	Chain  string
	Length int64
	// BaseBytes is the size of the chain's full segment (with the file
	// header); Segments counts the segments in the prefix.
	BaseBytes int64
	Segments  int
	// LastLSN is the engine LSN the prefix reaches.
	LastLSN uint64
}

// Errors of the chain store.
var (
	ErrNoSnapshot      = errors.New("fsm: snapshot not found")
	ErrNoChainToExtend = errors.New("fsm: an incremental snapshot needs an existing chain")
)

// OpenChainStore opens (creating) the store in dir/snapshots.
func OpenChainStore(dir string, retain int) (*ChainStore, error) {
	if retain < 1 {
		retain = 1
	}
	s := &ChainStore{dir: filepath.Join(dir, "snapshots"), retain: retain}
	for _, d := range []string{s.chainsDir(), s.metasDir()} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return nil, fmt.Errorf("fsm: snapshot store: %w", err)
		}
	}
	recs, err := s.records()
	if err != nil {
		return nil, err
	}
	if len(recs) > 0 {
		s.tip = recs[0]
	}
	// Leftover temporary files from a crash are garbage.
	tmps, _ := filepath.Glob(filepath.Join(s.chainsDir(), "*.tmp"))
	for _, t := range tmps {
		_ = os.Remove(t)
	}
	return s, nil
}

func (s *ChainStore) chainsDir() string { return filepath.Join(s.dir, "chains") }
func (s *ChainStore) metasDir() string  { return filepath.Join(s.dir, "metas") }

// Tip returns the newest snapshot's record.
func (s *ChainStore) Tip() (ChainRecord, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tip == nil {
		return ChainRecord{}, false
	}
	return *s.tip, true
}

// records returns every readable record, newest first.
func (s *ChainStore) records() ([]*ChainRecord, error) {
	files, err := filepath.Glob(filepath.Join(s.metasDir(), "*.json"))
	if err != nil {
		return nil, err
	}
	var out []*ChainRecord
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var r ChainRecord
		if json.Unmarshal(b, &r) != nil {
			continue // a torn record from a crash: ignore it
		}
		if fi, err := os.Stat(filepath.Join(s.chainsDir(), r.Chain)); err != nil || fi.Size() < r.Length {
			continue
		}
		out = append(out, &r)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].Meta, out[j].Meta
		if a.Term != b.Term {
			return a.Term > b.Term
		}
		if a.Index != b.Index {
			return a.Index > b.Index
		}
		return a.ID > b.ID
	})
	return out, nil
}

// Create starts a new snapshot. Whether it is a new chain or an append to
// the tip's chain is decided by its first bytes: a .heliodump file header
// starts a chain, anything else is an incremental segment.
func (s *ChainStore) Create(version raft.SnapshotVersion, index, term uint64, configuration raft.Configuration,
	configurationIndex uint64, _ raft.Transport) (raft.SnapshotSink, error) {
	id := fmt.Sprintf("%d-%d-%d", term, index, time.Now().UnixMilli())
	meta := raft.SnapshotMeta{Version: version, ID: id, Index: index, Term: term,
		Configuration: configuration, ConfigurationIndex: configurationIndex}
	return &chainSink{store: s, meta: meta}, nil
}

// List returns the retained snapshots, newest first.
func (s *ChainStore) List() ([]*raft.SnapshotMeta, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	recs, err := s.records()
	if err != nil {
		return nil, err
	}
	var out []*raft.SnapshotMeta
	for i, r := range recs {
		if i >= s.retain {
			break
		}
		m := r.Meta
		out = append(out, &m)
	}
	return out, nil
}

// Open streams the chain prefix of snapshot id.
func (s *ChainStore) Open(id string) (*raft.SnapshotMeta, io.ReadCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := os.ReadFile(filepath.Join(s.metasDir(), id+".json"))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s", ErrNoSnapshot, id)
	}
	var r ChainRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, nil, fmt.Errorf("fsm: snapshot %s: bad record: %w", id, err)
	}
	f, err := os.Open(filepath.Join(s.chainsDir(), r.Chain))
	if err != nil {
		return nil, nil, fmt.Errorf("fsm: snapshot %s: %w", id, err)
	}
	m := r.Meta
	return &m, readCloser{Reader: io.LimitReader(f, r.Length), Closer: f}, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// commit records a finished snapshot and drops what retention no longer
// needs. Called with mu held.
func (s *ChainStore) commitLocked(rec *ChainRecord) error {
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(s.metasDir(), rec.Meta.ID+".json")
	if err := writeFileSync(path, b); err != nil {
		return err
	}
	s.tip = rec
	recs, err := s.records()
	if err != nil {
		return err
	}
	keepChains := map[string]bool{}
	for i, r := range recs {
		if i < s.retain {
			keepChains[r.Chain] = true
			continue
		}
		_ = os.Remove(filepath.Join(s.metasDir(), r.Meta.ID+".json"))
	}
	chains, _ := filepath.Glob(filepath.Join(s.chainsDir(), "*.heliodump"))
	var drop []string
	for _, c := range chains {
		if !keepChains[filepath.Base(c)] {
			drop = append(drop, c)
		}
	}
	if err := syncDir(s.metasDir()); err != nil {
		return err
	}
	s.removeLater(drop)
	return nil
}

// removeLater deletes chain files no record needs any more, in the
// background: freeing a large file's blocks takes the file system a while
// (ext4 mounted with discard: ~10 ms per 70 MB), which the snapshot's
// commit, a restore's hand-over or a rejoin need not wait for. A chain is
// never needed again once dropped (new records name the tip's chain or a
// new one), and one left by a crash before its removal is dropped by the
// next commit, which removes every chain no record names.
func (s *ChainStore) removeLater(paths []string) {
	if len(paths) == 0 {
		return
	}
	s.removals.Add(1)
	go func() {
		defer s.removals.Done()
		for _, p := range paths {
			_ = os.Remove(p)
		}
	}()
}

// WaitRemovals waits for the chain files dropped so far to be deleted.
func (s *ChainStore) WaitRemovals() { s.removals.Wait() }

func writeFileSync(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	if _, err = f.Write(b); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// chainSink receives one snapshot's bytes.
type chainSink struct {
	store *ChainStore
	meta  raft.SnapshotMeta

	head   []byte // first bytes, until the kind is known
	f      *os.File
	full   bool
	chain  string // chain file name
	start  int64  // chain length before this snapshot (incremental)
	n      int64  // bytes written
	base   *ChainRecord
	lsn    uint64 // set by the FSM when it knows; 0 = scan the file
	done   bool
	failed error
	rl     *receiveLoad // a load fed with the bytes received, or nil
	gc     *gcHold      // the collector's hold while rl loads (restoregc.go)
	cost   costMark     // the process's counters when rl started
	facts  *ChainFacts  // an adopted file's facts, given by its writer
}

// ID is the snapshot id.
func (k *chainSink) ID() string { return k.meta.ID }

// SetLastLSN tells the sink the engine LSN the snapshot reaches (saves a
// scan of the file at Close).
func (k *chainSink) SetLastLSN(lsn uint64) { k.lsn = lsn }

// Offset is where an incremental segment written now starts in the chain.
func (k *chainSink) Offset() int64 {
	if t, ok := k.store.Tip(); ok {
		return t.Length
	}
	return 0
}

func (k *chainSink) Write(p []byte) (int, error) {
	if k.failed != nil {
		return 0, k.failed
	}
	if k.f == nil {
		k.head = append(k.head, p...)
		if len(k.head) < len(snapshot.Magic) {
			return len(p), nil
		}
		if err := k.begin(); err != nil {
			k.failed = err
			return 0, err
		}
		buf := k.head
		k.head = nil
		if _, err := k.f.Write(buf); err != nil {
			k.failed = err
			return 0, err
		}
		k.n += int64(len(buf))
		if k.rl != nil {
			k.rl.write(buf)
			k.gc.progress(k.n)
		}
		return len(p), nil
	}
	n, err := k.f.Write(p)
	k.n += int64(n)
	if err != nil {
		k.failed = err
	} else if k.rl != nil {
		k.rl.write(p)
		k.gc.progress(k.n)
	}
	return n, err
}

// AdoptFile makes the file at path, which holds exactly size bytes of a
// full .heliodump, the whole content of this snapshot without copying it:
// the file is hard linked into the store, and Close syncs, renames and
// scans it as if it had been written here. A user restore spools the dump
// it receives into the data directory; adopting the spool saves writing
// the same bytes a second time on the serial path of the restore. It
// reports false, having changed nothing, when it cannot (bytes were
// already written, the file is not a full dump, or is on another file
// system); the caller then writes the bytes as usual. The caller must not
// modify the file afterwards.
//
// facts, when not nil, are what the file's segment footers say (the
// caller wrote the file and knows them): Close then records them instead
// of reading them back. That read is a few bytes per section, but from
// the disk, one seek each, since the spool bypassed the page cache (9 ms
// of a 73 MB restore's hand-over).
func (k *chainSink) AdoptFile(path string, size int64, facts *ChainFacts) bool {
	if k.f != nil || len(k.head) > 0 || k.done || k.failed != nil || size <= 0 {
		return false
	}
	src, err := os.Open(path)
	if err != nil {
		return false
	}
	magic := make([]byte, len(snapshot.Magic))
	_, err = io.ReadFull(src, magic)
	st, serr := src.Stat()
	src.Close()
	if err != nil || serr != nil || st.Size() != size || string(magic) != snapshot.Magic {
		return false
	}
	chain := k.meta.ID + ".heliodump"
	tmp := filepath.Join(k.store.chainsDir(), chain+".tmp")
	_ = os.Remove(tmp)
	if err := os.Link(path, tmp); err != nil {
		return false
	}
	f, err := os.OpenFile(tmp, os.O_WRONLY, 0)
	if err != nil {
		_ = os.Remove(tmp)
		return false
	}
	k.f, k.full, k.chain, k.n, k.facts = f, true, chain, size, facts
	return true
}

// ChainFacts are what a chain file's segment footers say about it.
type ChainFacts struct {
	LastLSN   uint64 // the engine LSN its last segment reaches
	Segments  int    // complete segments
	BaseBytes int64  // where its first (full) segment ends
}

// begin opens the file the snapshot goes to.
func (k *chainSink) begin() error {
	s := k.store
	if bytes.HasPrefix(k.head, []byte(snapshot.Magic)) {
		k.full = true
		k.chain = k.meta.ID + ".heliodump"
		f, err := os.OpenFile(filepath.Join(s.chainsDir(), k.chain+".tmp"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
		if err != nil {
			return fmt.Errorf("fsm: snapshot %s: %w", k.meta.ID, err)
		}
		k.f = f
		if k.lsn == 0 && s.recv != nil {
			// Received, not persisted here (Persist sets the LSN first):
			// load it while it arrives.
			k.rl = s.recv()
			if k.rl != nil {
				k.gc, k.cost = holdRestoreGC(), markCost()
			}
		}
		return nil
	}
	tip, ok := s.Tip()
	if !ok {
		return ErrNoChainToExtend
	}
	k.base, k.chain, k.start = &tip, tip.Chain, tip.Length
	f, err := os.OpenFile(filepath.Join(s.chainsDir(), k.chain), os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("fsm: snapshot %s: extend chain %s: %w", k.meta.ID, k.chain, err)
	}
	// Bytes past the tip are the remains of an append that never
	// committed; they belong to no snapshot.
	err = f.Truncate(k.start)
	if err == nil {
		_, err = f.Seek(k.start, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("fsm: snapshot %s: extend chain %s: %w", k.meta.ID, k.chain, err)
	}
	k.f = f
	return nil
}

// Close makes the snapshot durable and visible. A load that ran beside a
// received snapshot is finished first (its state parked for Restore) or,
// if the snapshot failed, stopped.
func (k *chainSink) Close() error {
	err := k.close()
	if rl := k.rl; rl != nil {
		k.rl = nil
		if err == nil {
			rl.finish()
		} else {
			rl.cancel()
		}
		k.gc.release()
		if err == nil {
			c := k.cost.since()
			rl.f.rstats.receiveCost(c.CPU)
			rl.f.log.Info("snapshot received and loaded: cost", "bytes", k.n, "cpu", c.CPU.Round(time.Millisecond),
				"page_faults", c.Faults, "gc_cycles", c.GCCycles)
		}
	}
	return err
}

func (k *chainSink) close() error {
	if k.done {
		return nil
	}
	k.done = true
	if k.failed != nil {
		k.abort()
		return k.failed
	}
	if k.f == nil {
		return fmt.Errorf("fsm: snapshot %s: no data written", k.meta.ID)
	}
	s := k.store
	err := k.f.Sync()
	if cerr := k.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		k.abort()
		return fmt.Errorf("fsm: snapshot %s: %w", k.meta.ID, err)
	}
	path := filepath.Join(s.chainsDir(), k.chain)
	if k.full {
		if err := os.Rename(path+".tmp", path); err != nil {
			return fmt.Errorf("fsm: snapshot %s: %w", k.meta.ID, err)
		}
		if err := syncDir(s.chainsDir()); err != nil {
			return err
		}
	}
	rec := &ChainRecord{Meta: k.meta, Chain: k.chain, Length: k.start + k.n, LastLSN: k.lsn}
	rec.Meta.Size = rec.Length
	if k.full {
		rec.BaseBytes, rec.Segments = k.n, 1
	} else {
		rec.BaseBytes, rec.Segments = k.base.BaseBytes, k.base.Segments+1
	}
	switch {
	case k.facts != nil:
		rec.LastLSN, rec.Segments, rec.BaseBytes = k.facts.LastLSN, k.facts.Segments, k.facts.BaseBytes
	case k.lsn == 0 || k.full:
		// Received from a leader, or written without telling us: read the
		// chain's segment footers for the facts.
		if err := k.scan(path, rec); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.commitLocked(rec)
}

func (k *chainSink) scan(path string, rec *ChainRecord) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	res, err := snapshot.ScanSegments(f, rec.Length)
	if err != nil {
		return fmt.Errorf("fsm: snapshot %s: %w", k.meta.ID, err)
	}
	if len(res.Segments) == 0 {
		return fmt.Errorf("fsm: snapshot %s: %w: no complete segment", k.meta.ID, snapshot.ErrCorrupt)
	}
	last := res.Segments[len(res.Segments)-1]
	rec.LastLSN = last.Header.LastLSN
	rec.Segments = len(res.Segments)
	if k.full {
		rec.BaseBytes = res.Segments[0].End
	}
	return nil
}

// Cancel abandons the snapshot: a new chain file is deleted; an append is
// cut back to where the chain ended.
func (k *chainSink) Cancel() error {
	if k.done {
		return nil
	}
	k.done = true
	k.abort()
	if k.rl != nil {
		k.rl.cancel()
		k.rl = nil
		k.gc.release()
	}
	return nil
}

func (k *chainSink) abort() {
	if k.f != nil {
		_ = k.f.Close()
	}
	path := filepath.Join(k.store.chainsDir(), k.chain)
	if k.full {
		_ = os.Remove(path + ".tmp")
	} else if k.chain != "" {
		_ = os.Truncate(path, k.start)
	}
}

var _ raft.SnapshotStore = (*ChainStore)(nil)
