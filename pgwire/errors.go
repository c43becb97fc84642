package pgwire

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgproto3"
)

var (
	// ErrServerClosed is returned by Serve when called after Close.
	ErrServerClosed = errors.New("pgwire: server closed")
	// ErrInvalidConfig wraps every Validate failure.
	ErrInvalidConfig = errors.New("pgwire: invalid config")
	// ErrProtocolViolation marks a client that broke the wire protocol; its
	// connection gets 08P01 and is closed.
	ErrProtocolViolation = errors.New("pgwire: protocol violation")
	// ErrMessageTooLarge is a message longer than Config.MaxMessageSize; it
	// is refused before its body is read or allocated.
	ErrMessageTooLarge = errors.New("pgwire: message too large")
	// ErrUnsupportedProtocol is a startup packet asking for a protocol
	// version other than 3.x.
	ErrUnsupportedProtocol = errors.New("pgwire: unsupported frontend protocol")
	// ErrAuthFailed is a failed authentication (wrong password, unknown user).
	ErrAuthFailed = errors.New("pgwire: authentication failed")
	// ErrBadFormatCode is a format code other than 0 (text) or 1 (binary).
	ErrBadFormatCode = errors.New("pgwire: invalid format code")
	// ErrBadParam is a Bind parameter that does not decode as its type.
	ErrBadParam = errors.New("pgwire: invalid parameter value")
	// ErrBadValue is a result value that cannot be encoded as its column type.
	ErrBadValue = errors.New("pgwire: cannot encode value")
	// errPanic marks a recovered panic from the Session.
	errPanic = errors.New("pgwire: panic in session")
	// errTerminate ends the message loop on the client's Terminate.
	errTerminate = errors.New("pgwire: client terminated")
	// errNullValue is pgtype reporting that a non-nil Go value (a nil
	// pointer, an invalid pgtype.Text) is NULL.
	errNullValue = errors.New("pgwire: value is NULL")
)

// SQLSTATE codes this package produces itself.
const (
	codeProtocolViolation     = "08P01"
	codeFeatureNotSupported   = "0A000"
	codeInvalidAuthSpec       = "28000"
	codeInvalidPassword       = "28P01"
	codeQueryCanceled         = "57014"
	codeInternal              = "XX000"
	codeInvalidStatementName  = "26000"
	codeInvalidCursorName     = "34000"
	codeDuplicateStatement    = "42P05"
	codeDuplicateCursor       = "42P03"
	codeInvalidBinaryRep      = "22P03"
	codeInvalidTextRep        = "22P02"
	codeAdminShutdown         = "57P01"
	codeTooManyConnections    = "53300"
	severityError, sevFatal   = "ERROR", "FATAL"
	msgCanceledByUser         = "canceling statement due to user request"
	msgUnsupportedFrontendFmt = "unsupported frontend protocol %d.%d: server supports 3.0"
)

// Error is a PostgreSQL error raised by this package. It implements
// SQLStateError (and unwraps to its cause, often one of the sentinels above).
type Error struct {
	Code    string
	Message string
	Err     error
}

func (e *Error) Error() string    { return e.Message }
func (e *Error) SQLState() string { return e.Code }
func (e *Error) Unwrap() error    { return e.Err }

// newError returns an *Error with code and the formatted message; cause
// (may be nil) is what errors.Is sees, kept out of the client's message.
func newError(code string, cause error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: cause}
}

// errorResponse converts any error into the ErrorResponse a client sees.
// Classification crosses the package boundary by method (SQLStateError and
// friends), never by string matching.
func errorResponse(err error, severity string) *pgproto3.ErrorResponse {
	resp := &pgproto3.ErrorResponse{
		Severity:            severity,
		SeverityUnlocalized: severity,
		Code:                codeInternal,
		Message:             err.Error(),
	}
	var se SQLStateError
	switch {
	case errors.As(err, &se):
		resp.Code = se.SQLState()
	case errors.Is(err, context.Canceled):
		// The statement's context is cancelled only by a CancelRequest or a
		// disconnect; the Session may hand back ctx.Err() as is.
		resp.Code = codeQueryCanceled
		resp.Message = msgCanceledByUser
	}
	var pe PositionError
	if errors.As(err, &pe) && pe.Position() > 0 {
		resp.Position = int32(pe.Position())
	}
	var de DetailError
	if errors.As(err, &de) {
		resp.Detail = de.Detail()
	}
	var he HintError
	if errors.As(err, &he) {
		resp.Hint = he.Hint()
	}
	var oe ObjectError
	if errors.As(err, &oe) {
		resp.SchemaName, resp.TableName, resp.ColumnName, resp.ConstraintName = oe.ErrorObjects()
	}
	return resp
}

// fatal marks an error after which the connection cannot continue (I/O
// failure, protocol violation, panic). It is reported if possible and the
// connection is closed.
type fatal struct {
	err  error
	gone bool // the socket failed: report nothing
}

func (f *fatal) Error() string { return f.err.Error() }
func (f *fatal) Unwrap() error { return f.err }

func isFatal(err error) bool {
	var f *fatal
	return errors.As(err, &f)
}

func protocolErrorf(format string, args ...any) error {
	return &fatal{err: newError(codeProtocolViolation, ErrProtocolViolation, format, args...)}
}
