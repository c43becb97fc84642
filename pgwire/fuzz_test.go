package pgwire

import (
	"context"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// panicDetector is a slog.Handler that notices logged panics: runConn
// recovers them to protect the server, so the fuzzer must look for them.
type panicDetector struct {
	panics *atomic.Int32
	last   *atomic.Value // string: the last panic logged, with its stack
}

func (h panicDetector) Enabled(context.Context, slog.Level) bool { return true }
func (h panicDetector) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "panic") {
		h.panics.Add(1)
		var sb strings.Builder
		r.Attrs(func(a slog.Attr) bool { sb.WriteString(a.String() + "\n"); return true })
		h.last.Store(sb.String())
	}
	return nil
}
func (h panicDetector) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h panicDetector) WithGroup(string) slog.Handler      { return h }

func frontendBytes(msgs ...pgproto3.FrontendMessage) []byte {
	var buf []byte
	for _, m := range msgs {
		var err error
		if buf, err = m.Encode(buf); err != nil {
			panic(err)
		}
	}
	return buf
}

// FuzzFrontendMessages feeds arbitrary bytes to a connection handler. The
// first byte picks whether a valid startup packet comes first (to reach the
// query protocols) or the bytes are the startup itself. The handler must
// finish without a panic and without allocating more than its message
// bound allows.
func FuzzFrontendMessages(f *testing.F) {
	f.Add(append([]byte{0}, frontendBytes(&pgproto3.Query{String: "select 1"}, &pgproto3.Terminate{})...))
	f.Add(append([]byte{0}, frontendBytes(
		&pgproto3.Parse{Name: "s", Query: "select $1::int8, $2"},
		&pgproto3.Describe{ObjectType: 'S', Name: "s"},
		&pgproto3.Bind{PreparedStatement: "s", ParameterFormatCodes: []int16{1, 0},
			Parameters: [][]byte{{0, 0, 0, 0, 0, 0, 0, 7}, []byte("x")}, ResultFormatCodes: []int16{1}},
		&pgproto3.Execute{MaxRows: 1}, &pgproto3.Sync{})...))
	f.Add(append([]byte{0}, frontendBytes(&pgproto3.Query{String: "copy kv from stdin"},
		&pgproto3.CopyData{Data: []byte("1\ta\n")}, &pgproto3.CopyDone{})...))
	f.Add(append([]byte{1}, startupPacket(sslRequestCode)...))
	f.Add([]byte{1, 0, 0, 0, 8, 4, 210, 22, 47})
	f.Add([]byte{0, 'Q', 0x7f, 0xff, 0xff, 0xff})

	var panics atomic.Int32
	var last atomic.Value
	cfg := DefaultConfig()
	cfg.MaxMessageSize = minMessageSize
	cfg.Users = []User{{Name: "fuzz", Method: AuthTrust}}
	srv, err := New(cfg, newFakeBackend(), slog.New(panicDetector{&panics, &last}))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = srv.Close() })
	startup := startupPacket(pgproto3.ProtocolVersion30, "user", "fuzz")

	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 || len(data) > 1<<16 {
			return
		}
		input := data[1:]
		if data[0]&1 == 0 {
			input = append(append([]byte(nil), startup...), input...)
		}
		if lower := strings.ToLower(string(input)); strings.Contains(lower, "panic") || strings.Contains(lower, "sleep") {
			return // the fake session panics or blocks on purpose for these
		}
		panics.Store(0)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)

		client, server := net.Pipe()
		c := srv.register(server)
		if c == nil {
			t.Fatal("server closed")
		}
		done := make(chan struct{})
		go func() { srv.runConn(c); close(done) }()
		go func() { _, _ = io.Copy(io.Discard, client) }()
		go func() { _, _ = client.Write(input); _ = client.Close() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("connection handler did not finish")
		}
		_ = client.Close()

		runtime.ReadMemStats(&after)
		// Generous: the bound is about the size a client can claim, which
		// is capped at MaxMessageSize (1 KiB here), not about Go's own
		// bookkeeping.
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 32<<20 {
			t.Fatalf("one connection allocated %d bytes for %d input bytes", grew, len(input))
		}
		if n := panics.Load(); n != 0 {
			t.Fatalf("%d panics recovered in the connection handler; last:\n%s", n, last.Load())
		}
	})
}
