//go:build !unix

package fsm

import "time"

// processUsage is not measured on this platform.
func processUsage() (time.Duration, int64) { return 0, 0 }
