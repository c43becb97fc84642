//go:build !unix

package antientropy_test

import "time"

// processCPU is unavailable here; CPU figures read 0.
func processCPU() time.Duration { return 0 }
