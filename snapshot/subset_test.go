package snapshot

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/heliosdb/heliosdb-lite/engine"
)

// TestSubsetFlag: a full dump of named tables, and an increment appended
// to it, carry the subset flag (mode byte high bit) and the format minor
// 2; a dump of every table does not. A decoder that knows only modes 1
// and 2 (an older build) refuses the subset mode byte.
func TestSubsetFlag(t *testing.T) {
	d := newDB(t)
	a, b := genDef("a"), genDef("b")
	d.create(a)
	d.create(b)
	d.create(genDef(engine.HiddenPrefix + "h"))
	d.insert(a, engine.Row{int64(1), int64(1), "x", nil})
	d.insert(b, engine.Row{int64(1), int64(2), "y", nil})

	o := fixedOpts(CompressNone)
	whole := dumpFull(t, d.snap(), o)
	o.Tables = []string{"a"}
	sub := dumpFull(t, d.snap(), o)
	if minor := uint16(sub[10]) | uint16(sub[11])<<8; minor != 2 {
		t.Fatalf("format minor %d, want 2", minor)
	}
	path := writeTemp(t, sub)
	d.insert(a, engine.Row{int64(2), int64(3), "z", nil})
	if _, err := AppendIncremental(context.Background(), path, d.snap(), fixedOpts(CompressNone)); err != nil {
		t.Fatal(err)
	}
	headers := func(raw []byte) []*SegmentHeader {
		scan, err := ScanSegments(bytes.NewReader(raw), int64(len(raw)))
		if err != nil {
			t.Fatal(err)
		}
		var hs []*SegmentHeader
		for _, s := range scan.Segments {
			hs = append(hs, s.Header)
		}
		return hs
	}
	// A list of every table (raft snapshots pass every name, hidden ones
	// too) is the whole database, not a subset.
	o.Tables = []string{"b", "a"}
	both := dumpFull(t, d.snap(), o)
	o.Tables = d.snap().AllTableNames()
	hidden := dumpFull(t, d.snap(), o)
	o.Tables = []string{"a"}
	for _, raw := range [][]byte{whole, both, hidden} {
		for _, h := range headers(raw) {
			if h.Subset || h.Kind() != "full" {
				t.Fatalf("dump of every table: Subset %v, kind %q", h.Subset, h.Kind())
			}
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	hs := headers(raw)
	if len(hs) != 2 || !hs[0].Subset || !hs[1].Subset || hs[0].Mode != ModeFull || hs[1].Mode != ModeIncremental {
		t.Fatalf("subset chain headers: %+v", hs)
	}
	if hs[0].Kind() != "full (tables subset)" || hs[1].Kind() != "incremental (tables subset)" {
		t.Fatalf("kinds %q, %q", hs[0].Kind(), hs[1].Kind())
	}
	// The encoding: mode byte 0x81, which a 1.1 decoder (mode 1 or 2
	// only) refuses as an unknown mode.
	enc := hs[0].append(nil)
	if enc[0] != 0x81 {
		t.Fatalf("mode byte 0x%02x, want 0x81", enc[0])
	}
	if m := Mode(enc[0]); m == ModeFull || m == ModeIncremental {
		t.Fatal("an older reader would take the subset mode byte for a known mode")
	}
	enc[0] = 0x83
	if _, err := decodeSegmentHeader(enc); err == nil || !strings.Contains(err.Error(), "unknown segment mode") {
		t.Fatalf("mode byte 0x83: %v", err)
	}
	// WriteIncrementalOf with Subset (the server's path for an increment
	// of a subset chain).
	var buf bytes.Buffer
	iopts := fixedOpts(CompressNone)
	iopts.Subset = true
	sum, err := WriteIncrementalOf(context.Background(), &buf, d.snap(), hs[1].LastLSN, []string{"a"}, iopts)
	if err != nil {
		t.Fatal(err)
	}
	if h := headers(buf.Bytes()); !sum.Subset || len(h) != 1 || !h[0].Subset {
		t.Fatalf("WriteIncrementalOf with Subset: summary %v, headers %+v", sum.Subset, h)
	}
}

// TestAppendOtherDatabase: AppendIncremental with a ClusterID refuses a
// file that records another one, leaving it unchanged; the same id, or a
// file without one (older builds), is continued.
func TestAppendOtherDatabase(t *testing.T) {
	d := newDB(t)
	a := genDef("a")
	d.create(a)
	d.insert(a, engine.Row{int64(1), int64(1), "x", nil})
	o := fixedOpts(CompressNone)
	o.ClusterID = "db-1"
	path := writeTemp(t, dumpFull(t, d.snap(), o))
	before, _ := os.ReadFile(path)
	d.insert(a, engine.Row{int64(2), int64(2), "y", nil})
	o.ClusterID = "db-2"
	if _, err := AppendIncremental(context.Background(), path, d.snap(), o); !errors.Is(err, ErrOtherDatabase) || !strings.Contains(err.Error(), "db-1") || !strings.Contains(err.Error(), "db-2") {
		t.Fatalf("append from another database: %v", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
		t.Fatal("the refused append changed the file")
	}
	o.ClusterID = "db-1"
	if _, err := AppendIncremental(context.Background(), path, d.snap(), o); err != nil {
		t.Fatal(err)
	}
	o.ClusterID = ""
	old := writeTemp(t, dumpFull(t, d.snap(), o))
	o.ClusterID = "db-3"
	if _, err := AppendIncremental(context.Background(), old, d.snap(), o); err != nil {
		t.Fatalf("a file without a database id: %v", err)
	}
}
