package engine

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"unsafe"
)

// txn builds the next State from base. Nothing it changes is visible until
// finish publishes it; on error the caller drops it.
type txn struct {
	base    *State
	lsn     uint64
	tables  map[string]*tableState // nil until the first change
	names   []string
	owned   map[string]bool // tables already cloned by this txn
	written int64
	// trusted skips unique-index checks (Builder.TrustRows: restoring rows
	// that were consistent when dumped, applied in an order that may pass
	// through transient duplicates).
	trusted bool
	// Scratch space reused across the operations of one change set.
	off, oldOff []int32
	kbuf, okbuf []byte
}

func (tx *txn) run(cs *ChangeSet) error {
	for i := range cs.Preconditions {
		if err := tx.check(&cs.Preconditions[i]); err != nil {
			return err
		}
	}
	for i := range cs.Ops {
		if err := tx.apply(&cs.Ops[i]); err != nil {
			return err
		}
	}
	return nil
}

func (tx *txn) finish() *State {
	next := *tx.base
	next.lsn = tx.lsn
	next.written += tx.written
	if tx.tables != nil {
		next.tables = tx.tables
		next.names = tx.names
	}
	return &next
}

func conflict(format string, args ...any) error {
	e := newErrorf(CodeSerializationFailure, "could not serialize access due to concurrent update")
	e.detail = fmt.Sprintf(format, args...)
	return e
}

// lookup returns the table as this txn currently sees it.
func (tx *txn) lookup(name string) *tableState {
	if tx.tables != nil {
		return tx.tables[name]
	}
	return tx.base.tables[name]
}

// writable returns a private clone of the table that this txn may modify.
func (tx *txn) writable(name string) (*tableState, error) {
	if tx.tables == nil {
		tx.tables = maps.Clone(tx.base.tables)
		tx.names = tx.base.names
		tx.owned = map[string]bool{}
	}
	t := tx.tables[name]
	if t == nil {
		return nil, newErrorf(CodeUndefinedTable, "relation %q does not exist", name)
	}
	if !tx.owned[name] {
		t = t.clone()
		tx.tables[name] = t
		tx.owned[name] = true
	}
	return t, nil
}

func (tx *txn) check(p *Precondition) error {
	t := tx.lookup(p.Table)
	switch p.Kind {
	case PreSchema:
		if t == nil {
			if p.TableLSN != 0 {
				return conflict("table %q was dropped", p.Table)
			}
			return nil
		}
		if t.defLSN != p.TableLSN {
			return conflict("table %q was altered", p.Table)
		}
		return nil
	}
	if t == nil {
		return conflict("table %q was dropped", p.Table)
	}
	switch p.Kind {
	case PreRowLSN:
		it, ok := t.rows.Get(p.Key)
		if !ok || it.r.lsn() != p.LSN {
			return conflict("a row of %q was changed or deleted by another transaction", p.Table)
		}
	case PreAbsent:
		if _, ok := t.rows.Get(p.Key); ok {
			return conflict("a row of %q was inserted by another transaction", p.Table)
		}
	case PreSequence:
		if (Table{t}).Sequence(p.Seq) != p.Value {
			return conflict("a sequence of %q was advanced by another transaction", p.Table)
		}
	default:
		return newErrorf(CodeInternal, "engine: unknown precondition kind %d", p.Kind)
	}
	return nil
}

func (tx *txn) apply(op *Op) error {
	switch op.Kind {
	case OpInsert, OpUpdate, OpUpsert:
		return tx.put(op)
	case OpDelete:
		t, err := tx.writable(op.Table)
		if err != nil {
			return err
		}
		tx.deleteRow(t, op.Key)
		return nil
	case OpCreateTable:
		return tx.createTable(op.Def)
	case OpDropTable:
		return tx.dropTable(op.Table)
	case OpCreateIndex:
		return tx.createIndex(op.Table, op.Index)
	case OpDropIndex:
		return tx.dropIndex(op.Table, op.Name)
	case OpAlterTable:
		return tx.alter(op.Table, op.Alter)
	case OpTruncate:
		t, err := tx.writable(op.Table)
		if err != nil {
			return err
		}
		tx.truncate(t)
		return nil
	case OpTombstone:
		return tx.applyTombstone(op)
	case OpPromote:
		return tx.promote(op)
	case OpSetSequence:
		t, err := tx.writable(op.Table)
		if err != nil {
			return err
		}
		if op.Seq < 0 {
			t.rowIDSeq = op.Value
		} else if op.Seq < len(t.seqs) {
			t.seqs[op.Seq] = op.Value
		} else {
			return newErrorf(CodeUndefinedColumn, "sequence column %d of %q does not exist", op.Seq, op.Table)
		}
		return nil
	}
	return newErrorf(CodeInternal, "engine: unknown operation %d", op.Kind)
}

func (tx *txn) put(op *Op) error {
	t, err := tx.writable(op.Table)
	if err != nil {
		return err
	}
	def := t.def
	// The row is checked and its keys are built from its encoding, without
	// decoding it into values (which would allocate per column).
	off, err := rowFields(op.Row, tx.off)
	if err != nil {
		return err
	}
	tx.off = off
	decoded := func() Row { r, _, _ := DecodeRow(op.Row); return r } // error paths only
	if len(off) != len(def.Columns) {
		return newErrorf(CodeInternal, "engine: row for %q has %d columns, table has %d", def.Name, len(off), len(def.Columns))
	}
	for i, c := range def.Columns {
		if c.NotNull && off[i] < 0 {
			e := newErrorf(CodeNotNullViolation, "null value in column %q of relation %q violates not-null constraint", c.Name, def.Name)
			return e
		}
	}
	if !def.HasHiddenRowID() {
		k, hasNull := appendKeyFromRow(tx.kbuf[:0], op.Row, off, def.PrimaryKey)
		tx.kbuf = k
		if hasNull {
			_, err := def.KeyOf(decoded())
			return err
		}
		if string(k) != op.Key {
			return newErrorf(CodeInternal, "engine: key of op does not match the row's primary key in %q", def.Name)
		}
	}
	old, exists := t.rows.Get(op.Key)
	switch {
	case op.Kind == OpInsert && exists:
		return tx.uniqueViolation(def, def.PKName, def.PrimaryKey, decoded())
	case op.Kind == OpUpdate && !exists:
		return conflict("a row of %q was deleted by another transaction", def.Name)
	}
	// Unique checks before any change, so a failure leaves t untouched
	// for the rest of this txn's view (the whole txn is dropped anyway).
	// Staged rows (restore) may pass through transient duplicates while
	// incremental segments replay; the restore checks the final hash sums.
	_, staged := IsStaging(op.Table)
	for i, ix := range def.Indexes {
		if !ix.Unique || tx.trusted || staged {
			continue
		}
		k, hasNull := appendKeyFromRow(tx.kbuf[:0], op.Row, off, ix.Columns)
		tx.kbuf = k
		if hasNull {
			continue
		}
		if pk, found := indexLookup(t.idx[i], k, len(ix.Columns)); found && pk != op.Key {
			return tx.uniqueViolation(def, ix.Name, ix.Columns, decoded())
		}
	}
	r := newRec(op.Key, bytesString(op.Row), tx.lsn)
	key, enc, _ := r.fields()
	it := rowItem{r: r, hash: RowHash(op.Table, key, enc)}
	leaf := LeafOf(key)
	if exists {
		_, oldEnc, _ := old.r.fields()
		if len(def.Indexes) > 0 {
			oldOff, err := rowFields(stringBytes(oldEnc), tx.oldOff)
			if err != nil {
				return err
			}
			tx.oldOff = oldOff
			for i, ix := range def.Indexes {
				ok, _ := appendKeyFromRow(tx.okbuf[:0], stringBytes(oldEnc), oldOff, ix.Columns)
				nk, _ := appendKeyFromRow(tx.kbuf[:0], op.Row, off, ix.Columns)
				tx.okbuf, tx.kbuf = ok, nk
				if string(ok) == string(nk) {
					continue // the entry stays as it is
				}
				tx.okbuf = append(ok, key...) // kept: the next entry reuses its room
				tx.kbuf = append(nk, key...)
				t.idx[i].Delete(bytesString(tx.okbuf))
				t.idx[i].insert(bytesString(tx.kbuf)) // copied into the tree
			}
		}
		t.rows.Set(it)
		t.hashSum += it.hash - old.hash
		t.leaves.add(leaf, it.hash-old.hash)
		t.bytes += int64(len(enc) - len(oldEnc))
	} else {
		if _, ok := t.tombs.Get(key); ok {
			t.tombs.Delete(key)
		}
		for i, ix := range def.Indexes {
			nk, _ := appendKeyFromRow(tx.kbuf[:0], op.Row, off, ix.Columns)
			tx.kbuf = append(nk, key...)
			// The entry is built in the scratch buffer and copied into
			// the tree's leaf: no allocation of its own.
			t.idx[i].insert(bytesString(tx.kbuf))
		}
		// Load appends in place when the key sorts after every row (the
		// common insert of increasing keys) and leaves full B-tree nodes
		// behind, where Set would split them half empty; otherwise it is Set.
		t.rows.Load(it)
		t.hashSum += it.hash
		t.leaves.add(leaf, it.hash)
		t.bytes += int64(len(enc))
	}
	t.log.add(r, t.rows.Len(), t.bytes)
	t.written += int64(len(enc))
	tx.written += int64(len(enc))
	return nil
}

// bytesString views b as a string without copying, for a callee that only
// reads it before returning.
func bytesString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// indexLookup finds an entry whose index key is exactly k (k is a whole,
// prefix-free index key of ncols columns; entries are k followed by the
// primary key). pk aliases the tree's leaf: it is valid until the tree is
// next written.
func indexLookup(tree *btreeIdx, k []byte, ncols int) (pk string, found bool) {
	tree.Ascend(string(k), func(e string) bool {
		if strings.HasPrefix(e, string(k)) {
			pk, found = pkOf(e, ncols), true
		}
		return false
	})
	return pk, found
}

func (tx *txn) uniqueViolation(def *TableDef, name string, cols []int, row Row) error {
	var names, vals []string
	for _, ci := range cols {
		names = append(names, def.Columns[ci].Name)
		vals = append(vals, FormatValue(row[ci]))
	}
	if name == "" {
		name = def.Name + "_pkey"
	}
	e := newErrorf(CodeUniqueViolation, "duplicate key value violates unique constraint %q", name)
	e.detail = fmt.Sprintf("Key (%s)=(%s) already exists.", strings.Join(names, ", "), strings.Join(vals, ", "))
	return e
}

// unlinkRow removes a row's index entries and hash contributions (the row
// itself is replaced or deleted by the caller) and returns its encoded
// size.
func (tx *txn) unlinkRow(t *tableState, old rowItem) int64 {
	key, enc, _ := old.r.fields()
	if len(t.def.Indexes) > 0 {
		if off, err := rowFields(stringBytes(enc), tx.oldOff); err == nil {
			tx.oldOff = off
			for i, ix := range t.def.Indexes {
				k, _ := appendKeyFromRow(tx.okbuf[:0], stringBytes(enc), off, ix.Columns)
				tx.okbuf = append(k, key...) // kept: the next entry reuses its room
				t.idx[i].Delete(bytesString(tx.okbuf))
			}
		}
	}
	t.hashSum -= old.hash
	t.leaves.add(LeafOf(key), -old.hash)
	t.bytes -= int64(len(enc))
	return int64(len(enc))
}

// deleteRow deletes the row at key, leaving a tombstone, and reports
// whether there was one.
func (tx *txn) deleteRow(t *tableState, key string) bool {
	old, ok := t.rows.DeleteIfPresent(key) // an absent key copies nothing
	if !ok {
		return false
	}
	n := tx.unlinkRow(t, old)
	tx.setTombstone(t, key)
	t.written += n
	tx.written += n
	return true
}

// setTombstone records a deletion of key at this txn's LSN even though no
// row was there (restore staging).
func (tx *txn) setTombstone(t *tableState, key string) {
	tomb := newRec(key, "", tx.lsn)
	t.tombs.Load(tomb) // deletes often come in key order, as inserts do
	t.log.add(tomb, t.rows.Len(), t.bytes)
}

func (tx *txn) truncate(t *tableState) {
	tx.written += t.bytes
	t.written += t.bytes
	t.rows = newRowTree()
	for i := range t.idx {
		t.idx[i] = newIdxTree()
	}
	t.tombs = newTombTree()
	t.hashSum = 0
	t.leaves = leafSet{}
	t.bytes = 0
	t.createdLSN = tx.lsn
	t.log.reset(tx.lsn)
}

func (tx *txn) allIndexNames() map[string]string {
	out := map[string]string{}
	names := tx.base.names
	if tx.tables != nil {
		names = tx.names
	}
	for _, n := range names {
		t := tx.lookup(n)
		for _, ix := range t.def.Indexes {
			out[ix.Name] = n
		}
		if t.def.PKName != "" {
			out[t.def.PKName] = n
		}
	}
	return out
}

func (tx *txn) createTable(def *TableDef) error {
	if def == nil {
		return newError(CodeInternal, "engine: create table without definition")
	}
	if err := def.Validate(); err != nil {
		return err
	}
	if tx.lookup(def.Name) != nil {
		return newErrorf(CodeDuplicateTable, "relation %q already exists", def.Name)
	}
	existing := tx.allIndexNames()
	for _, ix := range def.Indexes {
		if _, dup := existing[ix.Name]; dup || ix.Name == def.Name {
			return newErrorf(CodeDuplicateTable, "relation %q already exists", ix.Name)
		}
	}
	if tx.tables == nil {
		tx.tables = maps.Clone(tx.base.tables)
		tx.names = tx.base.names
		tx.owned = map[string]bool{}
	}
	t := &tableState{
		def:        def.Clone(),
		defLSN:     tx.lsn,
		createdLSN: tx.lsn,
		rows:       newRowTree(),
		tombs:      newTombTree(),
		seqs:       make([]int64, len(def.Columns)),
	}
	for range def.Indexes {
		t.idx = append(t.idx, newIdxTree())
	}
	tx.tables[def.Name] = t
	tx.owned[def.Name] = true
	names := slices.Clone(tx.names)
	i, _ := slices.BinarySearch(names, def.Name)
	tx.names = slices.Insert(names, i, def.Name)
	return nil
}

func (tx *txn) dropTable(name string) error {
	t, err := tx.writable(name)
	if err != nil {
		return err
	}
	tx.written += t.bytes
	delete(tx.tables, name)
	delete(tx.owned, name)
	names := slices.Clone(tx.names)
	if i, ok := slices.BinarySearch(names, name); ok {
		names = slices.Delete(names, i, i+1)
	}
	tx.names = names
	return nil
}

func (tx *txn) createIndex(table string, ix *IndexDef) error {
	if ix == nil {
		return newError(CodeInternal, "engine: create index without definition")
	}
	t, err := tx.writable(table)
	if err != nil {
		return err
	}
	if _, dup := tx.allIndexNames()[ix.Name]; dup || tx.lookup(ix.Name) != nil {
		return newErrorf(CodeDuplicateTable, "relation %q already exists", ix.Name)
	}
	def := t.def.Clone()
	def.Indexes = append(def.Indexes, IndexDef{Name: ix.Name, Columns: slices.Clone(ix.Columns), Unique: ix.Unique, Constraint: ix.Constraint})
	if err := def.Validate(); err != nil {
		return err
	}
	tree, err := buildIndex(def, len(def.Indexes)-1, t.rows)
	if err != nil {
		return err
	}
	t.def = def
	t.idx = append(slices.Clone(t.idx), tree)
	t.defLSN = tx.lsn
	return nil
}

func buildIndex(def *TableDef, ix int, rows *rowTree) (tree *btreeIdx, err error) {
	tree = newIdxTree()
	cols := def.Indexes[ix].Columns
	unique := def.Indexes[ix].Unique
	var off []int32
	var k []byte
	rows.Scan(func(it rowItem) bool {
		key, enc, _ := it.r.fields()
		off, err = rowFields(stringBytes(enc), off)
		if err != nil {
			return false
		}
		var hasNull bool
		k, hasNull = appendKeyFromRow(k[:0], stringBytes(enc), off, cols)
		if unique && !hasNull {
			if _, found := indexLookup(tree, k, len(cols)); found {
				row, _, _ := DecodeRow(stringBytes(enc))
				err = (&txn{}).uniqueViolation(def, def.Indexes[ix].Name, cols, row)
				return false
			}
		}
		tree.Set(newIdxEntry(k, key))
		return true
	})
	return tree, err
}

func (tx *txn) dropIndex(table, name string) error {
	t, err := tx.writable(table)
	if err != nil {
		return err
	}
	i := t.def.IndexByName(name)
	if i < 0 {
		return newErrorf(CodeUndefinedObject, "index %q does not exist", name)
	}
	def := t.def.Clone()
	def.Indexes = slices.Delete(def.Indexes, i, i+1)
	t.def = def
	t.idx = slices.Delete(slices.Clone(t.idx), i, i+1)
	t.defLSN = tx.lsn
	return nil
}
