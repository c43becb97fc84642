package clienttests

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Debian's interpreter: the first python3 on PATH may be another one
// without python3-psycopg2.
const (
	debianPython = "/usr/bin/python3"
	jdbcJar      = "/usr/share/java/postgresql.jar"
	javacBin     = "/usr/bin/javac"
	javaBin      = "/usr/bin/java"
)

// TestPsycopg2 runs testdata/psycopg2_client.py: executemany, every type
// round trip (Decimal, aware datetime, date, uuid, memoryview, json),
// psycopg2.errors classes, transactions and copy_expert.
func TestPsycopg2(t *testing.T) {
	need(t, debianPython)
	if out, err := exec.Command(debianPython, "-c", "import psycopg2").CombinedOutput(); err != nil {
		t.Skipf("python3-psycopg2 not installed: %s", out)
	}
	n := startMemory(t)
	dsn := fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=postgres sslmode=disable", n.Port)
	out := mustRun(t, 2*time.Minute, "", pgEnv(n.Port), debianPython, "testdata/psycopg2_client.py", dsn)
	for _, check := range []string{"connect", "create", "executemany", "types round trip", "params", "error classes", "transactions", "copy_expert", "expressions"} {
		if !strings.Contains(out, "ok "+check+"\n") {
			t.Errorf("check %q did not pass:\n%s", check, out)
		}
	}
	if !strings.HasSuffix(out, "done\n") {
		t.Errorf("script did not finish:\n%s", out)
	}
}

// TestJDBC compiles testdata/JdbcClient.java and runs it against the
// server: PreparedStatement with every type (server-side prepared from the
// first execution), ResultSetMetaData, DatabaseMetaData.getTables and
// getColumns and getPrimaryKeys, batch inserts, transactions, SQLSTATEs.
func TestJDBC(t *testing.T) {
	need(t, jdbcJar)
	need(t, javacBin)
	need(t, javaBin)
	classes := t.TempDir()
	mustRun(t, 2*time.Minute, "", nil, javacBin, "-d", classes, "-cp", jdbcJar, "testdata/JdbcClient.java")
	n := startMemory(t)
	url := fmt.Sprintf("jdbc:postgresql://127.0.0.1:%d/postgres?sslmode=disable", n.Port)
	out := mustRun(t, 2*time.Minute, "", nil, javaBin, "-cp", jdbcJar+string(filepath.ListSeparator)+classes, "JdbcClient", url)
	for _, want := range []string{
		"ok connect PostgreSQL\n",
		"ok prepared insert\n",
		"ok prepared select\n",
		"rs meta id:int4:4 label:text:12 n:numeric:2 tstz:timestamptz:93\n",
		"rs tables public.j_types:TABLE\n",
		"rs columns id:int4:4:NO,i2:int2:5:YES,i8:int8:-5:YES,f4:float4:7:YES,f8:float8:8:YES,n:numeric:2:YES,b:bool:-7:YES," +
			"t:text:12:YES,vc:varchar:12:YES,ch:bpchar:1:YES,ba:bytea:-2:YES,d:date:91:YES,ts:timestamp:93:YES," +
			"tstz:timestamptz:93:YES,u:uuid:1111:YES,j:json:1111:YES,jb:jsonb:1111:YES\n",
		"rs pkeys j_types.id:1:j_types_pkey\n",
		"rs pkeys jk_pair.b:1:jk_pair_pkey,jk_pair.a:2:jk_pair_pkey\n",
		"ok metadata\n",
		"ok transactions\n",
		"rs error ERROR: syntax error at or near \"SELEC\"\n",
		"ok errors\n",
		"rs floats Infinity -Infinity NaN 1.0E308 1.1 1000000.0 1e+06\ndone\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("JDBC output lacks %q:\n%s", want, out)
		}
	}
}
