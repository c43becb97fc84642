package clustertests

import (
	"fmt"
	"io"
	"net/http"
	"time"

	"encoding/json"

	"github.com/heliosdb/heliosdb-lite/antientropy"
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
