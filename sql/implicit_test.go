package sql

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/heliosdb/heliosdb-lite/pgwire"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// serveTestDB serves db over pgwire on a loopback port for the test and
// returns a pgx connection to it.
func serveTestDB(t *testing.T, db *DB) *pgx.Conn {
	t.Helper()
	cfg := pgwire.DefaultConfig()
	cfg.ListenAddr = "127.0.0.1:0"
	srv, err := pgwire.New(cfg, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go srv.Serve(ctx, l)
	t.Cleanup(func() { cancel(); srv.Close() })
	cctx, ccancel := context.WithTimeout(ctx, 20*time.Second)
	defer ccancel()
	conn, err := pgx.Connect(cctx, "postgres://postgres@"+l.Addr().String()+"/postgres?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func wantSQLState(t *testing.T, err error, code string) {
	t.Helper()
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != code {
		t.Fatalf("got error %v, want SQLSTATE %s", err, code)
	}
}

// keysOf lists table mq's keys in order, as text.
func keysOf(t *testing.T, conn *pgx.Conn) string {
	t.Helper()
	var s string
	if err := conn.QueryRow(context.Background(), "SELECT coalesce(string_agg(a::text, ',' ORDER BY a), '') FROM mq").Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestMultiStatementQueryIsAtomic sends several statements in one simple
// Query message (pgx's Exec without arguments), as psql -c does: they form
// one implicit transaction block, rolled back entirely when one fails,
// with explicit BEGIN/COMMIT/ROLLBACK in the string honored as in
// PostgreSQL 15.
func TestMultiStatementQueryIsAtomic(t *testing.T) {
	db, _ := newTestDB(t)
	conn := serveTestDB(t, db)
	ctx := context.Background()
	exec := func(q string) error {
		_, err := conn.Exec(ctx, q)
		return err
	}
	if err := exec("CREATE TABLE mq (a int PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		q      string
		code   string // expected SQLSTATE, "" for success
		keys   string // mq's keys afterwards
		status byte   // ReadyForQuery status afterwards
	}{
		// The reviewer's case: the duplicate rolls back the first insert
		// and the third is never run.
		{"insert into mq values (1); insert into mq values (1); insert into mq values (3);", "23505", "", 'I'},
		{"insert into mq values (1); insert into mq values (2)", "", "1,2", 'I'},
		{"insert into mq values (4); select 1/0; insert into mq values (5)", "22012", "1,2", 'I'},
		// COMMIT ends the block it is in; what follows is a new one.
		{"begin; insert into mq values (7); commit; insert into mq values (8); select 1/0", "22012", "1,2,7", 'I'},
		{"insert into mq values (9); rollback; insert into mq values (10)", "", "1,2,7,10", 'I'},
		// VACUUM and CONCURRENTLY refuse to run in a block, implicit or not.
		{"insert into mq values (11); vacuum", "25001", "1,2,7,10", 'I'},
		{"insert into mq values (11); create index concurrently mq_a on mq (a)", "25001", "1,2,7,10", 'I'},
		{"create index concurrently mq_a on mq (a)", "", "1,2,7,10", 'I'},
		{"select 1; drop index concurrently mq_a", "25001", "1,2,7,10", 'I'},
		{"begin; drop index concurrently mq_a", "25001", "", 'E'},
		{"rollback", "", "1,2,7,10", 'I'},
		{"drop index concurrently mq_a; select 1", "25001", "1,2,7,10", 'I'},
		{"drop index concurrently mq_a", "", "1,2,7,10", 'I'},
		{"vacuum", "", "1,2,7,10", 'I'},
		{"begin; vacuum", "25001", "", 'E'},
		{"rollback; vacuum mq", "25001", "1,2,7,10", 'I'},
		// BEGIN includes the statements before it in the regular block.
		{"insert into mq values (12); begin; insert into mq values (13)", "", "1,2,7,10,12,13", 'T'},
		{"rollback", "", "1,2,7,10", 'I'},
		// An error in a regular block leaves it failed, ROLLBACK unreached.
		{"begin; insert into mq values (14); select 1/0; rollback", "22012", "", 'E'},
		{"rollback", "", "1,2,7,10", 'I'},
		// Inside a regular block, a multi-statement Query continues it.
		{"begin", "", "1,2,7,10", 'T'},
		{"insert into mq values (15); insert into mq values (16)", "", "1,2,7,10,15,16", 'T'},
		{"commit", "", "1,2,7,10,15,16", 'I'},
		{"update mq set a = a + 100 where a = 16; insert into mq values (1)", "23505", "1,2,7,10,15,16", 'I'},
		{"set application_name = 'x'; delete from mq where a > 9; select count(*) from mq", "", "1,2,7", 'I'},
	}
	for _, st := range steps {
		err := exec(st.q)
		if st.code == "" && err != nil {
			t.Fatalf("%s: %v", st.q, err)
		}
		if st.code != "" {
			wantSQLState(t, err, st.code)
		}
		if got := conn.PgConn().TxStatus(); got != st.status {
			t.Fatalf("%s: transaction status %c, want %c", st.q, got, st.status)
		}
		if st.status == 'E' {
			continue // the failed block refuses reads
		}
		if got := keysOf(t, conn); got != st.keys {
			t.Fatalf("%s: keys %q, want %q", st.q, got, st.keys)
		}
	}
}

// TestMultiStatementCopy: a COPY FROM in a multi-statement Query is part of
// the implicit block; its failure rolls back the statements before it, and
// its success commits them.
func TestMultiStatementCopy(t *testing.T) {
	db, _ := newTestDB(t)
	s := db.NewLocalSession()
	defer s.Close()
	ctx := context.Background()
	mustExec(t, s, "CREATE TABLE mq (a int PRIMARY KEY)")
	run := func(q, data string) error {
		stmts, err := s.PrepareSimple(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var qerr error
		for _, st := range stmts {
			res, err := st.Execute(ctx, nil)
			if err == nil && res.CopyIn != nil {
				_, err = res.CopyIn(ctx, strings.NewReader(data))
			}
			if err != nil {
				qerr = err
				break
			}
		}
		if err := s.EndQuery(ctx, qerr != nil); err != nil && qerr == nil {
			qerr = err
		}
		if s.TxStatus() != 'I' {
			t.Fatalf("%s: transaction status %c after the Query", q, s.TxStatus())
		}
		return qerr
	}
	keys := func() string {
		res := mustExec(t, s, "SELECT coalesce(string_agg(a::text, ',' ORDER BY a), '') FROM mq")
		return res[0].Rows[0][0].(string)
	}
	if err := run("insert into mq values (1); copy mq from stdin", "2\n2\n"); sqlState(err) != codeUnique {
		t.Fatalf("duplicate in COPY: %v", err)
	}
	if got := keys(); got != "" {
		t.Fatalf("after failed COPY: keys %q, want none", got)
	}
	if err := run("insert into mq values (1); copy mq from stdin", "2\n3\n"); err != nil {
		t.Fatal(err)
	}
	if err := run("copy mq from stdin; insert into mq values (4)", "5\n"); err != nil {
		t.Fatal(err)
	}
	if err := run("copy mq from stdin; insert into mq values (4)", "6\n"); sqlState(err) != codeUnique {
		t.Fatalf("duplicate after COPY: %v", err)
	}
	if got := keys(); got != "1,2,3,4,5" {
		t.Fatalf("keys %q, want 1,2,3,4,5", got)
	}
}

// TestMultiStatementSetLocal: SET LOCAL in a multi-statement Query lasts
// until the implicit block ends; on its own (no block) it changes nothing,
// as in PostgreSQL 15.
func TestMultiStatementSetLocal(t *testing.T) {
	db, _ := newTestDB(t)
	conn := serveTestDB(t, db)
	ctx := context.Background()
	show := func(q string) string {
		t.Helper()
		// One Query message; the value is the last result's first row.
		results, err := conn.PgConn().Exec(ctx, q).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		last := results[len(results)-1]
		if len(last.Rows) != 1 {
			t.Fatalf("%s: %d rows", q, len(last.Rows))
		}
		return string(last.Rows[0][0])
	}
	if got := show("set local application_name = 'inblock'; show application_name"); got != "inblock" {
		t.Fatalf("inside the Query: %q", got)
	}
	if got := show("show application_name"); got != "" {
		t.Fatalf("after the Query: %q, want the setting restored", got)
	}
	if _, err := conn.Exec(ctx, "set local application_name = 'alone'"); err != nil {
		t.Fatal(err)
	}
	if got := show("show application_name"); got != "" {
		t.Fatalf("after a lone SET LOCAL: %q, want no effect", got)
	}
}
