package metricsink

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// Exemplar links one observation of a histogram to the sampled span it was
// made in, so that a latency bucket leads to a trace of a request that
// landed in it. A backend keeps at most one exemplar per bucket (the
// latest) and stamps it with the observed value and the time.
type Exemplar struct {
	TraceID trace.TraceID
	SpanID  trace.SpanID
}

// ExemplarFromContext returns the exemplar of the span in ctx, and false
// when ctx carries no span or one that is not sampled: an unsampled trace
// id leads nowhere, so it is never kept.
func ExemplarFromContext(ctx context.Context) (Exemplar, bool) {
	if ctx == nil {
		return Exemplar{}, false
	}
	return ExemplarFromSpanContext(trace.SpanContextFromContext(ctx))
}

// ExemplarFromSpanContext returns the exemplar of sc, and false when sc is
// not valid or not sampled. Instrumentation that holds its span uses it
// rather than putting the span into a context.
func ExemplarFromSpanContext(sc trace.SpanContext) (Exemplar, bool) {
	if !sc.IsValid() || !sc.IsSampled() {
		return Exemplar{}, false
	}
	return Exemplar{TraceID: sc.TraceID(), SpanID: sc.SpanID()}, true
}

// valid reports whether e names a span; the zero Exemplar does not.
func (e Exemplar) valid() bool { return e.TraceID.IsValid() && e.SpanID.IsValid() }

// ExemplarSink is implemented by sinks that keep exemplars. Use the
// package functions HistogramContext and DurationContext, which accept any
// Sink: on one that is not an ExemplarSink they record without the
// exemplar.
type ExemplarSink interface {
	HistogramExemplar(name string, value float64, tags Tags, ex Exemplar)
	DurationExemplar(name string, d time.Duration, tags Tags, ex Exemplar)
}

// ExemplarObserver is implemented by the histogram handles of sinks that
// keep exemplars; ObserveExemplar must not allocate, block or panic.
type ExemplarObserver interface {
	ObserveExemplar(v float64, ex Exemplar)
}

// ExemplarDurationObserver is implemented by the timer handles of sinks
// that keep exemplars; ObserveDurationExemplar must not allocate, block or
// panic.
type ExemplarDurationObserver interface {
	ObserveDurationExemplar(d time.Duration, ex Exemplar)
}

// HistogramContext records value as Histogram does, with the exemplar of
// ctx's span when it is sampled and s keeps exemplars.
func HistogramContext(ctx context.Context, s Sink, name string, value float64, tags Tags) {
	ex, _ := ExemplarFromContext(ctx)
	HistogramWith(s, name, value, tags, ex)
}

// DurationContext records d as Duration does, with the exemplar of ctx's
// span when it is sampled and s keeps exemplars.
func DurationContext(ctx context.Context, s Sink, name string, d time.Duration, tags Tags) {
	ex, _ := ExemplarFromContext(ctx)
	DurationWith(s, name, d, tags, ex)
}

// HistogramWith records value as Histogram does, with ex when s keeps
// exemplars; the zero Exemplar records none.
func HistogramWith(s Sink, name string, value float64, tags Tags, ex Exemplar) {
	if es, ok := s.(ExemplarSink); ok && ex.valid() {
		es.HistogramExemplar(name, value, tags, ex)
		return
	}
	s.Histogram(name, value, tags)
}

// DurationWith records d as Duration does, with ex when s keeps
// exemplars; the zero Exemplar records none.
func DurationWith(s Sink, name string, d time.Duration, tags Tags, ex Exemplar) {
	if es, ok := s.(ExemplarSink); ok && ex.valid() {
		es.DurationExemplar(name, d, tags, ex)
		return
	}
	s.Duration(name, d, tags)
}

// ObserveContext records v as Observe does, with the exemplar of ctx's
// span when it is sampled and the sink keeps exemplars.
func (h HistogramHandle) ObserveContext(ctx context.Context, v float64) {
	ex, _ := ExemplarFromContext(ctx)
	h.ObserveWith(v, ex)
}

// ObserveWith records v as Observe does, with ex when the sink keeps
// exemplars; the zero Exemplar records none.
func (h HistogramHandle) ObserveWith(v float64, ex Exemplar) {
	if h.o == nil {
		return
	}
	if eo, ok := h.o.(ExemplarObserver); ok && ex.valid() {
		eo.ObserveExemplar(v, ex)
		return
	}
	h.o.Observe(v)
}

// ObserveContext records d as Observe does, with the exemplar of ctx's
// span when it is sampled and the sink keeps exemplars.
func (t TimerHandle) ObserveContext(ctx context.Context, d time.Duration) {
	ex, _ := ExemplarFromContext(ctx)
	t.ObserveWith(d, ex)
}

// ObserveWith records d as Observe does, with ex when the sink keeps
// exemplars; the zero Exemplar records none.
func (t TimerHandle) ObserveWith(d time.Duration, ex Exemplar) {
	if t.o == nil {
		return
	}
	if eo, ok := t.o.(ExemplarDurationObserver); ok && ex.valid() {
		eo.ObserveDurationExemplar(d, ex)
		return
	}
	t.o.ObserveDuration(d)
}

// SinceContext records the time elapsed since start, with the exemplar of
// ctx's span as ObserveContext does.
func (t TimerHandle) SinceContext(ctx context.Context, start time.Time) {
	t.ObserveContext(ctx, time.Since(start))
}

// The exemplar paths of the handles of a sink that is not a HandleSink and
// of a Fanout: each passes the exemplar on where the next one keeps them.

func (h *sinkHistogram) ObserveExemplar(v float64, ex Exemplar) {
	if es, ok := h.s.(ExemplarSink); ok {
		es.HistogramExemplar(h.name, v, h.tags, ex)
		return
	}
	h.s.Histogram(h.name, v, h.tags)
}

func (t *sinkTimer) ObserveDurationExemplar(d time.Duration, ex Exemplar) {
	if es, ok := t.s.(ExemplarSink); ok {
		es.DurationExemplar(t.name, d, t.tags, ex)
		return
	}
	t.s.Duration(t.name, d, t.tags)
}

func (f fanHistogram) ObserveExemplar(v float64, ex Exemplar) {
	for _, o := range f {
		if eo, ok := o.(ExemplarObserver); ok {
			eo.ObserveExemplar(v, ex)
		} else {
			o.Observe(v)
		}
	}
}

func (f fanTimer) ObserveDurationExemplar(d time.Duration, ex Exemplar) {
	for _, o := range f {
		if eo, ok := o.(ExemplarDurationObserver); ok {
			eo.ObserveDurationExemplar(d, ex)
		} else {
			o.ObserveDuration(d)
		}
	}
}

func (f fanout) HistogramExemplar(name string, value float64, tags Tags, ex Exemplar) {
	for _, s := range f {
		if es, ok := s.(ExemplarSink); ok {
			es.HistogramExemplar(name, value, tags, ex)
		} else {
			s.Histogram(name, value, tags)
		}
	}
}

func (f fanout) DurationExemplar(name string, d time.Duration, tags Tags, ex Exemplar) {
	for _, s := range f {
		if es, ok := s.(ExemplarSink); ok {
			es.DurationExemplar(name, d, tags, ex)
		} else {
			s.Duration(name, d, tags)
		}
	}
}

var (
	_ ExemplarSink             = fanout(nil)
	_ ExemplarObserver         = fanHistogram(nil)
	_ ExemplarDurationObserver = fanTimer(nil)
	_ ExemplarObserver         = (*sinkHistogram)(nil)
	_ ExemplarDurationObserver = (*sinkTimer)(nil)
)
