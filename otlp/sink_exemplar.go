package otlp

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/realtimeserver/observability/metricsink"
)

var _ metricsink.ExemplarSink = (*Sink)(nil)

// HistogramExemplar implements metricsink.ExemplarSink: value is recorded
// as Histogram records it, and ex is offered to the SDK's exemplar
// reservoir of the series, which keeps its trace and span ids beside the
// value and the time. Use metricsink.HistogramContext, which takes them
// from a context's sampled span.
func (s *Sink) HistogramExemplar(name string, value float64, tags metricsink.Tags, ex metricsink.Exemplar) {
	s.observe(metricsink.OpHistogram, name, value, &tags, ex)
}

// DurationExemplar implements metricsink.ExemplarSink: d is recorded in
// seconds as Duration records it, with ex as HistogramExemplar does.
func (s *Sink) DurationExemplar(name string, d time.Duration, tags metricsink.Tags, ex metricsink.Exemplar) {
	s.observe(metricsink.OpDuration, name, d.Seconds(), &tags, ex)
}

// record records v into t's histogram. When ex names a span, the
// measurement's context carries it as a sampled span context: the SDK's
// exemplar filter (trace-based unless OTEL_METRICS_EXEMPLAR_FILTER says
// otherwise) offers such a measurement to the series' reservoir, which
// copies the span context into the exemplar it keeps (for exponential
// histograms up to 20 a series, sampled at random; for explicit buckets
// one a bucket). Without one, the context carries no span and the filter
// offers nothing, so the plain path costs nothing more.
func record(t *target, v float64, ex metricsink.Exemplar) {
	if !ex.TraceID.IsValid() || !ex.SpanID.IsValid() {
		t.in.hist.Record(context.Background(), v, t.rec...)
		return
	}
	c := spanContexts.Get().(*spanContext)
	c.span.sc = trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    ex.TraceID,
		SpanID:     ex.SpanID,
		TraceFlags: trace.FlagsSampled,
	})
	t.in.hist.Record(c.ctx, v, t.rec...)
	c.span.sc = trace.SpanContext{}
	spanContexts.Put(c)
}

// spanContext is a context carrying a span whose span context is set for
// one Record at a time, so that recording with an exemplar allocates
// nothing: trace.ContextWithSpanContext allocates a span and a context
// each call. It is reused once Record returns, which is safe because the
// SDK reads the span context while Record runs and keeps a copy, never
// the context (its exemplar filter and reservoirs, sdk/metric v1.47;
// TestExemplarsConcurrent checks it).
type spanContext struct {
	ctx  context.Context // context.Background() carrying &span
	span exemplarSpan
}

// exemplarSpan is a span that does nothing and has the span context sc.
type exemplarSpan struct {
	noop.Span
	sc trace.SpanContext
}

func (s *exemplarSpan) SpanContext() trace.SpanContext { return s.sc }

var spanContexts = sync.Pool{New: func() any {
	c := new(spanContext)
	c.ctx = trace.ContextWithSpan(context.Background(), &c.span)
	return c
}}
