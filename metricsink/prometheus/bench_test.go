package prometheus_test

import (
	"fmt"
	"testing"

	"github.com/realtimeserver/observability/metricsink"
)

// BenchmarkIncrement is the hot path of the Sink methods: an existing
// series, two tags, through the Sink interface as instrumentation calls
// it; with one metric name registered, and among 50 names.
func BenchmarkIncrement(b *testing.B) {
	for _, names := range []int{1, 50} {
		b.Run(fmt.Sprintf("names=%d", names), func(b *testing.B) {
			p, _ := newProm(b, nil)
			var s metricsink.Sink = p
			route, method := "/videos/{id}/comments", "POST"
			for i := range names - 1 {
				s.Increment(fmt.Sprintf("other.%d", i), 1, metricsink.KV("route", route, "method", method))
			}
			for range 100 { // create the series and publish the lookup maps
				s.Increment("http.requests", 1, metricsink.KV("route", route, "method", method))
			}
			b.ReportAllocs()
			for b.Loop() {
				s.Increment("http.requests", 1, metricsink.KV("route", route, "method", method))
			}
		})
	}
}
