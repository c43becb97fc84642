package sql

import (
	"errors"
	"fmt"
)

// SQLSTATE codes produced by this package.
const (
	codeSyntax             = "42601"
	codeUndefinedTable     = "42P01"
	codeUndefinedColumn    = "42703"
	codeUndefinedFunction  = "42883"
	codeUndefinedObject    = "42704"
	codeAmbiguousColumn    = "42702"
	codeDatatypeMismatch   = "42804"
	codeInvalidText        = "22P02"
	codeNumericRange       = "22003"
	codeDivisionByZero     = "22012"
	codeStringTooLong      = "22001"
	codeInvalidDatetime    = "22007"
	codeDatetimeOverflow   = "22008"
	codeFeature            = "0A000"
	codeGrouping           = "42803"
	codeInFailedTx         = "25P02"
	codeNoActiveTx         = "25P01"
	codeActiveTx           = "25001"
	codeSerialization      = "40001"
	codeCardinality        = "21000"
	codeInvalidParam       = "22023"
	codeUndefinedParam     = "42P02"
	codeDuplicateTable     = "42P07"
	codeDuplicateColumn    = "42701"
	codeDuplicateObject    = "42710"
	codeInvalidTableDef    = "42P16"
	codeNotNull            = "23502"
	codeUnique             = "23505"
	codeInternal           = "XX000"
	codeWrongObjectType    = "42809"
	codeInvalidColumnRef   = "42P10"
	codeIndeterminateType  = "42P18"
	codeCantChangeRuntime  = "55P02"
	codeReadOnlyTx         = "25006"
	codeBadCopyFile        = "22P04"
	codeInvalidEscape      = "22025"
	codeInvalidRegex       = "2201B"
	codeInvalidArgument    = "22023"
	codeProgramLimit       = "54000"
	codeQueryCanceled      = "57014"
	codeInvalidSchema      = "3F000"
	codeInvalidCatalogName = "3D000"
)

// Sentinel errors. Every *Error matches the sentinel of its category
// through errors.Is.
var (
	// ErrSerialization is a serialization failure (SQLSTATE 40001): a
	// precondition failed because a concurrent write changed what the
	// statement read.
	ErrSerialization = errors.New("sql: serialization failure")
	// ErrAborted is a statement refused inside a failed transaction block
	// (25P02).
	ErrAborted = errors.New("sql: current transaction is aborted")
	// ErrUnsupported marks a feature this server does not implement (0A000).
	ErrUnsupported = errors.New("sql: feature not supported")
)

// Error is a PostgreSQL error: a SQLSTATE, a message and the optional
// fields of an ErrorResponse. pgwire reads them through the SQLState,
// Position, Detail and Hint methods.
type Error struct {
	Code string
	Msg  string
	Det  string
	Hnt  string
	Pos  int // 1-based character position in the query, 0 = none
	// Schema, Table, Column and Constraint name the object an integrity
	// violation is about (ErrorResponse fields s, t, c, n), as PostgreSQL
	// reports them; empty when not applicable.
	Schema, Table, Column, Constraint string
	wrapped                           error
}

func (e *Error) Error() string    { return e.Msg }
func (e *Error) SQLState() string { return e.Code }
func (e *Error) Position() int    { return e.Pos }
func (e *Error) Detail() string   { return e.Det }
func (e *Error) Hint() string     { return e.Hnt }
func (e *Error) Unwrap() error    { return e.wrapped }

// ErrorObjects implements pgwire.ObjectError.
func (e *Error) ErrorObjects() (schema, table, column, constraint string) {
	return e.Schema, e.Table, e.Column, e.Constraint
}

// Is maps categories to sentinels so callers need not compare codes.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrSerialization:
		return e.Code == codeSerialization
	case ErrAborted:
		return e.Code == codeInFailedTx
	case ErrUnsupported:
		return e.Code == codeFeature
	}
	return false
}

func errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}

func unsupported(feature string) *Error {
	return &Error{Code: codeFeature, Msg: feature + " is not supported"}
}

// sqlState returns the SQLSTATE of err, or "" when it has none.
func sqlState(err error) string {
	var s interface{ SQLState() string }
	if errors.As(err, &s) {
		return s.SQLState()
	}
	return ""
}

// isSerialization reports whether err is a 40001 from anywhere (engine or
// this package).
func isSerialization(err error) bool { return sqlState(err) == codeSerialization }

// withPos attaches a 1-based position to err if it is an *Error without one.
func withPos(err error, loc int32) error {
	var e *Error
	if loc >= 0 && errors.As(err, &e) && e.Pos == 0 {
		e.Pos = int(loc) + 1
	}
	return err
}
