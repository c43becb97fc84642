//go:build !unix

package node

import "errors"

// execSelf: replacing the process is not supported here; the process
// exits and its supervisor starts it again (reinstall.go).
func execSelf(string, []string, []string) error {
	return errors.New("restarting in place is not supported on this platform")
}
