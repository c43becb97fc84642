package clienttests

import (
	"strings"
	"testing"
	"time"
)

// TestPsqlMultiStatementAtomic: psql -c sends its string as one simple
// Query; as in PostgreSQL 15 its statements form one implicit transaction
// block, so a failing statement undoes the ones before it, while an
// explicit COMMIT in the string commits what precedes it.
func TestPsqlMultiStatementAtomic(t *testing.T) {
	need(t, psqlBin)
	n := startMemory(t)
	env := pgEnv(n.Port)
	mustRun(t, time.Minute, "", env, psqlBin, "-X", "-c", "create table mq (a int primary key)")
	out, err := runCmd(t, time.Minute, "", env, psqlBin, "-X", "-c",
		"insert into mq values (1); insert into mq values (1); insert into mq values (3);")
	if err == nil || !strings.Contains(out, `duplicate key value violates unique constraint "mq_pkey"`) {
		t.Fatalf("duplicate insert: err=%v\n%s", err, out)
	}
	out, err = runCmd(t, time.Minute, "", env, psqlBin, "-X", "-c",
		"begin; insert into mq values (7); commit; insert into mq values (8); select 1/0")
	if err == nil || !strings.Contains(out, "division by zero") {
		t.Fatalf("division by zero: err=%v\n%s", err, out)
	}
	out, err = runCmd(t, time.Minute, "", env, psqlBin, "-X", "-c", "insert into mq values (9); vacuum")
	if err == nil || !strings.Contains(out, "VACUUM cannot run inside a transaction block") {
		t.Fatalf("vacuum: err=%v\n%s", err, out)
	}
	if got := mustRun(t, time.Minute, "", env, psqlBin, "-X", "-At", "-c", "select a from mq order by a"); got != "7\n" {
		t.Fatalf("rows after the failed Queries: %q, want only 7 (what PostgreSQL 15 keeps)", got)
	}
}
