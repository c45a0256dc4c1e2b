//go:build !linux

package prometheus

// writeProcess appends the process_* families this system gives without
// /proc: when the process started.
func (w *runtimeWriter) writeProcess() {
	w.one("process_start_time_seconds", "gauge", "When the process started, in seconds since the epoch.", float64(startTime.Unix()))
}
