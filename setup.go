package observability

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/realtimeserver/observability/enrich"
	"github.com/realtimeserver/observability/handler"
	"github.com/realtimeserver/observability/handler/datadog"
	"github.com/realtimeserver/observability/livedash"
	"github.com/realtimeserver/observability/metricsink"
	"github.com/realtimeserver/observability/metricsink/dogstatsd"
	"github.com/realtimeserver/observability/metricsink/prometheus"
	"github.com/realtimeserver/observability/operate"
)

// Telemetry is what Setup built: the logger, the metrics sink and what
// serves them. Shutdown releases all of it.
type Telemetry struct {
	// Logger logs through enrichment, redaction and every log backend.
	// Make it the default with slog.SetDefault(t.Logger).
	Logger *slog.Logger
	// Level is the logger's minimum level; Set it to change the level of
	// every backend while the program runs.
	Level *slog.LevelVar
	// Sink sends every sample to every metrics backend.
	Sink metricsink.Sink
	// Metrics serves the Prometheus text format, for mounting on an
	// existing mux. Without the Prometheus backend it answers 404.
	Metrics http.Handler
	// MetricsAddr is the address of the metrics listener ("[::]:9568"), or
	// "" when there is none.
	MetricsAddr string

	// Config is the configuration in effect: Setup's argument with the
	// service, environment and version defaults filled in.
	Config Config

	// Prometheus, Datadog and DogStatsD are the backends Setup built, or nil.
	Prometheus *prometheus.Registry
	Datadog    *datadog.Handler
	DogStatsD  *dogstatsd.Sink

	// OTLP is the OpenTelemetry pipeline (traces, logs and metrics over
	// OTLP) when Config.OTel exports anything or the dashboard keeps
	// spans, else nil. It is linked by importing OTLPImportPath;
	// otlp.From(tel) returns it with its counts.
	OTLP OTLPExporter
	// TracerProvider is OTLP's provider when traces are exported or the
	// dashboard keeps spans, else a no-op provider. Pass it to
	// instrumentation when Config.OTel.SetGlobal is false.
	TracerProvider trace.TracerProvider
	// Spans is the dashboard's ring of recent spans, for its Traces page:
	// with Config.Dashboard and OTLPImportPath imported, TracerProvider
	// feeds it, sampling as configured, with or without an OTLP endpoint.
	// A program with a provider of its own adds otlp.DashboardProcessor(tel.Spans)
	// to it. While nobody watches, it keeps spans with an error status
	// when traces are exported, and none when they are not: then
	// TracerProvider makes no span at all, and a dashboard nobody watches
	// costs nothing per request. Nil without the dashboard, without that
	// import or with OTEL_SDK_DISABLED=true; the Traces page then says
	// why, and how to turn traces on.
	Spans *livedash.Spans

	// Dashboard is the live dashboard served at /dashboard on the metrics
	// listener when Config.Dashboard is set, else nil.
	Dashboard *livedash.Dashboard
	// DashboardURL is the address that opens the dashboard
	// ("http://localhost:9568/dashboard/"), with ?token= when Setup made
	// the token; "" without a dashboard.
	DashboardURL string

	// Health answers /livez and /readyz on the metrics listener (or on a
	// mux of the program's: Health.Mount). Register readiness checks with
	// Health.AddReadiness; from Health.Drain (Health.NotifyContext calls
	// it on the first SIGTERM, Shutdown at its start) /readyz answers 503.
	Health *operate.Health
	// Mux is the metrics listener's mux, for routes of the program's own
	// behind the same listener (operate/profiling.Mount, say), or nil when
	// there is no listener. Its routes: GET /metrics, /livez, /readyz,
	// /loglevel, and /dashboard/ with the dashboard.
	Mux *http.ServeMux

	storm *handler.Storm // storm control, or nil when it is off

	logRing    *livedash.Ring // the dashboard's recent records
	logCounts  levelCounts
	server     *http.Server
	serverDone chan error
	unregister []func()
	once       sync.Once
	shutErr    error
}

// Setup builds the logger, the metrics sinks and the metrics listener that
// cfg describes (see ConfigFromEnv):
//
//   - the logger is a level gate (Telemetry.Level) over enrich (the
//     context's request_id, trace_id, span_id and attributes) over Redact
//     over one Fanout of the console or JSON handler, Datadog when
//     enabled, OTLP when configured, and cfg.Handlers; each backend shows
//     the service's identity (service, environment, version, host, pid)
//     its own way: JSON lines and cfg.Handlers on every record, the
//     console once at start, Datadog in its reserved fields, OTLP in its
//     resource;
//   - the sink is a Fanout of the METRICS_BACKENDS and cfg.Sinks;
//   - the metrics listener serves /metrics on PROMETHEUS_PORT unless it is
//     turned off or Prometheus is not a backend;
//   - with DASHBOARD=true it also serves the live dashboard (package
//     livedash) at /dashboard, fed by the registry, by a ring of recent
//     records that joins the log fan-out, behind redaction, and, when the
//     program imports OTLPImportPath, by a ring of recent spans that the
//     TracerProvider feeds (Telemetry.Spans), with or without an OTLP
//     endpoint.
//
// The kit's own health is exported as declared metrics:
// log_records_total{level} and, with Datadog, datadog_logs_sent_total,
// datadog_logs_dropped_total{reason}, datadog_logs_queue_length,
// datadog_logs_retries_total and
// datadog_logs_last_delivery_timestamp_seconds. ctx only bounds Setup itself;
// call Shutdown to stop everything.
func Setup(ctx context.Context, cfg Config) (*Telemetry, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	// One set of names for every backend: the service as enrich logs it is
	// the service Datadog and DogStatsD see.
	names := enrich.Options{
		Service:     cfg.ServiceName,
		Environment: cfg.Environment,
		Version:     cfg.ServiceVersion,
	}.WithDefaults()
	cfg.ServiceName, cfg.Environment, cfg.ServiceVersion = names.Service, names.Environment, names.Version
	t := &Telemetry{Level: new(slog.LevelVar), Config: cfg}
	t.Level.Set(cfg.LogLevel)

	// Logs. Each backend shows the service's identity its own way: JSON
	// lines carry it on every line (rendered once, by WithAttrs), the
	// console prints it once at start, Datadog in its reserved fields and
	// pid once as an attribute, extra handlers as JSON does. enrich adds
	// only what each record's context carries. One level, t.Level, gates
	// the whole pipeline; a backend's own level can only narrow it.
	out := cmp.Or[io.Writer](cfg.LogOutput, os.Stderr)
	cfg.LogOutput, t.Config.LogOutput = out, out
	identity := names.Attrs()
	var console, local slog.Handler // the console; the local output's handler, console or JSON
	if cfg.LogFormat == FormatJSON {
		local = handler.JSON(out, &handler.JSONOptions{Level: t.Level}).WithAttrs(identity)
	} else {
		console = handler.Console(out, &handler.ConsoleOptions{Level: t.Level})
		local = console
	}
	backends := []slog.Handler{local}
	if cfg.EnableDatadog {
		dd, err := datadog.New(&datadog.Options{
			APIKey:   cfg.DatadogAPIKey,
			Site:     cfg.DatadogSite,
			URL:      cfg.DatadogLogsURL,
			Service:  names.Service,
			Env:      names.Environment,
			Version:  names.Version,
			Hostname: names.Host,
			Level:    t.Level,
			// Outage warnings go to the local output's handler, never
			// through the logger (they would queue for Datadog).
			ErrorHandler: local,
		})
		if err != nil {
			return nil, fmt.Errorf("datadog logs: %w", err)
		}
		t.Datadog = dd
		backends = append(backends, dd.WithAttrs([]slog.Attr{slog.Int(enrich.PIDKey, names.PID)}))
	}
	if cfg.Dashboard && otlpLinked() && !cfg.OTel.Disabled {
		// Spans exported are made anyway, and the ring keeps errors while
		// nobody watches; spans made for the dashboard alone are made only
		// while somebody does.
		t.Spans, _ = livedash.NewSpans(&livedash.SpansOptions{ // valid bounds: no error
			NothingWhenIdle: cfg.OTel.Export(SignalTraces).Endpoint == ""})
	}
	otl, err := newOTLP(ctx, OTLPBuild{Config: &cfg, Names: names, Spans: t.Spans, Diagnostics: local})
	if err != nil {
		t.closeEarly()
		return nil, err
	}
	t.OTLP = otl
	t.TracerProvider = noop.NewTracerProvider()
	if otl != nil {
		t.TracerProvider = otl.TracerProvider()
		if h := otl.LogHandler(); h != nil {
			backends = append(backends, h) // identity: the resource
		}
	}
	for _, x := range cfg.Handlers {
		if x != nil {
			backends = append(backends, x.WithAttrs(identity))
		}
	}
	if cfg.Dashboard {
		t.logRing = livedash.NewRing(&livedash.RingOptions{Level: t.Level})
		backends = append(backends, t.logRing)
	}
	var h slog.Handler = &countHandler{next: handler.Fanout(backends...), counts: &t.logCounts}
	h = handler.Redact(h, nil)
	h = enrich.New(h, &enrich.Options{ContextOnly: true})
	if !cfg.DisableLogRateLimit {
		st, err := handler.NewStorm(h, &cfg.LogRateLimit)
		if err != nil {
			t.closeEarly()
			return nil, fmt.Errorf("LOG_RATE_LIMIT: %w", err)
		}
		t.storm, h = st, st
	}
	h = handler.MinLevel(h, t.Level)
	t.Logger = slog.New(h)
	if console != nil {
		slog.New(console).Info("starting", identity[0], identity[1], identity[2], identity[3], identity[4])
	}

	// Metrics.
	var sinks []metricsink.Sink
	for _, b := range cfg.backends() {
		switch b {
		case BackendPrometheus:
			p, err := prometheus.New(&prometheus.Options{Logger: t.Logger})
			if err != nil {
				t.closeEarly()
				return nil, fmt.Errorf("prometheus: %w", err)
			}
			t.Prometheus = p
			sinks = append(sinks, p)
		case BackendDogStatsD:
			d, err := dogstatsd.New(&dogstatsd.Options{Tags: ddTags(cfg)})
			if err != nil {
				t.closeEarly()
				return nil, fmt.Errorf("dogstatsd: %w", err)
			}
			t.DogStatsD = d
			sinks = append(sinks, d)
		}
	}
	if t.OTLP != nil {
		if m := t.OTLP.MetricsSink(); m != nil {
			sinks = append(sinks, m)
		}
	}
	sinks = append(sinks, cfg.Sinks...)
	t.Sink = metricsink.Fanout(sinks...)
	t.Metrics = http.NotFoundHandler()
	if t.Prometheus != nil {
		t.Metrics = t.Prometheus
	}
	t.exportHealth()
	made, err := t.ensureToken()
	if err == nil {
		// Why a check failed is shown with the token alone, as in Kubernetes.
		t.Health, err = operate.NewHealth(&operate.HealthOptions{Token: t.Config.DashboardToken})
	}
	if err != nil {
		t.closeEarly()
		return nil, err
	}
	if t.OTLP != nil {
		t.unregister = append(t.unregister, t.OTLP.ExportHealth(t.Sink))
	}

	if t.Prometheus != nil && !cfg.DisablePrometheusListener {
		addr := net.JoinHostPort(cfg.PrometheusHost, strconv.Itoa(cfg.port()))
		var lc net.ListenConfig
		ln, err := lc.Listen(ctx, "tcp", addr)
		if err != nil {
			t.closeEarly()
			if cfg.PrometheusHost != "" {
				return nil, fmt.Errorf("PROMETHEUS_HOST=%q PROMETHEUS_PORT=%d: metrics listener: %w", cfg.PrometheusHost, cfg.port(), err)
			}
			return nil, fmt.Errorf("PROMETHEUS_PORT=%d: metrics listener: %w", cfg.port(), err)
		}
		t.MetricsAddr = ln.Addr().String()
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", t.Prometheus)
		if err := t.mountOperations(mux, made); err != nil {
			ln.Close()
			t.closeEarly()
			return nil, err
		}
		t.Mux = mux
		t.server = &http.Server{
			Handler:           mux,
			ErrorLog:          slog.NewLogLogger(t.Logger.Handler(), slog.LevelWarn),
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       2 * time.Minute,
		}
		t.serverDone = make(chan error, 1)
		go func() { t.serverDone <- t.server.Serve(ln) }()
	}
	return t, nil
}

// exportHealth declares the kit's own metrics and registers them on
// t.Sink.
func (t *Telemetry) exportHealth() {
	reg := func(d metricsink.Desc, tags metricsink.Tags, f func() float64) {
		_ = metricsink.Declare(t.Sink, d) // fixed, valid descriptions
		var undo func()
		if d.Kind == metricsink.Counter {
			undo, _ = metricsink.CounterFunc(t.Sink, d.Name, tags, f)
		} else {
			undo, _ = metricsink.GaugeFunc(t.Sink, d.Name, tags, f)
		}
		t.unregister = append(t.unregister, undo)
	}
	records := metricsink.Desc{Name: "log.records", Kind: metricsink.Counter,
		Help: "Log records handled by the logger, by level (debug, info, warn, error), whatever became of them in each backend."}
	for _, l := range []struct {
		name  string
		level slog.Level
	}{{"debug", slog.LevelDebug}, {"info", slog.LevelInfo}, {"warn", slog.LevelWarn}, {"error", slog.LevelError}} {
		c := t.logCounts.counter(l.level)
		reg(records, metricsink.KV("level", l.name), func() float64 { return float64(c.Load()) })
	}
	if st := t.storm; st != nil {
		suppressed := metricsink.Desc{Name: "log.records_suppressed", Kind: metricsink.Counter,
			Help: "Log records storm control (LOG_RATE_LIMIT) did not pass on, by level; each is counted in a summary record."}
		for _, l := range []struct {
			name  string
			level slog.Level
		}{{"debug", slog.LevelDebug}, {"info", slog.LevelInfo}, {"warn", slog.LevelWarn}, {"error", slog.LevelError}} {
			reg(suppressed, metricsink.KV("level", l.name), func() float64 { return float64(st.Stats().Suppressed.Get(l.level)) })
		}
	}
	if dd := t.Datadog; dd != nil {
		reg(metricsink.Desc{Name: "datadog.logs.sent", Kind: metricsink.Counter,
			Help: "Log records the Datadog logs intake accepted."},
			metricsink.Tags{}, func() float64 { return float64(dd.Stats().Sent) })
		dropped := metricsink.Desc{Name: "datadog.logs.dropped", Kind: metricsink.Counter,
			Help: "Log records that will never reach Datadog, by reason (queue_full, rejected, too_large, retries_exhausted, closed)."}
		for _, reason := range datadog.DropReasons() {
			reg(dropped, metricsink.KV("reason", reason.String()),
				func() float64 { return float64(dd.Stats().Dropped.Get(reason)) })
		}
		reg(metricsink.Desc{Name: "datadog.logs.queue_length", Kind: metricsink.Gauge,
			Help: "Log records waiting for, or in, a request to the Datadog logs intake."},
			metricsink.Tags{}, func() float64 { return float64(dd.Stats().QueueLength) })
		reg(metricsink.Desc{Name: "datadog.logs.retries", Kind: metricsink.Counter,
			Help: "Requests to the Datadog logs intake repeated after a 408, 429, 5xx answer or a network error."},
			metricsink.Tags{}, func() float64 { return float64(dd.Stats().Retries) })
		reg(metricsink.Desc{Name: "datadog.logs.last_delivery_timestamp_seconds", Kind: metricsink.Gauge, Unit: "seconds",
			Help: "Unix time at which the Datadog logs intake last accepted a request; 0 before the first."},
			metricsink.Tags{}, func() float64 {
				last := dd.Stats().LastDelivery
				if last.IsZero() {
					return 0
				}
				return float64(last.UnixNano()) / 1e9
			})
	}
}

// Shutdown stops the metrics listener, delivers every log record still
// queued for Datadog, flushes DogStatsD and closes every backend,
// Config.Handlers and Config.Sinks included when they have a Close(ctx),
// Flush(ctx) or Close() method. When ctx ends first it returns an error
// that says how much was not delivered.
// Calling it again returns the first call's result.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	t.once.Do(func() { t.shutErr = t.shutdown(ctx) })
	return t.shutErr
}

func (t *Telemetry) shutdown(ctx context.Context) error {
	var errs []error
	if t.Health != nil {
		t.Health.Drain()
	}
	if t.storm != nil {
		// Its last summaries go out through the backends closed below.
		if err := t.storm.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("log rate limit: %w", err))
		}
	}
	if t.Dashboard != nil {
		// End the open pages' live connections first: the listener's
		// Shutdown would wait for them.
		if err := t.Dashboard.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("dashboard: %w", err))
		}
	}
	if t.server != nil {
		// A scrape takes milliseconds; do not let a stuck one take the
		// time the log flush needs.
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := t.server.Shutdown(sctx)
		cancel()
		if err != nil {
			t.server.Close()
		}
		if err := <-t.serverDone; err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, fmt.Errorf("metrics listener: %w", err))
		}
	}
	// The buffering backends flush side by side, each until ctx ends: one
	// that cannot reach its receiver does not take the others' time.
	type closer struct {
		name string
		c    interface{ Close(context.Context) error }
	}
	var closers []closer
	if t.Datadog != nil {
		closers = append(closers, closer{"datadog logs", t.Datadog})
	}
	if t.DogStatsD != nil {
		closers = append(closers, closer{"dogstatsd", t.DogStatsD})
	}
	if t.OTLP != nil {
		closers = append(closers, closer{"", t.OTLP}) // its errors name the signal
	}
	closeErrs := make([]error, len(closers))
	var wg sync.WaitGroup
	for i, c := range closers {
		wg.Go(func() {
			if err := c.c.Close(ctx); err != nil {
				if c.name != "" {
					err = fmt.Errorf("%s: %w", c.name, err)
				}
				closeErrs[i] = err
			}
		})
	}
	wg.Wait()
	errs = append(errs, closeErrs...)
	for i, h := range t.Config.Handlers {
		if err := closeBackend(ctx, h); err != nil {
			errs = append(errs, fmt.Errorf("Config.Handlers[%d]: %w", i, err))
		}
	}
	for i, s := range t.Config.Sinks {
		if err := closeBackend(ctx, s); err != nil {
			errs = append(errs, fmt.Errorf("Config.Sinks[%d]: %w", i, err))
		}
	}
	for _, u := range t.unregister {
		u()
	}
	return errors.Join(errs...)
}

// closeBackend flushes and closes an extra backend by whichever of the
// usual methods it has: Close(ctx) error (as the Datadog handler), else
// Flush(ctx) error, else Close() error (io.Closer, as the DogStatsD sink).
func closeBackend(ctx context.Context, b any) error {
	switch c := b.(type) {
	case interface{ Close(context.Context) error }:
		return c.Close(ctx)
	case interface{ Flush(context.Context) error }:
		return c.Flush(ctx)
	case io.Closer:
		return c.Close()
	}
	return nil
}

// closeEarly releases what Setup built before it failed.
func (t *Telemetry) closeEarly() {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // nothing has been logged to Datadog worth waiting for
	_ = t.shutdown(ctx)
}

func ddTags(cfg Config) []string {
	var tags []string
	if cfg.ServiceName != "" {
		tags = append(tags, "service:"+cfg.ServiceName)
	}
	if cfg.Environment != "" {
		tags = append(tags, "env:"+cfg.Environment)
	}
	if cfg.ServiceVersion != "" {
		tags = append(tags, "version:"+cfg.ServiceVersion)
	}
	return tags
}
