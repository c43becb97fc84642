package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/heliosdb/heliosdb-lite/internal/proctest"
)

// TestSalvageTornTailAndTrailingBytes: `restore --salvage` recovers what
// `verify` calls usable from a file that ends early (a truncated copy, an
// append cut inside its segment) or carries bytes after its last segment,
// restores every intact batch and names the lost range.
func TestSalvageTornTailAndTrailingBytes(t *testing.T) {
	src := proctest.Start(t, "src", "--memory")
	// Several batches (2 MiB raw each), so a cut falls between intact ones.
	psql(t, src, "create table big(id int primary key, pad text); insert into big select g, repeat(md5(g::text), 3) from generate_series(1, 60000) g; create table small(k int primary key, v int); insert into small select g, g from generate_series(1, 100) g")
	dir := t.TempDir()
	full := filepath.Join(dir, "full.heliodump")
	cli(t, src, 0, "dump", "--output", full, "--compress", "none")
	b, err := os.ReadFile(full)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	dst := proctest.Start(t, "dst", "--memory")

	// Bytes after a complete dump: everything restores.
	junk := write("junk.heliodump", append(append([]byte(nil), b...), "garbage\n"...))
	if _, se := cli(t, nil, 3, "verify", "--input", junk); !strings.Contains(se, "--salvage") {
		t.Fatalf("verify does not point to salvage: %s", se)
	}
	out, _ := cli(t, dst, 0, "restore", "--input", junk, "--salvage")
	if !strings.Contains(out, "Torn tail at offset "+strconv.Itoa(len(b))) {
		t.Fatalf("salvage of a file with trailing bytes:\n%s", out)
	}
	sameContents(t, src, dst, "big", "small")

	// Cut in half: the batches before the cut restore, the rest is named.
	half := write("half.heliodump", b[:len(b)/2])
	cli(t, nil, 3, "verify", "--input", half)
	out, _ = cli(t, dst, 0, "restore", "--input", half, "--salvage")
	if !strings.Contains(out, "Lost: segment 1, table big, batch -1, byte offset ") || !strings.Contains(out, "the input ends inside the segment") || !strings.Contains(out, "Salvage: PARTIAL") {
		t.Fatalf("salvage of a truncated file:\n%s", out)
	}
	got := psql(t, dst, "select count(*), min(id), max(id) from big")
	n, _ := strconv.Atoi(strings.Split(got, "|")[0])
	if n == 0 || n >= 60000 || got != strconv.Itoa(n)+"|1|"+strconv.Itoa(n) {
		t.Fatalf("big after salvaging half the file: count|min|max = %s", got)
	}
	if !strings.Contains(out, "Rows recovered: ") || !strings.Contains(out, "Table big: "+commaInt(n)+" rows recovered") {
		t.Fatalf("salvage report does not match the %d rows restored:\n%s", n, out)
	}
	digest := "select md5(string_agg(id || ':' || pad, ',' order by id)) from big where id <= " + strconv.Itoa(n)
	if psql(t, dst, digest) != psql(t, src, digest) {
		t.Fatal("salvaged rows differ from the source's")
	}
	// small lies after the cut: nothing of it came back and its row count
	// went with the footer, so the server's copy (100 rows, from the
	// restore above) is kept rather than emptied.
	if got := psql(t, dst, "select count(*) from small"); got != "100" || !strings.Contains(out, "Left as they were: small (") {
		t.Fatalf("small after salvaging half the file: %s rows\n%s", got, out)
	}

	// An append cut inside its segment: the first segment restores whole.
	two := write("two.heliodump", b)
	psql(t, src, "update big set pad = 'new' where id <= 10; insert into small values (101, 1)")
	cli(t, src, 0, "dump", "--output", two, "--append", "--compress", "none")
	b2, err := os.ReadFile(two)
	if err != nil {
		t.Fatal(err)
	}
	two = write("two.heliodump", b2[:(len(b)+len(b2))/2])
	if _, se := cli(t, nil, 3, "verify", "--input", two); !strings.Contains(se, "--salvage") {
		t.Fatalf("verify of a torn append: %s", se)
	}
	out, _ = cli(t, dst, 0, "restore", "--input", two, "--salvage")
	if !strings.Contains(out, "Lost: segment 2, ") || !strings.Contains(out, "Segments read: 2") {
		t.Fatalf("salvage of a torn append:\n%s", out)
	}
	if got := psql(t, dst, "select count(*) from big") + "," + psql(t, dst, "select count(*) >= 100 from small"); got != "60000,t" {
		t.Fatalf("after salvaging a torn append: big rows, small >= 100 = %s", got)
	}
	// The salvage lost rows of segment 2, so an increment continuing the
	// intact chain (from segment 2's end) must not be applied on top.
	chain := write("chain.heliodump", b2)
	psql(t, src, "insert into small values (102, 2)")
	cli(t, src, 0, "dump", "--output", chain+".inc1", "--append", "--compress", "none")
	before := psql(t, dst, "select count(*) from small")
	if _, se := cli(t, dst, 1, "restore", "--input", chain+".inc1", "--mode", "append"); !strings.Contains(se, "restored with --salvage") {
		t.Fatalf("an increment on top of a lossy salvage: %s", se)
	}
	if psql(t, dst, "select count(*) from small") != before {
		t.Fatal("the refused increment changed data")
	}
}

// commaInt formats n like the reports do (1,234).
func commaInt(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
