package node

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/heliosdb/heliosdb-lite/snapshot"
)

// The dump catalog: what lies in each node's backup_dir, merged across
// the cluster by dump id, with the result of the last verification of
// each file. Files are re-verified periodically (every checksum read),
// so bit rot on a disk shows up here before a restore needs the file.

// BackupEntry is one dump file in one node's backup_dir.
type BackupEntry struct {
	File     string    `json:"file"`
	DumpID   string    `json:"dump_id"`
	Kind     string    `json:"kind"` // full, full+N inc, incremental
	FirstLSN uint64    `json:"first_lsn"`
	LastLSN  uint64    `json:"last_lsn"`
	Size     int64     `json:"size"`
	Created  time.Time `json:"created"`
	Verified string    `json:"verified"` // "ok <time>", "FAILED: ...", "not yet"
	Nodes    []string  `json:"nodes,omitempty"`
}

// verifyInterval is how often stored dumps are read back and checked.
const verifyInterval = 6 * time.Hour

// backupVerifications remembers verification results by file path.
type backupVerifications struct {
	mu sync.Mutex // guards res
	// res maps path -> result; a changed size or mtime invalidates it.
	res map[string]verifyResult
}

type verifyResult struct {
	size  int64
	mtime time.Time
	at    time.Time
	err   string
}

func (b *backupVerifications) get(path string, fi os.FileInfo) (verifyResult, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	r, ok := b.res[path]
	if !ok || r.size != fi.Size() || !r.mtime.Equal(fi.ModTime()) {
		return verifyResult{}, false
	}
	return r, true
}

func (b *backupVerifications) set(path string, r verifyResult) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.res == nil {
		b.res = map[string]verifyResult{}
	}
	b.res[path] = r
}

// LocalBackups lists this node's backup_dir.
func (n *Node) LocalBackups() ([]BackupEntry, error) {
	dir := n.cfg.Dump.BackupDir
	if dir == "" {
		return nil, nil
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.heliodump*"))
	if err != nil {
		return nil, err
	}
	var out []BackupEntry
	for _, p := range files {
		if isDumpTemp(p) {
			continue
		}
		e, ok := n.describeBackup(p)
		if ok {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, nil
}

func (n *Node) describeBackup(path string) (BackupEntry, bool) {
	f, err := os.Open(path)
	if err != nil {
		return BackupEntry{}, false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.IsDir() {
		return BackupEntry{}, false
	}
	e := BackupEntry{File: filepath.Base(path), Size: fi.Size(), Verified: "not yet"}
	res, err := snapshot.ScanSegments(f, fi.Size())
	if err != nil || len(res.Segments) == 0 {
		e.Kind, e.Verified = "unreadable", fmt.Sprintf("FAILED: %v", err)
		return e, true
	}
	first, last := res.Segments[0].Header, res.Segments[len(res.Segments)-1].Header
	e.DumpID, e.Created = first.DumpID.String(), first.CreatedAt
	e.FirstLSN, e.LastLSN = first.BaseLSN, last.LastLSN
	switch {
	case first.Mode == snapshot.ModeFull && len(res.Segments) == 1:
		e.Kind = "full"
	case first.Mode == snapshot.ModeFull:
		e.Kind = fmt.Sprintf("full+%d inc", len(res.Segments)-1)
	default:
		e.Kind = "incremental"
	}
	if res.Torn != nil {
		e.Verified = "FAILED: " + res.Torn.Error()
	} else if v, ok := n.verifications.get(path, fi); ok {
		if v.err != "" {
			e.Verified = "FAILED: " + v.err
		} else {
			e.Verified = "ok " + v.at.UTC().Format(time.RFC3339)
		}
	}
	return e, true
}

// staleDumpTemp is how long a dump's temporary file may go unwritten
// before verifyBackups treats it as left by a dump that died.
const staleDumpTemp = time.Hour

// isDumpTemp reports whether p is the temporary file of a dump being
// written (".NAME.heliodump.tmp-RANDOM", renamed to NAME once complete).
func isDumpTemp(p string) bool {
	b := filepath.Base(p)
	return strings.HasSuffix(b, ".tmp") || strings.Contains(b, ".tmp-")
}

// verifyBackups reads every dump in backup_dir back and checks every
// checksum; failures are logged at ERROR (bit rot is an alarm).
func (n *Node) verifyBackups() {
	dir := n.cfg.Dump.BackupDir
	if dir == "" {
		return
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.heliodump*"))
	for _, p := range files {
		select {
		case <-n.shutdown:
			return
		default:
		}
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		if isDumpTemp(p) {
			// A dump being written (its temp file grows) or one whose
			// writer died: not a dump to verify. One untouched for
			// staleDumpTemp is an orphan (a node killed mid-dump) and is
			// removed so it cannot fill the disk.
			if time.Since(fi.ModTime()) > staleDumpTemp {
				if err := os.Remove(p); err == nil {
					n.log.Info("removed the temporary file of an interrupted dump", "path", p, "size", fi.Size())
				}
			}
			continue
		}
		if _, ok := n.verifications.get(p, fi); ok {
			continue
		}
		r := verifyResult{size: fi.Size(), mtime: fi.ModTime(), at: time.Now()}
		if f, err := os.Open(p); err == nil {
			rep, verr := snapshot.Verify(f)
			f.Close()
			if verr != nil || !rep.Passed() {
				r.err = fmt.Sprint(verr)
				n.log.Error("ALARM: stored dump failed verification", "path", p, "err", verr)
			}
		} else {
			r.err = err.Error()
		}
		n.verifications.set(p, r)
	}
}

// runVerifyBackups verifies stored dumps at start and then periodically.
func (n *Node) runVerifyBackups() {
	t := time.NewTicker(verifyInterval)
	defer t.Stop()
	for {
		n.verifyBackups()
		select {
		case <-t.C:
		case <-n.shutdown:
			return
		}
	}
}

// ClusterBackups merges every reachable member's list by dump id and file.
func (n *Node) ClusterBackups(ctx context.Context) ([]BackupEntry, []string) {
	local, _ := n.LocalBackups()
	merged := map[string]*BackupEntry{}
	var order []string
	add := func(node string, es []BackupEntry) {
		for _, e := range es {
			k := e.DumpID + "/" + e.File
			if m, ok := merged[k]; ok {
				m.Nodes = append(m.Nodes, node)
				if strings.HasPrefix(e.Verified, "FAILED") {
					m.Verified = node + ": " + e.Verified
				}
				continue
			}
			e.Nodes = []string{node}
			merged[k] = &e
			order = append(order, k)
		}
	}
	add(n.cfg.Server.NodeID, local)
	var problems []string
	if ms, err := n.repl.Members(); err == nil {
		client := &http.Client{Timeout: 5 * time.Second}
		for _, m := range ms {
			if m.ID == n.cfg.Server.NodeID {
				continue
			}
			es, err := n.fetchBackups(ctx, client, m.AdminAddr)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", m.ID, err))
				continue
			}
			add(m.ID, es)
		}
	}
	out := make([]BackupEntry, 0, len(order))
	for _, k := range order {
		e := merged[k]
		sort.Strings(e.Nodes)
		out = append(out, *e)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, problems
}

func (n *Node) fetchBackups(ctx context.Context, client *http.Client, admin string) ([]BackupEntry, error) {
	if admin == "" {
		return nil, fmt.Errorf("no admin address")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+admin+"/internal/backups", nil)
	if err != nil {
		return nil, err
	}
	if n.cfg.Cluster.RPCToken != "" {
		req.Header.Set("X-Heliosdb-Raft-Token", n.cfg.Cluster.RPCToken)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s", resp.Status)
	}
	var es []BackupEntry
	err = json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&es)
	return es, err
}

func (n *Node) handleLocalBackups(w http.ResponseWriter, r *http.Request) {
	if tok := n.cfg.Cluster.RPCToken; tok != "" && r.Header.Get("X-Heliosdb-Raft-Token") != tok {
		http.Error(w, "bad token", http.StatusUnauthorized)
		return
	}
	es, err := n.LocalBackups()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if es == nil {
		es = []BackupEntry{}
	}
	writeJSON(w, es)
}

// copyBackupsOut serves COPY heliosdb.backups TO STDOUT: the catalog as a
// table (`heliosdb-lite backups`).
func (n *Node) copyBackupsOut(ctx context.Context, opts map[string]string, w io.Writer) error {
	if opts["verify"] == "true" {
		n.verifyBackups()
	}
	es, problems := n.ClusterBackups(ctx)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DUMP_ID\tFILE\tKIND\tLSN RANGE\tNODES\tSIZE\tCREATED\tVERIFIED")
	for _, e := range es {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d-%d\t%s\t%d\t%s\t%s\n", e.DumpID, e.File, e.Kind, e.FirstLSN, e.LastLSN,
			strings.Join(e.Nodes, ","), e.Size, e.Created.UTC().Format("2006-01-02 15:04:05"), e.Verified)
	}
	tw.Flush()
	if len(es) == 0 {
		fmt.Fprintln(w, "(no dumps in any reachable node's backup_dir)")
	}
	for _, p := range problems {
		fmt.Fprintf(w, "warning: could not list %s\n", p)
	}
	return nil
}
