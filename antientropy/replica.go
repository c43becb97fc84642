package antientropy

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heliosdb/heliosdb-lite/engine"
)

// RoundSource returns the frozen view of round on this node: the marker's
// LSN and the engine state at exactly that LSN. ok is false if the node
// has not applied the marker or no longer keeps the view. Called from HTTP
// handler goroutines; must not block.
type RoundSource func(round uint64) (lsn uint64, snap *engine.Snapshot, ok bool)

// Replica is the node side of anti-entropy: it answers a coordinator's
// questions about this node's frozen views, and holds the fence flag the
// read path checks. Safe for concurrent use.
type Replica struct {
	source  RoundSource
	applied func() uint64
	token   string
	log     *slog.Logger
	trigger func() // runs a round on this node if it leads (may be nil)
	// reinstall starts this node's reinstall (nil: not supported here, the
	// coordinator falls back to repairing through the log).
	reinstall atomic.Pointer[func(ReinstallRequest) error]

	fenced      atomic.Bool
	fenceReason atomic.Pointer[string]

	// leafMismatches counts rebuild rounds in which this node's incremental
	// leaves disagreed with its own rows (exported as a metric).
	leafMismatches atomic.Uint64

	// rebuildRate bounds the rows per second a rebuild rehashes (0:
	// unpaced); rebuildSlept is the time rebuild scans spent waiting.
	rebuildRate  atomic.Int64
	rebuildSlept atomic.Int64

	mu struct {
		sync.Mutex // guards the caches below; one round at a time
		round      uint64
		trees      map[cut]*Tree
		leafRows   map[cut]map[int][]leafRow
	}
}

// NewReplica returns the node side over source. applied reports the
// node's applied index (for "not yet" answers); token, when set, must be
// presented by callers in TokenHeader.
func NewReplica(source RoundSource, applied func() uint64, token string, log *slog.Logger) *Replica {
	if log == nil {
		log = slog.Default()
	}
	return &Replica{source: source, applied: applied, token: token, log: log}
}

// SetRebuildRate bounds the CPU of rebuild rounds on this node: the scans
// that recompute row hashes from the stored rows visit at most rowsPerSec
// rows per second (0 or less: unpaced).
func (r *Replica) SetRebuildRate(rowsPerSec int64) { r.rebuildRate.Store(max(rowsPerSec, 0)) }

// RebuildPaused is the total time rebuild scans on this node waited to
// stay under their rate.
func (r *Replica) RebuildPaused() time.Duration { return time.Duration(r.rebuildSlept.Load()) }

func (r *Replica) pacer(ctx context.Context) *pacer {
	return newPacer(ctx, r.rebuildRate.Load())
}

func (r *Replica) donePacing(p *pacer) { r.rebuildSlept.Add(int64(p.slept)) }

// SetTrigger sets what POST trigger runs (the node's Runner.Trigger).
func (r *Replica) SetTrigger(f func()) { r.trigger = f }

// SetReinstaller sets what POST reinstall runs: f must check the request
// (it comes from the node's leader, this node can leave), start the
// reinstall in the background and return at once; an error refuses it.
// nil removes it.
func (r *Replica) SetReinstaller(f func(ReinstallRequest) error) {
	if f == nil {
		r.reinstall.Store(nil)
		return
	}
	r.reinstall.Store(&f)
}

// Fenced reports whether this node must not serve reads, and why.
func (r *Replica) Fenced() (bool, string) {
	if !r.fenced.Load() {
		return false, ""
	}
	if p := r.fenceReason.Load(); p != nil {
		return true, *p
	}
	return true, ""
}

// SetFence sets or lifts the fence.
func (r *Replica) SetFence(on bool, reason string) {
	if on {
		r.fenceReason.Store(&reason)
		if !r.fenced.Swap(true) {
			r.log.Error("anti-entropy: node fenced: it stops serving reads until a round finds it consistent", "reason", reason)
		}
		return
	}
	if r.fenced.Swap(false) {
		r.log.Warn("anti-entropy: fence lifted: replicas agree again")
	}
}

// LeafMismatches is the number of rebuilds that found this node's
// incremental leaves disagreeing with its stored rows.
func (r *Replica) LeafMismatches() uint64 { return r.leafMismatches.Load() }

// Handler serves the internal API (mount at PathPrefix).
func (r *Replica) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+pathRoots, r.handleRoots)
	mux.HandleFunc("POST "+pathTree, r.handleTree)
	mux.HandleFunc("POST "+pathBuckets, r.handleBuckets)
	mux.HandleFunc("POST "+pathRows, r.handleRows)
	mux.HandleFunc("POST "+pathFence, r.handleFence)
	mux.HandleFunc("POST "+pathTrigger, r.handleTrigger)
	mux.HandleFunc("POST "+pathReinstall, r.handleReinstall)
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.token != "" && subtle.ConstantTimeCompare([]byte(req.Header.Get(TokenHeader)), []byte(r.token)) != 1 {
			writeJSON(w, http.StatusUnauthorized, errorReply{Err: "antientropy: bad or missing RPC token"})
			return
		}
		mux.ServeHTTP(w, req)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func readJSON(w http.ResponseWriter, req *http.Request, v any) bool {
	b, err := io.ReadAll(io.LimitReader(req.Body, maxBody))
	if err == nil {
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, errorReply{Err: "antientropy: bad request: " + err.Error()})
		return false
	}
	return true
}

// view returns the frozen snapshot of round, resetting the caches when a
// new round starts.
func (r *Replica) view(round uint64) (*engine.Snapshot, uint64, bool) {
	lsn, snap, ok := r.source(round)
	if !ok {
		return nil, 0, false
	}
	r.mu.Lock()
	if r.mu.round != round {
		r.mu.round, r.mu.trees, r.mu.leafRows = round, map[cut]*Tree{}, map[cut]map[int][]leafRow{}
	}
	r.mu.Unlock()
	return snap, lsn, true
}

// tree returns the tree of a table at the cut; nil if a paced rebuild
// was stopped by ctx.
func (r *Replica) tree(ctx context.Context, snap *engine.Snapshot, c cut) *Tree {
	r.mu.Lock()
	t, ok := r.mu.trees[c]
	r.mu.Unlock()
	if ok {
		return t
	}
	tab, exists := snap.Table(c.Table)
	var leaves []uint64
	switch {
	case !exists:
		leaves = make([]uint64, engine.NumLeaves)
	case c.Rebuild:
		p := r.pacer(ctx)
		leaves, ok = rebuildLeaves(c.Table, tab, p)
		r.donePacing(p)
		if !ok {
			return nil
		}
	default:
		leaves = tab.Leaves()
	}
	t = BuildTree(leaves)
	r.mu.Lock()
	if r.mu.round == c.Round {
		r.mu.trees[c] = t
	}
	r.mu.Unlock()
	return t
}

func (r *Replica) handleRoots(w http.ResponseWriter, req *http.Request) {
	round, _ := strconv.ParseUint(req.URL.Query().Get("round"), 10, 64)
	rebuild := req.URL.Query().Get("rebuild") == "1"
	fenced, _ := r.Fenced()
	snap, lsn, ok := r.view(round)
	if !ok {
		applied := r.applied()
		st := StatusNotYet
		if q, _ := strconv.ParseUint(req.URL.Query().Get("lsn"), 10, 64); q != 0 && applied >= q {
			st = StatusGone // applied past the marker but has no view of it
		}
		writeJSON(w, http.StatusOK, rootsReply{Status: st, Applied: applied, Fenced: fenced})
		return
	}
	rep := rootsReply{Status: StatusOK, LSN: lsn, Applied: r.applied(), Fenced: fenced}
	for _, name := range snap.TableNames() {
		tab, _ := snap.Table(name)
		t := r.tree(req.Context(), snap, cut{Round: round, Rebuild: rebuild, Table: name})
		if t == nil {
			writeJSON(w, http.StatusServiceUnavailable, errorReply{Err: "antientropy: rebuild abandoned"})
			return
		}
		rep.Tables = append(rep.Tables, tableRoot{Name: name, Root: t.Root(), Rows: tab.Len(), Def: defHash(tab)})
		if rebuild {
			// Incremental leaves against the stored rows with their stored
			// hashes: a mismatch is a bug in leaf upkeep; against recomputed
			// hashes (the rebuilt tree): corrupted row bytes.
			inc := BuildTree(tab.Leaves()).Root()
			if inc != t.Root() {
				rep.LeafMismatch = append(rep.LeafMismatch, name)
			}
		}
	}
	if len(rep.LeafMismatch) > 0 {
		r.leafMismatches.Add(1)
		r.log.Error("anti-entropy: rows no longer match their hashes or leaves (local corruption)", "round", round, "tables", rep.LeafMismatch)
	}
	writeJSON(w, http.StatusOK, rep)
}

func (r *Replica) handleTree(w http.ResponseWriter, req *http.Request) {
	var q treeRequest
	if !readJSON(w, req, &q) {
		return
	}
	snap, _, ok := r.view(q.Round)
	if !ok {
		writeJSON(w, http.StatusConflict, errorReply{Err: "antientropy: round not available"})
		return
	}
	t := r.tree(req.Context(), snap, q.cut)
	if t == nil {
		writeJSON(w, http.StatusServiceUnavailable, errorReply{Err: "antientropy: rebuild abandoned"})
		return
	}
	rep := treeReply{Children: make([][]uint64, len(q.Parents))}
	for i, p := range q.Parents {
		rep.Children[i] = t.Children(q.Level, p)
	}
	writeJSON(w, http.StatusOK, rep)
}

// rowsOfLeaves returns the rows of the given leaves at the cut, scanning
// the table once for all leaves not cached yet. The table's row tree is
// ordered by key, not by leaf, so finding a leaf's rows is a pass over the
// table: paid only for tables whose roots differ. In rebuild rounds the
// scan is paced like the rebuild itself; nil when ctx stopped it.
func (r *Replica) rowsOfLeaves(ctx context.Context, snap *engine.Snapshot, c cut, leaves []int) map[int][]leafRow {
	r.mu.Lock()
	cache := r.mu.leafRows[c]
	if cache == nil {
		cache = map[int][]leafRow{}
	}
	var missing []int
	for _, l := range leaves {
		if _, ok := cache[l]; !ok {
			missing = append(missing, l)
		}
	}
	r.mu.Unlock()
	if len(missing) > 0 {
		want := make([]bool, engine.NumLeaves)
		found := map[int][]leafRow{}
		for _, l := range missing {
			if l >= 0 && l < engine.NumLeaves {
				want[l] = true
				found[l] = nil
			}
		}
		if tab, ok := snap.Table(c.Table); ok {
			p := r.pacer(ctx)
			if !c.Rebuild {
				p.rate = 0
			}
			done := true
			tab.Scan(func(row engine.RowRef) bool {
				kh := keyHash(row.Key)
				if l := int(kh >> (64 - engine.LeafBits)); want[l] {
					h := row.Hash
					if c.Rebuild {
						h = engine.RowHash(c.Table, row.Key, row.Enc)
					}
					// The key stays in the frozen view (immutable): no copy.
					found[l] = append(found[l], leafRow{key: row.Key, kh: kh, h: h})
				}
				done = p.step()
				return done
			})
			r.donePacing(p)
			if !done {
				return nil
			}
		}
		r.mu.Lock()
		if r.mu.round == c.Round {
			if r.mu.leafRows[c] == nil {
				r.mu.leafRows[c] = map[int][]leafRow{}
			}
			for l, rows := range found {
				r.mu.leafRows[c][l] = rows
			}
			cache = r.mu.leafRows[c]
		} else {
			cache = found
		}
		r.mu.Unlock()
	}
	out := make(map[int][]leafRow, len(leaves))
	r.mu.Lock()
	for _, l := range leaves {
		out[l] = cache[l]
	}
	r.mu.Unlock()
	return out
}

func (r *Replica) handleBuckets(w http.ResponseWriter, req *http.Request) {
	var q bucketsRequest
	if !readJSON(w, req, &q) {
		return
	}
	snap, _, ok := r.view(q.Round)
	if !ok {
		writeJSON(w, http.StatusConflict, errorReply{Err: "antientropy: round not available"})
		return
	}
	leaves := make([]int, 0, len(q.Buckets))
	for _, b := range q.Buckets {
		leaves = append(leaves, b.Leaf)
	}
	byLeaf := r.rowsOfLeaves(req.Context(), snap, q.cut, leaves)
	if byLeaf == nil {
		writeJSON(w, http.StatusServiceUnavailable, errorReply{Err: "antientropy: scan abandoned"})
		return
	}
	rep := bucketsReply{Buckets: make([]bucketReply, len(q.Buckets))}
	for i, b := range q.Buckets {
		br := bucketReply{}
		rows := byLeaf[b.Leaf]
		for _, lr := range rows {
			if b.contains(lr.kh) {
				br.Count++
			}
		}
		if br.Count <= q.MaxRows || b.Depth+fanBits > maxSubBits {
			br.Rows = make([]RowEntry, 0, br.Count)
			for _, lr := range rows {
				if b.contains(lr.kh) {
					br.Rows = append(br.Rows, RowEntry{Key: []byte(lr.key), Hash: lr.h})
				}
			}
		} else {
			br.Sums, br.Counts = make([]uint64, Fanout), make([]int, Fanout)
			for _, lr := range rows {
				if b.contains(lr.kh) {
					c := b.childOf(lr.kh)
					br.Sums[c] += lr.h
					br.Counts[c]++
				}
			}
		}
		rep.Buckets[i] = br
	}
	writeJSON(w, http.StatusOK, rep)
}

func (r *Replica) handleRows(w http.ResponseWriter, req *http.Request) {
	var q rowsRequest
	if !readJSON(w, req, &q) {
		return
	}
	snap, _, ok := r.view(q.Round)
	if !ok {
		writeJSON(w, http.StatusConflict, errorReply{Err: "antientropy: round not available"})
		return
	}
	tab, exists := snap.Table(q.Table)
	rep := rowsReply{Rows: make([]RowImage, len(q.Keys))}
	for i, k := range q.Keys {
		rep.Rows[i].Key = k
		if !exists {
			continue
		}
		if row, ok := tab.Get(string(k)); ok {
			rep.Rows[i].Enc, rep.Rows[i].Present = []byte(row.Enc), true
		}
	}
	writeJSON(w, http.StatusOK, rep)
}

func (r *Replica) handleFence(w http.ResponseWriter, req *http.Request) {
	var q fenceRequest
	if !readJSON(w, req, &q) {
		return
	}
	r.SetFence(q.On, q.Reason)
	writeJSON(w, http.StatusOK, struct{}{})
}

func (r *Replica) handleTrigger(w http.ResponseWriter, _ *http.Request) {
	if r.trigger != nil {
		r.trigger()
	}
	writeJSON(w, http.StatusAccepted, struct{}{})
}

func (r *Replica) handleReinstall(w http.ResponseWriter, req *http.Request) {
	var q ReinstallRequest
	if !readJSON(w, req, &q) {
		return
	}
	f := r.reinstall.Load()
	if f == nil {
		writeJSON(w, http.StatusNotImplemented, errorReply{Err: "antientropy: this node cannot reinstall itself"})
		return
	}
	if err := (*f)(q); err != nil {
		writeJSON(w, http.StatusConflict, errorReply{Err: err.Error()})
		return
	}
	writeJSON(w, http.StatusAccepted, struct{}{})
}
