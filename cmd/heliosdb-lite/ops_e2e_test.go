package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/heliosdb/heliosdb-lite/internal/proctest"
)

// TestOperationsScripts runs docs/ops/*.sh, the workflows of
// docs/operations.md, as written, against real nodes.
func TestOperationsScripts(t *testing.T) {
	prod := proctest.Start(t, "prod", "--memory")
	psql(t, prod, fillSQL+`
create table daily_metrics(day date primary key, visits int);
insert into daily_metrics select date '2025-01-01' + g, g * 10 from generate_series(0, 99) g;
create table user_aggregates(user_id int primary key, orders int);
insert into user_aggregates select g, g % 5 from generate_series(1, 200) g;
create table revenue_summary(month text primary key, total numeric(12,2));
insert into revenue_summary values ('2025-01', 1000.50), ('2025-02', 2000.25);`)
	ops := filepath.Join(proctest.RepoRoot(), "docs", "ops")
	binDir := filepath.Dir(proctest.Binary(t))
	dir := t.TempDir()
	run := func(script string, env ...string) string {
		t.Helper()
		cmd := exec.Command("bash", filepath.Join(ops, script))
		cmd.Env = append(os.Environ(), "PATH="+binDir+":"+os.Getenv("PATH"), "PGHOST=127.0.0.1", "PGPORT="+strconv.Itoa(prod.Port), "PGUSER=postgres")
		cmd.Env = append(cmd.Env, env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", script, err, out)
		}
		return string(out)
	}
	backup, offsite := filepath.Join(dir, "backups"), filepath.Join(dir, "offsite")
	out := run("daily-backup.sh", "BACKUP_DIR="+backup, "OFFSITE_DIR="+offsite)
	if !strings.Contains(out, "Dump complete: 6 tables") {
		t.Fatalf("daily backup output:\n%s", out)
	}
	if b, _ := os.ReadFile(filepath.Join(backup, "backup.log")); !strings.Contains(string(b), "Backup completed successfully") {
		t.Fatal("daily backup did not log")
	}
	// Hourly: base, then two increments after writes; the file restores
	// to production's state.
	run("hourly-incremental.sh", "BACKUP_DIR="+backup)
	psql(t, prod, "delete from users where id < 50; insert into sessions values ('x', 1)")
	run("hourly-incremental.sh", "BACKUP_DIR="+backup)
	psql(t, prod, "update orders set note = 'changed' where id < 10")
	run("hourly-incremental.sh", "BACKUP_DIR="+backup)
	base := filepath.Join(backup, "incremental", "base.heliodump")
	o, _ := cli(t, nil, 0, "inspect", "--input", base)
	if !strings.Contains(o, "Segments: 3") {
		t.Fatalf("hourly chain:\n%s", o)
	}
	check := proctest.Start(t, "check", "--memory")
	cli(t, check, 0, "restore", "--input", base)
	sameContents(t, prod, check, allTables...)

	// DR drill against the daily backup (taken before the later writes, so
	// production moves on first: refresh the backup, then drill).
	run("daily-backup.sh", "BACKUP_DIR="+backup, "OFFSITE_DIR="+offsite)
	out = run("dr-drill.sh", "OFFSITE_DIR="+offsite, "DRILL_PORT="+strconv.Itoa(proctest.FreePort(t)), "PROD_HOST=127.0.0.1", "PROD_PORT="+strconv.Itoa(prod.Port))
	if !strings.Contains(out, "DR Test PASSED") || !strings.Contains(out, "✓ users:") {
		t.Fatalf("dr drill:\n%s", out)
	}

	// Dev reset: seed once, scribble, reset.
	fixture := filepath.Join(dir, "fixtures", "seed-data.heliodump")
	dev := proctest.Start(t, "dev", "--memory")
	psql(t, dev, fillSQL)
	devEnv := []string{"PGPORT=" + strconv.Itoa(dev.Port), "FIXTURE=" + fixture}
	run("dev-reset.sh", append(devEnv, "SEED=1")...)
	want := contents(t, dev, allTables...)
	psql(t, dev, "delete from users; create table scratch(a int)")
	run("dev-reset.sh", devEnv...)
	if contents(t, dev, allTables...) != want || psql(t, dev, "select count(*) from information_schema.tables where table_name = 'scratch'") != "0" {
		t.Fatal("dev reset did not restore the seed exactly")
	}

	// Analytics export: the three tables, copied to the warehouse.
	exports, wh := filepath.Join(dir, "exports"), filepath.Join(dir, "warehouse")
	run("analytics-export.sh", "EXPORT_DIR="+exports, "WAREHOUSE_DIR="+wh)
	m, _ := filepath.Glob(filepath.Join(wh, "analytics-*.heliodump"))
	if len(m) != 1 {
		t.Fatalf("warehouse holds %v", m)
	}
	o, _ = cli(t, nil, 0, "inspect", "--input", m[0])
	if !strings.Contains(o, "Tables: 3\n") || !strings.Contains(o, "Table: revenue_summary") || !strings.Contains(o, "zstd level 9") {
		t.Fatalf("analytics export:\n%s", o)
	}
}
