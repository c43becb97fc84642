//go:build !unix

package snapshot

import "time"

func processCPU() time.Duration { return 0 }
