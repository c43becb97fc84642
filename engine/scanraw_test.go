package engine_test

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/heliosdb/heliosdb-lite/engine"
)

// TestScanRecords: ScanRecords visits the rows Scan visits, in the same
// order, and each record holds the row's key, LSN, encoding and hash at
// the offsets it reports, including long keys and rows (multi-byte
// lengths) and large LSNs; returning false stops it.
func TestScanRecords(t *testing.T) {
	e := engine.New()
	def := &engine.TableDef{Name: "t", PKName: "t_pkey", PrimaryKey: []int{0}, Columns: []engine.ColumnDef{
		{Name: "k", Type: engine.TypeText, NotNull: true}, {Name: "v", Type: engine.TypeText}}}
	lsn := uint64(1) << 35
	if err := e.Apply(&engine.ChangeSet{Ops: []engine.Op{{Kind: engine.OpCreateTable, Table: "t", Def: def}}}, lsn); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3000; i += 100 {
		var ops []engine.Op
		for j := i; j < i+100; j++ {
			r := engine.Row{strings.Repeat("k", j%300) + string(rune('a'+j%26)) + strings.Repeat("q", j/26), strings.Repeat("v", j%700)}
			enc, err := engine.EncodeRow(nil, r)
			if err != nil {
				t.Fatal(err)
			}
			k, _ := def.KeyOf(r)
			ops = append(ops, engine.Op{Kind: engine.OpUpsert, Table: "t", Key: k, Row: enc})
		}
		lsn += 1 << 20
		if err := e.Apply(&engine.ChangeSet{Ops: ops}, lsn); err != nil {
			t.Fatal(err)
		}
	}
	tb, _ := e.Snapshot().Table("t")
	var want []engine.RowRef
	tb.Scan(func(r engine.RowRef) bool { want = append(want, r); return true })
	if len(want) != 3000 {
		t.Fatalf("Scan saw %d rows", len(want))
	}
	i, runs := 0, 0
	tb.ScanRecords(func(run engine.RecordRun) bool {
		runs++
		for j := 0; j < run.Len(); j++ {
			rec, keyEnd, lsnEnd, hash := run.Record(j)
			w := want[i]
			kl, n := binary.Uvarint([]byte(rec))
			l, m := binary.Uvarint([]byte(rec[keyEnd:]))
			rl, o := binary.Uvarint([]byte(rec[lsnEnd:]))
			if int(kl) != len(w.Key) || rec[n:keyEnd] != w.Key || l != w.LSN || keyEnd+m != lsnEnd ||
				int(rl) != len(w.Enc) || rec[lsnEnd+o:] != w.Enc || hash != w.Hash {
				t.Fatalf("row %d: record %q (key end %d, LSN end %d, hash %x) is not %+v", i, rec, keyEnd, lsnEnd, hash, w)
			}
			i++
		}
		return true
	})
	if i != len(want) || runs >= i {
		t.Fatalf("ScanRecords saw %d rows in %d runs, want %d rows in fewer runs", i, runs, len(want))
	}
	runs = 0
	tb.ScanRecords(func(engine.RecordRun) bool { runs++; return false })
	if runs != 1 {
		t.Fatalf("ScanRecords went on after false: %d calls", runs)
	}
}
