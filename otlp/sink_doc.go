// Package otlp is a metricsink.Sink over the OpenTelemetry metrics SDK,
// exported over OTLP: the backend beside Prometheus and DogStatsD for
// services that send their metrics to an OpenTelemetry Collector, Grafana,
// Datadog's Agent or any OTLP receiver.
//
//	sink, err := otlp.NewSink(&otlp.SinkOptions{Resource: res}) // OTEL_EXPORTER_OTLP_* configure the exporter
//	if err != nil { ... }
//	defer sink.Close(ctx)                               // exports what was recorded
//	sink.Increment("comments.created", 1, metricsink.KV("channel", "video"))
//
// observability.Setup builds one, with the service's resource, when
// OTEL_EXPORTER_OTLP_ENDPOINT is set.
//
// # Names, kinds and units
//
// A name is exported as first given ("comments.created"), with no suffix:
// OpenTelemetry carries the kind and the unit beside the name. Names that
// are one metric for the facade (metricsink.SnakeCase) are one instrument
// here. Counters (Increment, counter handles) are monotonic sums, gauges
// (Gauge, GaugeFunc, gauge handles) are gauges observed at each export,
// CounterFunc gives an observable monotonic sum, and Histogram and
// Duration give histograms; Duration records seconds (unit "s"). A
// declared Unit is exported as its UCUM code (seconds "s", bytes "By").
//
// A name must be a valid OpenTelemetry instrument name (an ASCII letter,
// then letters, digits, '_', '.', '-' or '/', at most 255 bytes). The
// first use or declaration fixes a name's kind; samples of another kind,
// and a counter used both with Increment and with CounterFunc, are
// dropped and counted (reason type_clash) with one warning through
// slog.Default().
//
// # Histograms and exemplars
//
// Histograms are exported as base-2 exponential histograms, whatever the
// exporter prefers: at most ExponentialMaxSize buckets, whose scale the
// SDK lowers as a series' values spread: a quantile computed from them
// keeps a bounded relative error (a few percent, see ExponentialMaxSize)
// at any magnitude, with no bucket layout to choose. Prometheus' OTLP receiver
// stores them as native histograms, Datadog's Agent as distributions. For
// a receiver that takes explicit buckets only, set
// SinkOptions.ExplicitBuckets: a declared Desc.Buckets, else
// DurationBuckets() for durations, apply.
//
// The Sink is a metricsink.ExemplarSink, and its histogram and timer
// handles are exemplar observers: an observation recorded with
// metricsink.HistogramContext, DurationContext or a handle's
// ObserveContext, inside a sampled span, is exported with an exemplar
// holding the span's trace_id and span_id, the value and the time, so a
// receiver links the histogram to a trace that landed in it. The SDK's
// reservoir keeps up to 20 a series of an exponential histogram, one a
// bucket of an explicit one. OTEL_METRICS_EXEMPLAR_FILTER=always_off
// turns them off; recording with an exemplar allocates nothing.
//
// # Bounds and counts
//
// The kind table, the tag rules, the bounds, the drop counts and the
// reading of functions with a timeout are metricsink's core, shared with
// the Prometheus and DogStatsD backends: at most MaxNames names and, per
// name, MaxSeries tag combinations (past which counters and histograms
// aggregate new ones into a series marked otel.metric.overflow=true, and
// gauges and functions drop and count them); tag values are cut to
// MaxValueBytes with metricsink.TruncationMarker and invalid UTF-8 is
// replaced. A known name and tags are found without a lock
// (metricsink.Lookup). Samples that cannot be recorded, and data points
// whose export failed, are counted in Stats by drop.Reason, and each
// reason is logged once per metric. No method blocks on the network:
// exports run on the Sink's own goroutine.
package otlp
