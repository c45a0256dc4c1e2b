package dbmetrics

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/realtimeserver/observability/metricsink/metricsinktest"
)

// TestNoProviderNoSpan runs statements with no TracerProvider set, in
// Options or installed globally: no tracer is looked up beyond the check.
func TestNoProviderNoSpan(t *testing.T) {
	registerNarrow()
	db, err := Open("dbmetrics-narrow", t.Name(), &Options{NoPoolMetrics: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	in := newInstrument(nil)
	if in.tracer() != nil {
		t.Error("a tracer with no provider installed")
	}
	db.MustExec("SELECT 1")
}

// A statement's duration carries its own span as the exemplar when it is
// traced, and the caller's span when it is not.
func TestDurationExemplar(t *testing.T) {
	registerNarrow()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	ctx, parent := tp.Tracer("test").Start(context.Background(), "request")
	defer parent.End()

	for _, traced := range []bool{true, false} {
		sink := metricsinktest.New()
		opts := &Options{Sink: sink, SlowThreshold: -1, NoPoolMetrics: true}
		if traced {
			opts.TracerProvider = tp
		}
		db, err := Open("dbmetrics-narrow", t.Name(), opts)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, "SELECT 1"); err != nil {
			t.Fatal(err)
		}
		db.Close()
		got := sink.Samples(metricDuration)
		if len(got) == 0 || got[len(got)-1].Exemplar == nil {
			t.Fatalf("traced %v: no duration sample with an exemplar: %+v", traced, got)
		}
		ex := got[len(got)-1].Exemplar
		want := parent.SpanContext().SpanID()
		if traced {
			ended := rec.Ended()
			if len(ended) == 0 {
				t.Fatal("no statement span")
			}
			want = ended[len(ended)-1].SpanContext().SpanID()
		}
		if ex.TraceID != parent.SpanContext().TraceID() || ex.SpanID != want {
			t.Errorf("traced %v: exemplar %v, want trace %v span %v", traced, ex, parent.SpanContext().TraceID(), want)
		}
	}
}
