package clienttests

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func pgErr(t *testing.T, err error) *pgconn.PgError {
	t.Helper()
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		t.Fatalf("want a PostgreSQL error, got %v", err)
	}
	return pe
}

// rawSession opens a TCP connection and completes the startup handshake
// by hand, so the test can then send anything.
func rawSession(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	body := []byte{0, 3, 0, 0}
	for _, s := range []string{"user", "postgres", "database", "postgres", ""} {
		body = append(append(body, s...), 0)
	}
	msg := binary.BigEndian.AppendUint32(nil, uint32(len(body)+4))
	if _, err := c.Write(append(msg, body...)); err != nil {
		t.Fatal(err)
	}
	// Read until ReadyForQuery ('Z').
	for i := 0; i < 100; i++ {
		typ, _ := readMsg(t, c)
		if typ == 'Z' {
			return c
		}
	}
	t.Fatal("no ReadyForQuery")
	return nil
}

func readMsg(t *testing.T, c net.Conn) (byte, []byte) {
	t.Helper()
	var hdr [5]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		t.Fatalf("read: %v", err)
	}
	body := make([]byte, binary.BigEndian.Uint32(hdr[1:])-4)
	if _, err := io.ReadFull(c, body); err != nil {
		t.Fatal(err)
	}
	return hdr[0], body
}

// expectFatal reads until an ErrorResponse with code and then EOF.
func expectFatal(t *testing.T, c net.Conn, code string) {
	t.Helper()
	for i := 0; i < 20; i++ {
		typ, body := readMsg(t, c)
		if typ == 'E' {
			if !strings.Contains(string(body), "C"+code+"\x00") {
				t.Fatalf("error %q, want %s", body, code)
			}
			if _, err := c.Read(make([]byte, 1)); err != io.EOF {
				t.Fatalf("connection still open after FATAL: %v", err)
			}
			return
		}
	}
	t.Fatal("no ErrorResponse")
}

// TestBadInput sends malformed SQL, unsupported features, garbage and an
// oversized message to the real binary while another session keeps
// working.
func TestBadInput(t *testing.T) {
	n := startMemory(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bystander := n.Connect(ctx)
	if _, err := bystander.Exec(ctx, "CREATE TABLE b (id int PRIMARY KEY); INSERT INTO b VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	alive := func(what string) {
		t.Helper()
		var cnt int
		if err := bystander.QueryRow(ctx, "SELECT count(*) FROM b").Scan(&cnt); err != nil || cnt != 1 {
			t.Fatalf("after %s the other session fails: %v", what, err)
		}
	}

	c := n.Connect(ctx)
	_, err := c.Exec(ctx, "SELECT id FROM b WHERE id = = 1")
	if pe := pgErr(t, err); pe.Code != "42601" || pe.Position != 29 {
		t.Errorf("syntax error: %s at %d: %s", pe.Code, pe.Position, pe.Message)
	}
	_, err = c.Exec(ctx, "SELECT 1", pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatal(err)
	}
	for q, feature := range map[string]string{
		"WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM r WHERE n < 3) SELECT * FROM r": "WITH RECURSIVE",
		"SELECT id INTO newtab FROM b": "SELECT INTO",
	} {
		_, err := c.Exec(ctx, q)
		if pe := pgErr(t, err); pe.Code != "0A000" || !strings.Contains(pe.Message, feature) {
			t.Errorf("%s: %s %q, want 0A000 naming %s", q, pe.Code, pe.Message, feature)
		}
	}
	alive("SQL errors")

	// Garbage after startup: an unknown message type.
	raw := rawSession(t, n.Addr())
	if _, err := raw.Write([]byte("\xff\x00\x00\x00\x08garbage!")); err != nil {
		t.Fatal(err)
	}
	expectFatal(t, raw, "08P01")
	alive("garbage")

	// A message claiming 1 GiB: refused from its header.
	raw = rawSession(t, n.Addr())
	if _, err := raw.Write([]byte{'Q', 0x40, 0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	expectFatal(t, raw, "08P01")
	alive("oversized message")

	// Garbage instead of a startup packet.
	g, err := net.DialTimeout("tcp", n.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	_ = g.SetDeadline(time.Now().Add(10 * time.Second))
	_, _ = g.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	_, _ = io.ReadAll(g) // the server answers or closes; it must not hang
	alive("garbage startup")

	// A truncated message followed by a disconnect.
	raw = rawSession(t, n.Addr())
	_, _ = raw.Write([]byte{'Q', 0, 0, 0, 100, 'S', 'E'})
	raw.Close()
	alive("truncated message")
}
