package main

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/heliosdb/heliosdb-lite/engine"
)

// The dataset: one table of orders-like rows, as a user table looks: a
// sequential bigint key, a small integer, a short text drawn from a
// vocabulary, and a timestamp increasing with the key.
const tableName = "bench"

var words = []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
	"kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango"}

func benchDef() *engine.TableDef {
	return &engine.TableDef{Name: tableName, PKName: tableName + "_pkey", PrimaryKey: []int{0}, Columns: []engine.ColumnDef{
		{Name: "id", Type: engine.TypeInt8, NotNull: true}, {Name: "qty", Type: engine.TypeInt4},
		{Name: "label", Type: engine.TypeText}, {Name: "at", Type: engine.TypeTimestamptz}}}
}

const epochMicros = 1_700_000_000_000_000

type gen struct{ rng *rand.Rand }

func newGen(seed uint64) *gen { return &gen{rng: rand.New(rand.NewPCG(seed, seed))} }

func (g *gen) row(id int64) engine.Row {
	return engine.Row{id, int64(g.rng.IntN(1000)), words[g.rng.IntN(len(words))] + "-" + strconv.Itoa(g.rng.IntN(1000)),
		engine.Timestamp(epochMicros + id*1_000_000 + g.rng.Int64N(1_000_000))}
}

// buildEngine applies n generated rows in batches of 1000 (one change set
// each) and returns the engine.
func buildEngine(n int, seed uint64) (*engine.Engine, error) {
	e := engine.New()
	def := benchDef()
	lsn := uint64(1)
	if err := e.Apply(&engine.ChangeSet{Ops: []engine.Op{{Kind: engine.OpCreateTable, Table: tableName, Def: def}}}, lsn); err != nil {
		return nil, err
	}
	g := newGen(seed)
	for s := 0; s < n; s += 1000 {
		cs := &engine.ChangeSet{Ops: make([]engine.Op, 0, 1000)}
		for i := s; i < min(s+1000, n); i++ {
			op, err := insertOp(def, g.row(int64(i)))
			if err != nil {
				return nil, err
			}
			cs.Ops = append(cs.Ops, op)
		}
		lsn++
		if err := e.Apply(cs, lsn); err != nil {
			return nil, err
		}
	}
	return e, nil
}

func insertOp(def *engine.TableDef, r engine.Row) (engine.Op, error) {
	k, err := def.KeyOf(r)
	if err != nil {
		return engine.Op{}, err
	}
	enc, err := engine.EncodeRow(nil, r)
	if err != nil {
		return engine.Op{}, err
	}
	return engine.Op{Kind: engine.OpInsert, Table: def.Name, Key: k, Row: enc}, nil
}

// writeCSV writes the same rows as CSV for PostgreSQL's COPY.
func writeCSV(w io.Writer, n int, seed uint64) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	g := newGen(seed)
	for i := 0; i < n; i++ {
		r := g.row(int64(i))
		ts := time.UnixMicro(int64(r[3].(engine.Timestamp))).UTC().Format("2006-01-02 15:04:05.999999+00")
		if _, err := fmt.Fprintf(bw, "%d,%d,%s,%s\n", r[0], r[1], r[2], ts); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// rowsFor estimates the row count of sizeMB of logical data (the dump's raw
// batch bytes are ~40 bytes per row for this table).
func rowsFor(cfg config) int {
	if cfg.rowsOverride > 0 {
		return cfg.rowsOverride
	}
	return cfg.SizeMB << 20 / 40
}
