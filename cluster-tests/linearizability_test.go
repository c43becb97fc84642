package clustertests

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// kvInput is one operation on the register table kv(k, v).
type kvInput struct {
	Write bool
	Key   int
	Value int // written value
}

// kvOutput is the outcome. Unknown: the write's outcome is indeterminate
// (timeout, connection lost, leader changed): it may or may not have
// happened, and its return time is the end of history.
type kvOutput struct {
	Value   int // read value, 0 = no row
	Unknown bool
}

// kvModel is a register per key; an indeterminate write may or may not
// have taken effect (a nondeterministic step).
var kvModel = porcupine.NondeterministicModel{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[int][]porcupine.Operation{}
		var keys []int
		for _, op := range history {
			k := op.Input.(kvInput).Key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() []any { return []any{0} },
	Step: func(state, input, output any) []any {
		st, in, out := state.(int), input.(kvInput), output.(kvOutput)
		if in.Write {
			if out.Unknown {
				return []any{st, in.Value}
			}
			return []any{in.Value}
		}
		if out.Value == st {
			return []any{st}
		}
		return nil
	},
	Equal: func(a, b any) bool { return a.(int) == b.(int) },
	DescribeOperation: func(input, output any) string {
		in, out := input.(kvInput), output.(kvOutput)
		if in.Write {
			if out.Unknown {
				return fmt.Sprintf("put(%d,%d)=?", in.Key, in.Value)
			}
			return fmt.Sprintf("put(%d,%d)", in.Key, in.Value)
		}
		return fmt.Sprintf("get(%d)=%d", in.Key, out.Value)
	},
}

// history records client operations with invoke and return times.
type history struct {
	mu    sync.Mutex // guards ops
	start time.Time
	ops   []porcupine.Operation
}

func newHistory() *history { return &history{start: time.Now()} }

func (h *history) now() int64 { return int64(time.Since(h.start)) }

// add records a finished operation. Failed reads are dropped (they had no
// effect); failed writes are indeterminate and recorded as never
// returning.
func (h *history) add(client int, in kvInput, call int64, out kvOutput, err error) {
	ret := h.now()
	if err != nil {
		if !in.Write {
			return
		}
		out = kvOutput{Unknown: true}
		ret = math.MaxInt64
	}
	h.mu.Lock()
	h.ops = append(h.ops, porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret})
	h.mu.Unlock()
}

// check runs porcupine; Unknown (checker timed out) is reported as such.
// The returned info renders the history (visualize).
func (h *history) check(timeout time.Duration) (porcupine.CheckResult, int, porcupine.LinearizationInfo) {
	h.mu.Lock()
	ops := append([]porcupine.Operation(nil), h.ops...)
	h.mu.Unlock()
	res, info := porcupine.CheckOperationsVerbose(kvModel.ToModel(), ops, timeout)
	return res, len(ops), info
}

// visualize writes porcupine's HTML view of a checked history (the longest
// linearizable prefix of each key and where it breaks) to a file kept
// after the test, for a failure to be studied, and returns its path.
func visualize(info porcupine.LinearizationInfo, name string) (string, error) {
	path := filepath.Join(os.TempDir(), name)
	return path, porcupine.VisualizePath(kvModel.ToModel(), info, path)
}

// TestHistoryCheckerCatchesStaleRead: the checker the chaos test relies
// on calls a read of an old value after a completed write illegal, takes
// an indeterminate write either way, and renders a failing history.
func TestHistoryCheckerCatchesStaleRead(t *testing.T) {
	h := &history{ops: []porcupine.Operation{
		{ClientId: 0, Input: kvInput{Write: true, Key: 1, Value: 5}, Call: 0, Output: kvOutput{}, Return: 10},
		{ClientId: 1, Input: kvInput{Key: 1}, Call: 20, Output: kvOutput{Value: 0}, Return: 30},
	}}
	res, _, info := h.check(10 * time.Second)
	if res != porcupine.Illegal {
		t.Fatalf("a stale read after a completed write: %v, want Illegal", res)
	}
	path, err := visualize(info, fmt.Sprintf("heliosdb-checker-selftest-%d.html", os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		t.Fatalf("visualization %s: %v", path, err)
	}
	os.Remove(path)
	h.ops[0].Output, h.ops[0].Return = kvOutput{Unknown: true}, math.MaxInt64
	if res, _, _ := h.check(10 * time.Second); res != porcupine.Ok {
		t.Fatalf("a read of the old value beside an indeterminate write: %v, want Ok", res)
	}
}
