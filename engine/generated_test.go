package engine

import "testing"

// TestTableDefGeneratedRoundTrip: GENERATED ALWAYS / BY DEFAULT survive
// the table definition encoding (raft entries, snapshots); a decoder that
// predates the flag reads such a column as a plain identity column.
func TestTableDefGeneratedRoundTrip(t *testing.T) {
	def := &TableDef{Name: "t", Columns: []ColumnDef{
		{Name: "a", Type: TypeInt8, Identity: true, NotNull: true, Generated: 'a'},
		{Name: "d", Type: TypeInt8, Identity: true, NotNull: true, Generated: 'd'},
		{Name: "s", Type: TypeInt8, Identity: true, NotNull: true},
	}, PrimaryKey: []int{0}}
	got, _, err := DecodeTableDef(AppendTableDef(nil, def))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []byte{'a', 'd', 0} {
		if c := got.Columns[i]; c.Generated != want || !c.Identity {
			t.Errorf("column %s: generated %q identity %v, want %q", c.Name, c.Generated, c.Identity, want)
		}
	}
}
