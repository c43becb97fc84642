package sql

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
)

func copyIn(t *testing.T, s *Session, q, data string) (string, error) {
	t.Helper()
	res := mustExec(t, s, q)
	if res[0].CopyIn == nil {
		t.Fatalf("%s: not a COPY IN", q)
	}
	return res[0].CopyIn(context.Background(), strings.NewReader(data))
}

func copyOut(t *testing.T, s *Session, q string) string {
	t.Helper()
	res := mustExec(t, s, q)
	var b bytes.Buffer
	if err := res[0].CopyOut(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestCopy(t *testing.T) {
	db, _ := newTestDB(t)
	s := db.NewLocalSession()
	mustExec(t, s, "CREATE TABLE c (id int PRIMARY KEY, name text, note varchar(10) DEFAULT 'd')")
	tag, err := copyIn(t, s, "COPY c (id, name) FROM STDIN", "1\tone\n2\t\\N\n3\ttab\\there\n\\.\n")
	if err != nil || tag != "COPY 3" {
		t.Fatal(tag, err)
	}
	tag, err = copyIn(t, s, "COPY c FROM STDIN WITH (FORMAT csv, HEADER true)", "id,name,note\n4,\"a,b\",x\n5,,\n6,\"q\"\"uote\",\"\"\n")
	if err != nil || tag != "COPY 3" {
		t.Fatal(tag, err)
	}
	if _, err := copyIn(t, s, "COPY c FROM STDIN", "1\tdup\tx\n"); sqlState(err) != codeUnique {
		t.Fatalf("want 23505, got %v", err)
	}
	if _, err := copyIn(t, s, "COPY c FROM STDIN", "x\ty\tz\n"); sqlState(err) != codeInvalidText {
		t.Fatalf("want 22P02, got %v", err)
	}
	got := copyOut(t, s, "COPY c TO STDOUT")
	want := "1\tone\td\n2\t\\N\td\n3\ttab\\there\td\n4\ta,b\tx\n5\t\\N\t\\N\n6\tq\"uote\t\n"
	if got != want {
		t.Fatalf("text:\n%q\nwant\n%q", got, want)
	}
	got = copyOut(t, s, "COPY (SELECT id, name FROM c WHERE id > 3 ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER)")
	if got != "id,name\n4,\"a,b\"\n5,\n6,\"q\"\"uote\"\n" {
		t.Fatalf("csv: %q", got)
	}
	// Inside a transaction the copied rows are visible before COMMIT only.
	mustExec(t, s, "BEGIN")
	if _, err := copyIn(t, s, "COPY c (id) FROM STDIN", "7\n8\n"); err != nil {
		t.Fatal(err)
	}
	if r := mustExec(t, s, "SELECT count(*) FROM c"); r[0].Rows[0][0] != int64(8) {
		t.Fatal(r[0].Rows)
	}
	mustExec(t, s, "ROLLBACK")
	if r := mustExec(t, s, "SELECT count(*) FROM c"); r[0].Rows[0][0] != int64(6) {
		t.Fatal(r[0].Rows)
	}
}

func TestCopyTargets(t *testing.T) {
	db, _ := newTestDB(t)
	var gotOpts map[string]string
	db.cfg.CopyTargets = map[string]CopyTarget{"dump": {
		Out: func(ctx context.Context, opts map[string]string, w io.Writer) error {
			gotOpts = opts
			_, err := w.Write([]byte("DUMPDATA"))
			return err
		},
		In: func(ctx context.Context, opts map[string]string, r io.Reader) (string, error) {
			b, _ := io.ReadAll(r)
			return "RESTORE " + string(b), nil
		},
	}}
	s := db.NewLocalSession()
	out := copyOut(t, s, "COPY heliosdb.dump TO STDOUT WITH (compress 'zstd', tables 'a,b')")
	if out != "DUMPDATA" || gotOpts["compress"] != "zstd" || gotOpts["tables"] != "a,b" {
		t.Fatal(out, gotOpts)
	}
	tag, err := copyIn(t, s, "COPY heliosdb.dump FROM STDIN", "xyz")
	if err != nil || tag != "RESTORE xyz" {
		t.Fatal(tag, err)
	}
	if _, err := s.Exec(context.Background(), "COPY heliosdb.nosuch TO STDOUT"); sqlState(err) != codeUndefinedTable {
		t.Fatal(err)
	}
}

// FuzzExec checks that no statement text makes the SQL layer panic.
func FuzzExec(f *testing.F) {
	for _, seed := range []string{
		"SELECT 1", "CREATE TABLE t (a int primary key, b text); INSERT INTO t VALUES (1, 'x'); SELECT * FROM t WHERE a = 1",
		"SELECT * FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace", "UPDATE t SET b = b || 'y' RETURNING *",
		"SELECT count(*), sum(a) FROM t GROUP BY b HAVING count(*) > 0 ORDER BY 1", "BEGIN; DELETE FROM t; ROLLBACK",
		"SELECT '2024-01-01'::date + interval '1 day', 1/0", "WITH x AS (SELECT 1 a) SELECT a FROM x UNION SELECT 2",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, q string) {
		db, _ := newTestDB(t)
		s := db.NewLocalSession()
		_, _ = s.Exec(context.Background(), "CREATE TABLE t (a int primary key, b text); INSERT INTO t VALUES (1, 'x'), (2, NULL)")
		_, _ = s.Exec(context.Background(), q)
	})
}
