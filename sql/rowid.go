package sql

import (
	"encoding/binary"
	"sync"

	"github.com/heliosdb/heliosdb-lite/engine"
)

// Hidden row ids.
//
// A table without a primary key (pgbench_history) keys its rows by a
// hidden row id. Asserting the table's row-id sequence (PreSequence) would
// make every two concurrent inserters conflict, and locking it would
// serialise them through the whole commit, fsync included. The row id is
// invisible to clients, so, like PostgreSQL's ctid, it only needs to be
// unique: the node hands ids out from a high-water mark above both the
// table's sequence and its largest key, each insert asserts that its key
// is absent (so ids handed out concurrently by another node cost a retry,
// never a duplicate), and no lock is taken on the sequence.
//
// The sequence op that records the statement's largest id has no
// precondition, so when two inserters commit out of allocation order the
// stored sequence may step back below the largest key. That is harmless:
// allocation starts above the largest key as well, on every node, after a
// restart too.

// rowIDAlloc is a DB's allocator of hidden row ids.
type rowIDAlloc struct {
	mu struct {
		sync.Mutex
		hw map[string]int64 // by table name: largest id handed out
	}
}

func newRowIDAlloc() *rowIDAlloc {
	a := &rowIDAlloc{}
	a.mu.hw = map[string]int64{}
	return a
}

// next returns an id of table greater than floor and than every id it
// returned before for that table.
func (a *rowIDAlloc) next(table string, floor int64) int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	id := max(a.mu.hw[table], floor) + 1
	a.mu.hw[table] = id
	return id
}

// rowIDFloor is the largest row id tbl uses or has recorded: its row-id
// sequence or its largest key, whichever is higher.
func rowIDFloor(tbl engine.Table) int64 {
	floor := tbl.Sequence(-1)
	tbl.Descend(func(r engine.RowRef) bool {
		if id, ok := decodeRowID(r.Key); ok {
			floor = max(floor, id)
		}
		return false
	})
	return floor
}

// rowIDTag is the type byte of an encoded row id (engine.EncodeRowID).
var rowIDTag = engine.EncodeRowID(0)[0]

func decodeRowID(key string) (int64, bool) {
	if len(key) != 9 || key[0] != rowIDTag {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64([]byte(key[1:])) ^ (1 << 63)), true
}
