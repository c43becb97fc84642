package engine

import (
	"slices"
	"strings"
)

// Hidden tables. A restore streams a dump into staging tables over many
// change sets and then swaps them in with one small change set (OpPromote),
// so clients never see half a restore and no log entry holds the whole
// dump. Hidden tables start with a NUL byte, which no SQL identifier can
// contain, so a client can neither name nor create one. TableNames, the
// catalogs built on it and incremental dumps leave them out;
// AllTableNames (raft snapshots, Canonical) keeps them, so a replica that
// installs a snapshot mid-restore still holds the staged rows.
const (
	// HiddenPrefix starts every hidden table name.
	HiddenPrefix = "\x00"
	// stagingPrefix + restore id + "/" + table names a staging table.
	stagingPrefix = HiddenPrefix + "staging/"
	// RestoreStateTable is the hidden table recording the dump the database
	// was last restored from (see node/restore.go).
	RestoreStateTable = HiddenPrefix + "restore_state"
)

// IsHidden reports whether a table name is hidden from clients.
func IsHidden(name string) bool { return strings.HasPrefix(name, HiddenPrefix) }

// StagingName is the staging table of table for the restore with the given
// id (any string without "/").
func StagingName(id, table string) string { return stagingPrefix + id + "/" + table }

// IsStaging reports whether name is a staging table, and of which restore.
func IsStaging(name string) (id string, ok bool) {
	rest, ok := strings.CutPrefix(name, stagingPrefix)
	if !ok {
		return "", false
	}
	id, _, ok = strings.Cut(rest, "/")
	return id, ok
}

// BaseName is the table a staging table stands for (name itself otherwise).
// Row hashes are computed over the base name, so a staged table's hash sum
// is the one the dump's footer recorded and survives OpPromote unchanged.
func BaseName(name string) string {
	if !strings.HasPrefix(name, stagingPrefix) {
		return name
	}
	rest := name[len(stagingPrefix):]
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		return rest[i+1:]
	}
	return name
}

// StagingDef returns def renamed for staging: the table and its index and
// primary-key constraint names carry the staging prefix, because index
// names are unique across the whole database and the live table still
// holds the real ones.
func StagingDef(id string, def *TableDef) *TableDef {
	c := def.Clone()
	c.Name = StagingName(id, def.Name)
	if c.PKName != "" {
		c.PKName = StagingName(id, c.PKName)
	}
	for i := range c.Indexes {
		c.Indexes[i].Name = StagingName(id, c.Indexes[i].Name)
	}
	return c
}

// unstageDef undoes StagingDef.
func unstageDef(def *TableDef) *TableDef {
	c := def.Clone()
	c.Name = BaseName(def.Name)
	c.PKName = BaseName(c.PKName)
	for i := range c.Indexes {
		c.Indexes[i].Name = BaseName(c.Indexes[i].Name)
	}
	return c
}

// AllTableNames returns every table name, hidden ones included, sorted.
func (s *State) AllTableNames() []string { return slices.Clone(s.names) }

// visibleNames filters hidden tables out of sorted names. Hidden names
// start with NUL, so they sort first.
func visibleNames(names []string) []string {
	i := 0
	for i < len(names) && IsHidden(names[i]) {
		i++
	}
	return slices.Clone(names[i:])
}

// PromotePolicy says how OpPromote moves a staging table into its target.
// Part of the log format: never renumber.
type PromotePolicy int

// Promote policies.
const (
	// PromoteReplace: the target becomes exactly the staged table (created
	// if absent, replaced otherwise).
	PromoteReplace PromotePolicy = 0
	// PromoteMergeError inserts every staged row; a row whose key exists
	// fails the whole change set with 23505 naming the table and key.
	PromoteMergeError PromotePolicy = 1
	// PromoteMergeSkip inserts staged rows whose key is absent.
	PromoteMergeSkip PromotePolicy = 2
	// PromoteMergeUpdate inserts or replaces every staged row.
	PromoteMergeUpdate PromotePolicy = 3
	// PromoteDelta applies an incremental segment: the staged table's
	// tombstones delete, its rows replace (unique checks are skipped while
	// rows pass through transient states; the caller checks hash sums).
	PromoteDelta PromotePolicy = 4
)

// applyTombstone records a deleted key in a (staging) table: the row is
// removed if present and the tombstone kept even if it was not, because
// the staged tombstones are what PromoteDelta deletes from the target.
func (tx *txn) applyTombstone(op *Op) error {
	t, err := tx.writable(op.Table)
	if err != nil {
		return err
	}
	if !tx.deleteRow(t, op.Key) {
		tx.setTombstone(t, op.Key)
	}
	return nil
}

// promote moves staging table op.Table into op.Name per PromotePolicy
// op.Seq and drops the staging table. Replace is O(1) in the table size
// (the trees are shared copy-on-write); merges are O(staged rows).
func (tx *txn) promote(op *Op) error {
	if _, ok := IsStaging(op.Table); !ok || op.Name == "" || IsHidden(op.Name) || BaseName(op.Table) != op.Name {
		return newErrorf(CodeInternal, "engine: promote %q into %q: not a staging table of that name", op.Table, op.Name)
	}
	src, err := tx.writable(op.Table)
	if err != nil {
		return err
	}
	target := tx.lookup(op.Name)
	policy := PromotePolicy(op.Seq)
	switch {
	case policy == PromoteReplace || (target == nil && policy != PromoteDelta):
		return tx.replaceWith(op, src)
	case target == nil:
		return newErrorf(CodeUndefinedTable, "relation %q does not exist: an incremental dump changes it, restore the base dump first", op.Name)
	}
	if !sameColumns(target.def, src.def) {
		return newErrorf(CodeDatatypeMismatch, "table %q in the dump has different columns than in the database: restore it with --mode clean", op.Name)
	}
	dst, err := tx.writable(op.Name)
	if err != nil {
		return err
	}
	if policy == PromoteDelta {
		saved := tx.trusted
		tx.trusted = true
		defer func() { tx.trusted = saved }()
		src.tombs.Scan(func(r tombItem) bool {
			tx.deleteRow(dst, r.key())
			return true
		})
	}
	var perr error
	src.rows.Scan(func(it rowItem) bool {
		kind := OpUpsert
		key, row, _ := it.r.fields()
		if _, exists := dst.rows.Get(key); exists {
			switch policy {
			case PromoteMergeSkip:
				return true
			case PromoteMergeError:
				kind = OpInsert // put reports the duplicate key with its values
			}
		}
		perr = tx.put(&Op{Kind: kind, Table: op.Name, Key: key, Row: stringBytes(row)})
		return perr == nil
	})
	if perr != nil {
		return perr
	}
	// Sequences never go back: rows taken from the dump may have used
	// identity values beyond the target's.
	dst.rowIDSeq = max(dst.rowIDSeq, src.rowIDSeq)
	for i := range dst.seqs {
		if i < len(src.seqs) {
			dst.seqs[i] = max(dst.seqs[i], src.seqs[i])
		}
	}
	return tx.dropTable(op.Table)
}

// replaceWith makes src, renamed, the table op.Name.
func (tx *txn) replaceWith(op *Op, src *tableState) error {
	if tx.lookup(op.Name) != nil {
		if err := tx.dropTable(op.Name); err != nil {
			return err
		}
	}
	def := unstageDef(src.def)
	existing := tx.allIndexNames()
	for _, ix := range append(slices.Clone(def.Indexes), IndexDef{Name: def.PKName}) {
		if ix.Name == "" {
			continue
		}
		if owner, dup := existing[ix.Name]; (dup && owner != op.Table) || tx.lookup(ix.Name) != nil {
			return newErrorf(CodeDuplicateTable, "relation %q already exists: the restored table %q needs that name for an index", ix.Name, op.Name)
		}
	}
	if err := tx.dropTable(op.Table); err != nil {
		return err
	}
	t := *src
	t.def = def
	t.defLSN, t.createdLSN = tx.lsn, tx.lsn
	t.tombs = newTombTree()
	t.log.reset(tx.lsn)
	tx.tables[op.Name] = &t
	tx.owned[op.Name] = true
	names := slices.Clone(tx.names)
	i, _ := slices.BinarySearch(names, op.Name)
	tx.names = slices.Insert(names, i, op.Name)
	return nil
}

func sameColumns(a, b *TableDef) bool {
	return slices.EqualFunc(a.Columns, b.Columns, func(x, y ColumnDef) bool {
		return x.Name == y.Name && x.Type == y.Type
	}) && slices.Equal(a.PrimaryKey, b.PrimaryKey)
}
