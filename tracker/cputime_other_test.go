//go:build !linux

package tracker

import "time"

// threadCPU is measured on Linux only; elsewhere it reports 0.
func threadCPU() func() time.Duration {
	return func() time.Duration { return 0 }
}
