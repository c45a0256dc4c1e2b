package otlp

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"go.opentelemetry.io/contrib/bridges/otelslog"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/realtimeserver/observability"
	"github.com/realtimeserver/observability/drop"
	"github.com/realtimeserver/observability/enrich"
	"github.com/realtimeserver/observability/internal/batcher"
	"github.com/realtimeserver/observability/metricsink"
	)

// InstrumentationName is the instrumentation scope of the log records
// the kit sends over OTLP.
const InstrumentationName = "github.com/realtimeserver/observability"

// Pipeline is the OpenTelemetry pipeline that observability.Setup builds
// when Config.OTel exports anything: a TracerProvider whose spans go out over OTLP, the
// logger's OTLP backend and the OTLP metrics sink, all describing the
// service with one Resource. Its methods are safe on a nil *Pipeline, which
// stands for "nothing exported": TracerProvider then returns a no-op
// provider.
//
// Spans and log records wait in bounded queues and are exported in
// batches by one goroutine each: starting or ending a span, or logging,
// never waits for the network. What does not fit, or fails to export, is
// dropped and counted in Stats and in the metrics otel_spans_dropped_total,
// otel_log_records_dropped_total and otel_metric_samples_dropped_total
// {reason}.
type Pipeline struct {
	resource *resource.Resource
	setup    observability.OTelConfig

	tp    *sdktrace.TracerProvider
	spans *batcher.Batcher[sdktrace.ReadOnlySpan]

	lp      *sdklog.LoggerProvider
	logs    *batcher.Batcher[sdklog.Record]
	handler slog.Handler

	metrics *Sink

	// prevTP is the global provider that SetGlobal replaced, restored by
	// shutdown; globalSet says whether it did.
	globalSet bool
	prevTP    trace.TracerProvider
}

// QueueStats are the counts of one export queue (spans or log
// records).
type QueueStats struct {
	// Exported counts items a receiver accepted.
	Exported uint64
	// Queued is the number of items waiting now.
	Queued int
	// Dropped counts items not delivered, by reason: drop.QueueFull,
	// drop.RetriesExhausted (the export failed), drop.Closed (after
	// Shutdown, or left when its deadline ended).
	Dropped drop.Counts
}

// Stats are the counts of the OTLP pipeline.
type Stats struct {
	Spans, Logs QueueStats
	Metrics     SinkStats
}

// TracerProvider returns the provider whose spans are exported, or a
// no-op provider when traces are not exported. It does not depend on
// OTelConfig.SetGlobal: pass it to instrumentation explicitly when the
// global is not set.
func (o *Pipeline) TracerProvider() trace.TracerProvider {
	if o == nil || o.tp == nil {
		return noop.NewTracerProvider()
	}
	return o.tp
}

// Resource returns the resource that describes the service to every OTLP
// receiver, or nil when nothing is exported.
func (o *Pipeline) Resource() *resource.Resource {
	if o == nil {
		return nil
	}
	return o.resource
}

// Metrics returns the OTLP metrics sink, or nil when metrics are not
// exported. Setup already includes it in Telemetry.Sink.
func (o *Pipeline) Metrics() *Sink {
	if o == nil {
		return nil
	}
	return o.metrics
}

// MetricsSink returns Metrics as a metricsink.Sink: nil, not a nil *Sink,
// when metrics are not exported.
func (o *Pipeline) MetricsSink() metricsink.Sink {
	if o == nil || o.metrics == nil {
		return nil
	}
	return o.metrics
}

// LogHandler returns the logger's OTLP backend, or nil when logs are not
// exported.
func (o *Pipeline) LogHandler() slog.Handler {
	if o == nil || o.handler == nil {
		return nil
	}
	return o.handler
}

// Stats returns the counts of every export queue.
func (o *Pipeline) Stats() Stats {
	var s Stats
	if o == nil {
		return s
	}
	if o.spans != nil {
		s.Spans = queueStats(o.spans.Stats())
	}
	if o.logs != nil {
		s.Logs = queueStats(o.logs.Stats())
	}
	if o.metrics != nil {
		s.Metrics = o.metrics.Stats()
	}
	return s
}

func queueStats(b batcher.Stats) QueueStats {
	return QueueStats{Exported: b.Exported, Queued: b.Queued, Dropped: b.Dropped}
}

// newPipeline builds the pipeline cfg describes, for the service that
// names (defaults filled) identifies, or returns nil when nothing is
// exported.
func newPipeline(ctx context.Context, cfg *observability.OTelConfig, names enrich.Options) (_ *Pipeline, err error) {
	if !cfg.Enabled() {
		return nil, nil
	}
	o := &Pipeline{setup: *cfg}
	defer func() {
		if err != nil {
			// Nothing was recorded yet worth waiting for.
			cctx, cancel := context.WithCancel(context.Background())
			cancel()
			_ = o.Close(cctx)
		}
	}()
	if o.resource, err = serviceResource(ctx, cfg, names); err != nil {
		return nil, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}

	if ep := cfg.Export(observability.SignalTraces).Endpoint; ep != "" {
		if err := o.buildTraces(ctx, cfg, ep); err != nil {
			return nil, err
		}
	}
	if ep := cfg.Export(observability.SignalLogs).Endpoint; ep != "" {
		if err := o.buildLogs(ctx, cfg, ep, names); err != nil {
			return nil, err
		}
	}
	if ep := cfg.Export(observability.SignalMetrics).Endpoint; ep != "" {
		if err := o.buildMetrics(ctx, cfg, ep); err != nil {
			return nil, err
		}
	}
	if cfg.SetGlobal && o.tp != nil {
		o.prevTP = otel.GetTracerProvider()
		otel.SetTracerProvider(o.tp)
		otel.SetTextMapPropagator(textMapPropagator(cfg.Propagators))
		o.globalSet = true
	}
	return o, nil
}

// serviceResource is the one description of the service that every
// signal carries: OTEL_RESOURCE_ATTRIBUTES, then the identity every other
// backend shows (service.name, service.version,
// deployment.environment.name, host.name, process.pid), and the SDK's
// name and version.
func serviceResource(ctx context.Context, cfg *observability.OTelConfig, names enrich.Options) (*resource.Resource, error) {
	var attrs []attribute.KeyValue
	for _, k := range slices.Sorted(mapKeys(cfg.ResourceAttributes)) {
		attrs = append(attrs, attribute.String(k, cfg.ResourceAttributes[k]))
	}
	attrs = append(attrs,
		semconv.ServiceName(names.Service),
		semconv.ServiceVersion(names.Version),
		semconv.DeploymentEnvironmentNameKey.String(names.Environment),
		semconv.HostName(names.Host),
		semconv.ProcessPID(names.PID),
	)
	// Later attributes win: the kit's identity over the variable's.
	return resource.New(ctx,
		resource.WithSchemaURL(semconv.SchemaURL),
		resource.WithTelemetrySDK(),
		resource.WithAttributes(attrs...),
	)
}

func mapKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func textMapPropagator(names []string) propagation.TextMapPropagator {
	if len(names) == 0 {
		names = []string{"tracecontext", "baggage"}
	}
	var ps []propagation.TextMapPropagator
	for _, n := range names {
		switch n {
		case "tracecontext":
			ps = append(ps, propagation.TraceContext{})
		case "baggage":
			ps = append(ps, propagation.Baggage{})
		}
	}
	return propagation.NewCompositeTextMapPropagator(ps...)
}

func sampler(cfg *observability.OTelConfig) sdktrace.Sampler {
	ratio := cfg.SamplerRatio()
	switch cfg.Sampler {
	case observability.SamplerAlwaysOn:
		return sdktrace.AlwaysSample()
	case observability.SamplerAlwaysOff:
		return sdktrace.NeverSample()
	case observability.SamplerTraceIDRatio:
		return sdktrace.TraceIDRatioBased(ratio)
	case observability.SamplerParentBasedAlwaysOff:
		return sdktrace.ParentBased(sdktrace.NeverSample())
	case observability.SamplerParentBasedTraceIDRatio:
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))
	}
	return sdktrace.ParentBased(sdktrace.AlwaysSample())
}

func batchOptions(c observability.OTelBatchConfig, delay time.Duration) batcher.Options {
	return batcher.Options{
		MaxQueue:      c.MaxQueue,
		MaxBatch:      c.MaxBatch,
		Delay:         cmp.Or(c.Delay, delay),
		ExportTimeout: c.ExportTimeout,
	}
}

func (o *Pipeline) buildTraces(ctx context.Context, cfg *observability.OTelConfig, endpoint string) error {
	opts := []otlptracehttp.Option{
		otlptracehttp.WithEndpointURL(endpoint),
		otlptracehttp.WithTimeout(cfg.Export(observability.SignalTraces).Timeout),
		otlptracehttp.WithHeaders(cfg.Export(observability.SignalTraces).Headers),
	}
	if cfg.Export(observability.SignalTraces).Gzip {
		opts = append(opts, otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
	} else {
		opts = append(opts, otlptracehttp.WithCompression(otlptracehttp.NoCompression))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return fmt.Errorf("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=%q: %w", endpoint, err)
	}
	export := func(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
		for i, s := range spans {
			spans[i] = cleanSpan(s)
		}
		return exp.ExportSpans(ctx, spans)
	}
	o.spans = batcher.New(export, batchOptions(cfg.SpanBatch, 5*time.Second))
	o.tp = sdktrace.NewTracerProvider(
		sdktrace.WithResource(o.resource),
		sdktrace.WithSampler(sampler(cfg)),
		sdktrace.WithSpanProcessor(&spanQueue{q: o.spans, exp: exp}),
	)
	return nil
}

// spanQueue is the span processor over a batcher: sampled spans are
// queued when they end, never waiting.
type spanQueue struct {
	q   *batcher.Batcher[sdktrace.ReadOnlySpan]
	exp sdktrace.SpanExporter
}

func (p *spanQueue) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

func (p *spanQueue) OnEnd(s sdktrace.ReadOnlySpan) {
	if s.SpanContext().IsSampled() {
		p.q.Add(s)
	}
}

func (p *spanQueue) ForceFlush(ctx context.Context) error { return p.q.Flush(ctx) }

func (p *spanQueue) Shutdown(ctx context.Context) error {
	return errors.Join(p.q.Close(ctx), p.exp.Shutdown(ctx))
}

func (o *Pipeline) buildLogs(ctx context.Context, cfg *observability.OTelConfig, endpoint string, names enrich.Options) error {
	opts := []otlploghttp.Option{
		otlploghttp.WithEndpointURL(endpoint),
		otlploghttp.WithTimeout(cfg.Export(observability.SignalLogs).Timeout),
		otlploghttp.WithHeaders(cfg.Export(observability.SignalLogs).Headers),
	}
	if cfg.Export(observability.SignalLogs).Gzip {
		opts = append(opts, otlploghttp.WithCompression(otlploghttp.GzipCompression))
	} else {
		opts = append(opts, otlploghttp.WithCompression(otlploghttp.NoCompression))
	}
	exp, err := otlploghttp.New(ctx, opts...)
	if err != nil {
		return fmt.Errorf("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT=%q: %w", endpoint, err)
	}
	export := func(ctx context.Context, records []sdklog.Record) error {
		for i := range records {
			cleanRecord(&records[i])
		}
		return exp.Export(ctx, records)
	}
	o.logs = batcher.New(export, batchOptions(cfg.LogBatch, time.Second))
	o.lp = sdklog.NewLoggerProvider(
		sdklog.WithResource(o.resource),
		sdklog.WithProcessor(&logQueue{q: o.logs, exp: exp}),
	)
	// The logger's level gates the whole pipeline above this handler.
	o.handler = otelslog.NewHandler(InstrumentationName, otelslog.WithLoggerProvider(o.lp))
	return nil
}

// logQueue is the log processor over a batcher: each record is copied
// and queued, never waiting.
type logQueue struct {
	q   *batcher.Batcher[sdklog.Record]
	exp sdklog.Exporter
}

func (p *logQueue) OnEmit(_ context.Context, r *sdklog.Record) error {
	p.q.Add(r.Clone())
	return nil
}

func (p *logQueue) Enabled(context.Context, sdklog.EnabledParameters) bool { return true }

func (p *logQueue) ForceFlush(ctx context.Context) error { return p.q.Flush(ctx) }

func (p *logQueue) Shutdown(ctx context.Context) error {
	return errors.Join(p.q.Close(ctx), p.exp.Shutdown(ctx))
}

func (o *Pipeline) buildMetrics(ctx context.Context, cfg *observability.OTelConfig, endpoint string) error {
	opts := []otlpmetrichttp.Option{
		otlpmetrichttp.WithEndpointURL(endpoint),
		otlpmetrichttp.WithTimeout(cfg.Export(observability.SignalMetrics).Timeout),
		otlpmetrichttp.WithHeaders(cfg.Export(observability.SignalMetrics).Headers),
		otlpmetrichttp.WithTemporalitySelector(temporalitySelector(cfg.MetricsTemporality)),
	}
	if cfg.Export(observability.SignalMetrics).Gzip {
		opts = append(opts, otlpmetrichttp.WithCompression(otlpmetrichttp.GzipCompression))
	} else {
		opts = append(opts, otlpmetrichttp.WithCompression(otlpmetrichttp.NoCompression))
	}
	exp, err := otlpmetrichttp.New(ctx, opts...)
	if err != nil {
		return fmt.Errorf("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=%q: %w", endpoint, err)
	}
	s, err := NewSink(&SinkOptions{
		Exporter: exp,
		Resource: o.resource,
		Interval: cfg.MetricExportInterval,
		Timeout:  cfg.MetricExportTimeout,
	})
	if err != nil {
		return fmt.Errorf("otlp metrics: %w", err)
	}
	o.metrics = s
	return nil
}

// temporalitySelector follows the specification's meaning of
// OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE.
func temporalitySelector(pref string) sdkmetric.TemporalitySelector {
	switch pref {
	case "delta":
		return func(k sdkmetric.InstrumentKind) metricdata.Temporality {
			switch k {
			case sdkmetric.InstrumentKindCounter, sdkmetric.InstrumentKindObservableCounter, sdkmetric.InstrumentKindHistogram:
				return metricdata.DeltaTemporality
			}
			return metricdata.CumulativeTemporality
		}
	case "lowmemory":
		return func(k sdkmetric.InstrumentKind) metricdata.Temporality {
			switch k {
			case sdkmetric.InstrumentKindCounter, sdkmetric.InstrumentKindHistogram:
				return metricdata.DeltaTemporality
			}
			return metricdata.CumulativeTemporality
		}
	}
	return sdkmetric.DefaultTemporalitySelector
}

// otelHealthDescs declare the pipeline's own metrics.
var otelHealthDescs = []metricsink.Desc{
	{Name: "otel.spans.exported", Kind: metricsink.Counter, Help: "Spans an OTLP receiver accepted."},
	{Name: "otel.spans.dropped", Kind: metricsink.Counter, Help: "Spans not delivered over OTLP, by reason: queue_full, retries_exhausted, closed."},
	{Name: "otel.log_records.exported", Kind: metricsink.Counter, Help: "Log records an OTLP receiver accepted."},
	{Name: "otel.log_records.dropped", Kind: metricsink.Counter, Help: "Log records not delivered over OTLP, by reason: queue_full, retries_exhausted, closed."},
	{Name: "otel.metric_samples.dropped", Kind: metricsink.Counter, Help: "Metric samples the OTLP sink could not record, and data points it could not deliver, by reason."},
}

// ExportHealth registers the pipeline's own counts on sink (the
// otel_*_exported_total and otel_*_dropped_total{reason} counters) and
// returns the function that unregisters them.
func (o *Pipeline) ExportHealth(sink metricsink.Sink) (unregister func()) {
	if o == nil {
		return func() {}
	}
	for _, d := range otelHealthDescs {
		_ = metricsink.Declare(sink, d) // fixed, valid declarations
	}
	var undo []func()
	reg := func(name string, q *batcher.Batcher[sdktrace.ReadOnlySpan], lq *batcher.Batcher[sdklog.Record]) {
		stats := func() batcher.Stats {
			if q != nil {
				return q.Stats()
			}
			return lq.Stats()
		}
		for _, r := range []drop.Reason{drop.QueueFull, drop.RetriesExhausted, drop.Closed} {
			u, _ := metricsink.CounterFunc(sink, name+".dropped", metricsink.KV("reason", r.String()),
				func() float64 { return float64(stats().Dropped.Get(r)) })
			undo = append(undo, u)
		}
		u, _ := metricsink.CounterFunc(sink, name+".exported", metricsink.Tags{},
			func() float64 { return float64(stats().Exported) })
		undo = append(undo, u)
	}
	if o.spans != nil {
		reg("otel.spans", o.spans, nil)
	}
	if o.logs != nil {
		reg("otel.log_records", nil, o.logs)
	}
	if m := o.metrics; m != nil {
		for _, r := range []drop.Reason{drop.InvalidName, drop.InvalidTags, drop.InvalidValue, drop.TypeClash,
			drop.Overflow, drop.Panic, drop.Closed, drop.RetriesExhausted} {
			u, _ := metricsink.CounterFunc(sink, "otel.metric_samples.dropped", metricsink.KV("reason", r.String()),
				func() float64 { return float64(m.Stats().Dropped.Get(r)) })
			undo = append(undo, u)
		}
	}
	return func() {
		for _, u := range undo {
			u()
		}
	}
}

// Flush exports what the queues and the metrics sink hold, until ctx
// ends.
func (o *Pipeline) Flush(ctx context.Context) error {
	if o == nil {
		return nil
	}
	var errs []error
	if o.tp != nil {
		if err := o.tp.ForceFlush(ctx); err != nil {
			errs = append(errs, fmt.Errorf("otlp traces: %w", err))
		}
	}
	if o.metrics != nil {
		if err := o.metrics.Flush(ctx); err != nil {
			errs = append(errs, fmt.Errorf("otlp metrics: %w", err))
		}
	}
	if o.lp != nil {
		if err := o.lp.ForceFlush(ctx); err != nil {
			errs = append(errs, fmt.Errorf("otlp logs: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Close flushes and stops traces, then metrics, then logs (last, so
// that what the others log on the way out is delivered), within ctx, and
// reports what could not be delivered. It restores no global: after it,
// a TracerProvider that SetGlobal installed makes no more spans.
func (o *Pipeline) Close(ctx context.Context) error {
	if o == nil {
		return nil
	}
	// Uninstall first, so that requests still arriving make no spans
	// (the instrumentation's cheap path) while the queues are flushed;
	// unless the program has installed another provider since. The
	// propagator stays: it holds nothing, and the global one that was
	// there before delegates to it for good once set.
	if o.globalSet && otel.GetTracerProvider() == trace.TracerProvider(o.tp) {
		otel.SetTracerProvider(o.prevTP)
	}
	var errs []error
	if o.tp != nil {
		if err := o.tp.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("otlp traces: %w", err))
		}
	}
	if o.metrics != nil {
		if err := o.metrics.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("otlp metrics: %w", err))
		}
	}
	if o.lp != nil {
		if err := o.lp.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("otlp logs: %w", err))
		}
	}
	return errors.Join(errs...)
}
