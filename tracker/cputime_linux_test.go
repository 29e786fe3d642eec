package tracker

import (
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// threadCPU locks the calling goroutine to its thread and returns a function
// that reports the CPU time the thread has used since, and unlocks it. On a
// shared machine it measures the work where wall time measures the queue.
func threadCPU() func() time.Duration {
	runtime.LockOSThread()
	start := cpuNow()
	return func() time.Duration {
		d := cpuNow() - start
		runtime.UnlockOSThread()
		return d
	}
}

func cpuNow() time.Duration {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_THREAD, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
