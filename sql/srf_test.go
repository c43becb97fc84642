package sql

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

func rowsText(t *testing.T, s *Session, q string) string {
	t.Helper()
	res, err := s.Exec(context.Background(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	var b strings.Builder
	for _, r := range res[len(res)-1].Rows {
		fmt.Fprintln(&b, r...)
	}
	return b.String()
}

func TestSelectListSetReturningFunctions(t *testing.T) {
	db, _ := newTestDB(t)
	s := db.NewLocalSession()
	for _, tc := range []struct{ q, want string }{
		// Lockstep: as many rows as the longest call, shorter padded.
		{"SELECT id, unnest(a), generate_series(1, 2) FROM (VALUES (1, ARRAY[7, 8, 9]), (2, ARRAY[5]), (3, NULL)) t(id, a) ORDER BY id, 3",
			"1 7 1\n1 8 2\n1 9 <nil>\n2 5 1\n2 <nil> 2\n3 <nil> 1\n3 <nil> 2\n"},
		{"SELECT (information_schema._pg_expandarray(a)).n, (information_schema._pg_expandarray(a)).x FROM (VALUES (1, ARRAY[7, 8, 9]), (2, ARRAY[5]), (3, NULL)) t(id, a) WHERE id = 1",
			"1 7\n2 8\n3 9\n"},
		{"SELECT r.id, (r.k).x FROM (SELECT id, information_schema._pg_expandarray(a) AS k FROM (VALUES (1, ARRAY[7, 8, 9]), (2, ARRAY[5]), (3, NULL)) t(id, a)) r WHERE (r.k).n = 2",
			"1 8\n"},
		// An empty set removes the row.
		{"SELECT id, unnest(a) FROM (VALUES (1, ARRAY[7, 8, 9]), (2, ARRAY[5]), (3, NULL)) t(id, a) WHERE id = 3", ""},
	} {
		if got := rowsText(t, s, tc.q); got != tc.want {
			t.Errorf("%s:\ngot\n%swant\n%s", tc.q, got, tc.want)
		}
	}
	if _, err := s.Exec(context.Background(), "SELECT count(*), unnest(a) FROM (VALUES (1, ARRAY[7, 8, 9]), (2, ARRAY[5]), (3, NULL)) t(id, a)"); err == nil {
		t.Error("set-returning function beside an aggregate was accepted")
	}
	if _, err := s.Exec(context.Background(), "SELECT (ROW(1, 2)).x"); err == nil {
		t.Error("field of an anonymous record was accepted")
	}
}

// The query pgjdbc 42.5 sends for DatabaseMetaData.getPrimaryKeys.
func TestJDBCGetPrimaryKeysQuery(t *testing.T) {
	db, _ := newTestDB(t)
	s := db.NewLocalSession()
	mustExec(t, s, "CREATE TABLE orders (region text, id int, note text, PRIMARY KEY (id, region))")
	q := `SELECT        result.TABLE_CAT,        result.TABLE_SCHEM,        result.TABLE_NAME,        result.COLUMN_NAME,        result.KEY_SEQ,        result.PK_NAME FROM      (SELECT NULL AS TABLE_CAT, n.nspname AS TABLE_SCHEM,   ct.relname AS TABLE_NAME, a.attname AS COLUMN_NAME,   (information_schema._pg_expandarray(i.indkey)).n AS KEY_SEQ, ci.relname AS PK_NAME,   information_schema._pg_expandarray(i.indkey) AS KEYS, a.attnum AS A_ATTNUM FROM pg_catalog.pg_class ct   JOIN pg_catalog.pg_attribute a ON (ct.oid = a.attrelid)   JOIN pg_catalog.pg_namespace n ON (ct.relnamespace = n.oid)   JOIN pg_catalog.pg_index i ON ( a.attrelid = i.indrelid)   JOIN pg_catalog.pg_class ci ON (ci.oid = i.indexrelid) WHERE true  AND ct.relname = E'orders' AND i.indisprimary  ) result where  result.A_ATTNUM = (result.KEYS).x  ORDER BY result.table_name, result.pk_name, result.key_seq`
	want := "<nil> public orders id 1 orders_pkey\n<nil> public orders region 2 orders_pkey\n"
	if got := rowsText(t, s, q); got != want {
		t.Fatalf("got\n%swant\n%s", got, want)
	}
}

// generate_series in the FROM clause and in the select list share one
// implementation: NULL arguments give no rows, a zero step is an error,
// and a series ending near the int64 limit stops instead of wrapping.
func TestGenerateSeriesEdges(t *testing.T) {
	db, _ := newTestDB(t)
	s := db.NewLocalSession()
	for _, tc := range []struct{ q, want string }{
		{"SELECT g FROM generate_series(9223372036854775805, 9223372036854775807, 2) g", "9223372036854775805\n9223372036854775807\n"},
		{"SELECT generate_series(9223372036854775805, 9223372036854775807, 2)", "9223372036854775805\n9223372036854775807\n"},
		{"SELECT g FROM generate_series(-9223372036854775807, -9223372036854775808, -5) g", "-9223372036854775807\n"},
		{"SELECT g FROM generate_series(3, 1, -1) g", "3\n2\n1\n"},
		{"SELECT g FROM generate_series(1, NULL) g", ""},
	} {
		if got := rowsText(t, s, tc.q); got != tc.want {
			t.Errorf("%s:\ngot\n%swant\n%s", tc.q, got, tc.want)
		}
	}
	for _, q := range []string{"SELECT g FROM generate_series(1, 3, 0) g", "SELECT generate_series(1, 3, 0)"} {
		if _, err := s.Exec(context.Background(), q); sqlState(err) != codeInvalidParam {
			t.Errorf("%s: want %s, got %v", q, codeInvalidParam, err)
		}
	}
}
