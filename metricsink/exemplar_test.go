package metricsink_test

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/realtimeserver/observability/metricsink"
	"github.com/realtimeserver/observability/metricsink/metricsinktest"
)

func spanContext(sampled bool) context.Context {
	cfg := trace.SpanContextConfig{
		TraceID: trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		SpanID:  trace.SpanID{1, 2, 3, 4, 5, 6, 7, 8},
	}
	if sampled {
		cfg.TraceFlags = trace.FlagsSampled
	}
	return trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(cfg))
}

// Every path that takes a context keeps the exemplar of a sampled span,
// and only of a sampled one, through a Fanout and through handles alike.
func TestExemplarPaths(t *testing.T) {
	want := metricsink.Exemplar{
		TraceID: trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		SpanID:  trace.SpanID{1, 2, 3, 4, 5, 6, 7, 8},
	}
	record := map[string]func(ctx context.Context, s metricsink.Sink){
		"HistogramContext": func(ctx context.Context, s metricsink.Sink) {
			metricsink.HistogramContext(ctx, s, "m", 1, metricsink.Tags{})
		},
		"DurationContext": func(ctx context.Context, s metricsink.Sink) {
			metricsink.DurationContext(ctx, s, "m", time.Second, metricsink.Tags{})
		},
		"HistogramHandle": func(ctx context.Context, s metricsink.Sink) {
			metricsink.NewHistogram(s, "m", metricsink.Tags{}).ObserveContext(ctx, 1)
		},
		"TimerHandle": func(ctx context.Context, s metricsink.Sink) {
			metricsink.NewTimer(s, "m", metricsink.Tags{}).SinceContext(ctx, time.Now())
		},
	}
	for name, f := range record {
		for _, fan := range []bool{false, true} {
			for _, sampled := range []bool{false, true} {
				a, b := metricsinktest.New(), metricsinktest.New()
				var s metricsink.Sink = a
				if fan {
					s = metricsink.Fanout(a, b, metricsink.Discard)
				}
				f(spanContext(sampled), s)
				for i, r := range []*metricsinktest.Recorder{a, b} {
					if i == 1 && !fan {
						continue
					}
					got := r.Samples("m")
					if len(got) != 1 {
						t.Fatalf("%s (fanout %v): %d samples, want 1", name, fan, len(got))
					}
					switch ex := got[0].Exemplar; {
					case sampled && (ex == nil || *ex != want):
						t.Errorf("%s (fanout %v): exemplar %v, want %v", name, fan, ex, want)
					case !sampled && ex != nil:
						t.Errorf("%s (fanout %v): exemplar %v from an unsampled span", name, fan, ex)
					}
				}
			}
		}
	}
	if _, ok := metricsink.ExemplarFromContext(context.Background()); ok {
		t.Error("an exemplar from a context without a span")
	}
	var zero metricsink.TimerHandle
	zero.ObserveContext(spanContext(true), time.Second) // must not panic
	var zh metricsink.HistogramHandle
	zh.ObserveContext(spanContext(true), 1)
}
