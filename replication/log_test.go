package replication

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// raft logs some values as hclog.Format (a printf format and its
// arguments): the adapter prints them formatted, not as a slice.
func TestHclogAdapterFormat(t *testing.T) {
	var buf bytes.Buffer
	l := newHclog(slog.New(slog.NewTextHandler(&buf, nil)), "raft")
	l.Info("initial configuration", "index", 1, "servers", hclog.Fmt("%+v", []string{"n1", "n2"}))
	if out := buf.String(); !strings.Contains(out, `servers="[n1 n2]"`) || strings.Contains(out, "%+v") {
		t.Fatalf("log line: %s", out)
	}
}
