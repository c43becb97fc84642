package pgwire

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgtype"
)

func TestSimpleProtocol(t *testing.T) {
	ts := startServer(t, DefaultConfig())
	conn := ts.connect(t, simpleMode)
	ctx := testCtx(t)

	for i, v := range []string{"one", "two's", "three"} {
		if _, err := conn.Exec(ctx, "insert into kv values ($1, $2)", int64(i+1), v); err != nil {
			t.Fatalf("insert: %v", err)
		}
	}
	rows, err := conn.Query(ctx, "select k, v from kv order by k")
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct {
		K int64
		V string
	}])
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[1].V != "two's" || got[2].K != 3 {
		t.Fatalf("rows = %+v", got)
	}

	// Several statements in one Query: all run, one result each.
	results, err := conn.PgConn().Exec(ctx, "insert into kv values (10, 'x'); select 1; select k, v from kv").ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 3 || results[0].CommandTag.String() != "INSERT 0 1" || len(results[2].Rows) != 4 {
		t.Fatalf("multi-statement results: %d", len(results))
	}

	// The first error stops the rest (rolling back what ran is the
	// Session's business; the fake does not).
	_, err = conn.PgConn().Exec(ctx, "insert into kv values (20, 'a'); insert into kv values (1, 'dup'); insert into kv values (21, 'b')").ReadAll()
	if pgCode(err) != "23505" {
		t.Fatalf("err = %v, want 23505", err)
	}
	ts.fb.mu.Lock()
	_, has20 := ts.fb.kv[20]
	_, has21 := ts.fb.kv[21]
	ts.fb.mu.Unlock()
	if !has20 || has21 {
		t.Fatalf("has20=%v has21=%v, want true false", has20, has21)
	}

	// An empty query answers EmptyQueryResponse: one empty result.
	results, err = conn.PgConn().Exec(ctx, "  ").ReadAll()
	if err != nil || len(results) != 1 || results[0].CommandTag.String() != "" {
		t.Fatalf("empty query: %v %+v", err, results)
	}
}

func TestErrorFields(t *testing.T) {
	ts := startServer(t, DefaultConfig())
	for _, mode := range []func(*pgx.ConnConfig){simpleMode, nil} {
		conn := ts.connect(t, mode)
		_, err := conn.Exec(testCtx(t), "select * from nope")
		var pe *pgconn.PgError
		if !errors.As(err, &pe) {
			t.Fatalf("err = %v, want PgError", err)
		}
		if pe.Code != "42P01" || pe.Severity != "ERROR" || pe.Position != 15 ||
			pe.Detail != "the fake knows only kv" || pe.Hint != "create it first" {
			t.Fatalf("PgError = %+v", pe)
		}
		// The connection is still usable after an error.
		var n int32
		if err := conn.QueryRow(testCtx(t), "select 1").Scan(&n); err != nil || n != 1 {
			t.Fatalf("after error: %v", err)
		}
	}
}

func TestExtendedProtocol(t *testing.T) {
	ts := startServer(t, DefaultConfig())
	conn := ts.connect(t, nil) // cached prepared statements, binary results
	ctx := testCtx(t)
	for i := range 5 {
		if _, err := conn.Exec(ctx, "insert into kv values ($1, $2)", int64(i), "v"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := conn.Exec(ctx, "insert into kv values ($1, $2)", int64(1), "dup"); pgCode(err) != "23505" {
		t.Fatalf("duplicate insert: %v", err)
	}
	var count int
	rows, _ := conn.Query(ctx, "select k, v from kv")
	for rows.Next() {
		count++
	}
	if rows.Err() != nil || count != 5 {
		t.Fatalf("count=%d err=%v", count, rows.Err())
	}

	// Named statement prepared explicitly, executed twice.
	if _, err := conn.Prepare(ctx, "echo", "select $1::int8, $2::text"); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		var i int64
		var s string
		if err := conn.QueryRow(ctx, "echo", int64(7), "seven").Scan(&i, &s); err != nil || i != 7 || s != "seven" {
			t.Fatalf("echo: %d %q %v", i, s, err)
		}
	}
	// A second Parse of the same name fails, and so does a multi-statement
	// prepare; neither breaks the connection.
	if _, err := conn.PgConn().Prepare(ctx, "echo", "select 1", nil); pgCode(err) != "42P05" {
		t.Fatalf("duplicate prepare: %v", err)
	}
	if _, err := conn.Exec(ctx, "select 1; select 1", int64(1)); err == nil {
		t.Fatal("multi-statement prepare succeeded")
	}
	// Empty query in the extended protocol.
	res := conn.PgConn().ExecParams(ctx, "", nil, nil, nil, nil).Read()
	if res.Err != nil || res.CommandTag.String() != "" {
		t.Fatalf("empty extended query: %+v", res)
	}
}

// TestTypesRoundTrip sends every supported type as a parameter (pgx picks
// binary where it can) and reads it back in binary and in text.
func TestTypesRoundTrip(t *testing.T) {
	ts := startServer(t, DefaultConfig())
	conn := ts.connect(t, nil)
	ctx := testCtx(t)

	ts1 := time.Date(2024, 2, 29, 12, 30, 45, 123456000, time.UTC)
	uuid := [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	var (
		i2  int16
		i4  int32
		i8  int64
		f4  float32
		f8  float64
		b   bool
		txt string
		vc  string
		by  []byte
		d   time.Time
		tsz time.Time
		u   [16]byte
		num pgtype.Numeric
		js  map[string]any
		unk string
		nul *string
	)
	err := conn.QueryRow(ctx,
		"select $1::int2, $2::int4, $3::int8, $4::float4, $5::float8, $6::bool, $7::text, $8::varchar, "+
			"$9::bytea, $10::date, $11::timestamptz, $12::uuid, $13::numeric, $14::jsonb, $15, $16::text",
		int16(-3), int32(40000), int64(1)<<40, float32(1.5), 2.25, true, "héllo", "vc",
		[]byte{0, 1, 255}, time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), ts1, uuid, "12.5",
		map[string]any{"a": 1.0}, "unknown-type", nil,
	).Scan(&i2, &i4, &i8, &f4, &f8, &b, &txt, &vc, &by, &d, &tsz, &u, &num, &js, &unk, &nul)
	if err != nil {
		t.Fatal(err)
	}
	if i2 != -3 || i4 != 40000 || i8 != 1<<40 || f4 != 1.5 || f8 != 2.25 || !b || txt != "héllo" || vc != "vc" ||
		!bytes.Equal(by, []byte{0, 1, 255}) || !d.Equal(time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)) ||
		!tsz.Equal(ts1) || u != uuid || js["a"] != 1.0 || unk != "unknown-type" || nul != nil {
		t.Fatalf("round trip mismatch: %v %v %v %v %v %v %q %q %v %v %v %v %v %q %v",
			i2, i4, i8, f4, f8, b, txt, vc, by, d, tsz, u, js, unk, nul)
	}
	if f, _ := num.Float64Value(); f.Float64 != 12.5 {
		t.Fatalf("numeric = %+v", num)
	}

	// Text results from a fixed row of values (simple protocol).
	sconn := ts.connect(t, simpleMode)
	res, err := sconn.PgConn().Exec(ctx, "select types").ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range res[0].Rows[0] {
		got = append(got, string(v))
	}
	want := `42|1.5|t|héllo|\xdead|2024-02-29|2024-02-29 12:30:00+00|12340000-0000-0000-0000-0000000000ff|12.345|`
	if strings.Join(got, "|") != want {
		t.Fatalf("text row\n got %s\nwant %s", strings.Join(got, "|"), want)
	}
	if res[0].Rows[0][9] != nil {
		t.Fatal("NULL came back non-nil")
	}
}

func TestTxStatusAndParameterStatus(t *testing.T) {
	ts := startServer(t, DefaultConfig())
	conn := ts.connect(t, nil)
	ctx := testCtx(t)
	pc := conn.PgConn()
	if v := pc.ParameterStatus("server_version"); !strings.Contains(v, "HeliosDB-Lite") {
		t.Fatalf("server_version = %q", v)
	}
	for k, want := range map[string]string{"client_encoding": "UTF8", "DateStyle": "ISO, MDY",
		"integer_datetimes": "on", "standard_conforming_strings": "on", "TimeZone": "UTC", "server_encoding": "UTF8"} {
		if got := pc.ParameterStatus(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if _, err := conn.Exec(ctx, "set application_name = 'helios-test'"); err != nil {
		t.Fatal(err)
	}
	if got := pc.ParameterStatus("application_name"); got != "helios-test" {
		t.Fatalf("application_name after SET = %q", got)
	}

	if _, err := pc.Exec(ctx, "begin").ReadAll(); err != nil || pc.TxStatus() != 'T' {
		t.Fatalf("begin: %v %c", err, pc.TxStatus())
	}
	_, _ = pc.Exec(ctx, "select * from nope").ReadAll()
	if pc.TxStatus() != 'E' {
		t.Fatalf("status after error in tx = %c", pc.TxStatus())
	}
	if _, err := pc.Exec(ctx, "rollback").ReadAll(); err != nil || pc.TxStatus() != 'I' {
		t.Fatalf("rollback: %v %c", err, pc.TxStatus())
	}
}

func TestCopy(t *testing.T) {
	ts := startServer(t, DefaultConfig())
	conn := ts.connect(t, nil)
	ctx := testCtx(t)

	// pgx CopyFrom: binary COPY FROM STDIN after a Describe of the columns.
	src := [][]any{{int64(1), "a"}, {int64(2), "b"}, {int64(3), "tab\there"}}
	n, err := conn.CopyFrom(ctx, pgx.Identifier{"kv"}, []string{"k", "v"}, pgx.CopyFromRows(src))
	if err != nil || n != 3 {
		t.Fatalf("CopyFrom: %d %v", n, err)
	}
	// Text COPY FROM STDIN through the simple protocol.
	tag, err := conn.PgConn().CopyFrom(ctx, strings.NewReader("4\td\n5\te\n"), "copy kv from stdin")
	if err != nil || tag.String() != "COPY 2" {
		t.Fatalf("text CopyFrom: %q %v", tag, err)
	}
	// A failing COPY (duplicate key) reports the error; the connection lives.
	_, err = conn.PgConn().CopyFrom(ctx, strings.NewReader("6\tf\n1\tdup\n7\tg\n"), "copy kv from stdin")
	if pgCode(err) != "23505" {
		t.Fatalf("duplicate in copy: %v", err)
	}
	// CopyFail from the client: its reader fails.
	_, err = conn.PgConn().CopyFrom(ctx, &failingReader{}, "copy kv from stdin")
	if pgCode(err) != "57014" {
		t.Fatalf("CopyFail: %v", err)
	}

	var out bytes.Buffer
	tag, err = conn.PgConn().CopyTo(ctx, &out, "copy kv to stdout")
	if err != nil {
		t.Fatal(err)
	}
	want := "1\ta\n2\tb\n3\ttab\there\n4\td\n5\te\n"
	if out.String() != want || tag.String() != "COPY 5" {
		t.Fatalf("CopyTo = %q %q, want %q COPY 5", out.String(), tag, want)
	}
	var one int32
	if err := conn.QueryRow(ctx, "select 1").Scan(&one); err != nil {
		t.Fatal(err)
	}
}

type failingReader struct{ n int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n > 0 {
		return 0, errors.New("client gave up")
	}
	r.n++
	return copy(p, "100\tx\n"), nil
}

func TestCancel(t *testing.T) {
	ts := startServer(t, DefaultConfig())
	conn := ts.connect(t, func(cfg *pgx.ConnConfig) {
		cfg.BuildContextWatcherHandler = func(pc *pgconn.PgConn) ctxwatch.Handler {
			// Cancel through a CancelRequest; the deadline is only a
			// backstop that would make this test fail slowly.
			return &pgconn.CancelRequestContextWatcherHandler{Conn: pc, DeadlineDelay: 15 * time.Second}
		}
	})
	ctx, cancel := context.WithTimeout(testCtx(t), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := conn.Exec(ctx, "select pg_sleep(30)")
	if err == nil {
		t.Fatal("pg_sleep was not cancelled")
	}
	if pgCode(err) != "57014" && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("cancel took %v", d)
	}
	// The connection survives a cancelled statement.
	var n int32
	if err := conn.QueryRow(testCtx(t), "select 1").Scan(&n); err != nil {
		t.Fatalf("after cancel: %v", err)
	}

	// An explicit CancelRequest from pgconn against a running statement.
	conn2 := ts.connect(t, simpleMode)
	done := make(chan error, 1)
	go func() {
		_, err := conn2.Exec(testCtx(t), "select pg_sleep(30)")
		done <- err
	}()
	deadline := time.After(10 * time.Second)
	for {
		// The statement may not have started yet: a cancel between
		// statements does nothing, so retry.
		if err := conn2.PgConn().CancelRequest(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			if pgCode(err) != "57014" {
				t.Fatalf("err = %v, want 57014", err)
			}
			return
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatal("CancelRequest had no effect")
		}
	}
}

func TestPanicContained(t *testing.T) {
	ts := startServer(t, DefaultConfig())
	other := ts.connect(t, nil)
	conn := ts.connect(t, nil)
	_, err := conn.Exec(testCtx(t), "select panic")
	if pgCode(err) != "XX000" {
		t.Fatalf("err = %v, want XX000", err)
	}
	var n int32
	if err := other.QueryRow(testCtx(t), "select 1").Scan(&n); err != nil {
		t.Fatalf("other session broken: %v", err)
	}
	ts.mustWork(t)
}

func TestNoSuchDatabase(t *testing.T) {
	ts := startServer(t, DefaultConfig())
	_, err := pgx.Connect(testCtx(t), strings.Replace(ts.connString("alice", ""), "/db?", "/nodb?", 1))
	if pgCode(err) != "3D000" {
		t.Fatalf("err = %v, want 3D000", err)
	}
}

// Closing the server cancels a running statement (statement contexts do
// not hang off the connection's context directly; see statementContext).
func TestCloseCancelsRunningStatement(t *testing.T) {
	ts := startServer(t, DefaultConfig())
	conn := ts.connect(t, simpleMode)
	done := make(chan error, 1)
	go func() {
		_, err := conn.Exec(context.Background(), "select pg_sleep(30)")
		done <- err
	}()
	// The statement may not have started yet when Close runs; either way
	// Close must not wait for pg_sleep's 30 seconds.
	time.Sleep(20 * time.Millisecond)
	closed := make(chan struct{})
	go func() { _ = ts.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close waited for the running statement")
	}
	if err := <-done; err == nil {
		t.Fatal("statement succeeded through Close")
	}
}
