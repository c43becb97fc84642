package clienttests

import (
	"context"

	"github.com/heliosdb/heliosdb-lite/internal/proctest"
	"github.com/jackc/pgx/v5"
)

// proctestConnect opens a pgx connection the caller closes (Node.Connect
// fails the test, which a writer goroutine racing a kill must not do).
func proctestConnect(ctx context.Context, n *proctest.Node) (*pgx.Conn, error) {
	return pgx.Connect(ctx, n.DSN())
}
