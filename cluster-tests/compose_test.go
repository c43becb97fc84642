package clustertests

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heliosdb/heliosdb-lite/internal/proctest"
)

// composeCmd returns the compose command: the v2 plugin ("docker
// compose") if present, else docker-compose.
func composeCmd() ([]string, bool) {
	if exec.Command("docker", "compose", "version").Run() == nil {
		return []string{"docker", "compose"}, true
	}
	if p, err := exec.LookPath("docker-compose"); err == nil {
		return []string{p}, true
	}
	return nil, false
}

// TestDockerCompose brings docker-compose.yml up under a unique project
// name with free host ports, writes through one node, reads through
// another, stops the leader's container, keeps writing, starts it again
// and checks all three nodes hold the same data. It builds the static
// binary (or uses HELIOSDB_STATIC_BIN) and a FROM scratch image, and
// always removes containers, volumes, network and image. Skipped only when
// no Docker engine runs.
func TestDockerCompose(t *testing.T) {
	skipShort(t)
	if out, err := exec.Command("docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		t.Skipf("no Docker engine: docker info: %v: %s", err, strings.TrimSpace(string(out)))
	}
	compose, ok := composeCmd()
	if !ok {
		t.Skip("no docker compose / docker-compose")
	}
	root := proctest.RepoRoot()
	s := seed(t)
	project := fmt.Sprintf("hdbtest%x", s&0xffffffff)
	image := "heliosdb-lite:" + project
	t.Logf("seed %d, project %s, compose %v", s, project, compose)

	// The static binary and the image (context: a directory with only the binary).
	ctxDir := t.TempDir()
	bin := os.Getenv("HELIOSDB_STATIC_BIN")
	if bin == "" {
		bin = filepath.Join(ctxDir, "heliosdb-lite-static")
		cmd := exec.Command("go", "build", "-tags", "netgo,osusergo", "-ldflags", "-linkmode external -extldflags -static -s -w", "-o", bin, "./cmd/heliosdb-lite")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("static build: %v\n%s", err, out)
		}
	} else {
		b, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(ctxDir, "heliosdb-lite-static"), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	run := func(timeout time.Duration, env []string, args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run(5*time.Minute, nil, "docker", "build", "-q", "-f", filepath.Join(root, "Dockerfile"), "-t", image, ctxDir); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	t.Cleanup(func() { _, _ = run(time.Minute, nil, "docker", "rmi", "-f", image) })

	pg := []int{proctest.FreePort(t), proctest.FreePort(t), proctest.FreePort(t)}
	env := []string{"HELIOSDB_IMAGE=" + image}
	for i := range pg {
		env = append(env, fmt.Sprintf("HELIOSDB_PG_PORT_%d=%d", i+1, pg[i]), fmt.Sprintf("HELIOSDB_HTTP_PORT_%d=%d", i+1, proctest.FreePort(t)))
	}
	dc := func(timeout time.Duration, args ...string) (string, error) {
		full := append(append(append([]string{}, compose...), "-p", project, "-f", filepath.Join(root, "docker-compose.yml")), args...)
		return run(timeout, env, full...)
	}
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := dc(time.Minute, "logs", "--tail", "80")
			t.Logf("compose logs:\n%s", out)
		}
		if out, err := dc(3*time.Minute, "down", "-v", "--remove-orphans", "-t", "5"); err != nil {
			t.Logf("compose down: %v\n%s", err, out)
		}
	})
	if out, err := dc(3*time.Minute, "up", "-d"); err != nil {
		t.Fatalf("compose up: %v\n%s", err, out)
	}
	dsn := func(i int) string {
		return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=3", pg[i])
	}
	exec1 := func(i int, sql string, args ...any) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, dsn(i))
		if err != nil {
			return err
		}
		defer c.Close(context.Background())
		_, err = c.Exec(ctx, sql, args...)
		return err
	}
	eventually(t, 3*time.Minute, "compose cluster serves writes", func() error {
		return exec1(0, "create table if not exists t (id int primary key, v text)")
	})
	for i := 1; i <= 20; i++ {
		if err := exec1(0, "insert into t values ($1, 'n1')", i); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c2, err := pgx.Connect(ctx, dsn(1))
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := c2.QueryRow(ctx, "select count(*) from t").Scan(&n); err != nil || n != 20 {
		t.Fatalf("read through n2: %d rows, %v", n, err)
	}
	var leader string
	if err := c2.QueryRow(ctx, "select node_id from heliosdb.members where role = 'leader'").Scan(&leader); err != nil {
		t.Fatal(err)
	}
	c2.Close(ctx)
	t.Logf("leader is %s; stopping its container", leader)
	if out, err := dc(time.Minute, "stop", "-t", "2", leader); err != nil {
		t.Fatalf("stop %s: %v\n%s", leader, err, out)
	}
	li := int(leader[1] - '1')
	survivor := (li + 1) % 3
	next := 21
	eventually(t, time.Minute, "writes through a survivor after the leader stopped", func() error {
		if err := exec1(survivor, "insert into t values ($1, 'after stop')", next); err != nil {
			return err
		}
		next++
		return nil
	})
	for ; next <= 40; next++ {
		if err := exec1(survivor, "insert into t values ($1, 'after stop')", next); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := dc(time.Minute, "start", leader); err != nil {
		t.Fatalf("start %s: %v\n%s", leader, err, out)
	}
	want := next - 1
	eventually(t, 2*time.Minute, "all three nodes hold the same rows", func() error {
		var ref string
		for i := range pg {
			c, err := pgx.Connect(ctx, dsn(i))
			if err != nil {
				return err
			}
			rows, err := c.Query(ctx, "select id::text || ':' || v from t order by id")
			if err != nil {
				c.Close(ctx)
				return err
			}
			vals, err := pgx.CollectRows(rows, pgx.RowTo[string])
			c.Close(ctx)
			if err != nil {
				return err
			}
			if len(vals) != want {
				return fmt.Errorf("node %d has %d rows, want %d", i+1, len(vals), want)
			}
			got := strings.Join(vals, ",")
			if ref == "" {
				ref = got
			} else if got != ref {
				return fmt.Errorf("node %d differs", i+1)
			}
		}
		return nil
	})
	t.Logf("all three compose nodes hold the same %d rows", want)
	// The restarted node serves before gossip on the survivor sees it
	// alive again (a cluster dump would list it as missing): wait for the
	// survivor's view, as an operator would check `members` first.
	eventually(t, time.Minute, "every member healthy in the survivor's heliosdb.members", func() error {
		c, err := pgx.Connect(ctx, dsn(survivor))
		if err != nil {
			return err
		}
		defer c.Close(ctx)
		var healthy int
		if err := c.QueryRow(ctx, "select count(*) from heliosdb.members where healthy").Scan(&healthy); err != nil {
			return err
		}
		if healthy != 3 {
			return fmt.Errorf("%d of 3 members healthy", healthy)
		}
		return nil
	})

	// A cluster-wide dump taken through one node, as an operator would:
	// every node writes the same file into its own backup_dir, and the
	// dump is also copied here; then it is restored through another node.
	local := filepath.Join(t.TempDir(), "cluster.heliodump")
	out, err := run(2*time.Minute, nil, bin, "dump", "--cluster", "--host", "127.0.0.1", "--port", fmt.Sprint(pg[survivor]), "--output", local)
	if err != nil || !strings.Contains(out, "All 3 nodes wrote the dump; checksums agree") {
		t.Fatalf("dump --cluster: %v\n%s", err, out)
	}
	t.Logf("cluster dump:\n%s", out)
	if out, err := run(time.Minute, nil, bin, "backups", "--host", "127.0.0.1", "--port", fmt.Sprint(pg[0])); err != nil || !strings.Contains(out, "n1,n2,n3") {
		t.Fatalf("backups: %v\n%s", err, out)
	}
	if err := exec1(0, "delete from t where id > 10"); err != nil {
		t.Fatal(err)
	}
	out, err = run(2*time.Minute, nil, bin, "restore", "--input", local, "--host", "127.0.0.1", "--port", fmt.Sprint(pg[(survivor+1)%3]))
	if err != nil {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	eventually(t, time.Minute, "every node holds the restored rows", func() error {
		for i := range pg {
			c, err := pgx.Connect(ctx, dsn(i))
			if err != nil {
				return err
			}
			var n int
			err = c.QueryRow(ctx, "select count(*) from t").Scan(&n)
			c.Close(ctx)
			if err != nil {
				return err
			}
			if n != want {
				return fmt.Errorf("node %d has %d rows after restore, want %d", i+1, n, want)
			}
		}
		return nil
	})
}
