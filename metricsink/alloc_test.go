//go:build !race

package metricsink_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/realtimeserver/observability/metricsink"
)

// Recording into an existing series allocates nothing, through the Sink
// interface as instrumentation calls it.
func TestAllocsExistingSeries(t *testing.T) {
	p, _ := newProm(t, nil)
	var s metricsink.Sink = p
	route := "/videos/{id}/comments"
	tests := []struct {
		name string
		f    func()
	}{
		{"Increment", func() { s.Increment("http.requests", 1, metricsink.KV("route", route, "method", "GET")) }},
		{"Gauge", func() { s.Gauge("queue.length", 3, metricsink.KV("queue", "mail")) }},
		{"Histogram", func() { s.Histogram("payload.bytes", 512, metricsink.KV("route", route)) }},
		{"Duration", func() {
			s.Duration("http.request.duration", time.Millisecond, metricsink.KV("route", route, "method", "GET"))
		}},
		{"no tags", func() { s.Increment("ticks", 1, metricsink.Tags{}) }},
		{"past the in-place list", func() { s.Increment("many", 1, metricsink.KV("i", "9")) }},
	}
	for i := range 12 { // fill "many" past the in-place comparisons
		s.Increment("many", 1, metricsink.KV("i", string(rune('a'+i))))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 300 { // create the series and publish the read snapshots
				tt.f()
			}
			if got := testing.AllocsPerRun(1000, tt.f); got != 0 {
				t.Errorf("%s on an existing series: %v allocs, want 0", tt.name, got)
			}
		})
	}
}

// Samples that land in an existing overflow series allocate nothing
// either, once their raw tags have been seen.
func TestAllocsOverflowSeries(t *testing.T) {
	p, _ := newProm(t, &metricsink.PrometheusOptions{MaxSeriesPerMetric: 1})
	var s metricsink.Sink = p
	s.Increment("logins", 1, metricsink.KV("user", "alice"))
	f := func() { s.Increment("logins", 1, metricsink.KV("user", "bob")) }
	for range 300 {
		f()
	}
	if got := testing.AllocsPerRun(1000, f); got != 0 {
		t.Errorf("Increment into the overflow series: %v allocs, want 0", got)
	}
}

// Ever new tag values sent to the overflow series of a full family take
// neither the mutex nor an allocation, though they are not remembered.
func TestAllocsOverflowNewValues(t *testing.T) {
	p, _ := newProm(t, &metricsink.PrometheusOptions{MaxSeriesPerMetric: 1})
	var s metricsink.Sink = p
	s.Increment("logins", 1, metricsink.KV("user", "alice"))
	s.Increment("logins", 1, metricsink.KV("user", "bob"))
	values := make([]string, 5000)
	for i := range values {
		values[i] = fmt.Sprint("user", i)
	}
	i := 0
	f := func() {
		s.Increment("logins", 1, metricsink.KV("user", values[i%len(values)]))
		i++
	}
	for range 300 {
		f()
	}
	if got := testing.AllocsPerRun(1000, f); got != 0 {
		t.Errorf("Increment of new values into the overflow series: %v allocs, want 0", got)
	}
}
