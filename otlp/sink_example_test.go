package otlp_test

import (
	"context"
	"fmt"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/trace"

	"github.com/realtimeserver/observability/metricsink"
	"github.com/realtimeserver/observability/otlp"
)

// printExporter prints what it is given instead of sending it.
type printExporter struct{}

func (printExporter) Temporality(k sdkmetric.InstrumentKind) metricdata.Temporality {
	return sdkmetric.DefaultTemporalitySelector(k)
}
func (printExporter) Aggregation(k sdkmetric.InstrumentKind) sdkmetric.Aggregation {
	return sdkmetric.DefaultAggregationSelector(k)
}
func (printExporter) ForceFlush(context.Context) error { return nil }
func (printExporter) Shutdown(context.Context) error   { return nil }
func (printExporter) Export(_ context.Context, rm *metricdata.ResourceMetrics) error {
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[float64]:
				fmt.Printf("%s: sum %v\n", m.Name, d.DataPoints[0].Value)
			case metricdata.ExponentialHistogram[float64]:
				p := d.DataPoints[0]
				fmt.Printf("%s: %d observation(s) in %s, %d exemplar(s)\n", m.Name, p.Count, m.Unit, len(p.Exemplars))
			}
		}
	}
	return nil
}

func Example() {
	// In a service: otlp.NewSink(&otlp.SinkOptions{Resource: res}), which sends to
	// the receiver the OTEL_EXPORTER_OTLP_* variables name.
	sink, err := otlp.NewSink(&otlp.SinkOptions{Exporter: printExporter{}})
	if err != nil {
		panic(err)
	}
	created := metricsink.NewCounter(sink, "comments.created", metricsink.KV("channel", "video"))
	created.Inc()
	created.Inc()
	// A duration measured in a sampled span keeps the span's trace id as
	// an exemplar (ctx: a request's context, with its server span).
	ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:     trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
		TraceFlags: trace.FlagsSampled,
	}))
	metricsink.DurationContext(ctx, sink, "http.request.duration", 120*time.Millisecond, metricsink.KV("route", "/api/videos/{id}"))

	_ = sink.Close(context.Background()) // exports what was recorded
	// Unordered output:
	// comments.created: sum 2
	// http.request.duration: 1 observation(s) in s, 1 exemplar(s)
}
