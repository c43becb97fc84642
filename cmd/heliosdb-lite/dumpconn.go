package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/spf13/pflag"
)

// connFlags are the connection flags of the client commands (dump,
// restore, tables): the same port and authentication as SQL clients.
// PGHOST, PGPORT, PGUSER and PGPASSWORD fill what the flags leave unset.
type connFlags struct {
	host     string
	port     int
	user     string
	password string
}

func (c *connFlags) add(fs *pflag.FlagSet) {
	fs.StringVar(&c.host, "host", envOr("PGHOST", "localhost"), "server host (env PGHOST)")
	port, _ := strconv.Atoi(envOr("PGPORT", "5432"))
	fs.IntVar(&c.port, "port", port, "server PostgreSQL port (env PGPORT)")
	fs.StringVar(&c.user, "user", envOr("PGUSER", "postgres"), "user name (env PGUSER)")
	fs.StringVar(&c.password, "password", "", "password (prefer env PGPASSWORD: flags show up in ps)")
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func (c *connFlags) addr() string { return fmt.Sprintf("%s:%d", c.host, c.port) }

// connect opens one PostgreSQL connection. Errors say where and what to
// try next.
func (c *connFlags) connect(ctx context.Context) (*pgconn.PgConn, error) {
	dsn := fmt.Sprintf("host=%s port=%d user=%s dbname=postgres sslmode=disable connect_timeout=10", quoteDSN(c.host), c.port, quoteDSN(c.user))
	if c.password != "" {
		dsn += " password=" + quoteDSN(c.password)
	}
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return nil, withCode(exitUsage, fmt.Errorf("connection settings: %v", err))
	}
	// localhost may resolve to ::1 first while the server listens on
	// 127.0.0.1 only: pgconn tries every address, so this just works.
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			// The server answered: it runs, and refused us.
			hint := ""
			switch pe.Code {
			case "28P01", "28000":
				hint = " (check --user and --password, or PGUSER/PGPASSWORD)"
			}
			return nil, fmt.Errorf("the server at %s refused the connection: %w%s", c.addr(), pe, hint)
		}
		return nil, fmt.Errorf("cannot connect to the server at %s: %w (is it running? start one with 'heliosdb-lite start', or pass --host/--port)", c.addr(), err)
	}
	return conn, nil
}

func quoteDSN(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// sqlString quotes a COPY option value.
func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// copyOptions renders WITH (...) from ordered key/value pairs, skipping
// empty values.
func copyOptions(kv ...string) string {
	var parts []string
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			parts = append(parts, kv[i]+" "+sqlString(kv[i+1]))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " WITH (" + strings.Join(parts, ", ") + ")"
}

// humanSize prints bytes the way the guide does: 45.2 MB, 2.7 GB.
func humanSize(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f := float64(n)
	for _, u := range []string{"KB", "MB", "GB", "TB"} {
		f /= unit
		if f < unit {
			return fmt.Sprintf("%.1f %s", f, u)
		}
	}
	return fmt.Sprintf("%.1f PB", f/unit)
}

// commas formats 250000 as 250,000.
func commas(n uint64) string {
	s := strconv.FormatUint(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func stamp() string { return "[" + time.Now().Format("2006-01-02 15:04:05") + "]" }

// pgErrorText gives a server error its SQLSTATE and detail, so scripts and
// users see the cause the server reported.
func pgErrorText(err error) string {
	if pe, ok := err.(*pgconn.PgError); ok {
		s := pe.Message
		if pe.Detail != "" {
			s += " (" + pe.Detail + ")"
		}
		return s + " [SQLSTATE " + pe.Code + "]"
	}
	return err.Error()
}

func sqlState(err error) string {
	if pe, ok := err.(*pgconn.PgError); ok {
		return pe.Code
	}
	return ""
}

// query collects the text rows of the last result of a simple query.
func query(_ context.Context, mrr *pgconn.MultiResultReader) ([][]string, error) {
	res, err := mrr.ReadAll()
	if err != nil {
		return nil, err
	}
	var out [][]string
	for _, r := range res {
		if r.Err != nil {
			return nil, r.Err
		}
		out = out[:0]
		for _, row := range r.Rows {
			cols := make([]string, len(row))
			for i, v := range row {
				cols[i] = string(v)
			}
			out = append(out, cols)
		}
	}
	return out, nil
}
