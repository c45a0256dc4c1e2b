//go:build !race

package prometheus_test

import (
	"testing"
	"time"

	"github.com/realtimeserver/observability/metricsink"
	"github.com/realtimeserver/observability/metricsink/prometheus"
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
	p, _ := newProm(t, &prometheus.Options{MaxSeriesPerMetric: 1})
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

// Handles allocate nothing, through the registry and through a Fanout of
// it and a DogStatsD-like HandleSink.
func TestAllocsHandles(t *testing.T) {
	p, _ := newProm(t, nil)
	sink := metricsink.Fanout(p, metricsink.Discard)
	tags := metricsink.KV("method", "GET", "route", "/x")
	c := metricsink.NewCounter(sink, "hits", tags)
	g := metricsink.NewGauge(sink, "open", tags)
	h := metricsink.NewHistogram(sink, "size", tags)
	tm := metricsink.NewTimer(sink, "latency", tags)
	ctx, _ := sampledContext(1, 2)
	for name, f := range map[string]func(){
		"counter":                    func() { c.Add(2) },
		"gauge add":                  func() { g.Add(1) },
		"gauge set":                  func() { g.Set(3) },
		"histogram":                  func() { h.Observe(0.3) },
		"timer":                      func() { tm.Observe(time.Millisecond) },
		"histogram with an exemplar": func() { h.ObserveContext(ctx, 0.3) },
		"timer with an exemplar":     func() { tm.ObserveContext(ctx, time.Millisecond) },
		"Sink with an exemplar": func() {
			metricsink.DurationContext(ctx, p, "latency", time.Millisecond, tags)
		},
	} {
		if got := testing.AllocsPerRun(1000, f); got != 0 {
			t.Errorf("%s handle: %v allocs, want 0", name, got)
		}
	}
}
