package antientropy_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heliosdb/heliosdb-lite/antientropy"
	"github.com/heliosdb/heliosdb-lite/engine"
	"github.com/heliosdb/heliosdb-lite/fsm"
)

// fakeCluster is a leader that accepts every proposal (the benchmark
// measures comparison, not raft).
type fakeCluster struct {
	peers []antientropy.Peer
	index atomic.Uint64
}

func (f *fakeCluster) ID() string     { return "n1" }
func (f *fakeCluster) IsLeader() bool { return true }
func (f *fakeCluster) Apply(context.Context, []byte) (any, uint64, error) {
	return nil, f.index.Add(1), nil
}
func (f *fakeCluster) Voters() ([]antientropy.Peer, error)              { return f.peers, nil }
func (f *fakeCluster) TransferLeadership(context.Context, string) error { return nil }

func benchRows() int {
	if v, err := strconv.Atoi(os.Getenv("AE_BENCH_ROWS")); err == nil && v > 0 {
		return v
	}
	return 1_000_000
}

// buildBase loads n rows into one engine.
func buildBase(b *testing.B, n int) *engine.Engine {
	e := engine.New()
	lsn := uint64(1)
	if err := e.Apply(&engine.ChangeSet{Ops: []engine.Op{{Kind: engine.OpCreateTable, Table: "kv", Def: kvDef}}}, lsn); err != nil {
		b.Fatal(err)
	}
	for start := 0; start < n; start += 10000 {
		cs := &engine.ChangeSet{}
		for i := start; i < min(start+10000, n); i++ {
			cs.Ops = append(cs.Ops, upsert(b, int64(i), "value-"+strconv.Itoa(i)))
		}
		lsn++
		if err := e.Apply(cs, lsn); err != nil {
			b.Fatal(err)
		}
	}
	return e
}

// BenchmarkRound: one round over 3 replicas sharing N rows, one replica
// differing in d rows. Reports bytes exchanged with the divergent node and
// with a healthy one, per round.
//
//	AE_BENCH_ROWS=10000000 go test -run '^$' -bench Round -benchtime 3x ./antientropy/
func BenchmarkRound(b *testing.B) {
	engine.EnableDebugHooks()
	n := benchRows()
	base := buildBase(b, n)
	for _, d := range []int{0, 1, 100, 10000} {
		b.Run(fmt.Sprintf("rows=%d/diff=%d", n, d), func(b *testing.B) {
			cl := &fakeCluster{}
			var bad *engine.Engine
			for i := range 3 {
				e := engine.New()
				e.Install(base.Snapshot())
				if i == 2 {
					bad = e
					for k := range d {
						id := int64(k * (n / max(d, 1)))
						if err := e.DebugPutRow("kv", kvKey(id), kvRow(b, id, "corrupt"), false); err != nil {
							b.Fatal(err)
						}
					}
				}
				snap := e.Snapshot()
				rep := antientropy.NewReplica(func(uint64) (uint64, *engine.Snapshot, bool) { return snap.LSN(), snap, true },
					func() uint64 { return snap.LSN() }, "", nil)
				srv := httptest.NewServer(rep.Handler())
				b.Cleanup(srv.Close)
				cl.peers = append(cl.peers, antientropy.Peer{ID: fmt.Sprintf("n%d", i+1), Addr: strings.TrimPrefix(srv.URL, "http://")})
			}
			_ = bad
			cfg := antientropy.DefaultConfig()
			cfg.Interval, cfg.MaxBytesPerSec, cfg.RebuildEvery = 0, 0, 0
			cfg.RoundTimeout = time.Minute
			cfg.Marker, cfg.Repair = fsm.EncodeAEMark, fsm.EncodeAERepair
			cfg.LargeDiff = 1 << 30
			cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
			r, err := antientropy.NewRunner(cfg, cl, nil)
			if err != nil {
				b.Fatal(err)
			}
			var badBytes, goodBytes int64
			b.ResetTimer()
			for range b.N {
				rep, err := r.RunNow(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				if len(rep.Differences) != min(d, cfg.MaxReportedDiffs) {
					b.Fatalf("found %d differences, want %d", len(rep.Differences), d)
				}
				badBytes, goodBytes = rep.Nodes[2].Bytes, rep.Nodes[1].Bytes
			}
			b.ReportMetric(float64(badBytes), "B/divergent-node")
			b.ReportMetric(float64(goodBytes), "B/healthy-node")
		})
	}
}

// BenchmarkApply and BenchmarkLeafUpkeep compare what the engine does per
// upserted row with the share of it that keeps the anti-entropy leaves
// (LeafOf over the key and one add into a copy-on-write chunk).
func BenchmarkApply(b *testing.B) {
	e := engine.New()
	if err := e.Apply(&engine.ChangeSet{Ops: []engine.Op{{Kind: engine.OpCreateTable, Table: "kv", Def: kvDef}}}, 1); err != nil {
		b.Fatal(err)
	}
	ops := make([]engine.Op, 100)
	b.ResetTimer()
	for i := range b.N {
		for j := range ops {
			id := int64((i*100 + j) % 200000)
			ops[j] = upsert(b, id, "value")
		}
		if err := e.Apply(&engine.ChangeSet{Ops: ops}, uint64(i+2)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/row")
}

func BenchmarkLeafUpkeep(b *testing.B) {
	keys := make([]string, 200000)
	for i := range keys {
		keys[i] = kvKey(int64(i))
	}
	var leaves [engine.NumLeaves]uint64
	b.ResetTimer()
	for i := range b.N {
		var chunk [engine.NumLeaves / 64]uint64 // the per-txn chunk copy
		for j := range 100 {
			k := keys[(i*100+j)%len(keys)]
			l := engine.LeafOf(k)
			leaves[l] += uint64(j)
			chunk[l%len(chunk)] += 1
		}
		_ = chunk
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/row")
}
