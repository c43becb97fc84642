package clienttests

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

const psqlBin = "/usr/bin/psql"

// normalizePsql drops what legitimately differs from PostgreSQL: the
// LOCATION line of verbose errors names PostgreSQL's C source.
func normalizePsql(s string) string {
	return regexp.MustCompile(`(?m)^LOCATION:  .*\n`).ReplaceAllString(s, "")
}

// runPsqlScript runs testdata/psql/name.sql with -f in a scratch directory
// holding copies of the data files, as `psql -X -f name.sql`.
func runPsqlScript(t *testing.T, port int, name string) string {
	t.Helper()
	dir := t.TempDir()
	files, _ := filepath.Glob("testdata/psql/*")
	for _, f := range files {
		if strings.HasSuffix(f, ".out") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, _ := runCmd(t, time.Minute, dir, pgEnv(port), psqlBin, "-X", "-f", name+".sql")
	return normalizePsql(out)
}

// TestPsqlScripts runs each testdata/psql/*.sql (DDL, COPY through \copy in
// text and CSV both ways, \dt, \d, \di, expanded output, errors with
// SQLSTATE, DETAIL and positions in verbose mode) and compares psql's
// output with what PostgreSQL 15 printed for the same script.
func TestPsqlScripts(t *testing.T) {
	need(t, psqlBin)
	scripts, _ := filepath.Glob("testdata/psql/*.sql")
	if len(scripts) == 0 {
		t.Fatal("no scripts")
	}
	var pgPort int
	if *rewrite {
		pgPort = startPG15(t)
	}
	for _, s := range scripts {
		name := strings.TrimSuffix(filepath.Base(s), ".sql")
		t.Run(name, func(t *testing.T) {
			golden := filepath.Join("testdata/psql", name+".out")
			if *rewrite {
				out := runPsqlScript(t, pgPort, name)
				if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
				t.Logf("rewrote %s from PostgreSQL 15", golden)
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -rewrite to produce it from PostgreSQL 15)", err)
			}
			n := startMemory(t)
			got := runPsqlScript(t, n.Port, name)
			if got != string(want) {
				t.Errorf("psql output differs from PostgreSQL 15 (%s):\n%s", golden, lineDiff(string(want), got))
			}
		})
	}
}

// lineDiff shows the first differing lines with context.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			lo := max(0, i-3)
			return "context:\n  " + strings.Join(g[lo:i], "\n  ") + "\nline " + strconv.Itoa(i+1) + ":\n- " + a + "\n+ " + b
		}
	}
	return ""
}

// TestPsqlCommands covers -c (several, in order, stopping at the first
// error with exit code 1 under ON_ERROR_STOP), unaligned output, and \l.
func TestPsqlCommands(t *testing.T) {
	need(t, psqlBin)
	n := startMemory(t)
	env := pgEnv(n.Port)
	out := mustRun(t, time.Minute, "", env, psqlBin, "-X", "-At",
		"-c", "CREATE TABLE kv (k text PRIMARY KEY, v int)",
		"-c", "INSERT INTO kv VALUES ('a', 1), ('b', NULL)",
		"-c", "SELECT k, v, v IS NULL FROM kv ORDER BY k",
		"-c", "SELECT current_database(), current_schema(), '2026-11-21'::date::text")
	want := "CREATE TABLE\nINSERT 0 2\na|1|f\nb||t\npostgres|public|2026-11-21\n"
	if out != want {
		t.Errorf("psql -c output:\n%s\nwant:\n%s", out, want)
	}
	out, err := runCmd(t, time.Minute, "", env, psqlBin, "-X", "-v", "ON_ERROR_STOP=1", "-c", "SELECT 1/0", "-c", "SELECT 'not reached'")
	if err == nil || !strings.Contains(out, "ERROR:  division by zero") || strings.Contains(out, "not reached") {
		t.Errorf("ON_ERROR_STOP: err=%v out=%s", err, out)
	}
	out = mustRun(t, time.Minute, "", env, psqlBin, "-X", "-c", `\l`)
	for _, s := range []string{"List of databases", "postgres  | postgres | UTF8", "template1"} {
		if !strings.Contains(out, s) {
			t.Errorf(`\l output lacks %q:\n%s`, s, out)
		}
	}
}
