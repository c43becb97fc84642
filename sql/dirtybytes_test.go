package sql

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestTableDirtyBytesUnknownTable: pg_table_dirty_bytes of a table that
// does not exist is an error naming it (42P01), not 0 ("nothing to dump").
func TestTableDirtyBytesUnknownTable(t *testing.T) {
	db, _ := newTestDB(t)
	conn := serveTestDB(t, db)
	ctx := context.Background()
	if _, err := conn.Exec(ctx, "create table users (id int primary key); insert into users values (1)"); err != nil {
		t.Fatal(err)
	}
	var dirty bool
	if err := conn.QueryRow(ctx, "select pg_table_dirty_bytes('users') > 0").Scan(&dirty); err != nil || !dirty {
		t.Fatalf("users: dirty=%v err=%v", dirty, err)
	}
	var n int64
	err := conn.QueryRow(ctx, "select pg_table_dirty_bytes('nosuch')").Scan(&n)
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "42P01" || !strings.Contains(pe.Message, `"nosuch"`) {
		t.Fatalf("nosuch: n=%d err=%v", n, err)
	}
}
