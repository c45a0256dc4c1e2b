//go:build !race

package otlp

import (
	"testing"
	"time"

	"github.com/realtimeserver/observability/metricsink"
)

// TestHandleAllocs: handles, as the facade requires, record without
// allocating.
func TestHandleAllocs(t *testing.T) {
	s, _ := newManual(t, SinkOptions{})
	c := metricsink.NewCounter(s, "c", metricsink.KV("k", "v"))
	g := metricsink.NewGauge(s, "g", metricsink.KV("k", "v"))
	h := metricsink.NewHistogram(s, "h", metricsink.KV("k", "v"))
	tm := metricsink.NewTimer(s, "t", metricsink.KV("k", "v"))
	for name, f := range map[string]func(){
		"counter":   func() { c.Inc() },
		"gauge":     func() { g.Add(1) },
		"histogram": func() { h.Observe(2) },
		"timer":     func() { tm.Observe(time.Millisecond) },
	} {
		f() // first use may set up the series
		if n := testing.AllocsPerRun(1000, f); n != 0 {
			t.Errorf("%s handle: %v allocations per sample, want 0", name, n)
		}
	}
}
