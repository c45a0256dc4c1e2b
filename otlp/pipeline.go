package otlp

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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
	"github.com/realtimeserver/observability/internal/deliver"
	"github.com/realtimeserver/observability/livedash"
	"github.com/realtimeserver/observability/metricsink"
)

// InstrumentationName is the instrumentation scope of the log records
// the kit sends over OTLP.
const InstrumentationName = "github.com/realtimeserver/observability"

// Pipeline is the OpenTelemetry pipeline that observability.Setup builds
// when Config.OTel exports anything, or the live dashboard keeps spans: a
// TracerProvider whose spans go out over OTLP and to the dashboard's Traces
// page (Options.Spans), the logger's OTLP backend and the OTLP metrics
// sink, all describing the service with one Resource. Its methods are safe
// on a nil *Pipeline, which stands for "nothing exported": TracerProvider
// then returns a no-op provider.
//
// Spans and log records wait in bounded queues and are exported in
// batches by one goroutine each: starting or ending a span, or logging,
// never waits for the network. Every signal is delivered by the kit's one
// delivery core, as Datadog logs are: the SDK exporters' own retries are
// off, and the core classifies each answer by its HTTP status (408, 429,
// 5xx and network errors are retried with a backoff; 413 splits a batch;
// 404 and other final answers are rejected), pauses a signal's exports
// for a Retry-After across batches, writes one line to
// Options.ErrorOutput (or Options.ErrorHandler) when a signal's export
// starts failing (naming the status, connection refused, timeout) and one
// when it recovers (and, once, a hint about the headers when the receiver
// answers 401 or 403), keeps
// the OTLP header values (OTEL_EXPORTER_OTLP_HEADERS) out of every error,
// line and Stats in any form, and retries on Flush and Close until their
// deadline. What does not fit, or cannot be delivered, is dropped and
// counted in Stats and in the metrics otel_spans_dropped_total,
// otel_log_records_dropped_total and otel_metric_samples_dropped_total
// {reason}.
type Pipeline struct {
	resource *resource.Resource
	setup    observability.OTelConfig
	opts     Options

	tp    *sdktrace.TracerProvider
	spans *deliver.Queue[sdktrace.ReadOnlySpan, []sdktrace.ReadOnlySpan]
	// provider is what TracerProvider returns: tp, or tp behind the
	// dashboard's watch when only the dashboard takes its spans.
	provider trace.TracerProvider

	spanProc *spanQueue

	lp      *sdklog.LoggerProvider
	logs    *deliver.Queue[sdklog.Record, []sdklog.Record]
	logProc *logQueue
	handler slog.Handler

	metrics    *Sink
	metricLink *deliver.Link

	// transports observe the exporters' answers; Close closes their idle
	// connections.
	transports []*deliver.Transport

	// prevTP is the global provider that SetGlobal replaced, restored by
	// shutdown; globalSet says whether it did.
	globalSet bool
	prevTP    trace.TracerProvider
	// follow installs provider globally only while the dashboard wants
	// spans, when it alone takes them; nil otherwise.
	follow *globalFollower
}

// Options configures what a Pipeline writes locally. A nil *Options, or
// a zero Options, means every default.
type Options struct {
	// ErrorOutput receives the export's own diagnostics, one line each,
	// never through slog (which may lead back into the pipeline): a
	// warning when a signal's export starts failing, and a line when it
	// recovers. Default os.Stderr.
	ErrorOutput io.Writer
	// ErrorJSON writes them as JSON objects with slog.JSONHandler's keys.
	// Default: slog.TextHandler's form.
	ErrorJSON bool
	// ErrorHandler, when not nil, receives the same diagnostics as records
	// instead of ErrorOutput (ErrorJSON is then unused): the program's
	// local console or JSON handler, so that they read as its other lines
	// do. Its Handle is called directly, whatever its level, with no lock
	// held; a panic in it is recovered. It must not lead back into the
	// pipeline (the OTLP log handler would queue the line for the
	// receiver that fails).
	ErrorHandler slog.Handler
	// Spans, when not nil, is the live dashboard's ring of recent spans:
	// the pipeline's TracerProvider feeds it (DashboardProcessor), sampling
	// as configured, whether or not traces are exported, so that the
	// pipeline has a provider even when cfg exports nothing. When traces
	// are not exported, the provider makes no span while Spans wants none
	// (Spans.Wants(StatusError) is false: give it
	// SpansOptions.NothingWhenIdle, as Setup does, and a dashboard nobody
	// watches costs nothing per request). Setup passes the dashboard's.
	// Default: none.
	Spans *livedash.Spans
}

// QueueStats are the counts of one signal's delivery.
type QueueStats struct {
	// Exported counts items a receiver accepted.
	Exported uint64
	// Queued is the number of items waiting or being exported now.
	Queued int
	// Dropped counts items not delivered, by reason: drop.QueueFull,
	// drop.Rejected (a final answer such as 400 or 404),
	// drop.TooLarge, drop.RetriesExhausted (retried for as long as
	// allowed), drop.Closed (after Close, or left when its deadline
	// ended).
	Dropped drop.Counts
	// Retries counts export requests repeated after a failure.
	Retries uint64
	// LastDelivery is when a receiver last accepted an export.
	LastDelivery time.Time
	// LastError describes the latest failed export, "" if none; it never
	// holds a header value.
	LastError string
}

// Stats are the counts of the OTLP pipeline.
type Stats struct {
	Spans, Logs QueueStats
	// Metrics are the metrics sink's counts; MetricExports the delivery
	// of its exports (an item is a data point).
	Metrics       SinkStats
	MetricExports QueueStats
	// Dropped sums Spans.Dropped, Logs.Dropped and Metrics.Dropped.
	Dropped drop.Counts
}

// TracerProvider returns the provider whose spans are exported, or a
// no-op provider when traces are not exported. It does not depend on
// OTelConfig.SetGlobal: pass it to instrumentation explicitly when the
// global is not set.
func (o *Pipeline) TracerProvider() trace.TracerProvider {
	if o == nil || o.tp == nil {
		return noop.NewTracerProvider()
	}
	return o.provider
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

// Stats returns the counts of every signal.
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
		s.MetricExports = queueStats(o.metricLink.Stats())
	}
	for i := range s.Dropped {
		s.Dropped[i] = s.Spans.Dropped[i] + s.Logs.Dropped[i] + s.Metrics.Dropped[i]
	}
	return s
}

func queueStats(d deliver.Stats) QueueStats {
	return QueueStats{Exported: d.Sent, Queued: d.QueueLength, Dropped: d.Dropped, Retries: d.Retries,
		LastDelivery: d.LastDelivery, LastError: d.LastError}
}

// newPipeline builds the pipeline cfg describes, for the service that
// names (defaults filled) identifies, writing its diagnostics as opts
// says, or returns nil when nothing is exported and no dashboard keeps
// spans.
func newPipeline(ctx context.Context, cfg *observability.OTelConfig, names enrich.Options, opts *Options) (_ *Pipeline, err error) {
	o := &Pipeline{setup: *cfg}
	if opts != nil {
		o.opts = *opts
	}
	if !cfg.Enabled() && o.opts.Spans == nil {
		return nil, nil
	}
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

	if ep := cfg.Export(observability.SignalTraces).Endpoint; ep != "" || o.opts.Spans != nil {
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
		if w, ok := o.provider.(*watchedProvider); ok {
			// Installed only while the dashboard wants spans: at other
			// times the instrumentation reading the global provider finds
			// none, and takes its cheapest path.
			o.follow = followWatch(w, o.prevTP, followEvery)
		} else {
			otel.SetTracerProvider(o.provider)
		}
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

// delivery returns what every signal's delivery shares: the options of
// the core, and an HTTP client whose transport observes each answer for
// it. The SDK's exporters get the client with their retries off, so that
// the core alone retries, pauses and reports.
func (o *Pipeline) delivery(cfg *observability.OTelConfig, sig observability.Signal, endpoint, noun string) (deliver.Options, *http.Client) {
	exp := cfg.Export(sig)
	do := deliver.Options{
		Name:         "otlp " + sig.String(),
		Activity:     "export",
		Noun:         noun,
		TargetKey:    "endpoint",
		Timeout:      exp.Timeout,
		ErrorOutput:  o.opts.ErrorOutput,
		ErrorJSON:    o.opts.ErrorJSON,
		ErrorHandler: o.opts.ErrorHandler,
		Secrets:      slices.Collect(maps.Values(exp.Headers)),
		AuthHint: "the endpoint refused the credentials: check OTEL_EXPORTER_OTLP_HEADERS (and OTEL_EXPORTER_OTLP_" +
			strings.ToUpper(sig.String()) + "_HEADERS). " + strings.ToUpper(noun[:1]) + noun[1:] + " are dropped and counted as rejected",
	}
	if u, err := url.Parse(endpoint); err == nil {
		do.Target = u.Host
	}
	tr := deliver.NewTransport()
	o.transports = append(o.transports, tr)
	return do, &http.Client{Transport: tr}
}

// batched adds a signal's queue bounds to do, its defaults from
// OTelBatchConfig (a queue of 2048, batches of 512, delay as given, each
// export bounded by 30 s and by the export timeout).
func batched(do deliver.Options, c observability.OTelBatchConfig, delay time.Duration) *deliver.Options {
	do.MaxQueue = c.MaxQueue
	do.MaxBatch = c.MaxBatch
	do.FlushInterval = cmp.Or(c.Delay, delay)
	do.Timeout = min(cmp.Or(c.ExportTimeout, 30*time.Second), do.Timeout)
	return &do
}

// observed exports with ctx observed by the pipeline's transport, and
// returns the Result the delivery core classifies.
func observed(ctx context.Context, export func(context.Context) error) deliver.Result {
	ctx, obs := deliver.Observe(ctx)
	return obs.Result(export(ctx))
}

// buildTraces builds the TracerProvider: its spans go to the OTLP
// endpoint, when there is one, and to the dashboard's Spans, when there
// are.
func (o *Pipeline) buildTraces(ctx context.Context, cfg *observability.OTelConfig, endpoint string) error {
	tpOpts := []sdktrace.TracerProviderOption{sdktrace.WithResource(o.resource), sdktrace.WithSampler(sampler(cfg))}
	if endpoint != "" {
		if err := o.buildSpanExport(ctx, cfg, endpoint); err != nil {
			return err
		}
		tpOpts = append(tpOpts, sdktrace.WithSpanProcessor(o.spanProc))
	}
	if o.opts.Spans != nil {
		tpOpts = append(tpOpts, sdktrace.WithSpanProcessor(DashboardProcessor(o.opts.Spans)))
	}
	o.tp = sdktrace.NewTracerProvider(tpOpts...)
	o.provider = o.tp
	if endpoint == "" {
		// The dashboard alone takes the spans: none are made while it
		// wants none.
		o.provider = &watchedProvider{sdk: o.tp, spans: o.opts.Spans}
	}
	return nil
}

func (o *Pipeline) buildSpanExport(ctx context.Context, cfg *observability.OTelConfig, endpoint string) error {
	do, client := o.delivery(cfg, observability.SignalTraces, endpoint, "spans")
	opts := []otlptracehttp.Option{
		otlptracehttp.WithEndpointURL(endpoint),
		otlptracehttp.WithTimeout(cfg.Export(observability.SignalTraces).Timeout),
		otlptracehttp.WithHeaders(cfg.Export(observability.SignalTraces).Headers),
		otlptracehttp.WithHTTPClient(client),
		otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false}),
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
	send := func(ctx context.Context, b *[]sdktrace.ReadOnlySpan, lo, hi, _ int) deliver.Result {
		spans := (*b)[lo:hi]
		for i, s := range spans {
			spans[i] = cleanSpan(s)
		}
		return observed(ctx, func(ctx context.Context) error { return exp.ExportSpans(ctx, spans) })
	}
	o.spans = deliver.NewQueue(&deliver.SliceStore[sdktrace.ReadOnlySpan]{}, send, batched(do, cfg.SpanBatch, 5*time.Second))
	o.spans.Start()
	o.spanProc = &spanQueue{q: o.spans, exp: exp}
	return nil
}

// spanQueue is the span processor over the delivery queue: sampled spans
// are queued when they end, never waiting.
type spanQueue struct {
	q    *deliver.Queue[sdktrace.ReadOnlySpan, []sdktrace.ReadOnlySpan]
	exp  sdktrace.SpanExporter
	shut atomic.Bool // Shutdown was called
}

func (p *spanQueue) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

func (p *spanQueue) OnEnd(s sdktrace.ReadOnlySpan) {
	if s.SpanContext().IsSampled() {
		p.q.Push(s, 1)
	}
}

func (p *spanQueue) ForceFlush(ctx context.Context) error { return p.q.Flush(ctx) }

func (p *spanQueue) Shutdown(ctx context.Context) error {
	p.shut.Store(true)
	return errors.Join(p.q.Close(ctx), p.exp.Shutdown(ctx))
}

// closeQueue shuts the processor down unless its provider did.
func (p *spanQueue) closeQueue(ctx context.Context) error {
	if p.shut.Load() {
		return nil
	}
	return p.Shutdown(ctx)
}

func (o *Pipeline) buildLogs(ctx context.Context, cfg *observability.OTelConfig, endpoint string, names enrich.Options) error {
	do, client := o.delivery(cfg, observability.SignalLogs, endpoint, "log records")
	opts := []otlploghttp.Option{
		otlploghttp.WithEndpointURL(endpoint),
		otlploghttp.WithTimeout(cfg.Export(observability.SignalLogs).Timeout),
		otlploghttp.WithHeaders(cfg.Export(observability.SignalLogs).Headers),
		otlploghttp.WithHTTPClient(client),
		otlploghttp.WithRetry(otlploghttp.RetryConfig{Enabled: false}),
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
	send := func(ctx context.Context, b *[]sdklog.Record, lo, hi, _ int) deliver.Result {
		records := (*b)[lo:hi]
		for i := range records {
			cleanRecord(&records[i])
		}
		return observed(ctx, func(ctx context.Context) error { return exp.Export(ctx, records) })
	}
	o.logs = deliver.NewQueue(&deliver.SliceStore[sdklog.Record]{}, send, batched(do, cfg.LogBatch, time.Second))
	o.logs.Start()
	o.logProc = &logQueue{q: o.logs, exp: exp}
	o.lp = sdklog.NewLoggerProvider(
		sdklog.WithResource(o.resource),
		sdklog.WithProcessor(o.logProc),
	)
	// The logger's level gates the whole pipeline above this handler.
	o.handler = otelslog.NewHandler(InstrumentationName, otelslog.WithLoggerProvider(o.lp))
	return nil
}

// logQueue is the log processor over the delivery queue: each record is
// copied and queued, never waiting.
type logQueue struct {
	q    *deliver.Queue[sdklog.Record, []sdklog.Record]
	exp  sdklog.Exporter
	shut atomic.Bool // Shutdown was called
}

func (p *logQueue) OnEmit(_ context.Context, r *sdklog.Record) error {
	p.q.Push(r.Clone(), 1)
	return nil
}

func (p *logQueue) Enabled(context.Context, sdklog.EnabledParameters) bool { return true }

func (p *logQueue) ForceFlush(ctx context.Context) error { return p.q.Flush(ctx) }

func (p *logQueue) Shutdown(ctx context.Context) error {
	p.shut.Store(true)
	return errors.Join(p.q.Close(ctx), p.exp.Shutdown(ctx))
}

// closeQueue shuts the processor down unless its provider did.
func (p *logQueue) closeQueue(ctx context.Context) error {
	if p.shut.Load() {
		return nil
	}
	return p.Shutdown(ctx)
}

func (o *Pipeline) buildMetrics(ctx context.Context, cfg *observability.OTelConfig, endpoint string) error {
	do, client := o.delivery(cfg, observability.SignalMetrics, endpoint, "data points")
	opts := []otlpmetrichttp.Option{
		otlpmetrichttp.WithEndpointURL(endpoint),
		otlpmetrichttp.WithTimeout(cfg.Export(observability.SignalMetrics).Timeout),
		otlpmetrichttp.WithHeaders(cfg.Export(observability.SignalMetrics).Headers),
		otlpmetrichttp.WithTemporalitySelector(temporalitySelector(cfg.MetricsTemporality)),
		otlpmetrichttp.WithHTTPClient(client),
		otlpmetrichttp.WithRetry(otlpmetrichttp.RetryConfig{Enabled: false}),
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
	o.metricLink = deliver.NewLink(&do)
	s, err := NewSink(&SinkOptions{
		Exporter: &linkedExporter{Exporter: exp, link: o.metricLink},
		Resource: o.resource,
		Interval: cfg.MetricExportInterval,
		Timeout:  cfg.MetricExportTimeout,
		// OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION
		ExplicitBuckets: cfg.MetricsHistogramAggregation == "explicit_bucket_histogram",
	})
	if err != nil {
		return fmt.Errorf("otlp metrics: %w", err)
	}
	o.metrics = s
	return nil
}

// linkedExporter delivers the metrics sink's exports through the delivery
// core's Link: the sink's periodic reading keeps its schedule, and each
// export waits for the signal's turn (backoff, Retry-After), is retried
// within the export's deadline, and gives up at once, with no request,
// when the turn would come after it. Its errors carry the drop reason
// (deliver.ReasonOf) and hold no header value.
type linkedExporter struct {
	sdkmetric.Exporter
	link *deliver.Link
}

func (e *linkedExporter) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	return e.link.Do(ctx, points(rm), func(ctx context.Context) deliver.Result {
		return observed(ctx, func(ctx context.Context) error { return e.Exporter.Export(ctx, rm) })
	})
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
	{Name: "otel.spans.dropped", Kind: metricsink.Counter, Help: "Spans not delivered over OTLP, by reason: queue_full, rejected, too_large, retries_exhausted, closed."},
	{Name: "otel.log_records.exported", Kind: metricsink.Counter, Help: "Log records an OTLP receiver accepted."},
	{Name: "otel.log_records.dropped", Kind: metricsink.Counter, Help: "Log records not delivered over OTLP, by reason: queue_full, rejected, too_large, retries_exhausted, closed."},
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
	reg := func(name string, stats func() deliver.Stats) {
		for _, r := range []drop.Reason{drop.QueueFull, drop.Rejected, drop.TooLarge, drop.RetriesExhausted, drop.Closed} {
			u, _ := metricsink.CounterFunc(sink, name+".dropped", metricsink.KV("reason", r.String()),
				func() float64 { return float64(stats().Dropped.Get(r)) })
			undo = append(undo, u)
		}
		u, _ := metricsink.CounterFunc(sink, name+".exported", metricsink.Tags{},
			func() float64 { return float64(stats().Sent) })
		undo = append(undo, u)
	}
	if q := o.spans; q != nil {
		reg("otel.spans", q.Stats)
	}
	if q := o.logs; q != nil {
		reg("otel.log_records", q.Stats)
	}
	if m := o.metrics; m != nil {
		for _, r := range []drop.Reason{drop.InvalidName, drop.InvalidTags, drop.InvalidValue, drop.TypeClash,
			drop.Overflow, drop.Panic, drop.Closed, drop.RetriesExhausted, drop.Rejected, drop.TooLarge} {
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

// Flush exports what the queues and the metrics sink hold, retrying
// until ctx ends.
func (o *Pipeline) Flush(ctx context.Context) error {
	if o == nil {
		return nil
	}
	var errs []error
	if o.tp != nil {
		errs = append(errs, named("otlp traces", o.tp.ForceFlush(ctx)))
	}
	if o.metrics != nil {
		errs = append(errs, named("otlp metrics", o.metrics.Flush(ctx)))
	}
	if o.lp != nil {
		errs = append(errs, named("otlp logs", o.lp.ForceFlush(ctx)))
	}
	return errors.Join(errs...)
}

// named prefixes err with name unless the delivery core named it already.
func named(name string, err error) error {
	if err == nil || strings.HasPrefix(err.Error(), name+":") {
		return err
	}
	return fmt.Errorf("%s: %w", name, err)
}

// Close flushes and stops traces and metrics together, within two thirds
// of the time ctx leaves, then logs (last, so that what the others log on
// the way out is delivered), retrying within ctx, and reports what could
// not be delivered. It restores no global:
// after it, a TracerProvider that SetGlobal installed makes no more spans.
func (o *Pipeline) Close(ctx context.Context) error {
	if o == nil {
		return nil
	}
	// Uninstall first, so that requests still arriving make no spans
	// (the instrumentation's cheap path) while the queues are flushed;
	// unless the program has installed another provider since. The
	// propagator stays: it holds nothing, and the global one that was
	// there before delegates to it for good once set.
	if o.follow != nil {
		o.follow.stop()
	}
	if o.globalSet && otel.GetTracerProvider() == o.provider {
		otel.SetTracerProvider(o.prevTP)
	}
	// Traces and metrics retry at once, within two thirds of the time
	// left, so that logs keep at least a third however the others fare.
	first := ctx
	if d, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		first, cancel = context.WithDeadline(ctx, time.Now().Add(time.Until(d)*2/3))
		defer cancel()
	}
	var errs [3]error
	var wg sync.WaitGroup
	if o.tp != nil {
		wg.Go(func() { errs[0] = named("otlp traces", o.tp.Shutdown(first)) })
	}
	if o.metrics != nil {
		wg.Go(func() { errs[1] = named("otlp metrics", o.metrics.Close(first)) })
	}
	wg.Wait()
	if o.lp != nil {
		errs[2] = named("otlp logs", o.lp.Shutdown(ctx))
	}
	// A provider whose context has ended skips its processors' Shutdown:
	// their queues are closed here then, dropping what they hold as
	// closed, so that no goroutine outlives Close.
	if p := o.spanProc; p != nil {
		errs[0] = errors.Join(errs[0], named("otlp traces", p.closeQueue(ctx)))
	}
	if p := o.logProc; p != nil {
		errs[2] = errors.Join(errs[2], named("otlp logs", p.closeQueue(ctx)))
	}
	for _, tr := range o.transports {
		tr.CloseIdleConnections()
	}
	return errors.Join(errs[:]...)
}
