package sql

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/heliosdb/heliosdb-lite/engine"
)

func TestDecodeRowID(t *testing.T) {
	for _, id := range []int64{0, 1, -1, 42, 1 << 40, math.MaxInt64, math.MinInt64} {
		got, ok := decodeRowID(engine.EncodeRowID(id))
		if !ok || got != id {
			t.Errorf("decodeRowID(EncodeRowID(%d)) = %d, %v", id, got, ok)
		}
	}
	if _, ok := decodeRowID(string(engine.EncodeKey(nil, "abc"))); ok {
		t.Error("a text key decoded as a row id")
	}
}

// Two open transactions insert into a table without a primary key: the
// second neither waits for the first (no lock on the row-id sequence) nor
// conflicts with it at commit, whichever commits first.
func TestHiddenRowIDInsertersDoNotSerialize(t *testing.T) {
	db, _ := newTestDB(t)
	a, b := db.NewLocalSession(), db.NewLocalSession()
	defer a.Close()
	defer b.Close()
	mustExec(t, a, "CREATE TABLE hist (v int)")
	mustExec(t, a, "BEGIN; INSERT INTO hist VALUES (1)")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := b.Exec(ctx, "BEGIN; INSERT INTO hist VALUES (2); INSERT INTO hist VALUES (3)"); err != nil {
		t.Fatalf("second inserter: %v", err)
	}
	// b commits first; a's ids are lower, so the stored sequence steps
	// back below the largest key.
	mustExec(t, b, "COMMIT")
	mustExec(t, a, "COMMIT")
	res := mustExec(t, a, "SELECT count(*), sum(v) FROM hist")
	if got := res[0].Rows[0]; got[0] != int64(3) || got[1] != int64(6) {
		t.Fatalf("count, sum = %v, want 3, 6", got)
	}
}

// A new allocator (a restarted node, another node) starts above the
// largest key even when the stored sequence is lower.
func TestHiddenRowIDAboveLargestKey(t *testing.T) {
	db, e := newTestDB(t)
	a, b := db.NewLocalSession(), db.NewLocalSession()
	defer a.Close()
	defer b.Close()
	mustExec(t, a, "CREATE TABLE hist (v int)")
	mustExec(t, a, "BEGIN; INSERT INTO hist VALUES (1)")
	mustExec(t, b, "INSERT INTO hist VALUES (2)")
	mustExec(t, a, "COMMIT")
	tbl, _ := e.Snapshot().Table("hist")
	if floor := rowIDFloor(tbl); tbl.Sequence(-1) >= floor {
		t.Fatalf("sequence %d did not step back below the largest key %d; the test shows nothing", tbl.Sequence(-1), floor)
	}

	cfg := db.cfg
	fresh := New(cfg)
	c := fresh.NewLocalSession()
	defer c.Close()
	for i := range 3 {
		if _, err := c.Exec(context.Background(), "INSERT INTO hist VALUES (10)"); err != nil {
			t.Fatalf("insert %d through a fresh allocator: %v", i, err)
		}
	}
	res := mustExec(t, c, "SELECT count(*) FROM hist")
	if got := res[0].Rows[0][0]; got != int64(5) {
		t.Fatalf("count = %v, want 5", got)
	}
}
