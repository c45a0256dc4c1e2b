package otlp_test

import (
	"context"
	"fmt"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

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
			case metricdata.Histogram[float64]:
				fmt.Printf("%s: %d observation(s) in %s\n", m.Name, d.DataPoints[0].Count, m.Unit)
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
	sink.Duration("http.request.duration", 120*time.Millisecond, metricsink.KV("route", "/api/videos/{id}"))

	_ = sink.Close(context.Background()) // exports what was recorded
	// Unordered output:
	// comments.created: sum 2
	// http.request.duration: 1 observation(s) in s
}
