package replication

import (
	"fmt"
	"io/fs"
	"syscall"
	"testing"
)

// A log store that cannot write for lack of space (BoltDB returns the
// file system's error) is SQLSTATE 53100, disk_full, also when wrapped.
func TestSQLStateDiskFull(t *testing.T) {
	for _, err := range []error{
		&fs.PathError{Op: "write", Path: "raft.db", Err: syscall.ENOSPC},
		fmt.Errorf("apply: %w", &fs.PathError{Op: "write", Path: "raft.db", Err: syscall.EDQUOT}),
	} {
		if got := SQLState(err); got != SQLStateDiskFull {
			t.Errorf("SQLState(%v) = %s, want %s", err, got, SQLStateDiskFull)
		}
	}
	if got := SQLState(&fs.PathError{Op: "write", Path: "raft.db", Err: syscall.EIO}); got != SQLStateInternalError {
		t.Errorf("an I/O error is %s, want %s", got, SQLStateInternalError)
	}
}
