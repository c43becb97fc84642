package node

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/heliosdb/heliosdb-lite/engine"
	"github.com/heliosdb/heliosdb-lite/fsm"
	"github.com/heliosdb/heliosdb-lite/snapshot"
)

// Cluster-wide dumps. `heliosdb-lite dump --cluster` (COPY
// heliosdb.cluster_dump) proposes a dump marker through raft. Every node,
// when it applies the marker, writes the dump of exactly that LSN into its
// own backup_dir in the background, so writes are never blocked; the
// files carry the marker's dump id and timestamp, so healthy nodes hold
// byte-identical files. The proposing node then asks every member for its
// result and reports one line per node. A node that is down writes its
// file when it catches up: the marker is in its log.

// DumpRecord is one node's result for one cluster dump.
type DumpRecord struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Node     string `json:"node"`
	Path     string `json:"path"`
	LSN      uint64 `json:"lsn"`
	Size     int64  `json:"size"`
	Checksum string `json:"checksum"` // sha256 of the file, hex
	Status   string `json:"status"`   // running, done, failed, missing
	Error    string `json:"error,omitempty"`
	Took     string `json:"took,omitempty"`
}

// clusterDumps tracks this node's cluster dump results.
type clusterDumps struct {
	mu   sync.Mutex // guards recs
	recs map[string]*DumpRecord
	// changed is closed and replaced whenever a record changes.
	changed chan struct{}
}

func (d *clusterDumps) set(r DumpRecord) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.recs == nil {
		d.recs = map[string]*DumpRecord{}
	}
	d.recs[r.ID] = &r
	if d.changed != nil {
		close(d.changed)
	}
	d.changed = make(chan struct{})
}

func (d *clusterDumps) get(id string) (DumpRecord, bool, <-chan struct{}) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.changed == nil {
		d.changed = make(chan struct{})
	}
	r, ok := d.recs[id]
	if !ok {
		return DumpRecord{}, false, d.changed
	}
	return *r, true, d.changed
}

// onDumpMark runs on raft's FSM goroutine: it only records the request and
// starts the writer.
func (n *Node) onDumpMark(m fsm.DumpMark, lsn uint64, snap *engine.Snapshot) {
	if !n.acceptScheduledMark(m) {
		n.dumps.set(DumpRecord{ID: m.ID, Name: m.Name, Node: n.cfg.Server.NodeID, LSN: lsn, Status: "skipped",
			Error: "a dump for this schedule tick was already taken"})
		return
	}
	rec := DumpRecord{ID: m.ID, Name: m.Name, Node: n.cfg.Server.NodeID, LSN: lsn, Status: "running"}
	dir := n.cfg.Dump.BackupDir
	if dir == "" {
		rec.Status, rec.Error = "failed", "no backup_dir configured on this node ([dump] backup_dir or --backup-dir)"
		n.dumps.set(rec)
		n.log.Error("cluster dump not written", "dump_id", m.ID, "err", rec.Error)
		return
	}
	n.dumps.set(rec)
	n.goFunc(func() { n.runClusterDump(m, rec, snap) })
}

// runClusterDump writes one node's file of a cluster dump. Replaying the
// log after a restart meets the marker again: a file that already holds
// this dump is kept, not rewritten.
func (n *Node) runClusterDump(m fsm.DumpMark, rec DumpRecord, snap *engine.Snapshot) {
	start := time.Now()
	err := n.writeClusterDump(m, &rec, snap)
	rec.Took = time.Since(start).Round(time.Millisecond).String()
	if err != nil {
		rec.Status, rec.Error = "failed", err.Error()
		n.log.Error("cluster dump failed", "dump_id", m.ID, "path", rec.Path, "err", err)
	} else {
		rec.Status = "done"
		if m.AppendTo == "" && len(m.Tables) == 0 {
			n.eng.MarkDumped(snap)
		}
		n.pruneDumps(time.Now())
		n.log.Info("cluster dump written", "dump_id", m.ID, "path", rec.Path, "lsn", rec.LSN, "bytes", rec.Size)
	}
	n.metrics.observeDump(time.Since(start), err)
	n.dumps.set(rec)
}

func (n *Node) writeClusterDump(m fsm.DumpMark, rec *DumpRecord, snap *engine.Snapshot) error {
	dir := n.cfg.Dump.BackupDir
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("create backup_dir: %w", err)
	}
	wo := snapshot.DefaultWriterOptions()
	var err error
	if wo.Compression, err = snapshot.ParseCompression(m.Compression); err != nil {
		return err
	}
	wo.Level, wo.Tables = m.Level, m.Tables
	wo.ClusterID = databaseID(snap) // the same on every node at the mark's LSN
	// A background dump must not starve the writes going on meanwhile:
	// one compression worker leaves the other cores to the node's work
	// (every node of the cluster dumps at once, and in a local cluster
	// they share the same cores).
	wo.Workers = 1
	// Smaller batches than a user dump's: one batch is compressed in one
	// go, so its size is the longest stretch of CPU the dump takes at once.
	wo.BatchSize = clusterDumpBatch
	id, err := uuid.Parse(m.ID)
	if err != nil {
		return fmt.Errorf("bad dump id %q: %w", m.ID, err)
	}
	wo.DumpID, wo.CreatedAt = id, m.At
	ctx := context.Background()
	if m.AppendTo != "" {
		rec.Path = filepath.Join(dir, m.AppendTo)
		done, err := segmentReaches(rec.Path, snap.LSN())
		if err != nil {
			return err
		}
		if !done {
			if _, err := snapshot.AppendIncremental(ctx, rec.Path, snap, wo); err != nil {
				return err
			}
		}
	} else {
		rec.Path = filepath.Join(dir, m.Name+".heliodump")
		if !fileHoldsDump(rec.Path, id) {
			// The checksum is taken of the bytes on their way to the file
			// (the file is exactly them), not by reading it back.
			var sum *hashWriter
			err := snapshot.WriteFileAtomic(rec.Path, func(w io.Writer) error {
				sum = &hashWriter{h: sha256.New()}
				_, err := snapshot.WriteFull(ctx, n.pacedWriter(io.MultiWriter(w, sum)), snap, wo)
				return err
			})
			if err != nil {
				return err
			}
			rec.Size, rec.Checksum = sum.n, hex.EncodeToString(sum.h.Sum(nil))[:16]
			return nil
		}
	}
	rec.Size, rec.Checksum, err = fileChecksum(rec.Path)
	return err
}

// hashWriter hashes and counts what is written through it.
type hashWriter struct {
	h hash.Hash
	n int64
}

func (w *hashWriter) Write(b []byte) (int, error) {
	w.h.Write(b)
	w.n += int64(len(b))
	return len(b), nil
}

// DefaultDumpBytesPerSec is the pace of a background cluster dump's file
// while foreground writes flow ([dump] max_bytes_per_sec = 0). The CPU a
// dump costs follows the rows it reads, not the bytes it writes, and a
// zstd file of the column layout is ~5x smaller than its rows: one core
// scans and compresses ~60-100 MB/s of rows, ~12-20 MB/s of file. 1 MiB/s
// of file is then ~5-10% of a core on each node, and a 1 GB database
// (~200 MB of file) is dumped in a few minutes under writes, at full
// speed when idle.
const DefaultDumpBytesPerSec = 1 << 20

// clusterDumpBatch is the batch size of cluster dump files. Every node
// must use the same, or the files would differ.
const clusterDumpBatch = 256 << 10

// pacedChunk is the most a paced writer passes on at once.
const pacedChunk = 64 << 10

// busyWindow: the node counts as serving writes for this long after it
// applied a log entry. Long enough that a stall of the writes on a busy
// machine (which a dump at full speed would only make worse) does not
// count as idle.
const busyWindow = time.Second

// pacedWriter makes a background dump low priority. While the node serves
// writes (it applied a raft entry in the last busyWindow), the dump passes
// on at most rate bytes per second, in chunks of pacedChunk, sleeping in
// between; the dump's scan and compression wait behind its output, so
// they take the same small share of the CPU and leave the rest to the
// writes. While the node is idle the dump runs at full speed. Pacing
// changes when bytes are written, never which: every node's file stays
// identical.
type pacedWriter struct {
	w       io.Writer
	rate    float64       // bytes per second
	applied func() uint64 // the node's applied raft index
	sleep   func(time.Duration)
	now     func() time.Time

	lastIdx  uint64
	lastBusy time.Time
	// tokens is what may be written now without waiting; it refills at
	// rate, up to pacedChunk, while the node is busy.
	tokens float64
	filled time.Time
}

// pacedWriter wraps w for a background dump of this node (w itself when
// [dump] max_bytes_per_sec is negative).
func (n *Node) pacedWriter(w io.Writer) io.Writer {
	rate := n.cfg.Dump.MaxBytesPerSec
	switch {
	case rate < 0:
		return w
	case rate == 0:
		rate = DefaultDumpBytesPerSec
	}
	// The engine's LSN, not raft's applied index: a marker replayed while
	// replication.Open is still running starts this writer before Start
	// has set n.repl (it was a nil dereference, and a data race). Every
	// foreground write advances the LSN all the same.
	return newPacedWriter(w, rate, n.eng.LSN)
}

func newPacedWriter(w io.Writer, rate int64, applied func() uint64) *pacedWriter {
	return &pacedWriter{w: w, rate: float64(rate), applied: applied, sleep: time.Sleep, now: time.Now, lastIdx: applied()}
}

// busy reports whether foreground writes flow on this node.
func (p *pacedWriter) busy(now time.Time) bool {
	if idx := p.applied(); idx != p.lastIdx {
		p.lastIdx, p.lastBusy = idx, now
	}
	return now.Sub(p.lastBusy) < busyWindow
}

func (p *pacedWriter) Write(b []byte) (int, error) {
	done := 0
	for len(b) > 0 {
		c := min(len(b), pacedChunk)
		p.wait(c)
		k, err := p.w.Write(b[:c])
		done += k
		if err != nil {
			return done, err
		}
		b = b[c:]
	}
	return done, nil
}

// wait blocks until c bytes may be written.
func (p *pacedWriter) wait(c int) {
	now := p.now()
	if !p.busy(now) {
		// Idle: full speed, and the next busy stretch starts with a
		// full bucket.
		p.tokens, p.filled = pacedChunk, now
		return
	}
	if p.filled.IsZero() {
		p.tokens, p.filled = pacedChunk, now
	}
	p.tokens = min(pacedChunk, p.tokens+now.Sub(p.filled).Seconds()*p.rate)
	p.filled = now
	if p.tokens < float64(c) {
		d := time.Duration((float64(c) - p.tokens) / p.rate * float64(time.Second))
		p.sleep(d)
		p.tokens, p.filled = float64(c), p.filled.Add(d)
	}
	p.tokens -= float64(c)
}

// fileHoldsDump reports whether path is a complete dump whose first
// segment has the given dump id.
func fileHoldsDump(path string, id uuid.UUID) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	res, err := snapshot.ScanSegments(f, fi.Size())
	return err == nil && len(res.Segments) > 0 && res.Segments[0].Header.DumpID == id
}

// segmentReaches reports whether the dump at path already reaches lsn.
func segmentReaches(path string, lsn uint64) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("append to cluster dump: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false, err
	}
	res, err := snapshot.ScanSegments(f, fi.Size())
	if err != nil || len(res.Segments) == 0 {
		return false, fmt.Errorf("append to cluster dump %s: %v", path, err)
	}
	return res.Segments[len(res.Segments)-1].Header.LastLSN >= lsn, nil
}

func fileChecksum(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil))[:16], nil
}

// ClusterDumpOptions are the operator's choices.
type ClusterDumpOptions struct {
	Compression string
	Level       int
	Tables      []string
	AppendTo    string
	// Wait bounds how long to wait for the nodes' results.
	Wait time.Duration
	// ScheduledTick marks a scheduled dump (schedule_cluster.go).
	ScheduledTick int64
}

// ClusterDumpResult is what the command reports.
type ClusterDumpResult struct {
	ID      string
	Name    string
	LSN     uint64
	Records []DumpRecord
	Agree   bool
}

// ClusterDump proposes a dump marker and collects every member's result.
func (n *Node) ClusterDump(ctx context.Context, o ClusterDumpOptions) (*ClusterDumpResult, error) {
	if n.cfg.Dump.BackupDir == "" {
		// Checked before proposing: a marker in the log is replayed on
		// every restart, and every node would fail it again.
		return nil, &sqlStateErr{code: "55000", err: errors.New("cluster dump: this node has no [dump] backup_dir (or --backup-dir, HELIOSDB_BACKUP_DIR): every node writes its file of a cluster dump there; configure it on every node and restart them (nothing was started)")}
	}
	if o.Compression == "" {
		o.Compression = "zstd"
	}
	if _, err := snapshot.ParseCompression(o.Compression); err != nil {
		return nil, err
	}
	if strings.ContainsAny(o.AppendTo, `/\`) {
		return nil, fmt.Errorf("append target %q must be a file name in backup_dir", o.AppendTo)
	}
	if o.Wait <= 0 {
		o.Wait = 10 * time.Minute
	}
	// The files record the database id (so `dump --append` can tell them
	// from another database's): it must exist before the mark, so every
	// node's snapshot at the mark holds the same one.
	if _, err := n.ensureDatabaseID(ctx); err != nil {
		return nil, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	m := fsm.DumpMark{ID: id.String(), At: now, Compression: o.Compression, Level: o.Level, Tables: o.Tables, AppendTo: o.AppendTo,
		ScheduledTick: o.ScheduledTick,
		// The id's last 8 hex digits are random (a v7 UUID starts with
		// the time in ms, so its first 8 changed only every ~65 s and two
		// dumps in one second got one name: the second replaced the first).
		Name: "cluster-" + now.Format("20060102-150405") + "-" + id.String()[28:]}
	payload, err := fsm.EncodeDumpMark(m)
	if err != nil {
		return nil, err
	}
	_, lsn, err := n.repl.Apply(ctx, payload)
	if err != nil {
		return nil, replErr(err)
	}
	res := &ClusterDumpResult{ID: m.ID, Name: m.Name, LSN: lsn}
	ms, err := n.repl.Members()
	if err != nil {
		return nil, replErr(err)
	}
	wctx, cancel := context.WithTimeout(ctx, o.Wait)
	defer cancel()
	var wg sync.WaitGroup
	recs := make([]DumpRecord, len(ms))
	for i, mb := range ms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch {
			case mb.ID == n.cfg.Server.NodeID:
				recs[i] = n.waitLocalDump(wctx, m.ID)
			case !mb.Healthy || mb.AdminAddr == "":
				recs[i] = DumpRecord{ID: m.ID, Node: mb.ID, Status: "missing", LSN: lsn,
					Error: "node is down; it writes the dump when it catches up (the marker is in its log)"}
			default:
				recs[i] = n.waitRemoteDump(wctx, mb.ID, mb.AdminAddr, m.ID, lsn)
			}
		}()
	}
	wg.Wait()
	sort.Slice(recs, func(i, j int) bool { return recs[i].Node < recs[j].Node })
	res.Records = recs
	res.Agree = true
	var sum string
	for _, r := range recs {
		if r.Status != "done" {
			continue
		}
		if sum == "" {
			sum = r.Checksum
		} else if r.Checksum != sum {
			res.Agree = false
			n.log.Error("ALARM: cluster dump checksums differ between nodes", "dump_id", m.ID, "node", r.Node)
		}
	}
	return res, nil
}

func (n *Node) waitLocalDump(ctx context.Context, id string) DumpRecord {
	for {
		r, ok, changed := n.dumps.get(id)
		if ok && r.Status != "running" {
			return r
		}
		select {
		case <-changed:
		case <-ctx.Done():
			if !ok {
				r = DumpRecord{ID: id, Node: n.cfg.Server.NodeID}
			}
			r.Status, r.Error = "missing", "timed out waiting for the dump: "+ctx.Err().Error()
			return r
		}
	}
}

func (n *Node) waitRemoteDump(ctx context.Context, node, admin, id string, lsn uint64) DumpRecord {
	client := &http.Client{Timeout: 5 * time.Second}
	var last error
	for {
		r, err := n.fetchDumpRecord(ctx, client, admin, id)
		if err == nil && r.Status != "running" {
			return r
		}
		last = err
		select {
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done():
			msg := "timed out waiting for the node's result"
			if last != nil {
				msg += ": " + last.Error()
			}
			return DumpRecord{ID: id, Node: node, LSN: lsn, Status: "missing", Error: msg}
		}
	}
}

var errNoRecord = errors.New("no record yet")

func (n *Node) fetchDumpRecord(ctx context.Context, client *http.Client, admin, id string) (DumpRecord, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+admin+"/internal/dumps/"+id, nil)
	if err != nil {
		return DumpRecord{}, err
	}
	if n.cfg.Cluster.RPCToken != "" {
		req.Header.Set("X-Heliosdb-Raft-Token", n.cfg.Cluster.RPCToken)
	}
	resp, err := client.Do(req)
	if err != nil {
		return DumpRecord{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return DumpRecord{}, errNoRecord
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return DumpRecord{}, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	var r DumpRecord
	err = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&r)
	return r, err
}

// handleDumpRecord serves a peer's question "how is dump id going here?".
func (n *Node) handleDumpRecord(w http.ResponseWriter, r *http.Request) {
	if tok := n.cfg.Cluster.RPCToken; tok != "" && r.Header.Get("X-Heliosdb-Raft-Token") != tok {
		http.Error(w, "bad token", http.StatusUnauthorized)
		return
	}
	id := strings.TrimPrefix(r.URL.Path, "/internal/dumps/")
	rec, ok, _ := n.dumps.get(id)
	if !ok {
		http.Error(w, "unknown dump id on this node (its marker is not applied here yet)", http.StatusNotFound)
		return
	}
	writeJSON(w, rec)
}

// WriteReport renders the result: one line per node, then the verdict.
func (r *ClusterDumpResult) WriteReport(w io.Writer) {
	fmt.Fprintf(w, "Cluster dump %s (dump_id %s) at LSN %d\n", r.Name, r.ID, r.LSN)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tSTATUS\tPATH\tLSN\tSIZE\tCHECKSUM\tTIME")
	done := 0
	for _, rec := range r.Records {
		size := "-"
		if rec.Status == "done" {
			size = fmt.Sprint(rec.Size)
			done++
		}
		path := rec.Path
		if rec.Error != "" {
			path = rec.Error
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", rec.Node, rec.Status, path, rec.LSN, size, orDash(rec.Checksum), orDash(rec.Took))
	}
	tw.Flush()
	switch {
	case !r.Agree:
		fmt.Fprintf(w, "ALARM: checksums DIFFER between nodes: replicas disagree; run anti-entropy and do not trust these files until it is explained\n")
	case done == len(r.Records):
		fmt.Fprintf(w, "All %d nodes wrote the dump; checksums agree\n", done)
	default:
		fmt.Fprintf(w, "%d of %d nodes wrote the dump; checksums of those agree; missing nodes write it when they catch up\n", done, len(r.Records))
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// copyClusterDumpOut serves COPY heliosdb.cluster_dump TO STDOUT WITH
// (compress, level, tables, append_to, wait_seconds): it runs the cluster
// dump and streams the report.
func (n *Node) copyClusterDumpOut(ctx context.Context, opts map[string]string, w io.Writer) error {
	o := ClusterDumpOptions{Compression: opts["compress"], AppendTo: opts["append_to"]}
	if l := opts["level"]; l != "" {
		if _, err := fmt.Sscan(l, &o.Level); err != nil {
			return badOption("level", err)
		}
	}
	if t := opts["tables"]; t != "" {
		for _, s := range strings.Split(t, ",") {
			if s = strings.TrimSpace(s); s != "" {
				o.Tables = append(o.Tables, s)
			}
		}
	}
	if ws := opts["wait_seconds"]; ws != "" {
		var secs int
		if _, err := fmt.Sscan(ws, &secs); err != nil {
			return badOption("wait_seconds", err)
		}
		o.Wait = time.Duration(secs) * time.Second
	}
	res, err := n.ClusterDump(ctx, o)
	if err != nil {
		return err
	}
	res.WriteReport(w)
	if !res.Agree {
		return &sqlStateErr{code: "XX001", err: fmt.Errorf("cluster dump %s: checksums differ between nodes", res.ID)}
	}
	return nil
}

// copyBackupFileOut serves COPY heliosdb.backup_file TO STDOUT WITH (name
// 'file'): the bytes of a dump in this node's backup_dir, so an operator
// gets the cluster dump on their own machine (dump --cluster --output F).
func (n *Node) copyBackupFileOut(_ context.Context, opts map[string]string, w io.Writer) error {
	name := opts["name"]
	if name == "" || strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") {
		return badOption("name", fmt.Errorf("want a file name in backup_dir"))
	}
	if n.cfg.Dump.BackupDir == "" {
		return &sqlStateErr{code: "55000", err: fmt.Errorf("this node has no backup_dir")}
	}
	f, err := os.Open(filepath.Join(n.cfg.Dump.BackupDir, name))
	if err != nil {
		return &sqlStateErr{code: "58P01", err: fmt.Errorf("backup file: %w", err)}
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}
