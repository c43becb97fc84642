package pgwire

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

func TestPortalSuspended(t *testing.T) {
	ts := startServer(t, DefaultConfig())
	rc := ts.startup(t)
	rc.send(
		&pgproto3.Parse{Name: "s", Query: "select generate_series(1, 10)"},
		&pgproto3.Bind{PreparedStatement: "s", DestinationPortal: "p", ResultFormatCodes: []int16{1}},
		&pgproto3.Describe{ObjectType: 'P', Name: "p"},
		&pgproto3.Execute{Portal: "p", MaxRows: 3},
		&pgproto3.Execute{Portal: "p", MaxRows: 3},
		&pgproto3.Flush{},
	)
	// Flush delivers everything so far without a Sync.
	if got := rc.until('s'); got != "12TDDDs" {
		t.Fatalf("first batch %q", got)
	}
	if got := rc.until('s'); got != "DDDs" {
		t.Fatalf("second batch %q", got)
	}
	rc.send(&pgproto3.Execute{Portal: "p"}, &pgproto3.Sync{})
	var tag string
	var rows int
	for {
		m := rc.recv()
		switch m := m.(type) {
		case *pgproto3.DataRow:
			rows++
			if len(m.Values[0]) != 8 {
				t.Fatalf("binary int8 has %d bytes", len(m.Values[0]))
			}
		case *pgproto3.CommandComplete:
			tag = string(m.CommandTag)
		}
		if _, ok := m.(*pgproto3.ReadyForQuery); ok {
			break
		}
	}
	if rows != 4 || tag != "SELECT 4" {
		t.Fatalf("rest: %d rows, tag %q", rows, tag)
	}
	// The portal died with the implicit transaction at Sync.
	rc.send(&pgproto3.Execute{Portal: "p"}, &pgproto3.Sync{})
	if m := rc.recv(); msgType(m) != 'E' || m.(*pgproto3.ErrorResponse).Code != "34000" {
		t.Fatalf("execute of closed portal: %#v", m)
	}
	rc.until('Z')
}

func TestExtendedErrorSkipsToSync(t *testing.T) {
	ts := startServer(t, DefaultConfig())
	rc := ts.startup(t)
	rc.send(
		&pgproto3.Parse{Query: "select * from nope"},
		&pgproto3.Bind{},
		&pgproto3.Execute{},
		&pgproto3.Parse{Name: "never", Query: "select 1"},
		&pgproto3.Sync{},
	)
	if got := rc.until('Z'); got != "EZ" {
		t.Fatalf("got %q, want error then ReadyForQuery", got)
	}
	// Nothing after the error ran: "never" does not exist.
	rc.send(&pgproto3.Describe{ObjectType: 'S', Name: "never"}, &pgproto3.Sync{})
	if got := rc.until('Z'); got != "EZ" {
		t.Fatalf("describe of skipped statement: %q", got)
	}
	// Describe reports parameter types; an untyped parameter is text.
	rc.send(
		&pgproto3.Parse{Name: "e", Query: "select $1::int4, $2"},
		&pgproto3.Describe{ObjectType: 'S', Name: "e"},
		&pgproto3.Bind{PreparedStatement: "e", Parameters: [][]byte{[]byte("12"), []byte("x")}},
		&pgproto3.Execute{},
		&pgproto3.Close{ObjectType: 'S', Name: "e"},
		&pgproto3.Close{ObjectType: 'S', Name: "e"}, // closing twice is fine
		&pgproto3.Sync{},
	)
	var pd *pgproto3.ParameterDescription
	var row []string
	for done := false; !done; {
		switch m := rc.recv().(type) {
		case *pgproto3.ParameterDescription:
			pd = &pgproto3.ParameterDescription{ParameterOIDs: append([]uint32(nil), m.ParameterOIDs...)}
		case *pgproto3.DataRow:
			row = []string{string(m.Values[0]), string(m.Values[1])}
		case *pgproto3.ErrorResponse:
			t.Fatalf("error: %+v", m)
		case *pgproto3.ReadyForQuery:
			done = true
		}
	}
	if pd == nil || len(pd.ParameterOIDs) != 2 || pd.ParameterOIDs[0] != 23 || pd.ParameterOIDs[1] != 25 {
		t.Fatalf("ParameterDescription = %+v", pd)
	}
	if strings.Join(row, ",") != "12,x" {
		t.Fatalf("row = %q", row)
	}
	// Wrong parameter count and a bad binary value are errors, not crashes.
	rc.send(&pgproto3.Parse{Name: "i", Query: "select $1::int8"},
		&pgproto3.Bind{PreparedStatement: "i"}, &pgproto3.Sync{})
	if got := rc.until('Z'); got != "1EZ" {
		t.Fatalf("wrong count: %q", got)
	}
	rc.send(&pgproto3.Bind{PreparedStatement: "i", ParameterFormatCodes: []int16{1}, Parameters: [][]byte{{1, 2}}},
		&pgproto3.Sync{})
	if m := rc.recv(); msgType(m) != 'E' || m.(*pgproto3.ErrorResponse).Code != "22P03" {
		t.Fatalf("bad binary int8: %#v", m)
	}
	rc.until('Z')
}

func TestCopyInExtended(t *testing.T) {
	ts := startServer(t, DefaultConfig())
	rc := ts.startup(t)
	rc.send(&pgproto3.Parse{Query: "copy kv from stdin"}, &pgproto3.Bind{}, &pgproto3.Execute{}, &pgproto3.Flush{})
	if got := rc.until('G'); got != "12G" {
		t.Fatalf("got %q", got)
	}
	rc.send(&pgproto3.CopyData{Data: []byte("1\ta\n2\t")}, &pgproto3.CopyData{Data: []byte("b\n")},
		&pgproto3.Sync{}, // ignored during copy-in
		&pgproto3.CopyDone{}, &pgproto3.Sync{})
	for {
		m := rc.recv()
		if cc, ok := m.(*pgproto3.CommandComplete); ok && string(cc.CommandTag) != "COPY 2" {
			t.Fatalf("tag %q", cc.CommandTag)
		}
		if _, ok := m.(*pgproto3.ErrorResponse); ok {
			t.Fatalf("error %+v", m)
		}
		if msgType(m) == 'Z' {
			break
		}
	}
	if len(ts.fb.kv) != 2 {
		t.Fatalf("kv = %v", ts.fb.kv)
	}
}

// garbage sends raw bytes on a fresh connection and expects the server to
// close it, answering with the SQLSTATE wantCode when it is not "".
func garbage(t *testing.T, ts *testServer, afterStartup bool, data []byte, wantCode string) {
	t.Helper()
	var rc *rawConn
	if afterStartup {
		rc = ts.startup(t)
	} else {
		rc = ts.dial(t)
	}
	if _, err := rc.nc.Write(data); err != nil {
		t.Fatal(err)
	}
	if c, ok := rc.nc.(*net.TCPConn); ok && strings.HasPrefix(t.Name(), "TestGarbage/truncated") {
		_ = c.CloseWrite()
	}
	e := rc.expectClosed()
	switch {
	case wantCode == "" && e != nil:
		t.Fatalf("unexpected error response %+v", e)
	case wantCode != "" && (e == nil || e.Code != wantCode):
		t.Fatalf("error response = %+v, want code %s", e, wantCode)
	}
}

func startupPacket(version uint32, params ...string) []byte {
	body := binary.BigEndian.AppendUint32(nil, version)
	for _, p := range params {
		body = append(append(body, p...), 0)
	}
	body = append(body, 0)
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body)+4)), body...)
}

func TestGarbage(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxMessageSize = 4096
	ts := startServer(t, cfg)
	header := func(typ byte, n uint32) []byte { return binary.BigEndian.AppendUint32([]byte{typ}, n) }
	cases := []struct {
		name         string
		afterStartup bool
		data         []byte
		code         string
	}{
		{"http", false, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), "08P01"},
		{"huge startup length", false, []byte{0x7f, 0xff, 0xff, 0xff, 0, 3, 0, 0}, "08P01"},
		{"negative startup length", false, []byte{0xff, 0xff, 0xff, 0xff}, "08P01"},
		{"protocol 2.0", false, startupPacket(2<<16, "user", "alice"), "0A000"},
		{"protocol 4.0", false, startupPacket(4<<16, "user", "alice"), "0A000"},
		{"no user", false, startupPacket(3<<16, "database", "db"), "28000"},
		{"unterminated startup", false, []byte{0, 0, 0, 12, 0, 3, 0, 0, 'u', 's', 'e', 'r'}, "08P01"},
		{"oversized message", true, header('Q', 1<<30), "08P01"},
		{"just over the limit", true, header('Q', 4096+5), "08P01"},
		{"negative length", true, header('Q', 0xfffffff0), "08P01"},
		{"unknown type", true, append(header('z', 4), 'x'), "08P01"},
		{"bad bind", true, append(header('B', 6), 0, 0), "08P01"},
		{"bad describe kind", true, append(header('D', 6), 'X', 0), "08P01"},
		{"truncated", true, append(header('Q', 100), "select"...), "08P01"},
		{"truncated startup", false, []byte{0, 0, 0, 40, 0, 3, 0, 0}, "08P01"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { garbage(t, ts, tc.afterStartup, tc.data, tc.code) })
	}
	ts.mustWork(t)
}

func TestEncryptionRequestsRefused(t *testing.T) {
	ts := startServer(t, DefaultConfig())
	rc := ts.dial(t)
	for _, code := range []uint32{sslRequestCode, gssEncRequestCode} {
		req := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, 8), code)
		if _, err := rc.nc.Write(req); err != nil {
			t.Fatal(err)
		}
		var b [1]byte
		if _, err := rc.nc.Read(b[:]); err != nil || b[0] != 'N' {
			t.Fatalf("answer %q %v", b, err)
		}
	}
	// A 3.2 client is told the server speaks 3.0 and proceeds.
	if _, err := rc.nc.Write(startupPacket(pgproto3.ProtocolVersion32, "user", "alice", "_pq_.x", "1")); err != nil {
		t.Fatal(err)
	}
	m := rc.recv()
	npv, ok := m.(*pgproto3.NegotiateProtocolVersion)
	if !ok || npv.NewestMinorProtocol != 0 || len(npv.UnrecognizedOptions) != 1 {
		t.Fatalf("got %#v, want NegotiateProtocolVersion", m)
	}
	rc.until('Z')
}

func TestMaxConnections(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxConnections = 1
	ts := startServer(t, cfg)
	ts.startup(t)
	rc := ts.dial(t)
	rc.send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30,
		Parameters: map[string]string{"user": "alice"}})
	if e := rc.expectClosed(); e == nil || e.Code != "53300" {
		t.Fatalf("got %+v, want 53300", e)
	}
}

func TestServerCloseAndServeReturn(t *testing.T) {
	fb := newFakeBackend()
	srv, err := New(DefaultConfig(), fb, nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, l) }()
	for srv.Addr() == nil {
		time.Sleep(time.Millisecond)
	}
	ts := &testServer{Server: srv, fb: fb, addr: srv.Addr().(*net.TCPAddr)}
	rc := ts.startup(t)

	// Cancelling Serve's context shuts everything down, like Close.
	cancel()
	if err := <-served; err != nil {
		t.Fatalf("Serve = %v", err)
	}
	if e := rc.expectClosed(); e == nil || e.Code != "57P01" {
		t.Fatalf("client got %+v, want 57P01", e)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if n := fb.open.Load(); n != 0 {
		t.Fatalf("%d sessions open", n)
	}
	if err := srv.Serve(context.Background(), l); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve after Close = %v", err)
	}
}
