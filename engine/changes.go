package engine

import (
	"slices"
	"strings"
)

// TableChanges is what an incremental dump needs of one table since an LSN.
type TableChanges struct {
	Def *TableDef
	// Full is true when the table was created, truncated or rewritten after
	// the LSN: a reader must replace the whole table with Rows.
	Full bool
	// Rows are the rows written after the LSN (all rows when Full).
	Rows []RowRef
	// Tombstones are keys deleted after the LSN (none when Full).
	Tombstones []Tombstone
}

// Tombstone records a deleted key.
type Tombstone struct {
	Key string
	LSN uint64
}

// ChangesSince returns, for every table in s, the rows and tombstones with
// LSN > since, in table-name order. It fails with ErrChangesTooOld when
// tombstones older than since may have been pruned, because the deletes
// since then can no longer be listed: the caller must take a full dump.
// Tables dropped since the LSN are simply absent (a reader drops tables
// its base has and this list lacks).
//
// Each table's change log (see changeLog) lists the rows and tombstones
// written since an LSN, so the cost is in proportion to the writes since
// the LSN (plus a sort of their keys), not to the table size. When the log
// no longer reaches back that far (more writes than a sixteenth of the table
// since then, or a restore or rewrite of the table) the table is scanned.
// Rows and tombstones come in key order either way.
func (s *State) ChangesSince(since uint64) ([]TableChanges, error) {
	return s.changesSince(since, false)
}

// ChangesSinceAll is ChangesSince including hidden tables (restore staging
// and bookkeeping): what an incremental raft snapshot must carry so that a
// replica restored from it is identical, mid-restore included.
func (s *State) ChangesSinceAll(since uint64) ([]TableChanges, error) {
	return s.changesSince(since, true)
}

func (s *State) changesSince(since uint64, hidden bool) ([]TableChanges, error) {
	if since < s.horizon {
		e := newErrorf(CodeSnapshotTooOld, "changes since LSN %d are no longer retained (tombstones are kept from LSN %d); take a full dump", since, s.horizon)
		return nil, e
	}
	out := make([]TableChanges, 0, len(s.names))
	for _, name := range s.names {
		if IsHidden(name) && !hidden {
			continue // restore staging and bookkeeping are not user data
		}
		t := s.tables[name]
		tc := TableChanges{Def: t.def, Full: t.createdLSN > since}
		if tc.Full || !t.changesFromLog(since, &tc) {
			t.changesByScan(since, &tc)
		}
		out = append(out, tc)
	}
	return out, nil
}

// changesFromLog fills tc from the table's change log; false when the log
// does not reach back to since. The log lists every write after its start
// in order, so the last entry of a key is its current state: a row version
// or a tombstone. The tree is not searched; the row hash is recomputed
// (RowRef.Hash is RowHash by definition, see DebugPutRow for the only
// writer that bypasses it, which resets the log).
func (t *tableState) changesFromLog(since uint64, tc *TableChanges) bool {
	var recs []rec
	if !t.log.since(since, func(r rec) { recs = append(recs, r) }) {
		return false
	}
	// Stable: the entries of one key stay in log order, the last one wins.
	slices.SortStableFunc(recs, func(a, b rec) int { return strings.Compare(a.key(), b.key()) })
	for i, r := range recs {
		key, row, lsn := r.fields()
		if i+1 < len(recs) && recs[i+1].key() == key {
			continue
		}
		if row == "" {
			tc.Tombstones = append(tc.Tombstones, Tombstone{Key: key, LSN: lsn})
			continue
		}
		tc.Rows = append(tc.Rows, RowRef{Key: key, Enc: row, LSN: lsn, Hash: RowHash(t.def.Name, key, row)})
	}
	return true
}

// changesByScan fills tc by a pass over the whole table.
func (t *tableState) changesByScan(since uint64, tc *TableChanges) {
	t.rows.Scan(func(it rowItem) bool {
		if tc.Full || it.r.lsn() > since {
			tc.Rows = append(tc.Rows, it.ref())
		}
		return true
	})
	if !tc.Full {
		t.tombs.Scan(func(r tombItem) bool {
			if lsn := r.lsn(); lsn > since {
				tc.Tombstones = append(tc.Tombstones, Tombstone{Key: r.key(), LSN: lsn})
			}
			return true
		})
	}
}
