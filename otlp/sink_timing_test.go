package otlp

import (
	"context"
	"testing"
	"time"

	"github.com/realtimeserver/observability/metricsink"
)

// BenchmarkTimerHandle: a timer handle's ObserveContext, in a context
// without a span and in one with a sampled span (an exemplar offered to
// the reservoir), into explicit buckets (the baseline) and exponential
// buckets, from parallel goroutines.
func BenchmarkTimerHandle(b *testing.B) {
	sampled, _, _ := spanCtx(1, true)
	for _, bc := range []struct {
		name     string
		explicit bool
		ctx      context.Context
	}{
		{"explicit", true, context.Background()},
		{"explicit/exemplar", true, sampled},
		{"exponential", false, context.Background()},
		{"exponential/exemplar", false, sampled},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s, _ := newManual(b, SinkOptions{ExplicitBuckets: bc.explicit})
			h := metricsink.NewTimer(s, "http.request.duration", metricsink.KV("route", "/comments/{id}", "method", "GET"))
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				d := 300 * time.Microsecond
				for pb.Next() {
					h.ObserveContext(bc.ctx, d)
					d += time.Microsecond
				}
			})
		})
	}
}
