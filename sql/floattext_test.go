package sql

import (
	"bytes"
	"context"
	"math"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestFloatTextOutput reads real and double precision values through a
// real pgwire server in text format (simple protocol), through ::text
// and through COPY TO, and in binary; the text must be what PostgreSQL 15
// prints.
func TestFloatTextOutput(t *testing.T) {
	db, _ := newTestDB(t)
	conn := serveTestDB(t, db)
	ctx := context.Background()
	const exprs = "'Infinity'::float8, 1e308::float8, 1.1::real, 0.1::real, 'NaN'::float8, '-Infinity'::real, 1e15::float8, 1e14::float8, 1e-5::float8, 1e6::real, 100000::real"
	const want = "Infinity|1e+308|1.1|0.1|NaN|-Infinity|1e+15|100000000000000|1e-05|1e+06|100000"
	textRow := func(q string) string {
		rows, err := conn.Query(ctx, q, pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		if !rows.Next() {
			t.Fatalf("%s: no row: %v", q, rows.Err())
		}
		var parts []string
		for _, v := range rows.RawValues() {
			parts = append(parts, string(v))
		}
		return strings.Join(parts, "|")
	}
	if got := textRow("select " + exprs); got != want {
		t.Errorf("text format:\n got %s\nwant %s", got, want)
	}
	casts := strings.ReplaceAll(exprs, ", ", "::text, ") + "::text"
	casts = strings.NewReplacer("::float8::text", "::float8)::text", "::real::text", "::real)::text").Replace(casts)
	casts = "(" + strings.ReplaceAll(casts, "::text, ", "::text, (")
	if got := textRow("select " + casts); got != want {
		t.Errorf("::text (%s):\n got %s\nwant %s", casts, got, want)
	}
	if _, err := conn.Exec(ctx, "create table ft (a real, b float8); insert into ft values (1e6, 1e15), ('-Infinity', 'NaN'), (0.1, 1e-5), (1.1, 1e308)"); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := conn.PgConn().CopyTo(ctx, &buf, "copy ft to stdout"); err != nil {
		t.Fatal(err)
	}
	if got, want := buf.String(), "1e+06\t1e+15\n-Infinity\tNaN\n0.1\t1e-05\n1.1\t1e+308\n"; got != want {
		t.Errorf("COPY TO:\n got %q\nwant %q", got, want)
	}
	// Binary (pgx's extended protocol default) keeps the exact values.
	var a float32
	var b float64
	if err := conn.QueryRow(ctx, "select a, b from ft where a > 1 and a < 2").Scan(&a, &b); err != nil || a != float32(1.1) || b != 1e308 {
		t.Errorf("binary: %v %v %v", a, b, err)
	}
	if err := conn.QueryRow(ctx, "select a from ft where a < 0").Scan(&a); err != nil || !math.IsInf(float64(a), -1) {
		t.Errorf("binary -Infinity: %v %v", a, err)
	}
}
