package node

import (
	"bytes"
	"testing"

	"github.com/heliosdb/heliosdb-lite/engine"
)

// TestPacedWriterBeforeReplication: raft may apply a DumpMark (a cluster
// dump replayed after a restart, or caught up from the leader) while
// replication.Open is still running, before Start has set n.repl; the
// writer onDumpMark starts must not need it.
func TestPacedWriterBeforeReplication(t *testing.T) {
	n := &Node{eng: engine.New()} // as during replication.Open: no n.repl yet
	var buf bytes.Buffer
	w := n.pacedWriter(&buf)
	if _, err := w.Write([]byte("dump bytes")); err != nil || buf.String() != "dump bytes" {
		t.Fatalf("paced write before replication is set: %v, wrote %q", err, buf.String())
	}
}
