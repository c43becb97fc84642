package engine

import (
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
)

// alter applies one ALTER TABLE action. Actions that change every row
// (add/drop column, add primary key) rewrite the table and move its base
// LSN, so the next incremental dump carries the whole table.
func (tx *txn) alter(table string, a *Alter) error {
	if a == nil {
		return newError(CodeInternal, "engine: alter without action")
	}
	t, err := tx.writable(table)
	if err != nil {
		return err
	}
	def := t.def.Clone()
	col := func(name string) (int, error) {
		i := def.ColumnIndex(name)
		if i < 0 {
			return 0, newErrorf(CodeUndefinedColumn, "column %q of relation %q does not exist", name, table)
		}
		return i, nil
	}
	switch a.Kind {
	case AlterRenameTable:
		if tx.lookup(a.NewName) != nil {
			return newErrorf(CodeDuplicateTable, "relation %q already exists", a.NewName)
		}
		def.Name = a.NewName
		t.def = def
		t.defLSN = tx.lsn
		delete(tx.tables, table)
		delete(tx.owned, table)
		tx.tables[a.NewName] = t
		tx.owned[a.NewName] = true
		names := slices.Clone(tx.names)
		if i, ok := slices.BinarySearch(names, table); ok {
			names = slices.Delete(names, i, i+1)
		}
		i, _ := slices.BinarySearch(names, a.NewName)
		tx.names = slices.Insert(names, i, a.NewName)
		// Rows hash with their table name; a rename re-hashes them.
		return tx.rewrite(t, def, func(r Row) (Row, error) { return r, nil })
	case AlterRenameColumn:
		i, err := col(a.Name)
		if err != nil {
			return err
		}
		if def.ColumnIndex(a.NewName) >= 0 {
			return newErrorf(CodeDuplicateColumn, "column %q of relation %q already exists", a.NewName, table)
		}
		def.Columns[i].Name = a.NewName
	case AlterSetDefault:
		i, err := col(a.Name)
		if err != nil {
			return err
		}
		def.Columns[i].Default = a.Column.Default
	case AlterSetNotNull:
		i, err := col(a.Name)
		if err != nil {
			return err
		}
		if a.Flag {
			var bad error
			t.rows.Scan(func(it rowItem) bool {
				_, enc, _ := it.r.fields()
				r, _, err := DecodeRow(stringBytes(enc))
				if err != nil || r[i] == nil {
					bad = newErrorf(CodeNotNullViolation, "column %q of relation %q contains null values", a.Name, table)
					return false
				}
				return true
			})
			if bad != nil {
				return bad
			}
		}
		def.Columns[i].NotNull = a.Flag
	case AlterAddColumn:
		if def.ColumnIndex(a.Column.Name) >= 0 {
			return newErrorf(CodeDuplicateColumn, "column %q of relation %q already exists", a.Column.Name, table)
		}
		if a.Column.NotNull && a.Fill == nil && t.rows.Len() > 0 {
			return newErrorf(CodeNotNullViolation, "column %q of relation %q contains null values", a.Column.Name, table)
		}
		def.Columns = append(def.Columns, a.Column)
		if err := def.Validate(); err != nil {
			return err
		}
		t.seqs = append(t.seqs, 0)
		return tx.rewrite(t, def, func(r Row) (Row, error) { return append(r, a.Fill), nil })
	case AlterDropColumn:
		i, err := col(a.Name)
		if err != nil {
			return err
		}
		if slices.Contains(def.PrimaryKey, i) {
			return newErrorf(CodeFeatureNotSupported, "cannot drop column %q because it is part of the primary key of %q", a.Name, table)
		}
		if len(def.Columns) == 1 {
			return newErrorf(CodeFeatureNotSupported, "cannot drop the only column of %q", table)
		}
		def.Columns = slices.Delete(def.Columns, i, i+1)
		fix := func(cols []int) []int {
			out := cols[:0:0]
			for _, c := range cols {
				if c > i {
					c--
				}
				out = append(out, c)
			}
			return out
		}
		def.PrimaryKey = fix(def.PrimaryKey)
		// PostgreSQL drops indexes that use the column.
		kept := def.Indexes[:0:0]
		for _, ix := range def.Indexes {
			if slices.Contains(ix.Columns, i) {
				continue
			}
			ix.Columns = fix(ix.Columns)
			kept = append(kept, ix)
		}
		def.Indexes = kept
		t.seqs = slices.Delete(t.seqs, i, i+1)
		return tx.rewrite(t, def, func(r Row) (Row, error) { return slices.Delete(r, i, i+1), nil })
	case AlterAddPrimary:
		if len(def.PrimaryKey) > 0 {
			return newErrorf(CodeInvalidPrimaryKey, "multiple primary keys for table %q are not allowed", table)
		}
		def.PrimaryKey = slices.Clone(a.Columns)
		def.PKName = a.NewName
		for _, ci := range a.Columns {
			if ci < 0 || ci >= len(def.Columns) {
				return newErrorf(CodeUndefinedColumn, "primary key column does not exist")
			}
			def.Columns[ci].NotNull = true
		}
		return tx.rewrite(t, def, func(r Row) (Row, error) { return r, nil })
	case AlterAddUnique:
		t.def = def
		return tx.createIndex(table, &IndexDef{Name: a.NewName, Columns: a.Columns, Unique: true, Constraint: true})
	default:
		return newErrorf(CodeInternal, "engine: unknown alter action %d", a.Kind)
	}
	t.def = def
	t.defLSN = tx.lsn
	return nil
}

// rewrite rebuilds every row of t under def through f, re-keying,
// re-indexing and re-hashing them, with the constraints of def checked.
func (tx *txn) rewrite(t *tableState, def *TableDef, f func(Row) (Row, error)) error {
	old := t.rows
	t.def = def
	t.defLSN = tx.lsn
	t.createdLSN = tx.lsn
	t.rows = newRowTree()
	t.idx = make([]*btreeIdx, len(def.Indexes))
	for i := range t.idx {
		t.idx[i] = newIdxTree()
	}
	t.tombs = newTombTree()
	t.hashSum, t.leaves, t.bytes = 0, leafSet{}, 0
	var err error
	old.Scan(func(it rowItem) bool {
		var r Row
		key, row, _ := it.r.fields()
		r, _, err = DecodeRow(stringBytes(row))
		if err != nil {
			return false
		}
		if r, err = f(r); err != nil {
			return false
		}
		if !def.HasHiddenRowID() {
			if key, err = def.KeyOf(r); err != nil {
				return false
			}
		}
		var enc []byte
		if enc, err = EncodeRow(nil, r); err != nil {
			return false
		}
		op := Op{Kind: OpInsert, Table: def.Name, Key: key, Row: enc}
		err = tx.putInto(t, &op, r)
		return err == nil
	})
	t.log.reset(tx.lsn) // every row is new as of tx.lsn (createdLSN)
	return err
}

// putInto inserts a decoded row into t (used by rewrite, where t is not
// reachable through tx.writable under its possibly new name).
func (tx *txn) putInto(t *tableState, op *Op, row Row) error {
	def := t.def
	for i, c := range def.Columns {
		if c.NotNull && row[i] == nil {
			return newErrorf(CodeNotNullViolation, "column %q of relation %q contains null values", c.Name, def.Name)
		}
	}
	if _, exists := t.rows.Get(op.Key); exists {
		return tx.uniqueViolation(def, def.PKName, def.PrimaryKey, row)
	}
	for i, ix := range def.Indexes {
		k, hasNull := def.IndexKey(i, row)
		if ix.Unique && !hasNull && !tx.trusted {
			if _, found := indexLookup(t.idx[i], k, len(ix.Columns)); found {
				return tx.uniqueViolation(def, ix.Name, ix.Columns, row)
			}
		}
		t.idx[i].Set(newIdxEntry(k, op.Key))
	}
	r := newRec(op.Key, bytesString(op.Row), tx.lsn)
	_, enc, _ := r.fields()
	it := rowItem{r: r, hash: RowHash(def.Name, op.Key, enc)}
	t.rows.Load(it)
	t.log.add(r, t.rows.Len(), t.bytes)
	t.hashSum += it.hash
	t.leaves.add(LeafOf(op.Key), it.hash)
	t.bytes += int64(len(enc))
	t.written += int64(len(enc))
	tx.written += int64(len(enc))
	return nil
}

// FormatValue renders a value as PostgreSQL's text output would (used in
// error details and tools; the wire layer has its own encoders).
func FormatValue(v Value) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		switch {
		case math.IsNaN(x):
			return "NaN"
		case math.IsInf(x, 1):
			return "Infinity"
		case math.IsInf(x, -1):
			return "-Infinity"
		}
		return strconv.FormatFloat(x, 'g', -1, 64)
	case Numeric:
		return string(x)
	case bool:
		if x {
			return "t"
		}
		return "f"
	case string:
		return x
	case []byte:
		return `\x` + hex.EncodeToString(x)
	case Date:
		return time.Unix(int64(x)*86400, 0).UTC().Format("2006-01-02")
	case Timestamp:
		return time.UnixMicro(int64(x)).UTC().Format("2006-01-02 15:04:05.999999")
	case UUID:
		h := hex.EncodeToString(x[:])
		return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
	}
	return fmt.Sprint(v)
}
