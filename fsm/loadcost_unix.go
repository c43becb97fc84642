//go:build unix

package fsm

import (
	"syscall"
	"time"
)

// processUsage is the CPU time this process has used (user and system,
// all threads) and its minor page faults.
func processUsage() (time.Duration, int64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), int64(ru.Minflt)
}
