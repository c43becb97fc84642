package engine

import (
	"fmt"
	"strings"
)

// ColumnDef describes one column.
type ColumnDef struct {
	Name string
	Type Type
	// Length is the declared length of varchar(n)/char(n); 0 means none.
	Length int32
	// Precision and Scale of numeric(p,s); 0 means unconstrained.
	Precision, Scale int32
	NotNull          bool
	// Default is the DEFAULT expression as SQL text, evaluated by the SQL
	// layer before a change is proposed ("" = no default).
	Default string
	// Identity marks serial/identity columns: the table's sequence for this
	// column supplies values the user did not give.
	Identity bool
}

// IndexDef describes a secondary index (or the index backing a UNIQUE
// constraint).
type IndexDef struct {
	Name    string
	Columns []int // column ordinals, in index order
	Unique  bool
	// Constraint is true when the index implements a UNIQUE constraint
	// (as opposed to CREATE UNIQUE INDEX); it matters only for catalog views.
	Constraint bool
}

// TableDef describes a table. A TableDef reachable from a published state
// is immutable: DDL builds a new one (Clone).
type TableDef struct {
	Name    string
	Columns []ColumnDef
	// PrimaryKey lists column ordinals of the primary key. Empty means the
	// table has a hidden row id: keys are EncodeRowID values allocated from
	// the table's row-id sequence.
	PrimaryKey []int
	// PKName is the primary key constraint name ("" when none).
	PKName  string
	Indexes []IndexDef
}

// Clone returns a deep copy.
func (d *TableDef) Clone() *TableDef {
	c := *d
	c.Columns = append([]ColumnDef(nil), d.Columns...)
	c.PrimaryKey = append([]int(nil), d.PrimaryKey...)
	c.Indexes = make([]IndexDef, len(d.Indexes))
	for i, ix := range d.Indexes {
		ix.Columns = append([]int(nil), ix.Columns...)
		c.Indexes[i] = ix
	}
	return &c
}

// ColumnIndex returns the ordinal of the named column (case-sensitive, names
// are stored folded by the SQL layer), or -1.
func (d *TableDef) ColumnIndex(name string) int {
	for i, c := range d.Columns {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// IndexByName returns the position of the named index in Indexes, or -1.
func (d *TableDef) IndexByName(name string) int {
	for i, ix := range d.Indexes {
		if ix.Name == name {
			return i
		}
	}
	return -1
}

// HasHiddenRowID reports whether rows are keyed by a hidden row id.
func (d *TableDef) HasHiddenRowID() bool { return len(d.PrimaryKey) == 0 }

// Validate checks a definition for internal consistency.
func (d *TableDef) Validate() error {
	if d.Name == "" {
		return newError(CodeInvalidName, "table name must not be empty")
	}
	if len(d.Columns) == 0 {
		return newError(CodeFeatureNotSupported, fmt.Sprintf("table %q must have at least one column", d.Name))
	}
	if len(d.Columns) > MaxColumns {
		return newError(CodeTooManyColumns, fmt.Sprintf("tables can have at most %d columns", MaxColumns))
	}
	seen := make(map[string]bool, len(d.Columns))
	for _, c := range d.Columns {
		if c.Name == "" {
			return newError(CodeInvalidName, "column name must not be empty")
		}
		if seen[c.Name] {
			return newError(CodeDuplicateColumn, fmt.Sprintf("column %q specified more than once", c.Name))
		}
		seen[c.Name] = true
		if !c.Type.Valid() {
			return newError(CodeDatatypeMismatch, fmt.Sprintf("column %q has an unknown type", c.Name))
		}
	}
	checkCols := func(what string, cols []int) error {
		used := map[int]bool{}
		for _, ci := range cols {
			if ci < 0 || ci >= len(d.Columns) {
				return newError(CodeUndefinedColumn, fmt.Sprintf("%s refers to a column that does not exist", what))
			}
			if used[ci] {
				return newError(CodeDuplicateColumn, fmt.Sprintf("%s lists column %q twice", what, d.Columns[ci].Name))
			}
			used[ci] = true
		}
		return nil
	}
	if err := checkCols("primary key", d.PrimaryKey); err != nil {
		return err
	}
	names := map[string]bool{}
	for _, ix := range d.Indexes {
		if ix.Name == "" || names[ix.Name] {
			return newError(CodeDuplicateObject, fmt.Sprintf("index name %q is empty or used twice", ix.Name))
		}
		names[ix.Name] = true
		if len(ix.Columns) == 0 {
			return newError(CodeFeatureNotSupported, fmt.Sprintf("index %q has no columns", ix.Name))
		}
		if err := checkCols("index "+ix.Name, ix.Columns); err != nil {
			return err
		}
	}
	return nil
}

// String renders the definition roughly as CREATE TABLE (for messages and
// tests; not a dump format).
func (d *TableDef) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE %s (", d.Name)
	for i, c := range d.Columns {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %s", c.Name, c.Type)
		if c.NotNull {
			b.WriteString(" NOT NULL")
		}
	}
	if len(d.PrimaryKey) > 0 {
		b.WriteString(", PRIMARY KEY (")
		for i, ci := range d.PrimaryKey {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(d.Columns[ci].Name)
		}
		b.WriteString(")")
	}
	b.WriteString(")")
	return b.String()
}

// MaxColumns bounds the width of a table (PostgreSQL's limit is 1600).
const MaxColumns = 1600
