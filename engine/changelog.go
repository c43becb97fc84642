package engine

import (
	"slices"
	"sort"
	"sync/atomic"
)

// changeLog lists, in LSN order, the records (row versions and tombstones)
// written to one table after LSN start, so that ChangesSince costs in
// proportion to the writes since its LSN instead of the table size.
//
// Upkeep is one pointer store per write. States share chunks: a state sees
// the first n entries of its last chunk, and a writer may append in place
// only when no other state extended that chunk past n (checked with
// filled), otherwise it copies the chunk. Entries a published state can
// see are never written again, so readers need no lock.
//
// The log is bounded: when it holds more than logMinEntries entries and
// more than 1/logTableFraction of the table's rows, or references more than
// logMinBytes and more than 1/logTableFraction of the table's bytes, its
// oldest chunks are dropped and start moves up. ChangesSince for an LSN
// before start falls back to a scan of the table, which is then within a
// constant factor of the writes it must report. Entries referencing
// replaced row versions keep those alive until dropped; the byte bound
// limits what that can cost (a small table of large, often updated rows).
type changeLog struct {
	start  uint64      // every write with LSN > start is listed
	chunks []*logChunk // the slice is never appended to in place
	n      int         // entries of the last chunk this state sees
	total  int         // entries this state sees
	bytes  int64       // key and row bytes of the records they reference
}

const (
	logChunkSize     = 256
	logMinEntries    = 4096
	logMinBytes      = 1 << 20
	logTableFraction = 16
)

type logChunk struct {
	filled atomic.Int32 // entries written by the state that extended it furthest
	recs   [logChunkSize]rec
}

func recBytes(r rec) int64 {
	k, row, _ := r.fields()
	return int64(len(k) + len(row))
}

// add appends r, written at an LSN not below any listed one. The table's
// size after the write (rows and encoded bytes) bounds the log.
func (l *changeLog) add(r rec, tableRows int, tableBytes int64) {
	if len(l.chunks) > 0 && l.n < logChunkSize {
		c := l.chunks[len(l.chunks)-1]
		if !c.filled.CompareAndSwap(int32(l.n), int32(l.n+1)) {
			// Another state built on the same one extended this chunk:
			// take a private copy of what this state sees.
			nc := &logChunk{}
			copy(nc.recs[:l.n], c.recs[:l.n])
			nc.filled.Store(int32(l.n + 1))
			c = nc
			l.chunks = slices.Clone(l.chunks)
			l.chunks[len(l.chunks)-1] = c
		}
		c.recs[l.n] = r
		l.n++
		l.total++
	} else {
		c := &logChunk{}
		c.recs[0] = r
		c.filled.Store(1)
		chunks := make([]*logChunk, len(l.chunks)+1)
		copy(chunks, l.chunks)
		chunks[len(l.chunks)] = c
		l.chunks, l.n = chunks, 1
		l.total++
	}
	l.bytes += recBytes(r)
	for (l.total > logMinEntries && l.total > tableRows/logTableFraction) ||
		(l.bytes > logMinBytes && l.bytes > tableBytes/logTableFraction) {
		if len(l.chunks) == 1 {
			l.reset(r.lsn()) // a few large rows: start over after this write
			break
		}
		l.dropChunks(max(1, len(l.chunks)/2))
	}
}

// dropChunks forgets the k oldest chunks (never the last one).
func (l *changeLog) dropChunks(k int) {
	k = min(k, len(l.chunks)-1)
	if k <= 0 {
		return
	}
	l.start = max(l.start, l.chunks[k-1].recs[logChunkSize-1].lsn())
	for _, c := range l.chunks[:k] {
		for _, r := range c.recs {
			l.bytes -= recBytes(r)
		}
	}
	l.chunks = slices.Clone(l.chunks[k:])
	l.total -= k * logChunkSize
}

// prune drops the chunks whose entries all have LSN <= upTo: no
// ChangesSince can ask for them once the tombstone horizon is upTo.
func (l *changeLog) prune(upTo uint64) {
	k := 0
	for k < len(l.chunks)-1 && l.chunks[k].recs[logChunkSize-1].lsn() <= upTo {
		k++
	}
	l.dropChunks(k)
}

// reset empties the log: it lists the writes after lsn.
func (l *changeLog) reset(lsn uint64) { *l = changeLog{start: lsn} }

// since calls fn for every entry with LSN > lsn, oldest first. ok is false
// when the log does not reach back to lsn.
func (l *changeLog) since(lsn uint64, fn func(rec)) (ok bool) {
	if lsn < l.start {
		return false
	}
	// The first chunk whose last entry is newer than lsn.
	ci := sort.Search(len(l.chunks), func(i int) bool {
		n := logChunkSize
		if i == len(l.chunks)-1 {
			n = l.n
		}
		return l.chunks[i].recs[n-1].lsn() > lsn
	})
	for ; ci < len(l.chunks); ci++ {
		recs := l.chunks[ci].recs[:]
		if ci == len(l.chunks)-1 {
			recs = recs[:l.n]
		}
		i := sort.Search(len(recs), func(i int) bool { return recs[i].lsn() > lsn })
		for _, r := range recs[i:] {
			fn(r)
		}
	}
	return true
}
