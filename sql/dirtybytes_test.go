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

// TestRelationSizeUnknownTable: pg_relation_size and its siblings take a
// regclass in PostgreSQL: a table has its size, an index a size, a name
// that is neither is 42P01, and an OID of no relation is NULL.
func TestRelationSizeUnknownTable(t *testing.T) {
	db, _ := newTestDB(t)
	conn := serveTestDB(t, db)
	ctx := context.Background()
	if _, err := conn.Exec(ctx, "create table users (id int primary key, email text); create index users_email on users (email); insert into users values (1, 'a')"); err != nil {
		t.Fatal(err)
	}
	var pos bool
	if err := conn.QueryRow(ctx, "select pg_relation_size('users') > 0 and pg_total_relation_size('users') > 0").Scan(&pos); err != nil || !pos {
		t.Fatalf("users: %v %v", pos, err)
	}
	var ix *int64
	if err := conn.QueryRow(ctx, "select pg_relation_size('users_email')").Scan(&ix); err != nil || ix == nil {
		t.Fatalf("an index: %v %v", ix, err)
	}
	for _, f := range []string{"pg_relation_size", "pg_total_relation_size", "pg_table_size", "pg_indexes_size"} {
		var n *int64
		err := conn.QueryRow(ctx, "select "+f+"('nosuch')").Scan(&n)
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "42P01" || !strings.Contains(pe.Message, `"nosuch"`) {
			t.Fatalf("%s('nosuch'): n=%v err=%v", f, n, err)
		}
	}
	var n *int64
	if err := conn.QueryRow(ctx, "select pg_relation_size(987654321)").Scan(&n); err != nil || n != nil {
		t.Fatalf("an OID of no relation: %v %v (want NULL)", n, err)
	}
}
