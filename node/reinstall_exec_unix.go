//go:build unix

package node

import "syscall"

// execSelf replaces the process with a new start of exe (reinstall.go).
func execSelf(exe string, args, env []string) error { return syscall.Exec(exe, args, env) }
