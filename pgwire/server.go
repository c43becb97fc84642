package pgwire

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xdg-go/scram"
)

// shutdownWriteGrace bounds how long Close lets a connection write its
// final messages.
const shutdownWriteGrace = time.Second

// Server accepts PostgreSQL clients and runs each connection on its own
// goroutine against a Backend.
type Server struct {
	cfg     Config
	backend Backend
	logger  *slog.Logger

	// scramCreds are the SCRAM verifiers of the scram-sha-256 users, derived
	// once in New so a login costs one handshake, not a PBKDF2 run.
	scramCreds map[string]scram.StoredCredentials

	// baseCtx is the parent of every connection's context; cancelling it
	// (Close) aborts running statements.
	baseCtx    context.Context
	cancelBase context.CancelFunc

	wg       sync.WaitGroup
	shutdown chan struct{} // closed by Close
	closed   sync.Once

	nextPID atomic.Uint32

	mu struct {
		sync.Mutex
		listener net.Listener
		closing  bool
		// conns maps process id to connection, for CancelRequest and for
		// closing every connection on shutdown.
		conns map[uint32]*conn
	}
}

// New returns a Server for cfg that runs sessions of backend. cfg must pass
// Validate. logger may be nil (logs are discarded).
func New(cfg Config, backend Backend, logger *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if backend == nil {
		return nil, fmt.Errorf("%w: nil Backend", ErrInvalidConfig)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg:        cfg,
		backend:    backend,
		logger:     logger,
		scramCreds: make(map[string]scram.StoredCredentials),
		shutdown:   make(chan struct{}),
	}
	s.baseCtx, s.cancelBase = context.WithCancel(context.Background())
	s.mu.conns = make(map[uint32]*conn)
	for _, u := range cfg.Users {
		if u.Method != AuthSCRAM {
			continue
		}
		creds, err := scramCredentials(u.Name, u.Password, cfg.SCRAMIterations)
		if err != nil {
			return nil, fmt.Errorf("%w: user %q: %v", ErrInvalidConfig, u.Name, err)
		}
		s.scramCreds[u.Name] = creds
	}
	// Process ids start at a random point so ids of restarted servers rarely
	// collide in client logs; they only need to be unique per server.
	var b [4]byte
	_, _ = rand.Read(b[:])
	s.nextPID.Store(uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]))
	return s, nil
}

// goFunc runs f on a goroutine tracked by the WaitGroup Close waits for.
func (s *Server) goFunc(f func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
}

// ListenAndServe listens on Config.ListenAddr and serves until ctx ends or
// Close is called.
func (s *Server) ListenAndServe(ctx context.Context) error {
	l, err := net.Listen("tcp", s.cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("pgwire: listen on %s: %w", s.cfg.ListenAddr, err)
	}
	return s.Serve(ctx, l)
}

// Serve accepts connections on l until ctx is done or Close is called; both
// shut the server down (Serve closes l). After such an orderly shutdown it
// waits for every connection to end and returns nil. It returns
// ErrServerClosed if the server was closed before, or the listener's error.
// Serve is called at most once per Server.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	s.mu.Lock()
	if s.mu.closing {
		s.mu.Unlock()
		_ = l.Close()
		return ErrServerClosed
	}
	if s.mu.listener != nil {
		s.mu.Unlock()
		return errors.New("pgwire: Serve called twice")
	}
	s.mu.listener = l
	s.mu.Unlock()

	s.goFunc(func() { s.runContextWatch(ctx) })

	var backoff time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if s.isClosing() {
				// Return only once every connection has ended, so a caller
				// may tear down the Backend right after Serve.
				s.wg.Wait()
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// Out of file descriptors and the like: back off as
				// net/http does rather than spin.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.logger.Warn("pgwire: accept failed; retrying", "err", err, "delay", backoff)
				select {
				case <-time.After(backoff):
					continue
				case <-s.shutdown:
					return nil
				}
			}
			s.Close()
			return fmt.Errorf("pgwire: accept: %w", err)
		}
		backoff = 0
		c := s.register(nc)
		if c == nil {
			_ = nc.Close()
			continue
		}
		s.goFunc(func() { s.runConn(c) })
	}
}

// runContextWatch turns the end of Serve's ctx into a shutdown. It does not
// call Close because Close waits for this goroutine.
func (s *Server) runContextWatch(ctx context.Context) {
	select {
	case <-ctx.Done():
		s.beginShutdown()
	case <-s.shutdown:
	}
}

// Addr is the listening address, or nil before Serve.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.listener == nil {
		return nil
	}
	return s.mu.listener.Addr()
}

// Close stops accepting, cancels running statements, closes every client
// connection and waits for all connection goroutines. It is safe to call
// more than once and concurrently.
func (s *Server) Close() error {
	s.beginShutdown()
	s.wg.Wait()
	return nil
}

// beginShutdown does everything Close does except wait.
func (s *Server) beginShutdown() {
	s.closed.Do(func() {
		s.mu.Lock()
		s.mu.closing = true
		l := s.mu.listener
		conns := make([]*conn, 0, len(s.mu.conns))
		for _, c := range s.mu.conns {
			conns = append(conns, c)
		}
		s.mu.Unlock()

		close(s.shutdown)
		s.cancelBase()
		if l != nil {
			_ = l.Close()
		}
		// An expired read deadline wakes a connection goroutine waiting for
		// the client, which then says goodbye (57P01) and closes; one running
		// a statement sees its context cancelled first. The write deadline
		// keeps a client that stopped reading from holding up Close.
		now := time.Now()
		for _, c := range conns {
			_ = c.nc.SetReadDeadline(now)
			_ = c.nc.SetWriteDeadline(now.Add(shutdownWriteGrace))
		}
	})
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.closing
}

// register assigns a process id and secret key to a new connection and
// tracks it; nil if the server is shutting down.
func (s *Server) register(nc net.Conn) *conn {
	c := newConn(s, nc)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closing {
		return nil
	}
	c.overLimit = s.cfg.MaxConnections > 0 && len(s.mu.conns) >= s.cfg.MaxConnections
	for {
		c.pid = s.nextPID.Add(1)
		if _, dup := s.mu.conns[c.pid]; !dup && c.pid != 0 {
			break
		}
	}
	s.mu.conns[c.pid] = c
	return c
}

func (s *Server) unregister(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.conns[c.pid] == c {
		delete(s.mu.conns, c.pid)
	}
}

// cancelRequest cancels the statement running on connection pid if key is
// its secret. As in PostgreSQL, nothing is sent back either way.
func (s *Server) cancelRequest(pid uint32, key []byte) {
	s.mu.Lock()
	c := s.mu.conns[pid]
	s.mu.Unlock()
	if c == nil || subtle.ConstantTimeCompare(c.secret[:], key) != 1 {
		s.logger.Debug("pgwire: cancel request for unknown backend ignored", "pid", pid)
		return
	}
	c.cancelStatement()
}

// runConn serves one client connection until it ends. A panic from the
// Session is contained here: the client gets XX000 and only this connection
// closes.
func (s *Server) runConn(c *conn) {
	defer s.unregister(c)
	defer func() { _ = c.nc.Close() }()
	defer func() {
		if r := recover(); r != nil {
			c.logger.Error("pgwire: panic serving connection", "panic", r, "stack", stack())
			c.sendFatal(newError(codeInternal, errPanic, "internal error: %v", r))
		}
	}()
	err := c.serve()
	if err != nil && !s.isClosing() {
		c.logger.Debug("pgwire: connection ended", "err", err)
	}
}

// Connections returns the number of client connections open now (for
// metrics).
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.mu.conns)
}
