//go:build unix

package livedash

import (
	"math"
	"syscall"
)

// processCPU returns the CPU time the process has used, user and system,
// in seconds, or NaN when the system will not say.
func processCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return math.NaN()
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}
