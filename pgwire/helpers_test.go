package pgwire

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// testServer is a Server on 127.0.0.1:0 with a fake backend, closed when
// the test ends.
type testServer struct {
	*Server
	fb   *fakeBackend
	addr *net.TCPAddr
}

func startServer(t *testing.T, cfg Config) *testServer {
	t.Helper()
	cfg.ListenAddr = "127.0.0.1:0"
	fb := newFakeBackend()
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := New(cfg, fb, logger)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background(), l) }()
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
		if n := fb.open.Load(); n != 0 {
			t.Errorf("%d sessions left open after Close", n)
		}
	})
	return &testServer{Server: srv, fb: fb, addr: l.Addr().(*net.TCPAddr)}
}

func (ts *testServer) connString(user, password string) string {
	return fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/db?sslmode=disable&connect_timeout=5",
		user, password, ts.addr.Port)
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// connect opens a pgx connection; configure may adjust the config.
func (ts *testServer) connect(t *testing.T, configure func(*pgx.ConnConfig)) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(ts.connString("alice", "secret"))
	if err != nil {
		t.Fatal(err)
	}
	if configure != nil {
		configure(cfg)
	}
	conn, err := pgx.ConnectConfig(testCtx(t), cfg)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func simpleMode(cfg *pgx.ConnConfig) { cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol }

// pgCode extracts the SQLSTATE of a server error.
func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// rawConn is a connection that speaks the protocol message by message.
type rawConn struct {
	t  *testing.T
	nc net.Conn
	fe *pgproto3.Frontend
}

func (ts *testServer) dial(t *testing.T) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", ts.addr.String())
	if err != nil {
		t.Fatal(err)
	}
	_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
	t.Cleanup(func() { _ = nc.Close() })
	return &rawConn{t: t, nc: nc, fe: pgproto3.NewFrontend(nc, nc)}
}

// startup logs in as alice (trusted on loopback) and reads up to
// ReadyForQuery.
func (ts *testServer) startup(t *testing.T) *rawConn {
	t.Helper()
	rc := ts.dial(t)
	rc.send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30,
		Parameters: map[string]string{"user": "alice", "database": "db"}})
	rc.until('Z')
	return rc
}

func (rc *rawConn) send(msgs ...pgproto3.FrontendMessage) {
	rc.t.Helper()
	for _, m := range msgs {
		rc.fe.Send(m)
	}
	if err := rc.fe.Flush(); err != nil {
		rc.t.Fatalf("send: %v", err)
	}
}

func (rc *rawConn) recv() pgproto3.BackendMessage {
	rc.t.Helper()
	m, err := rc.fe.Receive()
	if err != nil {
		rc.t.Fatalf("receive: %v", err)
	}
	return m
}

// until receives messages up to and including one of type typ (a
// pgproto3 message byte such as 'Z'), returning their type letters.
func (rc *rawConn) until(typ byte) string {
	rc.t.Helper()
	var seen []byte
	for {
		m := rc.recv()
		b := msgType(m)
		seen = append(seen, b)
		if b == typ {
			return string(seen)
		}
	}
}

// expectClosed asserts that the server closes the connection, returning
// the error response it sent first (nil if none).
func (rc *rawConn) expectClosed() *pgproto3.ErrorResponse {
	rc.t.Helper()
	var last *pgproto3.ErrorResponse
	for {
		m, err := rc.fe.Receive()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				rc.t.Fatal("connection not closed by the server")
			}
			return last
		}
		if e, ok := m.(*pgproto3.ErrorResponse); ok {
			cp := *e
			last = &cp
		}
	}
}

func msgType(m pgproto3.BackendMessage) byte {
	buf, err := m.Encode(nil)
	if err != nil || len(buf) == 0 {
		return '?'
	}
	return buf[0]
}

// mustWork checks the server still serves a fresh client.
func (ts *testServer) mustWork(t *testing.T) {
	t.Helper()
	conn := ts.connect(t, nil)
	var n int32
	if err := conn.QueryRow(testCtx(t), "select 1").Scan(&n); err != nil || n != 1 {
		t.Fatalf("server no longer serves: n=%d err=%v", n, err)
	}
}
