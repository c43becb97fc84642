package snapshot

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/heliosdb/heliosdb-lite/engine"
)

var seedFlag = flag.Uint64("seed", 0, "random seed (0 = from the clock; printed)")

func testSeed(t testing.TB) uint64 {
	s := *seedFlag
	if s == 0 {
		s = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay with -seed %d)", s, s)
	return s
}

// db wraps an engine with helpers to build test states.
type db struct {
	t   testing.TB
	e   *engine.Engine
	lsn uint64
}

func newDB(t testing.TB) *db { return &db{t: t, e: engine.New()} }

func (d *db) apply(ops ...engine.Op) {
	d.t.Helper()
	d.lsn++
	if err := d.e.Apply(&engine.ChangeSet{Ops: ops}, d.lsn); err != nil {
		d.t.Fatalf("apply at %d: %v", d.lsn, err)
	}
}

func (d *db) create(def *engine.TableDef) {
	d.apply(engine.Op{Kind: engine.OpCreateTable, Table: def.Name, Def: def})
}

func (d *db) rowOp(kind engine.OpKind, def *engine.TableDef, r engine.Row) engine.Op {
	d.t.Helper()
	enc, err := engine.EncodeRow(nil, r)
	if err != nil {
		d.t.Fatal(err)
	}
	k, err := def.KeyOf(r)
	if err != nil {
		d.t.Fatal(err)
	}
	return engine.Op{Kind: kind, Table: def.Name, Key: k, Row: enc}
}

func (d *db) insert(def *engine.TableDef, rows ...engine.Row) {
	d.t.Helper()
	ops := make([]engine.Op, len(rows))
	for i, r := range rows {
		ops[i] = d.rowOp(engine.OpUpsert, def, r)
	}
	d.apply(ops...)
}

func (d *db) del(def *engine.TableDef, r engine.Row) {
	d.t.Helper()
	k, _ := def.KeyOf(r)
	d.apply(engine.Op{Kind: engine.OpDelete, Table: def.Name, Key: k})
}

func (d *db) snap() *engine.Snapshot { return d.e.Snapshot() }

// allTypesDef is a table with one column of every type.
func allTypesDef(name string) *engine.TableDef {
	return &engine.TableDef{Name: name, PKName: name + "_pkey", PrimaryKey: []int{0}, Columns: []engine.ColumnDef{
		{Name: "id", Type: engine.TypeInt8, NotNull: true},
		{Name: "i2", Type: engine.TypeInt2}, {Name: "i4", Type: engine.TypeInt4},
		{Name: "f4", Type: engine.TypeFloat4}, {Name: "f8", Type: engine.TypeFloat8},
		{Name: "num", Type: engine.TypeNumeric, Precision: 40, Scale: 10}, {Name: "b", Type: engine.TypeBool},
		{Name: "txt", Type: engine.TypeText, Default: "'x'"}, {Name: "vc", Type: engine.TypeVarchar, Length: 20},
		{Name: "ch", Type: engine.TypeChar, Length: 3}, {Name: "by", Type: engine.TypeBytea},
		{Name: "d", Type: engine.TypeDate}, {Name: "ts", Type: engine.TypeTimestamp},
		{Name: "tstz", Type: engine.TypeTimestamptz}, {Name: "u", Type: engine.TypeUUID},
		{Name: "j", Type: engine.TypeJSON}, {Name: "jb", Type: engine.TypeJSONB},
		{Name: "ser", Type: engine.TypeInt8, Identity: true},
	}, Indexes: []engine.IndexDef{{Name: name + "_txt", Columns: []int{7}}, {Name: name + "_u_key", Columns: []int{14}, Unique: true, Constraint: true}}}
}

// edgeRows are the awkward values every codec must carry unchanged.
func edgeRows() []engine.Row {
	big := bytes.Repeat([]byte{0, 1, 2, 0xff, 'a'}, 700_000) // 3.5 MB bytea: larger than a batch
	rows := []engine.Row{
		{int64(1), nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil},
		{int64(2), int64(math.MinInt16), int64(math.MinInt32), float64(float32(math.Copysign(0, -1))), math.Copysign(0, -1), engine.Numeric("-99999999999999999999999999999.9999999999"), false, "", "", "", []byte{}, engine.Date(math.MinInt32), engine.Timestamp(math.MinInt64), engine.Timestamp(math.MaxInt64), engine.UUID{}, "{}", "[]", int64(math.MinInt64)},
		{int64(3), int64(math.MaxInt16), int64(math.MaxInt32), float64(float32(math.MaxFloat32)), math.NaN(), engine.Numeric("NaN"), true, "héllo wörld — 日本語 🎉", "ñ", "abc", []byte("\x00\xff"), engine.Date(math.MaxInt32), engine.Timestamp(0), engine.Timestamp(-1), engine.UUID{0xff, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, `{"a":"\u00e9"}`, `{"k": [1, 2.5e300]}`, int64(math.MaxInt64)},
		{int64(4), int64(0), int64(-1), math.Inf(1), math.Inf(-1), engine.Numeric("0.0000000001"), nil, strings.Repeat("x", 100_000), nil, nil, big, engine.Date(0), nil, nil, engine.UUID{1}, nil, nil, nil},
		{int64(math.MinInt64), nil, nil, math.SmallestNonzeroFloat64, -math.MaxFloat64, nil, nil, "\x00", nil, nil, nil, nil, nil, nil, engine.UUID{2}, nil, nil, nil},
		{int64(math.MaxInt64), nil, nil, nil, nil, nil, nil, "zz", nil, nil, nil, nil, nil, nil, engine.UUID{3}, nil, nil, nil},
	}
	return rows
}

// genTable is a simple table for bulk data: ints, short strings, timestamps.
func genDef(name string) *engine.TableDef {
	return &engine.TableDef{Name: name, PKName: name + "_pkey", PrimaryKey: []int{0}, Columns: []engine.ColumnDef{
		{Name: "id", Type: engine.TypeInt8, NotNull: true}, {Name: "n", Type: engine.TypeInt4},
		{Name: "s", Type: engine.TypeText}, {Name: "at", Type: engine.TypeTimestamptz}}}
}

var words = strings.Fields("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa quebec romeo sierra tango")

func genRow(rng *rand.Rand, id int64) engine.Row {
	return engine.Row{id, int64(rng.IntN(1_000_000)), words[rng.IntN(len(words))] + "-" + strconv.Itoa(rng.IntN(10000)),
		engine.Timestamp(1_700_000_000_000_000 + rng.Int64N(86_400_000_000*365))}
}

func fill(d *db, def *engine.TableDef, rng *rand.Rand, from, n int) {
	const step = 1000
	for i := 0; i < n; i += step {
		var rows []engine.Row
		for j := i; j < min(i+step, n); j++ {
			rows = append(rows, genRow(rng, int64(from+j)))
		}
		d.insert(def, rows...)
	}
}

func fixedOpts(c Compression) WriterOptions {
	o := DefaultWriterOptions()
	o.Compression, o.Level = c, 0
	o.DumpID = uuid.MustParse("0190a0b0-c0d0-7e00-8000-000000000001")
	o.CreatedAt = time.Date(2025, 12, 8, 10, 0, 0, 0, time.UTC)
	o.ClusterID, o.NodeID = "cluster-a", ""
	o.BatchSize = 64 << 10
	return o
}

func dumpFull(t testing.TB, s *engine.Snapshot, o WriterOptions) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := WriteFull(context.Background(), &buf, s, o); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// sameState fails unless b holds exactly a's tables, rows and metadata.
func sameState(t testing.TB, a, b *engine.State) {
	t.Helper()
	if a.LSN() != b.LSN() {
		t.Errorf("LSN %d != %d", a.LSN(), b.LSN())
	}
	an, bn := a.TableNames(), b.TableNames()
	if fmt.Sprint(an) != fmt.Sprint(bn) {
		t.Fatalf("tables %v != %v", an, bn)
	}
	for _, n := range an {
		ta, _ := a.Table(n)
		tb, _ := b.Table(n)
		if ta.Def().String() != tb.Def().String() || fmt.Sprintf("%+v", ta.Def()) != fmt.Sprintf("%+v", tb.Def()) {
			t.Errorf("table %s: def %+v != %+v", n, ta.Def(), tb.Def())
		}
		if fmt.Sprint(ta.Meta()) != fmt.Sprint(tb.Meta()) {
			t.Errorf("table %s: meta %+v != %+v", n, ta.Meta(), tb.Meta())
		}
		if ta.Len() != tb.Len() || ta.HashSum() != tb.HashSum() {
			t.Errorf("table %s: %d rows hash %x != %d rows hash %x", n, ta.Len(), ta.HashSum(), tb.Len(), tb.HashSum())
		}
		var ra, rb []engine.RowRef
		ta.Scan(func(r engine.RowRef) bool { ra = append(ra, r); return true })
		tb.Scan(func(r engine.RowRef) bool { rb = append(rb, r); return true })
		for i := range min(len(ra), len(rb)) {
			if ra[i] != rb[i] {
				t.Fatalf("table %s row %d: %q/%d != %q/%d", n, i, ra[i].Key, ra[i].LSN, rb[i].Key, rb[i].LSN)
			}
		}
	}
}

func writeTemp(t testing.TB, b []byte) string {
	t.Helper()
	p := t.TempDir() + "/x.heliodump"
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
