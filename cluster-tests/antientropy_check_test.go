package clustertests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/heliosdb/heliosdb-lite/antientropy"
	"github.com/heliosdb/heliosdb-lite/internal/proctest"
)

// EnsureNoDivergence runs an anti-entropy round on the leader (a rebuild
// round: every node recomputes its row hashes from the stored rows, so it
// checks the rows themselves, not only that the same changes were
// applied) and requires every voter to report the same Merkle root per
// table at the round's LSN, and no differing key. It is the end-of-run
// check that replicas are identical and that anti-entropy raises no false
// alarm on a healthy cluster.
func (c *Cluster) EnsureNoDivergence() *antientropy.Report {
	c.t.Helper()
	var rep *antientropy.Report
	eventually(c.t, 60*time.Second, "a clean anti-entropy round", func() error {
		leader := c.Leader(30 * time.Second)
		client := &http.Client{Timeout: 2 * time.Minute}
		resp, err := client.Post("http://"+leader.HTTPAddr()+"/antientropy/run?rebuild=1", "application/json", nil)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("antientropy run on %s: %s: %s", leader.ID, resp.Status, b)
		}
		var r antientropy.Report
		if err := json.Unmarshal(b, &r); err != nil {
			return err
		}
		if r.Error != "" {
			return fmt.Errorf("round %d: %s", r.Round, r.Error)
		}
		var ref map[string]uint64
		for _, nr := range r.Nodes {
			if nr.Status != "ok" {
				return fmt.Errorf("round %d: node %s: %s", r.Round, nr.ID, nr.Status)
			}
			if ref == nil {
				ref = nr.Roots
				continue
			}
			if fmt.Sprint(nr.Roots) != fmt.Sprint(ref) {
				c.t.Fatalf("round %d: node %s has Merkle roots %v, others %v", r.Round, nr.ID, nr.Roots, ref)
			}
		}
		if len(r.Differences) > 0 || r.Repaired > 0 || len(r.SchemaDifferences) > 0 {
			c.t.Fatalf("anti-entropy found differences on a healthy cluster: %d keys, %d repaired, schema %v",
				len(r.Differences), r.Repaired, r.SchemaDifferences)
		}
		rep = &r
		return nil
	})
	return rep
}

// EnsureSameDump takes a cluster-wide dump (every node writes the dump of
// the marker's LSN into its backup_dir) and requires every running member
// to have written it, at the same LSN, no lower than atLeast, with
// byte-identical files: the harness reads each node's file from its
// backup dir and compares the bytes itself (not only the checksums the
// nodes report). The replicas hold the same canonical dump at one LSN.
// It returns the command's report.
func (c *Cluster) EnsureSameDump(atLeast uint64) string {
	c.t.Helper()
	var out string
	eventually(c.t, 60*time.Second, "a cluster dump with identical files on every running member", func() error {
		leader := c.Leader(30 * time.Second)
		ms, err := leader.Members()
		if err != nil {
			return err
		}
		want := map[string]bool{}
		for _, m := range ms {
			if nd := c.Node(m.NodeID); nd != nil && nd.Running() {
				want[m.NodeID] = true
			}
		}
		so, se, code := proctest.Run(c.t, "dump", "--cluster", "--host", "127.0.0.1", "--port", fmt.Sprint(leader.PGPort))
		if code != 0 {
			return fmt.Errorf("dump --cluster: exit %d: %s%s", code, so, se)
		}
		if strings.Contains(so, "ALARM") {
			c.t.Fatalf("cluster dump files differ between nodes:\n%s", so)
		}
		var lsn uint64
		if _, err := fmt.Sscanf(so[strings.Index(so, " at LSN "):], " at LSN %d", &lsn); err != nil || lsn < atLeast {
			return fmt.Errorf("dump LSN %d (want >= %d): %v\n%s", lsn, atLeast, err, so)
		}
		var ref []byte
		var refNode string
		done := map[string]bool{}
		for _, line := range strings.Split(so, "\n") {
			f := strings.Fields(line)
			if len(f) < 4 || f[1] != "done" {
				continue
			}
			if f[3] != fmt.Sprint(lsn) {
				c.t.Fatalf("node %s wrote its dump at LSN %s, the marker is at %d:\n%s", f[0], f[3], lsn, so)
			}
			b, err := os.ReadFile(f[2])
			if err != nil {
				return err
			}
			switch {
			case ref == nil:
				ref, refNode = b, f[0]
			case !bytes.Equal(b, ref):
				c.t.Fatalf("cluster dump files of %s and %s differ (%d and %d bytes):\n%s", refNode, f[0], len(ref), len(b), so)
			}
			done[f[0]] = true
		}
		for id := range want {
			if !done[id] {
				return fmt.Errorf("running member %s did not write the dump:\n%s", id, so)
			}
		}
		out = so
		return nil
	})
	return out
}
