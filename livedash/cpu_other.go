//go:build !unix

package livedash

import "math"

// processCPU is NaN where getrusage does not exist.
func processCPU() float64 { return math.NaN() }
