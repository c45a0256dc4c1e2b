package dogstatsd

import (
	"testing"
	"time"

	"github.com/realtimeserver/observability/metricsink"
)

func BenchmarkSink(b *testing.B) {
	l := listen(b)
	s := newTestSink(b, l, nil)
	var sink metricsink.Sink = s
	tags := metricsink.KV("route", "/comments/{id}", "method", "GET")
	b.Run("Increment", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				sink.Increment("http.requests", 1, tags)
			}
		})
	})
	b.Run("Duration", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				sink.Duration("http.request.duration", 3*time.Millisecond, tags)
			}
		})
	})
	b.Run("Increment/new-series", func(b *testing.B) {
		// Past MaxSeries every call converts: the uncached cost.
		s := newTestSink(b, l, &Options{MaxSeries: 1})
		s.Increment("fills.the.cache", 1, metricsink.Tags{})
		b.ReportAllocs()
		for b.Loop() {
			s.Increment("http.requests", 1, tags)
		}
	})
}
