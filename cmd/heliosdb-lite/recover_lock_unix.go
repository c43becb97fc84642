//go:build unix

package main

import (
	"errors"
	"os"
	"syscall"
)

// dbInUse reports whether a running process holds path open as its
// database: bolt, which holds raft.db, keeps an exclusive flock on it for as
// long as the node runs.
func dbInUse(path string) (bool, error) {
	f, err := os.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return false, err
	}
	defer f.Close()
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return false, syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}
