package engine

import (
	"errors"
	"fmt"
)

// SQLSTATE codes the engine reports. Errors carry them through SQLState()
// so the wire layer maps them without string matching.
const (
	CodeUniqueViolation      = "23505"
	CodeNotNullViolation     = "23502"
	CodeSerializationFailure = "40001"
	CodeUndefinedTable       = "42P01"
	CodeUndefinedColumn      = "42703"
	CodeUndefinedObject      = "42704"
	CodeDuplicateTable       = "42P07"
	CodeDuplicateColumn      = "42701"
	CodeDuplicateObject      = "42710"
	CodeInvalidName          = "42602"
	CodeDatatypeMismatch     = "42804"
	CodeStringTooLong        = "22001"
	CodeFeatureNotSupported  = "0A000"
	CodeTooManyColumns       = "54011"
	CodeInvalidPrimaryKey    = "42P16" // invalid_table_definition
	CodeDataCorrupted        = "XX001"
	CodeObjectInUse          = "55006"
	CodeSnapshotTooOld       = "72000"
	CodeInternal             = "XX000"
)

// Sentinel errors. Callers test with errors.Is; every *Error also matches
// the sentinel of its category (see Error.Is).
var (
	// ErrConflict: a precondition failed (a row changed since it was read).
	ErrConflict = errors.New("engine: serialization failure")
	// ErrChangesTooOld: ChangesSince was asked for changes older than the
	// tombstone horizon; a full dump is needed.
	ErrChangesTooOld = errors.New("engine: changes since that LSN are no longer retained")
	// ErrCorrupt: encoded bytes (row, change set, schema) are malformed.
	ErrCorrupt = errors.New("engine: corrupt encoding")
	// ErrLSNOrder: Apply was called with an LSN not above the current one.
	ErrLSNOrder = errors.New("engine: LSN not increasing")
)

// Error is an engine error carrying a SQLSTATE code.
type Error struct {
	Code   string
	Msg    string
	detail string
}

func newError(code, msg string) *Error { return &Error{Code: code, Msg: msg} }

func newErrorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string { return e.Msg }

// SQLState returns the PostgreSQL error code.
func (e *Error) SQLState() string { return e.Code }

// Detail returns the DETAIL text, if any.
func (e *Error) Detail() string { return e.detail }

// Is lets errors.Is(err, ErrConflict) and friends work on *Error values.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrConflict:
		return e.Code == CodeSerializationFailure
	case ErrChangesTooOld:
		return e.Code == CodeSnapshotTooOld
	case ErrCorrupt:
		return e.Code == CodeDataCorrupted
	}
	return false
}

// NewError returns an *Error with the given SQLSTATE; other packages use it
// to report errors in the engine's vocabulary (e.g. the SQL layer's
// constraint checks).
func NewError(code, format string, args ...any) *Error {
	return newErrorf(code, format, args...)
}

func corruptf(format string, args ...any) *Error {
	return newErrorf(CodeDataCorrupted, "engine: corrupt encoding: "+format, args...)
}
