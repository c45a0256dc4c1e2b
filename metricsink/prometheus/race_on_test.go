//go:build race

package prometheus_test

// raceEnabled: the race detector multiplies memory use, so the memory
// bound is measured without it.
const raceEnabled = true
