//go:build unix

package snapshot

import (
	"syscall"
	"time"
)

// processCPU is the CPU time this process has used (all threads, the
// garbage collector's included). Benchmarks report MB per CPU second
// besides wall-clock MB/s because the machines they run on are shared.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
