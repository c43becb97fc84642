package main

import (
	"strings"
	"testing"

	"github.com/heliosdb/heliosdb-lite/node"
)

// TestClusterDumpVerdict: the exit status of `dump --cluster` follows the
// server's own report (node.ClusterDumpResult.WriteReport): 0 when every
// node wrote it or the missing ones are catching up, 1 when a node failed
// or the checksums differ.
func TestClusterDumpVerdict(t *testing.T) {
	rec := func(id, status, errText string) node.DumpRecord {
		r := node.DumpRecord{Node: id, Status: status, Error: errText, LSN: 7}
		if status == "done" {
			r.Path, r.Size, r.Checksum = "/b/"+id+".heliodump", 100, "abc"
		}
		return r
	}
	for _, c := range []struct {
		name    string
		res     node.ClusterDumpResult
		wantErr string
	}{
		{"all done", node.ClusterDumpResult{Agree: true, Records: []node.DumpRecord{rec("n1", "done", ""), rec("n2", "done", "")}}, ""},
		{"one catching up", node.ClusterDumpResult{Agree: true, Records: []node.DumpRecord{rec("n1", "done", ""), rec("n2", "missing", "timed out waiting for the dump")}}, ""},
		{"one failed", node.ClusterDumpResult{Agree: true, Records: []node.DumpRecord{rec("n1", "done", ""), rec("n2", "failed", "write /b: no space left on device")}}, "1 node(s) could not write the dump: n2"},
		{"checksums differ", node.ClusterDumpResult{Agree: false, Records: []node.DumpRecord{rec("n1", "done", ""), rec("n2", "done", "")}}, "checksums differ"},
	} {
		var b strings.Builder
		c.res.Name, c.res.ID, c.res.LSN = "cluster-x", "id", 7
		c.res.WriteReport(&b)
		err := clusterDumpVerdict(b.String())
		switch {
		case c.wantErr == "" && err != nil:
			t.Errorf("%s: %v\n%s", c.name, err, b.String())
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("%s: got %v, want %q\n%s", c.name, err, c.wantErr, b.String())
		}
	}
}
