package pgwire

import (
	"context"
	"io"
)

// Backend is what the protocol server needs from the SQL layer. It is
// declared here, where it is consumed; the sql package (through node)
// provides the implementation.
type Backend interface {
	// NewSession is called once per connection, after authentication, on
	// the connection's goroutine. The returned Session is used by that
	// goroutine only and closed when the connection ends.
	NewSession(ctx context.Context, info StartupInfo) (Session, error)
}

// StartupInfo is what the client said in its StartupMessage.
type StartupInfo struct {
	User     string
	Database string
	// Params holds every startup parameter, including user and database.
	Params map[string]string
	// RemoteAddr is the client's address as seen by the server.
	RemoteAddr string
}

// Session is one client's SQL session. Every method is called from the
// connection's goroutine only; none is called concurrently with another.
// Methods may block on the network (a write forwarded to a leader, a
// linearizable read barrier); ctx is cancelled when the client sends a
// CancelRequest for this session or disconnects.
type Session interface {
	// Prepare analyzes one statement for the extended protocol. paramTypes
	// are the OIDs the client declared (0 = unspecified); the returned
	// statement reports the types it inferred. A query with more than one
	// statement is an error (SQLSTATE 42601), as in PostgreSQL.
	Prepare(ctx context.Context, query string, paramTypes []uint32) (Statement, error)

	// PrepareSimple splits a simple-protocol query string into statements.
	// An empty query returns no statements.
	PrepareSimple(ctx context.Context, query string) ([]Statement, error)

	// TxStatus is the transaction status for ReadyForQuery: 'I' idle,
	// 'T' in a transaction block, 'E' in a failed transaction block.
	TxStatus() byte

	// ParameterStatus lists the parameters reported to the client after
	// startup (server_version, client_encoding, DateStyle, ...) and after a
	// SET that changes one of them.
	ParameterStatus() map[string]string

	// Close releases the session (rolling back an open transaction).
	Close()
}

// QueryEnder is implemented by a Session that runs the statements of a
// multi-statement simple Query in an implicit transaction block. EndQuery
// is called once the Query's statements are over (before ReadyForQuery);
// failed says whether one of them failed, in which case the block is
// rolled back. An error it returns is sent to the client.
type QueryEnder interface {
	EndQuery(ctx context.Context, failed bool) error
}

// Statement is a parsed, analyzed statement ready to execute any number of
// times with different parameters.
type Statement interface {
	// ParamTypes are the parameter type OIDs (after inference).
	ParamTypes() []uint32
	// Columns describes the result rows, or nil when the statement returns
	// no rows (then Describe answers NoData).
	Columns() []Column
	// Execute runs the statement. params are decoded Go values (see
	// DecodeParam for the mapping from OIDs); nil is SQL NULL.
	Execute(ctx context.Context, params []any) (*Result, error)
}

// Column describes one result column.
type Column struct {
	Name     string
	TypeOID  uint32
	TypeSize int16 // -1 for variable length
	TypeMod  int32 // -1 when none
	// TableOID and ColumnAttr identify the source column when known (0 if not).
	TableOID   uint32
	ColumnAttr int16
}

// Result is the outcome of executing one statement. Exactly one of Rows,
// CopyOut or CopyIn is used; none for a command that returns only a tag.
type Result struct {
	// Tag is the CommandComplete tag, e.g. "SELECT 3", "INSERT 0 1". For
	// CopyIn the tag comes from the CopyIn function instead.
	Tag string
	// Columns describe Rows (for statements that return rows).
	Columns []Column
	// Rows are the result rows; each value is a Go value matching the
	// column's type OID (int64, float64, bool, string, []byte, time.Time,
	// [16]byte for uuid, ...), or nil for NULL.
	Rows [][]any

	// CopyOut, when set, streams COPY ... TO STDOUT: each Write on w
	// becomes one CopyData message. CopyColumns is the number of columns
	// (for CopyOutResponse); CopyBinary selects binary format code.
	CopyOut     func(ctx context.Context, w io.Writer) error
	CopyColumns int
	CopyBinary  bool

	// CopyIn, when set, consumes COPY ... FROM STDIN: r yields the
	// concatenated CopyData payloads until CopyDone (io.EOF) or CopyFail
	// (an error). It returns the CommandComplete tag.
	CopyIn func(ctx context.Context, r io.Reader) (tag string, err error)
}

// Error classification crosses the package boundary by method, not by type:
// an error (anywhere in its Unwrap chain) implementing SQLStateError is sent
// with that code; any other error is sent as XX000 internal_error.
type SQLStateError interface {
	error
	SQLState() string
}

// Optional extra fields an error may carry into the ErrorResponse.
type (
	// PositionError reports a 1-based character position in the query.
	PositionError interface{ Position() int }
	// DetailError carries the DETAIL field.
	DetailError interface{ Detail() string }
	// HintError carries the HINT field.
	HintError interface{ Hint() string }
	// ObjectError names the objects an error is about (SCHEMA NAME, TABLE
	// NAME, COLUMN NAME, CONSTRAINT NAME); empty strings are left out.
	ObjectError interface {
		ErrorObjects() (schema, table, column, constraint string)
	}
)
