package pgwire

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"runtime/debug"
	"slices"
	"sync"

	"github.com/jackc/pgx/v5/pgproto3"
)

// Startup packet codes (the first int32 after the length).
const (
	sslRequestCode    = 80877103
	gssEncRequestCode = 80877104
	cancelRequestCode = 80877102
	// maxStartupPacket is MAX_STARTUP_PACKET_LENGTH from PostgreSQL.
	maxStartupPacket = 10000
	// flushThreshold is how many bytes of queued output make us flush in the
	// middle of a result, so a large result streams instead of buffering.
	flushThreshold = 64 << 10
)

// conn is one client connection. Everything but mu and nc is owned by the
// connection's goroutine (runConn).
type conn struct {
	srv    *Server
	nc     net.Conn
	be     *pgproto3.Backend
	logger *slog.Logger
	codec  *codec

	pid       uint32
	secret    [4]byte
	overLimit bool // over MaxConnections: refuse after reading the startup packet

	ctx context.Context // the connection's lifetime; child of the server's
	// stmtParent is ctx's values without its cancellation: the parent of
	// statement contexts (statementContext).
	stmtParent context.Context
	info       StartupInfo
	sess       Session

	stmts   map[string]*prepared
	portals map[string]*portal
	// skipUntilSync is set by an error in the extended protocol: every
	// message up to the next Sync is discarded, as PostgreSQL does.
	skipUntilSync bool
	// reported holds the ParameterStatus values the client has been sent.
	reported map[string]string
	// paramVersion is the Session's ParameterVersion when reported was
	// last brought up to date (ParameterVersioner sessions only).
	paramVersion uint64
	// pending estimates the bytes queued in be since the last Flush.
	pending int

	mu struct {
		sync.Mutex
		// cancel aborts the statement now running; nil between statements.
		cancel context.CancelFunc
	}
}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{
		srv:      s,
		nc:       nc,
		be:       pgproto3.NewBackend(nc, nc),
		codec:    newCodec(),
		stmts:    make(map[string]*prepared),
		portals:  make(map[string]*portal),
		reported: make(map[string]string),
	}
	_, _ = rand.Read(c.secret[:])
	c.be.SetMaxBodyLen(s.cfg.MaxMessageSize)
	c.logger = s.logger.With("remote", nc.RemoteAddr().String())
	return c
}

// serve runs the connection: startup, authentication, then messages until
// Terminate, EOF, or a fatal error (which is reported to the client first).
func (c *conn) serve() error {
	c.logger = c.logger.With("pid", c.pid)
	ctx, cancel := context.WithCancel(c.srv.baseCtx)
	defer cancel()
	c.ctx = ctx
	// Statement contexts hang off a parent that is never cancelled (so
	// making and ending one touches nothing shared); the end of the
	// connection or the server cancels the running statement instead.
	c.stmtParent = context.WithoutCancel(ctx)
	stop := context.AfterFunc(ctx, c.cancelStatement)
	defer stop()

	startup, err := c.readStartup()
	if err != nil || startup == nil {
		return c.endWith(err)
	}
	if c.overLimit {
		return c.endWith(newError(codeTooManyConnections, nil, "sorry, too many clients already"))
	}
	if err := c.negotiate(startup); err != nil {
		return c.endWith(err)
	}
	if err := c.authenticate(); err != nil {
		return c.endWith(err)
	}
	sess, err := c.srv.backend.NewSession(ctx, c.info)
	if err != nil {
		return c.endWith(&fatal{err: err})
	}
	c.sess = sess
	defer c.closeSession()

	c.sendParameterStatus()
	c.be.Send(&pgproto3.BackendKeyData{ProcessID: c.pid, SecretKey: c.secret[:]})
	c.be.Send(&pgproto3.ReadyForQuery{TxStatus: c.sess.TxStatus()})
	if err := c.flush(); err != nil {
		return err
	}
	return c.endWith(c.loop())
}

// closeSession closes the Session, containing a panic so that it cannot
// take the server down from a deferred call.
func (c *conn) closeSession() {
	defer func() {
		if r := recover(); r != nil {
			c.logger.Error("pgwire: panic in Session.Close", "panic", r, "stack", stack())
		}
	}()
	c.sess.Close()
}

// endWith reports a fatal error to the client (when there is one to report
// and the client is still there) and returns it.
func (c *conn) endWith(err error) error {
	if err == nil || isClientGone(err) {
		return err
	}
	c.sendFatal(err)
	return err
}

// sendFatal sends err as a FATAL ErrorResponse; write errors are moot since
// the connection is closing anyway.
func (c *conn) sendFatal(err error) {
	var f *fatal
	if errors.As(err, &f) {
		err = f.err
	}
	c.be.Send(errorResponse(err, sevFatal))
	_ = c.be.Flush()
}

// clientGone wraps an I/O error on the socket: the peer is unreachable and
// nothing more is sent to it. Only errors from the socket are wrapped so, so
// that an io.EOF returned by a Session is never mistaken for a disconnect.
func clientGone(err error) error { return &fatal{err: err, gone: true} }

func isClientGone(err error) bool {
	var f *fatal
	return errors.As(err, &f) && f.gone
}

// readStartup reads startup packets until the StartupMessage, answering
// SSLRequest and GSSEncRequest with 'N' (no encryption) and serving a
// CancelRequest. It returns nil, nil after a CancelRequest.
func (c *conn) readStartup() (*pgproto3.StartupMessage, error) {
	// SSL then GSS (or the reverse) is the longest legitimate sequence.
	for range 3 {
		body, err := readStartupPacket(c.nc)
		if err != nil {
			return nil, err
		}
		code := binary.BigEndian.Uint32(body)
		switch {
		case code == sslRequestCode || code == gssEncRequestCode:
			if len(body) != 4 {
				return nil, protocolErrorf("invalid length of encryption request packet")
			}
			if _, err := c.nc.Write([]byte{'N'}); err != nil {
				return nil, clientGone(err)
			}
		case code == cancelRequestCode:
			var m pgproto3.CancelRequest
			if err := m.Decode(body); err != nil {
				return nil, protocolErrorf("invalid cancel request: %v", err)
			}
			c.srv.cancelRequest(m.ProcessID, m.SecretKey)
			return nil, nil
		case code>>16 == 3:
			// Decode accepts only 3.0 and 3.2; we speak 3.0 to any 3.x and
			// tell the client so in negotiate.
			binary.BigEndian.PutUint32(body, pgproto3.ProtocolVersion30)
			m := &pgproto3.StartupMessage{}
			if err := m.Decode(body); err != nil {
				return nil, protocolErrorf("invalid startup packet layout: %v", err)
			}
			m.ProtocolVersion = code
			return m, nil
		default:
			return nil, &fatal{err: newError(codeFeatureNotSupported, ErrUnsupportedProtocol,
				msgUnsupportedFrontendFmt, code>>16, code&0xffff)}
		}
	}
	return nil, protocolErrorf("too many encryption negotiation requests")
}

// readStartupPacket reads one length-prefixed startup packet, refusing a
// length outside PostgreSQL's bounds before allocating.
func readStartupPacket(r io.Reader) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, clientGone(err)
	}
	n := int(int32(binary.BigEndian.Uint32(hdr[:]))) - 4
	if n < 4 || n > maxStartupPacket {
		return nil, protocolErrorf("invalid length of startup packet: %d", n+4)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, protocolErrorf("incomplete startup packet: %v", err)
	}
	return body, nil
}

// negotiate checks the startup parameters and, for a minor version above
// 3.0 or protocol options (_pq_.*), sends NegotiateProtocolVersion.
func (c *conn) negotiate(m *pgproto3.StartupMessage) error {
	params := maps.Clone(m.Parameters)
	user := params["user"]
	if user == "" {
		return &fatal{err: newError(codeInvalidAuthSpec, ErrAuthFailed, "no PostgreSQL user name specified in startup packet")}
	}
	db := params["database"]
	if db == "" {
		db = user
	}
	var unknown []string
	for k := range params {
		if len(k) > 5 && k[:5] == "_pq_." {
			unknown = append(unknown, k)
		}
	}
	if m.ProtocolVersion != pgproto3.ProtocolVersion30 || len(unknown) > 0 {
		slices.Sort(unknown)
		c.be.Send(&pgproto3.NegotiateProtocolVersion{NewestMinorProtocol: 0, UnrecognizedOptions: unknown})
	}
	c.info = StartupInfo{User: user, Database: db, Params: params, RemoteAddr: c.nc.RemoteAddr().String()}
	c.logger = c.logger.With("user", user, "database", db)
	return nil
}

// defaultParameters are reported when the Session does not provide them;
// drivers read several (integer_datetimes, standard_conforming_strings).
var defaultParameters = map[string]string{
	"server_version":              "15.0 (HeliosDB-Lite)",
	"server_encoding":             "UTF8",
	"client_encoding":             "UTF8",
	"DateStyle":                   "ISO, MDY",
	"IntervalStyle":               "postgres",
	"integer_datetimes":           "on",
	"standard_conforming_strings": "on",
	"TimeZone":                    "UTC",
	"is_superuser":                "off",
}

// ParameterVersioner may be implemented by a Session whose parameters
// rarely change: ParameterVersion returns a value that changes whenever
// ParameterStatus would return something different, so the connection
// skips rebuilding and comparing them before every ReadyForQuery. Called
// on the connection's goroutine; must be cheap.
type ParameterVersioner interface {
	ParameterVersion() uint64
}

// sendParameterStatus queues a ParameterStatus for every parameter whose
// value the client has not seen yet: all of them after startup, the ones a
// SET changed afterwards.
func (c *conn) sendParameterStatus() {
	pv, versioned := c.sess.(ParameterVersioner)
	var version uint64
	if versioned {
		version = pv.ParameterVersion()
		if len(c.reported) > 0 && version == c.paramVersion {
			return
		}
	}
	defer func() { c.paramVersion = version }()
	params := c.sessionParams()
	if len(c.reported) == 0 {
		for k, v := range defaultParameters {
			if _, ok := params[k]; !ok {
				params[k] = v
			}
		}
		if _, ok := params["application_name"]; !ok {
			params["application_name"] = c.info.Params["application_name"]
		}
		if _, ok := params["session_authorization"]; !ok {
			params["session_authorization"] = c.info.User
		}
	}
	for _, k := range slices.Sorted(maps.Keys(params)) {
		if old, ok := c.reported[k]; ok && old == params[k] {
			continue
		}
		c.reported[k] = params[k]
		c.be.Send(&pgproto3.ParameterStatus{Name: k, Value: params[k]})
	}
}

func (c *conn) sessionParams() map[string]string {
	params := c.sess.ParameterStatus()
	if params == nil {
		return make(map[string]string)
	}
	// The Session may hand out its own map; we add defaults to ours.
	return maps.Clone(params)
}

// loop reads and dispatches messages until Terminate or a fatal error.
func (c *conn) loop() error {
	for {
		msg, err := c.be.Receive()
		if err != nil {
			return c.receiveError(err)
		}
		if c.skipUntilSync {
			switch msg.(type) {
			case *pgproto3.Sync:
			case *pgproto3.Terminate:
				return nil
			default:
				continue
			}
		}
		err = c.dispatch(msg)
		if err == nil {
			continue
		}
		if errors.Is(err, errTerminate) {
			return nil
		}
		if isFatal(err) {
			return err
		}
		// An error in the extended protocol: report it and discard the
		// rest of the batch (the simple protocol reports its own errors).
		c.sendError(err)
		c.skipUntilSync = true
		if err := c.flushIfBig(); err != nil {
			return err
		}
	}
}

func (c *conn) dispatch(msg pgproto3.FrontendMessage) error {
	switch m := msg.(type) {
	case *pgproto3.Query:
		return c.handleQuery(m.String)
	case *pgproto3.Parse:
		return c.handleParse(m)
	case *pgproto3.Bind:
		return c.handleBind(m)
	case *pgproto3.Describe:
		return c.handleDescribe(m)
	case *pgproto3.Execute:
		return c.handleExecute(m)
	case *pgproto3.Close:
		return c.handleClose(m)
	case *pgproto3.Sync:
		return c.handleSync()
	case *pgproto3.Flush:
		return c.flush()
	case *pgproto3.Terminate:
		return errTerminate
	case *pgproto3.CopyData, *pgproto3.CopyDone, *pgproto3.CopyFail:
		// PostgreSQL ignores these outside COPY: a client may still be
		// sending them after the server ended the COPY with an error.
		return nil
	case *pgproto3.FunctionCall:
		return newError(codeFeatureNotSupported, nil, "function call protocol is not supported")
	default:
		return protocolErrorf("unexpected message type %T", msg)
	}
}

// receiveError turns a Receive failure into the connection's end: silent
// for a client that went away, 08P01 for anything malformed.
func (c *conn) receiveError(err error) error {
	if c.srv.isClosing() {
		return &fatal{err: newError(codeAdminShutdown, ErrServerClosed, "terminating connection due to administrator command")}
	}
	var tooBig *pgproto3.ExceededMaxBodyLenErr
	switch {
	case errors.As(err, &tooBig):
		return &fatal{err: newError(codeProtocolViolation, ErrMessageTooLarge,
			"message of %d bytes exceeds the maximum of %d", tooBig.ActualBodyLen, tooBig.MaxExpectedBodyLen)}
	case errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed):
		return clientGone(io.EOF)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return protocolErrorf("unexpected EOF within message")
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return clientGone(err)
	}
	return protocolErrorf("invalid frontend message: %v", err)
}

// sendError queues a non-fatal ErrorResponse.
func (c *conn) sendError(err error) {
	if isFatal(err) {
		c.sendFatal(err)
		return
	}
	c.be.Send(errorResponse(err, severityError))
}

func (c *conn) send(m pgproto3.BackendMessage) { c.be.Send(m) }

// flush writes queued messages. A write error means the client is gone.
func (c *conn) flush() error {
	c.pending = 0
	if err := c.be.Flush(); err != nil {
		return clientGone(err)
	}
	return nil
}

// flushIfBig flushes once enough output has queued up, so large results
// stream with bounded memory.
func (c *conn) flushIfBig() error {
	if c.pending < flushThreshold {
		return nil
	}
	return c.flush()
}

func (c *conn) readyForQuery() error {
	c.sendParameterStatus()
	c.send(&pgproto3.ReadyForQuery{TxStatus: c.sess.TxStatus()})
	return c.flush()
}

// statementContext returns the context for one Session call; a
// CancelRequest for this connection cancels it. done must be called when
// the call returns.
func (c *conn) statementContext() (ctx context.Context, done func()) {
	parent := c.stmtParent
	if parent == nil {
		parent = c.ctx
	}
	ctx, cancel := context.WithCancel(parent)
	c.mu.Lock()
	c.mu.cancel = cancel
	c.mu.Unlock()
	if c.ctx.Err() != nil {
		// The connection ended before the statement was registered.
		cancel()
	}
	return ctx, func() {
		c.mu.Lock()
		c.mu.cancel = nil
		c.mu.Unlock()
		cancel()
	}
}

// cancelStatement is called from the goroutine serving a CancelRequest.
func (c *conn) cancelStatement() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.cancel != nil {
		c.mu.cancel()
	}
}

func stack() string { return string(debug.Stack()) }

// fmtTag is used where a tag has to be made up (COPY without a tag).
func fmtTag(verb string, n int64) string { return fmt.Sprintf("%s %d", verb, n) }
