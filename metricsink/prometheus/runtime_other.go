//go:build !linux

package prometheus

// readProcess reads the process_* families this system gives without
// /proc: when the process started.
func (w *runtimeReader) readProcess() {
	w.one("process_start_time_seconds", "gauge", "When the process started, in seconds since the epoch.", float64(startTime.Unix()))
}
