package clienttests

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// TestPgx drives the server with pgx: every type in binary (extended
// protocol, the pgx default) and text (simple protocol), NULLs, CopyFrom,
// batches, 25P02 and 40001.
func TestPgx(t *testing.T) {
	n := startMemory(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := n.Connect(ctx)
	if _, err := c.Exec(ctx, `CREATE TABLE ty (id int PRIMARY KEY, i2 smallint, i8 bigint, f4 real, f8 double precision,
		n numeric(12,4), b boolean, t text, vc varchar(10), ch char(3), ba bytea, d date, ts timestamp, tstz timestamptz,
		u uuid, j json, jb jsonb)`); err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2026, 11, 21, 19, 2, 5, 946000000, time.UTC)
	u := [16]byte{0xa0, 0xee, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}
	num := pgtype.Numeric{Int: big.NewInt(123456781234), Exp: -4, Valid: true}
	ins := "INSERT INTO ty VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17)"
	args := []any{int32(1), int16(-7), int64(1) << 53, float32(1.5), 2.25, num, true, "héllo", "vc", "ab", []byte{0, 1, 255},
		ts, ts, ts.In(time.FixedZone("", 3600)), u, map[string]any{"a": 1.0}, map[string]any{"k": "v"}}
	if _, err := c.Exec(ctx, ins, args...); err != nil {
		t.Fatal(err)
	}
	nulls := make([]any, 17)
	nulls[0] = int32(2)
	if _, err := c.Exec(ctx, ins, nulls...); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeDescribeExec, pgx.QueryExecModeSimpleProtocol} {
		var (
			i2     int16
			i8     int64
			f4     float32
			f8     float64
			n      pgtype.Numeric
			b      bool
			tx, vc string
			ch     string
			ba     []byte
			d      time.Time
			tsv    time.Time
			tstz   time.Time
			uv     [16]byte
			j, jb  map[string]any
		)
		err := c.QueryRow(ctx, "SELECT i2, i8, f4, f8, n, b, t, vc, ch, ba, d, ts, tstz, u, j, jb FROM ty WHERE id = $1", mode, 1).
			Scan(&i2, &i8, &f4, &f8, &n, &b, &tx, &vc, &ch, &ba, &d, &tsv, &tstz, &uv, &j, &jb)
		if err != nil {
			t.Fatalf("mode %v: %v", mode, err)
		}
		nf, _ := n.Float64Value()
		if i2 != -7 || i8 != 1<<53 || f4 != 1.5 || f8 != 2.25 || nf.Float64 != 12345678.1234 || !b || tx != "héllo" || vc != "vc" ||
			ch != "ab " || string(ba) != "\x00\x01\xff" || !d.Equal(time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)) ||
			!tsv.Equal(ts) || !tstz.Equal(ts) || uv != u || j["a"] != 1.0 || jb["k"] != "v" {
			t.Errorf("mode %v: %v %v %v %v %v %v %q %q %q %x %v %v %v %x %v %v", mode, i2, i8, f4, f8, nf, b, tx, vc, ch, ba, d, tsv, tstz, uv, j, jb)
		}
		row, err := c.Query(ctx, "SELECT i2, i8, f4, f8, n, b, t, vc, ch, ba, d, ts, tstz, u, j, jb FROM ty WHERE id = 2", mode)
		if err != nil {
			t.Fatal(err)
		}
		vals, err := pgx.CollectExactlyOneRow(row, func(r pgx.CollectableRow) ([]any, error) { return r.Values() })
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range vals {
			if v != nil {
				t.Errorf("mode %v: column %d of the NULL row is %#v", mode, i, v)
			}
		}
	}

	// CopyFrom (binary COPY) and a batch.
	if _, err := c.Exec(ctx, "CREATE TABLE cp (id bigint PRIMARY KEY, name text, at timestamptz)"); err != nil {
		t.Fatal(err)
	}
	rows := make([][]any, 1000)
	for i := range rows {
		rows[i] = []any{int64(i), "n", ts}
	}
	cnt, err := c.CopyFrom(ctx, pgx.Identifier{"cp"}, []string{"id", "name", "at"}, pgx.CopyFromRows(rows))
	if err != nil {
		t.Fatalf("CopyFrom (binary COPY): %v", err)
	}
	if cnt != 1000 {
		t.Fatalf("CopyFrom: %d rows", cnt)
	}
	var atBack time.Time
	if err := c.QueryRow(ctx, "SELECT at FROM cp WHERE id = 999").Scan(&atBack); err != nil || !atBack.Equal(ts) {
		t.Fatalf("CopyFrom row 999: at %v, want %v (%v)", atBack, ts, err)
	}
	b := &pgx.Batch{}
	b.Queue("INSERT INTO cp VALUES ($1, $2, $3)", int64(5000), "batch", ts)
	b.Queue("UPDATE cp SET name = $1 WHERE id < $2", "low", int64(10))
	b.Queue("SELECT count(*) FROM cp WHERE name = 'low'")
	br := c.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		t.Fatal(err)
	}
	if tag, err := br.Exec(); err != nil || tag.RowsAffected() != 10 {
		t.Fatal(tag, err)
	}
	var low int
	if err := br.QueryRow().Scan(&low); err != nil || low != 10 {
		t.Fatal(low, err)
	}
	if err := br.Close(); err != nil {
		t.Fatal(err)
	}

	// 25P02 after an error inside a transaction, until ROLLBACK.
	tx, err := c.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT 1/0"); pgErr(t, err).Code != "22012" {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT 1"); pgErr(t, err).Code != "25P02" {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}

	// 40001: two transactions read and rewrite the same row. The second
	// writer waits for the first's row lock; once that commits, what it
	// read is stale and its UPDATE fails, as under REPEATABLE READ.
	c2 := n.Connect(ctx)
	t1, _ := c.Begin(ctx)
	t2, _ := c2.Begin(ctx)
	var v1, v2 string
	if err := t1.QueryRow(ctx, "SELECT name FROM cp WHERE id = 1").Scan(&v1); err != nil {
		t.Fatal(err)
	}
	if err := t2.QueryRow(ctx, "SELECT name FROM cp WHERE id = 1").Scan(&v2); err != nil {
		t.Fatal(err)
	}
	if _, err := t1.Exec(ctx, "UPDATE cp SET name = $1 WHERE id = 1", v1+"1"); err != nil {
		t.Fatal(err)
	}
	upd2 := make(chan error, 1)
	go func() {
		_, err := t2.Exec(ctx, "UPDATE cp SET name = $1 WHERE id = 1", v2+"2")
		upd2 <- err
	}()
	select {
	case err := <-upd2:
		t.Fatalf("second writer did not wait for the row lock: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	if err := t1.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-upd2; pgErr(t, err).Code != "40001" {
		t.Fatalf("second writer: %v", err)
	}
	if err := t2.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestPgxCancel cancels a long statement through a CancelRequest (pgx
// sends one when the context ends) and checks the connection still works.
func TestPgxCancel(t *testing.T) {
	n := startMemory(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := n.Connect(ctx)
	qctx, qcancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer qcancel()
	start := time.Now()
	var cnt int64
	err := c.QueryRow(qctx, "SELECT count(*) FROM generate_series(1, 2000) a, generate_series(1, 2000) b, generate_series(1, 50) c").Scan(&cnt)
	if err == nil {
		t.Skipf("query finished in %v before the cancel; nothing to check", time.Since(start))
	}
	if !errors.Is(err, context.DeadlineExceeded) && pgErr(t, err).Code != "57014" {
		t.Fatalf("cancel: %v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatalf("cancel took %v", time.Since(start))
	}
	if c.IsClosed() {
		c = n.Connect(ctx)
	}
	var one int
	if err := c.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("after cancel: %v", err)
	}
}

// TestPgxCopyBinary loads every type through pgx's CopyFrom (binary COPY),
// NULLs included, and checks the rows read back equal those an INSERT of
// the same values stores; then COPY TO STDOUT (FORMAT binary) output is
// loaded into a third table through COPY FROM STDIN (FORMAT binary) and
// must round-trip exactly. Bad binary input is refused with 22P04.
func TestPgxCopyBinary(t *testing.T) {
	n := startMemory(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := n.Connect(ctx)
	const cols = `(id int PRIMARY KEY, i2 smallint, i8 bigint, f4 real, f8 double precision,
		n numeric(12,4), b boolean, t text, vc varchar(10), ch char(3), ba bytea, d date, ts timestamp, tstz timestamptz,
		u uuid, j json, jb jsonb)`
	for _, tbl := range []string{"ins", "cop", "rt"} {
		if _, err := c.Exec(ctx, "CREATE TABLE "+tbl+" "+cols); err != nil {
			t.Fatal(err)
		}
	}
	ts := time.Date(2026, 11, 21, 19, 2, 5, 946000000, time.UTC)
	u := [16]byte{0xa0, 0xee, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}
	num := pgtype.Numeric{Int: big.NewInt(-123456781234), Exp: -4, Valid: true}
	full := []any{int32(1), int16(-7), int64(1) << 53, float32(1.5), 2.25, num, true, "héllo\ttab", "vc", "ab", []byte{0, 1, 255},
		ts, ts, ts.In(time.FixedZone("", 3600)), u, map[string]any{"a": 1.0}, map[string]any{"k": "v"}}
	nulls := make([]any, len(full))
	nulls[0] = int32(2)
	names := []string{"id", "i2", "i8", "f4", "f8", "n", "b", "t", "vc", "ch", "ba", "d", "ts", "tstz", "u", "j", "jb"}
	ph := make([]string, len(names))
	for i := range ph {
		ph[i] = fmt.Sprintf("$%d", i+1)
	}
	for _, r := range [][]any{full, nulls} {
		if _, err := c.Exec(ctx, "INSERT INTO ins VALUES ("+strings.Join(ph, ",")+")", r...); err != nil {
			t.Fatal(err)
		}
	}
	cnt, err := c.CopyFrom(ctx, pgx.Identifier{"cop"}, names, pgx.CopyFromRows([][]any{full, nulls}))
	if err != nil || cnt != 2 {
		t.Fatalf("CopyFrom: %d rows, %v", cnt, err)
	}
	dump := func(tbl string) string {
		t.Helper()
		rows, err := c.Query(ctx, "SELECT "+strings.Join(names, "::text, ")+"::text FROM "+tbl+" ORDER BY id", pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			t.Fatal(err)
		}
		var sb strings.Builder
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(&sb, vals...)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return sb.String()
	}
	want := dump("ins")
	if got := dump("cop"); got != want {
		t.Fatalf("binary COPY stored\n%s\nINSERT stored\n%s", got, want)
	}
	var out bytes.Buffer
	if _, err := c.PgConn().CopyTo(ctx, &out, "COPY cop TO STDOUT (FORMAT binary)"); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out.Bytes(), []byte("PGCOPY\n\xff\r\n\x00")) {
		t.Fatalf("COPY TO binary output starts %q", out.Bytes()[:min(16, out.Len())])
	}
	if tag, err := c.PgConn().CopyFrom(ctx, bytes.NewReader(out.Bytes()), "COPY rt FROM STDIN (FORMAT binary)"); err != nil || tag.RowsAffected() != 2 {
		t.Fatalf("COPY FROM binary of COPY TO output: %v %v", tag, err)
	}
	if got := dump("rt"); got != want {
		t.Fatalf("binary round trip stored\n%s\nwant\n%s", got, want)
	}
	for name, bad := range map[string][]byte{
		"signature":   []byte("PGCOPY\nXX"),
		"field count": append(append([]byte("PGCOPY\n\xff\r\n\x00"), 0, 0, 0, 0, 0, 0, 0, 0), 0, 1, 0, 0, 0, 4, 0, 0, 0, 9),
		"truncated":   append(append([]byte("PGCOPY\n\xff\r\n\x00"), 0, 0, 0, 0, 0, 0, 0, 0), 0, 17, 0, 0, 0, 4, 0, 0),
	} {
		_, err := c.PgConn().CopyFrom(ctx, bytes.NewReader(bad), "COPY rt FROM STDIN (FORMAT binary)")
		if pgErr(t, err).Code != "22P04" {
			t.Fatalf("%s: want 22P04, got %v", name, err)
		}
	}
}
