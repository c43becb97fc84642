package engine

import "slices"

// TableMeta is the per-table bookkeeping a snapshot carries besides rows,
// so that a restored replica is identical to the one that was dumped.
type TableMeta struct {
	DefLSN     uint64
	CreatedLSN uint64
	RowIDSeq   int64
	Seqs       []int64 // per column
}

// Meta returns the table's bookkeeping for a snapshot.
func (t Table) Meta() TableMeta {
	return TableMeta{DefLSN: t.t.defLSN, CreatedLSN: t.t.createdLSN, RowIDSeq: t.t.rowIDSeq, Seqs: slices.Clone(t.t.seqs)}
}

// Builder assembles a State from a stream of tables, rows and tombstones
// (restore of a dump or raft snapshot). It is not safe for concurrent use.
// Rows keep the LSNs given to them; Finish checks nothing about their order.
type Builder struct {
	st    *State
	owned map[string]bool
	tx    txn
	bulk  map[string]*bulkLoad // tables on the PutHashed fast path
	// Cache of the last PutHashed table (rows arrive table by table).
	lastName  string
	lastBulk  *bulkLoad
	lastTable *tableState
	// maxLSN is the highest LSN given to a row or tombstone: the change
	// logs of the tables built start there (see Finish).
	maxLSN uint64
}

// NewBuilder starts an empty state that will have the given LSN.
func NewBuilder(lsn uint64) *Builder {
	return &Builder{st: &State{lsn: lsn, tables: map[string]*tableState{}}, owned: map[string]bool{}, tx: txn{lsn: lsn}}
}

// NewBuilderFrom starts from an existing state (applying an incremental
// segment on top of a base). The base is not modified.
func NewBuilderFrom(base *State, lsn uint64) *Builder {
	st := *base
	st.tables = make(map[string]*tableState, len(base.tables))
	for k, v := range base.tables {
		st.tables[k] = v
	}
	st.names = slices.Clone(base.names)
	if lsn > st.lsn {
		st.lsn = lsn
	}
	return &Builder{st: &st, owned: map[string]bool{}, tx: txn{lsn: lsn}}
}

// TrustRows makes later Puts skip unique-index checks. A restore of an
// incremental segment replaces rows one at a time in key order and may pass
// through states where two rows briefly share a unique value that the
// dumped state did not have; the caller vouches for the final state (the
// snapshot package checks it against the dump's row-hash sums).
func (b *Builder) TrustRows() { b.tx.trusted = true }

// SetHorizon sets the tombstone horizon of the state being built.
func (b *Builder) SetHorizon(h uint64) { b.st.horizon = h }

// SetLSN sets the LSN of the state being built.
func (b *Builder) SetLSN(lsn uint64) { b.st.lsn = lsn }

// CreateTable adds (or replaces, emptied) a table.
func (b *Builder) CreateTable(def *TableDef, meta TableMeta) error {
	if err := def.Validate(); err != nil {
		return err
	}
	t := &tableState{
		def:        def.Clone(),
		defLSN:     meta.DefLSN,
		createdLSN: meta.CreatedLSN,
		rows:       newRowTree(),
		tombs:      newTombTree(),
		rowIDSeq:   meta.RowIDSeq,
		seqs:       make([]int64, len(def.Columns)),
	}
	copy(t.seqs, meta.Seqs)
	for range def.Indexes {
		t.idx = append(t.idx, newIdxTree())
	}
	if _, exists := b.st.tables[def.Name]; !exists {
		i, _ := slices.BinarySearch(b.st.names, def.Name)
		b.st.names = slices.Insert(b.st.names, i, def.Name)
	}
	b.settle(def.Name)
	b.st.tables[def.Name] = t
	b.owned[def.Name] = true
	if b.bulk == nil {
		b.bulk = map[string]*bulkLoad{}
	}
	bl := &bulkLoad{rows: newTreeBuilder[rowItem](t.rows.max), idx: make([][]idxItem, len(def.Indexes)), leaves: new([NumLeaves]uint64)}
	for i, c := range t.def.Columns {
		if c.NotNull {
			bl.notNull = append(bl.notNull, i)
		}
	}
	b.bulk[def.Name] = bl
	return nil
}

// UpdateMeta replaces the bookkeeping of an existing table.
func (b *Builder) UpdateMeta(table string, def *TableDef, meta TableMeta) error {
	b.settle(table)
	t, err := b.writable(table)
	if err != nil {
		return err
	}
	if def != nil {
		t.def = def.Clone()
	}
	t.defLSN, t.createdLSN, t.rowIDSeq = meta.DefLSN, meta.CreatedLSN, meta.RowIDSeq
	t.seqs = make([]int64, len(t.def.Columns))
	copy(t.seqs, meta.Seqs)
	return nil
}

// DropTable removes a table if present.
func (b *Builder) DropTable(name string) {
	delete(b.bulk, name)
	b.lastName, b.lastBulk, b.lastTable = "", nil, nil
	if _, ok := b.st.tables[name]; !ok {
		return
	}
	delete(b.st.tables, name)
	if i, ok := slices.BinarySearch(b.st.names, name); ok {
		b.st.names = slices.Delete(b.st.names, i, i+1)
	}
}

// HasTable reports whether the state being built has the table.
func (b *Builder) HasTable(name string) bool { _, ok := b.st.tables[name]; return ok }

func (b *Builder) writable(name string) (*tableState, error) {
	t, ok := b.st.tables[name]
	if !ok {
		return nil, newErrorf(CodeUndefinedTable, "relation %q does not exist", name)
	}
	if !b.owned[name] {
		t = t.clone()
		b.st.tables[name] = t
		b.owned[name] = true
	}
	return t, nil
}

// Put adds or replaces a row (canonical encoding enc) at key with its LSN,
// checking the table's constraints.
func (b *Builder) Put(table, key string, enc []byte, lsn uint64) error {
	if len(b.bulk) > 0 {
		b.settle(table)
	}
	t, err := b.writable(table)
	if err != nil {
		return err
	}
	row, _, err := DecodeRow(enc)
	if err != nil {
		return err
	}
	if len(row) != len(t.def.Columns) {
		return newErrorf(CodeDataCorrupted, "row for %q has %d columns, table has %d", table, len(row), len(t.def.Columns))
	}
	if old, ok := t.rows.Get(key); ok {
		b.tx.unlinkRow(t, old)
		t.rows.Delete(key)
	}
	b.tx.lsn = lsn
	b.maxLSN = max(b.maxLSN, lsn)
	op := Op{Kind: OpInsert, Table: table, Key: key, Row: enc}
	if err := b.tx.putInto(t, &op, row); err != nil {
		return err
	}
	if _, ok := t.tombs.Get(key); ok {
		t.tombs.Delete(key)
	}
	return nil
}

// Delete removes a row (if present) and records its tombstone at lsn.
func (b *Builder) Delete(table, key string, lsn uint64) error {
	if len(b.bulk) > 0 {
		b.settle(table)
	}
	t, err := b.writable(table)
	if err != nil {
		return err
	}
	b.tx.lsn = lsn
	b.maxLSN = max(b.maxLSN, lsn)
	if !b.tx.deleteRow(t, key) {
		b.tx.setTombstone(t, key)
	}
	return nil
}

// Truncate empties a table, keeping its definition.
func (b *Builder) Truncate(table string, lsn uint64) error {
	b.settle(table)
	t, err := b.writable(table)
	if err != nil {
		return err
	}
	b.tx.lsn = lsn
	b.maxLSN = max(b.maxLSN, lsn)
	b.tx.truncate(t)
	return nil
}

// Finish returns the built state. The builder must not be used afterwards.
func (b *Builder) Finish() *State {
	b.settleAll()
	st := b.st
	// Rows arrived with LSNs of their own, in no LSN order: the change log
	// of every table written here starts after all of them.
	for name := range b.owned {
		if t := st.tables[name]; t != nil {
			t.log.reset(max(st.lsn, b.maxLSN))
		}
	}
	st.written += b.tx.written
	b.st = nil
	return st
}
