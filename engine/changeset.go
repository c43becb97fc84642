package engine

import (
	"encoding/binary"
	"fmt"
)

// OpKind identifies a change-set operation. Values are part of the raft log
// format: never renumber, only append.
type OpKind uint8

// Operations.
const (
	OpInsert      OpKind = 1  // Row into Table at Key; Key must be absent (23505)
	OpUpdate      OpKind = 2  // replace the row at Key with Row; Key must exist
	OpUpsert      OpKind = 3  // insert or replace Row at Key
	OpDelete      OpKind = 4  // delete the row at Key; absent is a no-op
	OpCreateTable OpKind = 5  // Def
	OpDropTable   OpKind = 6  // Table
	OpCreateIndex OpKind = 7  // Index on Table (existing rows are indexed; unique checked)
	OpDropIndex   OpKind = 8  // index Name of Table
	OpAlterTable  OpKind = 9  // Alter on Table
	OpTruncate    OpKind = 10 // remove every row of Table
	OpSetSequence OpKind = 11 // Table's sequence for column Seq (-1 = row id) := Value
	OpTombstone   OpKind = 12 // delete Key from Table and keep its tombstone even if absent (staging)
	OpPromote     OpKind = 13 // move staging Table into Name per PromotePolicy Seq (see staging.go)
)

// AlterKind is the kind of an ALTER TABLE action.
type AlterKind uint8

// ALTER TABLE actions. Part of the log format.
const (
	AlterAddColumn    AlterKind = 1 // Column; existing rows get Fill
	AlterDropColumn   AlterKind = 2 // column Name
	AlterRenameColumn AlterKind = 3 // Name -> NewName
	AlterRenameTable  AlterKind = 4 // table -> NewName
	AlterAddPrimary   AlterKind = 5 // Columns, NewName = constraint name
	AlterAddUnique    AlterKind = 6 // Columns, NewName = constraint/index name
	AlterSetNotNull   AlterKind = 7 // column Name, Flag
	AlterSetDefault   AlterKind = 8 // column Name, Column.Default
)

// Alter is one ALTER TABLE action.
type Alter struct {
	Kind    AlterKind
	Column  ColumnDef
	Fill    Value
	Name    string
	NewName string
	Columns []int
	Flag    bool
}

// Op is one operation of a change set. Key is an EncodeKey encoding (the
// primary key values, or EncodeRowID for tables without one). Row is an
// EncodeRow encoding; it must not be modified after the op is built.
type Op struct {
	Kind  OpKind
	Table string
	Key   string
	Row   []byte
	Def   *TableDef
	Index *IndexDef
	Name  string
	Alter *Alter
	Seq   int
	Value int64
}

// Precondition is a fact a statement relied on when it was evaluated. Apply
// checks every precondition before changing anything; a failed one fails
// the whole change set with a serialization failure (40001).
type Precondition struct {
	Table string
	// Kind says what is asserted.
	Kind PreconditionKind
	Key  string // PreRowLSN, PreAbsent
	LSN  uint64 // PreRowLSN: the LSN the row had when read
	Seq  int    // PreSequence: column ordinal, -1 for the row id
	// Value is the sequence value that was read (PreSequence).
	Value int64
	// TableLSN is the table's schema LSN (PreSchema): DDL since then
	// invalidates the statement's plan.
	TableLSN uint64
}

// PreconditionKind enumerates preconditions. Part of the log format.
type PreconditionKind uint8

// Precondition kinds.
const (
	PreRowLSN   PreconditionKind = 1 // row at Key exists with LSN
	PreAbsent   PreconditionKind = 2 // no row at Key
	PreSequence PreconditionKind = 3 // sequence Seq has Value
	PreSchema   PreconditionKind = 4 // table's schema unchanged since TableLSN (absent table: TableLSN 0)
)

// ChangeSet is the unit of replication: the whole effect of one statement
// or transaction. Apply installs all of it or none of it.
type ChangeSet struct {
	Preconditions []Precondition
	Ops           []Op
}

// changeSetVersion is the encoding version of change sets. Decoders refuse
// versions they do not know rather than guessing.
const changeSetVersion = 1

// MaxChangeSetOps bounds the number of operations a decoder accepts, so a
// corrupt length can never make it allocate without bound.
const MaxChangeSetOps = 1 << 24

// Encode appends the versioned binary encoding of cs to dst.
func (cs *ChangeSet) Encode(dst []byte) []byte {
	dst = append(dst, changeSetVersion)
	dst = binary.AppendUvarint(dst, uint64(len(cs.Preconditions)))
	for _, p := range cs.Preconditions {
		dst = append(dst, byte(p.Kind))
		dst = appendString(dst, p.Table)
		switch p.Kind {
		case PreRowLSN:
			dst = appendString(dst, p.Key)
			dst = binary.AppendUvarint(dst, p.LSN)
		case PreAbsent:
			dst = appendString(dst, p.Key)
		case PreSequence:
			dst = binary.AppendVarint(dst, int64(p.Seq))
			dst = binary.AppendVarint(dst, p.Value)
		case PreSchema:
			dst = binary.AppendUvarint(dst, p.TableLSN)
		}
	}
	dst = binary.AppendUvarint(dst, uint64(len(cs.Ops)))
	for i := range cs.Ops {
		op := &cs.Ops[i]
		dst = append(dst, byte(op.Kind))
		dst = appendString(dst, op.Table)
		switch op.Kind {
		case OpInsert, OpUpdate, OpUpsert:
			dst = appendString(dst, op.Key)
			dst = appendBytes(dst, op.Row)
		case OpDelete, OpTombstone:
			dst = appendString(dst, op.Key)
		case OpPromote:
			dst = appendString(dst, op.Name)
			dst = binary.AppendVarint(dst, int64(op.Seq))
		case OpCreateTable:
			dst = AppendTableDef(dst, op.Def)
		case OpCreateIndex:
			dst = appendIndexDef(dst, op.Index)
		case OpDropIndex:
			dst = appendString(dst, op.Name)
		case OpAlterTable:
			dst = appendAlter(dst, op.Alter)
		case OpSetSequence:
			dst = binary.AppendVarint(dst, int64(op.Seq))
			dst = binary.AppendVarint(dst, op.Value)
		}
	}
	return dst
}

// DecodeChangeSet decodes an encoding produced by Encode. It is safe on
// untrusted input: malformed bytes give an error wrapping ErrCorrupt, never
// a panic or an allocation larger than the input allows.
func DecodeChangeSet(b []byte) (*ChangeSet, error) {
	d := decoder{b: b}
	v := d.byte()
	if d.err == nil && v != changeSetVersion {
		return nil, corruptf("change set version %d is not supported (this build reads version %d)", v, changeSetVersion)
	}
	cs := &ChangeSet{}
	np := d.count(3)
	if np > 0 {
		cs.Preconditions = make([]Precondition, 0, np)
	}
	for i := 0; i < np && d.err == nil; i++ {
		p := Precondition{Kind: PreconditionKind(d.byte()), Table: d.string()}
		switch p.Kind {
		case PreRowLSN:
			p.Key = d.string()
			p.LSN = d.uvarint()
		case PreAbsent:
			p.Key = d.string()
		case PreSequence:
			p.Seq = int(d.varint())
			p.Value = d.varint()
		case PreSchema:
			p.TableLSN = d.uvarint()
		default:
			d.fail("unknown precondition kind %d", p.Kind)
		}
		cs.Preconditions = append(cs.Preconditions, p)
	}
	no := d.count(3)
	if no > 0 {
		cs.Ops = make([]Op, 0, no)
	}
	for i := 0; i < no && d.err == nil; i++ {
		op := Op{Kind: OpKind(d.byte()), Table: d.string()}
		switch op.Kind {
		case OpInsert, OpUpdate, OpUpsert:
			op.Key = d.string()
			op.Row = d.bytes()
		case OpDelete, OpTombstone:
			op.Key = d.string()
		case OpPromote:
			op.Name = d.string()
			op.Seq = int(d.varint())
		case OpCreateTable:
			op.Def = d.tableDef()
		case OpDropTable, OpTruncate:
		case OpCreateIndex:
			ix := d.indexDef()
			op.Index = &ix
		case OpDropIndex:
			op.Name = d.string()
		case OpAlterTable:
			op.Alter = d.alter()
		case OpSetSequence:
			op.Seq = int(d.varint())
			op.Value = d.varint()
		default:
			d.fail("unknown op kind %d", op.Kind)
		}
		cs.Ops = append(cs.Ops, op)
	}
	if d.err == nil && d.off != len(d.b) {
		d.fail("%d trailing bytes", len(d.b)-d.off)
	}
	if d.err != nil {
		return nil, d.err
	}
	return cs, nil
}

// AppendTableDef appends the binary encoding of a table definition (shared
// by change sets and .heliodump schema sections).
func AppendTableDef(dst []byte, d *TableDef) []byte {
	dst = append(dst, 1) // table def encoding version
	dst = appendString(dst, d.Name)
	dst = binary.AppendUvarint(dst, uint64(len(d.Columns)))
	for _, c := range d.Columns {
		dst = appendString(dst, c.Name)
		dst = append(dst, byte(c.Type))
		dst = binary.AppendVarint(dst, int64(c.Length))
		dst = binary.AppendVarint(dst, int64(c.Precision))
		dst = binary.AppendVarint(dst, int64(c.Scale))
		var flags byte
		if c.NotNull {
			flags |= 1
		}
		if c.Identity {
			flags |= 2
		}
		switch c.Generated {
		case 'a':
			flags |= 4
		case 'd':
			flags |= 8
		}
		dst = append(dst, flags)
		dst = appendString(dst, c.Default)
	}
	dst = appendInts(dst, d.PrimaryKey)
	dst = appendString(dst, d.PKName)
	dst = binary.AppendUvarint(dst, uint64(len(d.Indexes)))
	for i := range d.Indexes {
		dst = appendIndexDef(dst, &d.Indexes[i])
	}
	return dst
}

// DecodeTableDef decodes one AppendTableDef encoding from the start of b.
func DecodeTableDef(b []byte) (*TableDef, int, error) {
	d := decoder{b: b}
	def := d.tableDef()
	if d.err != nil {
		return nil, 0, d.err
	}
	return def, d.off, nil
}

func appendIndexDef(dst []byte, ix *IndexDef) []byte {
	dst = appendString(dst, ix.Name)
	dst = appendInts(dst, ix.Columns)
	var flags byte
	if ix.Unique {
		flags |= 1
	}
	if ix.Constraint {
		flags |= 2
	}
	return append(dst, flags)
}

func appendAlter(dst []byte, a *Alter) []byte {
	dst = append(dst, byte(a.Kind))
	tmp := &TableDef{Columns: []ColumnDef{a.Column}}
	// Reuse the column encoding through a one-column table def.
	dst = AppendTableDef(dst, tmp)
	row, err := EncodeRow(nil, Row{a.Fill})
	if err != nil {
		row, _ = EncodeRow(nil, Row{nil})
	}
	dst = appendBytes(dst, row)
	dst = appendString(dst, a.Name)
	dst = appendString(dst, a.NewName)
	dst = appendInts(dst, a.Columns)
	if a.Flag {
		return append(dst, 1)
	}
	return append(dst, 0)
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

func appendInts(dst []byte, xs []int) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(xs)))
	for _, x := range xs {
		dst = binary.AppendVarint(dst, int64(x))
	}
	return dst
}

// decoder reads the primitive encodings above, remembering the first error
// so call sites stay linear.
type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = corruptf("at byte %d: %s", d.off, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if d.off >= len(d.b) {
		d.fail("unexpected end")
		return 0
	}
	c := d.b[d.off]
	d.off++
	return c
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	x, k := binary.Uvarint(d.b[d.off:])
	if k <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	d.off += k
	return x
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	x, k := binary.Varint(d.b[d.off:])
	if k <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.off += k
	return x
}

// count reads an element count and checks it against the bytes left, given
// that every element takes at least minSize bytes.
func (d *decoder) count(minSize int) int {
	n := d.uvarint()
	if d.err != nil {
		return 0
	}
	if n > MaxChangeSetOps || n*uint64(minSize) > uint64(len(d.b)-d.off) {
		d.fail("count %d exceeds the remaining input", n)
		return 0
	}
	return int(n)
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)-d.off) {
		d.fail("length %d exceeds the remaining input", n)
		return nil
	}
	out := d.b[d.off : d.off+int(n) : d.off+int(n)]
	d.off += int(n)
	return out
}

func (d *decoder) string() string { return string(d.bytes()) }

func (d *decoder) ints() []int {
	n := d.count(1)
	if n == 0 {
		return nil
	}
	xs := make([]int, n)
	for i := range xs {
		v := d.varint()
		if v < -1 || v > MaxColumns {
			d.fail("column ordinal %d out of range", v)
			return nil
		}
		xs[i] = int(v)
	}
	return xs
}

func (d *decoder) tableDef() *TableDef {
	if v := d.byte(); d.err == nil && v != 1 {
		d.fail("table definition version %d is not supported", v)
	}
	def := &TableDef{Name: d.string()}
	nc := d.count(4)
	if nc > MaxColumns {
		d.fail("too many columns")
		return def
	}
	for i := 0; i < nc && d.err == nil; i++ {
		c := ColumnDef{Name: d.string(), Type: Type(d.byte())}
		c.Length = int32(d.varint())
		c.Precision = int32(d.varint())
		c.Scale = int32(d.varint())
		flags := d.byte()
		c.NotNull = flags&1 != 0
		c.Identity = flags&2 != 0
		switch {
		case flags&4 != 0:
			c.Generated = 'a'
		case flags&8 != 0:
			c.Generated = 'd'
		}
		c.Default = d.string()
		def.Columns = append(def.Columns, c)
	}
	def.PrimaryKey = d.ints()
	def.PKName = d.string()
	ni := d.count(3)
	for i := 0; i < ni && d.err == nil; i++ {
		def.Indexes = append(def.Indexes, d.indexDef())
	}
	return def
}

func (d *decoder) indexDef() IndexDef {
	ix := IndexDef{Name: d.string(), Columns: d.ints()}
	flags := d.byte()
	ix.Unique = flags&1 != 0
	ix.Constraint = flags&2 != 0
	return ix
}

func (d *decoder) alter() *Alter {
	a := &Alter{Kind: AlterKind(d.byte())}
	if def := d.tableDef(); d.err == nil && len(def.Columns) == 1 {
		a.Column = def.Columns[0]
	} else if d.err == nil {
		d.fail("alter column missing")
	}
	if raw := d.bytes(); d.err == nil {
		row, _, err := DecodeRow(raw)
		if err != nil || len(row) != 1 {
			d.fail("bad alter fill value")
		} else {
			a.Fill = row[0]
		}
	}
	a.Name = d.string()
	a.NewName = d.string()
	a.Columns = d.ints()
	a.Flag = d.byte() == 1
	return a
}
