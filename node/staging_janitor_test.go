package node

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/heliosdb/heliosdb-lite/engine"
)

// TestLeftoverStagingDropped: a staging table nobody writes to any more
// (its COPY or restore died with its node) is dropped by the leader after
// the idle limit; one still being written, and the live table it stands
// for, are left alone.
func TestLeftoverStagingDropped(t *testing.T) {
	c := DefaultConfig()
	c.Server.Port = 0
	c.Server.Memory = true
	c.Dump.BackupDir = t.TempDir()
	c.stagingIdle = 300 * time.Millisecond
	n := startNode(t, c)
	ctx := context.Background()
	conn := connect(t, n)
	if _, err := conn.Exec(ctx, "create table t (id int primary key, v text); insert into t values (1, 'live')"); err != nil {
		t.Fatal(err)
	}
	tbl, _ := n.eng.Snapshot().Table("t")
	def := tbl.Def()
	stage := func(id string, key int64) string {
		t.Helper()
		sn := engine.StagingName(id, "t")
		cs := &engine.ChangeSet{}
		if _, ok := n.eng.Snapshot().Table(sn); !ok {
			cs.Ops = append(cs.Ops, engine.Op{Kind: engine.OpCreateTable, Table: sn, Def: engine.StagingDef(id, def)})
		}
		row, err := engine.EncodeRow(nil, engine.Row{key, fmt.Sprint("staged ", key)})
		if err != nil {
			t.Fatal(err)
		}
		cs.Ops = append(cs.Ops, engine.Op{Kind: engine.OpInsert, Table: sn, Key: string(engine.EncodeKey(nil, key)), Row: row})
		if _, err := n.propose(ctx, cs); err != nil {
			t.Fatal(err)
		}
		return sn
	}
	orphan := stage("orphan1", 100)
	stage("orphan1", 101)
	active := stage("active1", 200)
	// A restore fills one staging table per table: the first one sits
	// still while the next fills, and must stay.
	done1 := engine.StagingName("active1", "u")
	udef := *def
	udef.Name = "u"
	if _, err := n.propose(ctx, &engine.ChangeSet{Ops: []engine.Op{{Kind: engine.OpCreateTable, Table: done1, Def: engine.StagingDef("active1", &udef)}}}); err != nil {
		t.Fatal(err)
	}

	// Keep writing to the active one well within the idle limit.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for k := int64(201); ; k++ {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			sn := engine.StagingName("active1", "t")
			row, _ := engine.EncodeRow(nil, engine.Row{k, "more"})
			_, _ = n.propose(ctx, &engine.ChangeSet{Ops: []engine.Op{{Kind: engine.OpInsert, Table: sn, Key: string(engine.EncodeKey(nil, k)), Row: row}}})
		}
	}()
	waitFor(t, 20*time.Second, "the leftover staging table dropped", func() bool {
		_, ok := n.eng.Snapshot().Table(orphan)
		return !ok
	})
	close(stop)
	<-done
	snap := n.eng.Snapshot()
	at, ok := snap.Table(active)
	if !ok {
		t.Fatal("a staging table still being written was dropped")
	}
	if at.Len() < 2 {
		t.Fatalf("active staging table holds %d rows", at.Len())
	}
	if _, ok := snap.Table(done1); !ok {
		t.Fatal("the finished staging table of a restore still filling another was dropped")
	}
	live, ok := snap.Table("t")
	if !ok || live.Len() != 1 {
		t.Fatalf("the live table changed: present %v", ok)
	}
	var v string
	if err := conn.QueryRow(ctx, "select v from t where id = 1").Scan(&v); err != nil || v != "live" {
		t.Fatalf("live row: %q, %v", v, err)
	}
	// Once idle, the other one goes too.
	waitFor(t, 20*time.Second, "the now idle staging table dropped", func() bool {
		_, ok1 := n.eng.Snapshot().Table(active)
		_, ok2 := n.eng.Snapshot().Table(done1)
		return !ok1 && !ok2
	})
}
