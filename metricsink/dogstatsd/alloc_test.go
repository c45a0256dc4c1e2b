//go:build !race

package dogstatsd

import (
	"testing"
	"time"

	"github.com/realtimeserver/observability/metricsink"
)

// TestAllocs holds calls for a known series to zero allocations in this
// package and in Datadog's client (with its default aggregation).
func TestAllocs(t *testing.T) {
	l := listen(t)
	s := newTestSink(t, l, nil)
	var sink metricsink.Sink = s
	tags := metricsink.KV("route", "/comments/{id}", "method", "GET")
	tests := []struct {
		name string
		call func()
	}{
		{"Increment", func() { sink.Increment("http.requests", 1, tags) }},
		{"Gauge", func() { sink.Gauge("queue.length", 3, tags) }},
		{"Histogram", func() { sink.Histogram("message.size", 100, tags) }},
		{"Duration", func() { sink.Duration("http.request.duration", 3*time.Millisecond, tags) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.call() // converts and caches the series
			if got := testing.AllocsPerRun(1000, tt.call); got != 0 {
				t.Errorf("%s allocates %v times per call, want 0", tt.name, got)
			}
		})
	}
}
