package proctest

import (
	"context"
	"testing"
)

func TestStartRestartKill(t *testing.T) {
	dir := t.TempDir()
	n := Start(t, "n1", "--data-dir", dir)
	ctx := context.Background()
	c := n.Connect(ctx)
	if _, err := c.Exec(ctx, "create table t(id int primary key, v text)"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, "insert into t values (1,'a'),(2,'b')"); err != nil {
		t.Fatal(err)
	}
	n.Kill()
	if n.Running() {
		t.Fatal("still running after kill")
	}
	n.Restart()
	c2 := n.Connect(ctx)
	var cnt int
	if err := c2.QueryRow(ctx, "select count(*) from t").Scan(&cnt); err != nil || cnt != 2 {
		t.Fatalf("after SIGKILL and restart: count=%d err=%v", cnt, err)
	}
}
