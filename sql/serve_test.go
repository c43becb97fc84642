package sql

import (
	"context"
	"os"
	"os/signal"
	"testing"

	"github.com/heliosdb/heliosdb-lite/engine"
	"github.com/heliosdb/heliosdb-lite/pgwire"
)

// TestServe runs a pgwire server on $SQL_SERVE_ADDR until interrupted, for
// manual testing with psql, pgbench and drivers. Skipped unless set.
func TestServe(t *testing.T) {
	addr := os.Getenv("SQL_SERVE_ADDR")
	if addr == "" {
		t.Skip("SQL_SERVE_ADDR not set")
	}
	e := engine.New()
	db := New(NewLocalConfig(e))
	cfg := pgwire.DefaultConfig()
	cfg.ListenAddr = addr
	srv, err := pgwire.New(cfg, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	go func() { <-ctx.Done(); srv.Close() }()
	_ = srv.ListenAndServe(ctx)
}
