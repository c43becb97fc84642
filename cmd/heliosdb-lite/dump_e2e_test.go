package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/heliosdb/heliosdb-lite/internal/proctest"
)

// End-to-end tests of the guide's dump and restore commands: real server
// processes, psql for SQL, the built CLI for dump/restore.

// psql runs SQL through /usr/bin/psql and returns unaligned output.
func psql(t *testing.T, n *proctest.Node, sql string) string {
	t.Helper()
	out, err := execPsql(n.Port, sql)
	if err != nil {
		t.Fatalf("psql %q: %v\n%s", sql, err, out)
	}
	return out
}

func execPsql(port int, sql string) (string, error) {
	out, err := exec.Command("/usr/bin/psql", "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "postgres", "-X", "-Atq", "-v", "ON_ERROR_STOP=1", "-c", sql).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// cli runs heliosdb-lite against node n (connection flags appended) and
// fails the test if the exit code is not want.
func cli(t *testing.T, n *proctest.Node, want int, args ...string) (string, string) {
	t.Helper()
	if n != nil {
		args = append(args, "--host", "127.0.0.1", "--port", strconv.Itoa(n.Port))
	}
	so, se, code := proctest.Run(t, args...)
	if code != want {
		t.Fatalf("heliosdb-lite %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, so, se)
	}
	return so, se
}

const fillSQL = `
create table users(id int primary key, email text unique, age int, created_at timestamp);
insert into users select g, 'user' || g || '@example.com', g % 90, timestamp '2025-01-01' + g * interval '1 minute' from generate_series(1, 3000) g;
create table orders(id serial primary key, user_id int, amount numeric(10,2), note text);
insert into orders(user_id, amount, note) select g % 3000 + 1, g * 1.25, case when g % 7 = 0 then null else 'n' || g end from generate_series(1, 4000) g;
create table sessions(token text, user_id int);
insert into sessions select 't' || g, g from generate_series(1, 500) g;
`

var allTables = []string{"users", "orders", "sessions"}

// contents returns every table's rows in a fixed order plus the count.
func contents(t *testing.T, n *proctest.Node, tables ...string) string {
	t.Helper()
	var b strings.Builder
	for _, tb := range tables {
		b.WriteString("== " + tb + "\n")
		b.WriteString(psql(t, n, "select * from "+tb+" order by 1, 2"))
		b.WriteString("\n")
	}
	return b.String()
}

func sameContents(t *testing.T, a, b *proctest.Node, tables ...string) {
	t.Helper()
	ca, cb := contents(t, a, tables...), contents(t, b, tables...)
	if ca != cb {
		t.Fatalf("contents differ:\n%s\n---\n%s", firstDiff(ca, cb), "")
	}
}

func firstDiff(a, b string) string {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(la) && i < len(lb); i++ {
		if la[i] != lb[i] {
			return "line " + strconv.Itoa(i) + ": " + la[i] + " | " + lb[i]
		}
	}
	return "lengths " + strconv.Itoa(len(la)) + " vs " + strconv.Itoa(len(lb))
}

func TestDumpRestoreEachCompression(t *testing.T) {
	src := proctest.Start(t, "src", "--memory")
	psql(t, src, fillSQL)
	if d := psql(t, src, "select pg_stat_get_dirty_bytes() > 0, pg_table_dirty_bytes('users') > 0"); d != "t|t" {
		t.Fatalf("dirty bytes before dump: %s", d)
	}
	dir := t.TempDir()
	dst := proctest.Start(t, "dst", "--memory")
	for _, c := range []string{"none", "lz4", "zstd"} {
		f := filepath.Join(dir, c+".heliodump")
		// To a file, the verbose lines go to standard output, where the
		// guide's `dump --verbose | tee >(grep "Dump complete" ...)` reads
		// them.
		so, _ := cli(t, src, 0, "dump", "--output", f, "--compress", c, "--verbose")
		for _, want := range []string{"Starting dump...", "Dumping table 'orders' (1/3)", "Exported 4,000 rows (", "Dump complete: 3 tables, 7,500 rows, "} {
			if !strings.Contains(so, want) {
				t.Fatalf("%s: verbose output lacks %q:\n%s", c, want, so)
			}
		}
		if d := psql(t, src, "select pg_stat_get_dirty_bytes(), pg_table_dirty_bytes('users')"); d != "0|0" {
			t.Fatalf("dirty bytes after a full dump: %s", d)
		}
		out, _ := cli(t, dst, 0, "restore", "--input", f)
		if !strings.Contains(out, "Row-hash check: PASSED: the per-table row-hash sums equal the dump footer's (3 of 3 tables)") {
			t.Fatalf("%s: restore output:\n%s", c, out)
		}
		sameContents(t, src, dst, allTables...)
	}
	psql(t, src, "insert into sessions values ('late', 1)")
	if d := psql(t, src, "select pg_stat_get_dirty_bytes() > 0"); d != "t" {
		t.Fatal("dirty bytes do not grow with writes")
	}
	// Identity sequences come back: the next serial continues.
	psql(t, dst, "insert into orders(user_id, amount) values (1, 1)")
	if got := psql(t, dst, "select max(id) from orders"); got != "4001" {
		t.Fatalf("serial after restore gave %s, want 4001", got)
	}

	// Dump to standard output: nothing else there, and it restores.
	so, se := cli(t, src, 0, "dump", "--output", "-", "--verbose", "--compress", "lz4")
	if !strings.HasPrefix(so, "HELIODMP") || !strings.Contains(se, "Dump complete") {
		t.Fatalf("stdout dump: %d bytes starting %q; stderr %q", len(so), so[:min(8, len(so))], se)
	}
	piped := filepath.Join(dir, "piped.heliodump")
	if err := os.WriteFile(piped, []byte(so), 0o644); err != nil {
		t.Fatal(err)
	}
	cli(t, dst, 0, "restore", "--input", piped)
	sameContents(t, src, dst, allTables...)

	// Dry runs.
	out, _ := cli(t, src, 0, "dump", "--output", "/dev/null", "--dry-run", "--compress", "zstd")
	if !strings.HasPrefix(out, "Estimated dump size: ") || !strings.Contains(out, "(compressed)\nEstimated time: ") || !strings.HasSuffix(out, " seconds\n") {
		t.Fatalf("dump --dry-run:\n%s", out)
	}
	out, _ = cli(t, nil, 0, "restore", "--input", filepath.Join(dir, "zstd.heliodump"), "--dry-run")
	for _, want := range []string{"Dump file: ", "Version: 3.1.0 (compatible)", "Tables: orders, sessions, users", "Total rows: 7,500", "Estimated restore time: ", "Validation: PASSED"} {
		if !strings.Contains(out, want) {
			t.Fatalf("restore --dry-run lacks %q:\n%s", want, out)
		}
	}
}

func TestAppendChainAndIncrementFiles(t *testing.T) {
	src := proctest.Start(t, "src", "--memory")
	psql(t, src, fillSQL)
	dir := t.TempDir()
	base := filepath.Join(dir, "base.heliodump")
	cli(t, src, 0, "dump", "--output", base, "--compress", "zstd")
	sep := filepath.Join(dir, "sep.heliodump")
	if err := copyFile(base, sep); err != nil {
		t.Fatal(err)
	}
	psql(t, src, "delete from users where id between 10 and 60; update orders set amount = 0 where id < 100; insert into sessions values ('new', 7)")
	cli(t, src, 0, "dump", "--output", base, "--append", "--compress", "zstd")
	cli(t, src, 0, "dump", "--output", sep+".inc1", "--append")
	psql(t, src, "drop table sessions; create table extra(k int primary key, v text); insert into extra values (1, null), (2, $$b$$); delete from orders where id > 3990")
	cli(t, src, 0, "dump", "--output", base, "--append", "--compress", "lz4")
	cli(t, src, 0, "dump", "--output", sep+".inc2", "--append")

	out, _ := cli(t, nil, 0, "inspect", "--input", base, "--table", "orders")
	if !strings.Contains(out, "Segments: 3") || !strings.Contains(out, "  Row count: 3990\n") {
		t.Fatalf("inspect:\n%s", out)
	}
	// The appended file restores to the source's state.
	dst := proctest.Start(t, "dst", "--memory")
	cli(t, dst, 0, "restore", "--input", base)
	sameContents(t, src, dst, "users", "orders", "extra")
	if got := psql(t, dst, "select count(*) from information_schema.tables where table_name = 'sessions'"); got != "0" {
		t.Fatal("table dropped at the source survived the chain restore")
	}
	// Separate increment files, in order; a gap or replay is refused
	// before anything changes.
	dst2 := proctest.Start(t, "dst2", "--memory")
	cli(t, dst2, 0, "restore", "--input", sep)
	before := contents(t, dst2, "users", "orders", "sessions")
	_, se := cli(t, dst2, 1, "restore", "--input", sep+".inc2", "--mode", "append")
	if !strings.Contains(se, "a file is missing or out of order") {
		t.Fatalf("gap not explained: %s", se)
	}
	if contents(t, dst2, "users", "orders", "sessions") != before {
		t.Fatal("refused increment changed data")
	}
	out, _ = cli(t, dst2, 0, "restore", "--input", sep+".inc1", "--mode", "append")
	if !strings.Contains(out, "row-hash sums equal the dump footer's") {
		t.Fatalf("increment restore output:\n%s", out)
	}
	cli(t, dst2, 1, "restore", "--input", sep+".inc1", "--mode", "append") // replay refused
	cli(t, dst2, 0, "restore", "--input", sep+".inc2", "--mode", "append")
	sameContents(t, src, dst2, "users", "orders", "extra")

	// The guide's hourly increments: --append to a new file continues
	// the last complete dump this server gave (here the last append to
	// base), and the chain restores in order.
	psql(t, src, "insert into extra values (3, 'hourly'); delete from users where id = 5")
	hourly := filepath.Join(dir, "inc-20260101-03.heliodump")
	cli(t, src, 0, "dump", "--output", hourly, "--append", "--compress", "lz4")
	psql(t, src, "update extra set v = 'later' where k = 1")
	hourly2 := filepath.Join(dir, "inc-20260101-04.heliodump")
	cli(t, src, 0, "dump", "--output", hourly2, "--append", "--compress", "lz4")
	dst3 := proctest.Start(t, "dst3", "--memory")
	cli(t, dst3, 0, "restore", "--input", base)
	cli(t, dst3, 1, "restore", "--input", hourly2, "--mode", "append") // out of order: refused
	cli(t, dst3, 0, "restore", "--input", hourly, "--mode", "append")
	cli(t, dst3, 0, "restore", "--input", hourly2, "--mode", "append")
	sameContents(t, src, dst3, "users", "orders", "extra")

	// A server that gave no complete dump since it started has nothing
	// to continue: it says what to do.
	fresh := proctest.Start(t, "fresh", "--memory")
	_, se = cli(t, fresh, 1, "dump", "--output", filepath.Join(dir, "nothere.heliodump"), "--append")
	if !strings.Contains(se, "take a full dump first") {
		t.Fatalf("append to a new file on a server without a dump: %s", se)
	}
	if _, err := os.Stat(filepath.Join(dir, "nothere.heliodump")); !os.IsNotExist(err) {
		t.Fatalf("a refused dump left a file: %v", err)
	}
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o644)
}

func TestRestoreModesTablesAndConflicts(t *testing.T) {
	src := proctest.Start(t, "src", "--memory")
	psql(t, src, fillSQL)
	dir := t.TempDir()
	f := filepath.Join(dir, "all.heliodump")
	cli(t, src, 0, "dump", "--output", f)
	users := filepath.Join(dir, "users.heliodump")
	cli(t, src, 0, "dump", "--output", users, "--tables", "users,sessions")
	out, _ := cli(t, nil, 0, "inspect", "--input", users)
	if !strings.Contains(out, "Tables: 2\n") {
		t.Fatalf("--tables dump holds:\n%s", out)
	}

	dst := proctest.Start(t, "dst", "--memory")
	psql(t, dst, "create table keepme(a int); insert into keepme values (1); create table users(id int primary key, email text unique, age int, created_at timestamp); insert into users values (1, 'mine@x', 1, null), (99999, 'only@x', 2, null)")
	// --tables in clean mode replaces only the named table.
	cli(t, dst, 0, "restore", "--input", f, "--tables", "users")
	sameContents(t, src, dst, "users")
	if psql(t, dst, "select count(*) from keepme") != "1" || psql(t, dst, "select count(*) from information_schema.tables where table_name = 'orders'") != "0" {
		t.Fatal("--tables touched other tables")
	}
	// append + error: a duplicate key names table and key, changes nothing.
	psql(t, dst, "update users set email = 'changed@x' where id = 1; delete from users where id = 2")
	before := contents(t, dst, "users")
	_, se := cli(t, dst, 1, "restore", "--input", users, "--mode", "append")
	if !strings.Contains(se, `"users_pkey"`) || !strings.Contains(se, "Key (id)=(1) already exists") || !strings.Contains(se, "nothing was changed") {
		t.Fatalf("conflict error: %s", se)
	}
	if contents(t, dst, "users") != before {
		t.Fatal("failed append changed data")
	}
	// skip keeps ours and adds the missing row and the new table.
	cli(t, dst, 0, "restore", "--input", users, "--mode", "append", "--on-conflict", "skip")
	if got := psql(t, dst, "select email from users where id = 1") + "," + psql(t, dst, "select count(*) from users where id = 2") + "," + psql(t, dst, "select count(*) from sessions"); got != "changed@x,1,500" {
		t.Fatalf("skip: %s", got)
	}
	// update takes the dump's rows.
	cli(t, dst, 0, "restore", "--input", users, "--mode", "append", "--on-conflict", "update", "--tables", "users")
	if got := psql(t, dst, "select email from users where id = 1"); got != "user1@example.com" {
		t.Fatalf("update: %s", got)
	}
	// Clean restore of everything: exactly the dump, keepme is gone.
	cli(t, dst, 0, "restore", "--input", f, "--mode", "clean")
	sameContents(t, src, dst, allTables...)
	if out := psql(t, dst, "select table_name from information_schema.tables where table_schema = 'public' order by 1"); out != "orders\nsessions\nusers" {
		t.Fatalf("tables after clean restore: %q", out)
	}
	// The guide's pipeline: one table per line into xargs.
	bin := proctest.Binary(t)
	sh := `"$BIN" tables --host 127.0.0.1 --port $PORT | grep -v 'logs\|temp' | xargs -I{} "$BIN" dump --host 127.0.0.1 --port $PORT --output "$DIR/prod-{}.heliodump" --tables {}`
	cmd := exec.Command("bash", "-c", sh)
	cmd.Env = append(os.Environ(), "BIN="+bin, "PORT="+strconv.Itoa(dst.Port), "DIR="+dir)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tables | xargs dump: %v\n%s", err, b)
	}
	for _, tb := range allTables {
		if _, err := os.Stat(filepath.Join(dir, "prod-"+tb+".heliodump")); err != nil {
			t.Fatalf("pipeline did not dump %s: %v", tb, err)
		}
	}
	out, _ = cli(t, dst, 0, "tables", "--long")
	if !strings.Contains(out, "users") || !strings.Contains(out, "3,000") {
		t.Fatalf("tables --long:\n%s", out)
	}
}

func TestCorruptFileRefusedAndExitCodes(t *testing.T) {
	src := proctest.Start(t, "src", "--memory")
	psql(t, src, fillSQL)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.heliodump")
	cli(t, src, 0, "dump", "--output", good, "--compress", "none")
	out, _ := cli(t, nil, 0, "verify", "--input", good)
	want := []string{"Verifying " + good + "...", "Magic: OK", "Version: 3.1.0 (compatible)", "Metadata checksum: OK", "Data checksum: OK (CRC32: 0x", "Verification: PASSED"}
	for i, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if i >= len(want) || !strings.HasPrefix(line, want[i]) {
			t.Fatalf("verify output line %d %q, want prefix %q:\n%s", i, line, want[min(i, len(want)-1)], out)
		}
	}
	// The guide's validation script reads the third field of "Row count".
	out, _ = cli(t, nil, 0, "inspect", "--input", good, "--table", "users")
	var count string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "Row count") {
			count = strings.Fields(l)[2]
		}
	}
	if count != "3000" {
		t.Fatalf("inspect Row count field = %q:\n%s", count, out)
	}

	b, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x5a
	bad := filepath.Join(dir, "bad.heliodump")
	if err := os.WriteFile(bad, b, 0o644); err != nil {
		t.Fatal(err)
	}
	dst := proctest.Start(t, "dst", "--memory")
	psql(t, dst, "create table canary(a int); insert into canary values (42)")
	_, se := cli(t, dst, 3, "restore", "--input", bad)
	if !strings.Contains(se, "nothing was changed") || !strings.Contains(se, "is damaged") || !strings.Contains(se, "Verification: FAILED") {
		t.Fatalf("corrupt restore stderr: %s", se)
	}
	// The same through the staged path (a table subset, appended).
	if _, se := cli(t, dst, 3, "restore", "--input", bad, "--tables", "users", "--mode", "append"); !strings.Contains(se, "is damaged") {
		t.Fatalf("corrupt staged restore stderr: %s", se)
	}
	if psql(t, dst, "select a from canary") != "42" || psql(t, dst, "select count(*) from information_schema.tables where table_schema = 'public'") != "1" {
		t.Fatal("corrupt file changed the database")
	}
	cli(t, nil, 3, "verify", "--input", bad)
	cli(t, nil, 3, "restore", "--input", bad, "--dry-run")
	// Salvage restores the intact batches and names what was lost.
	out, _ = cli(t, dst, 0, "restore", "--input", bad, "--salvage")
	if !strings.Contains(out, "Lost: segment 1, table ") || !strings.Contains(out, "Salvage: PARTIAL") {
		t.Fatalf("salvage output:\n%s", out)
	}
	// One flipped byte damages one batch of one table: the tables that
	// lost nothing are verified against the footer (it said 0 of 3).
	if m := regexp.MustCompile(`Row-hash check: (\d+) of (\d+) tables`).FindStringSubmatch(out); m == nil || m[1] != "2" || m[2] != "3" {
		t.Fatalf("salvage row-hash check (want 2 of 3 tables):\n%s", out)
	}
	// Exit codes: usage 2, failure 1, bad file 3.
	cli(t, nil, 2, "dump", "--output", filepath.Join(dir, "x"), "--compress", "gzip")
	cli(t, nil, 2, "restore")
	cli(t, nil, 1, "dump", "--output", filepath.Join(dir, "x"), "--port", strconv.Itoa(proctest.FreePort(t)))
	_, se = cli(t, src, 1, "dump", "--output", "/nonexistent-dir/x.heliodump")
	if !strings.Contains(se, "/nonexistent-dir/x.heliodump") {
		t.Fatalf("unwritable path not named: %s", se)
	}
	notDump := filepath.Join(dir, "notdump")
	_ = os.WriteFile(notDump, []byte("hello, this is not a dump file at all......"), 0o644)
	cli(t, nil, 3, "verify", "--input", notDump)
	cli(t, nil, 3, "inspect", "--input", notDump)
}

func TestKilledDumpLeavesNoFile(t *testing.T) {
	src := proctest.Start(t, "src", "--memory")
	psql(t, src, "create table big(id int primary key, pad text); insert into big select g, repeat(md5(g::text), 8) from generate_series(1, 60000) g")
	dir := t.TempDir()
	out := filepath.Join(dir, "big.heliodump")
	cmd := exec.Command(proctest.Binary(t), "dump", "--output", out, "--compress", "zstd", "--compression-level", "19", "--host", "127.0.0.1", "--port", strconv.Itoa(src.Port))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill once the temp file has data, i.e. mid-dump.
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		m, _ := filepath.Glob(filepath.Join(dir, ".big.heliodump.tmp-*"))
		if len(m) > 0 {
			if fi, err := os.Stat(m[0]); err == nil && fi.Size() > 0 {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	if _, err := os.Stat(out); err == nil {
		t.Skip("the dump finished before it could be killed; nothing to check on this machine")
	}
	// Only the hidden temp file may remain; it never has the final name
	// and verify calls it incomplete.
	m, _ := filepath.Glob(filepath.Join(dir, ".big.heliodump.tmp-*"))
	for _, p := range m {
		cli(t, nil, 3, "verify", "--input", p)
	}
}

// TestClusterDumpWaitFlag: `dump --cluster --wait D` bounds how long the
// command waits for the nodes' files (passed to the server as
// wait_seconds); a wait under a second is a usage error.
func TestClusterDumpWaitFlag(t *testing.T) {
	dir := t.TempDir()
	n := proctest.Start(t, "node", "--memory", "--backup-dir", dir)
	psql(t, n, fillSQL)
	_, se := cli(t, n, exitUsage, "dump", "--cluster", "--wait", "10ms")
	if !strings.Contains(se, "--wait") {
		t.Fatalf("usage error does not name --wait: %s", se)
	}
	so, _ := cli(t, n, 0, "dump", "--cluster", "--wait", "2m", "--compress", "lz4")
	if !strings.Contains(so, "checksums agree") || !strings.Contains(so, " done ") {
		t.Fatalf("cluster dump report:\n%s", so)
	}
	files, err := filepath.Glob(filepath.Join(dir, "cluster-*.heliodump"))
	if err != nil || len(files) != 1 {
		t.Fatalf("backup_dir holds %v (%v), want one cluster dump", files, err)
	}
	cli(t, nil, 0, "verify", "--input", files[0])
}
