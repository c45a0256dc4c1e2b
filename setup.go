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

	"github.com/realtimeserver/observability/enrich"
	"github.com/realtimeserver/observability/handler"
	"github.com/realtimeserver/observability/handler/datadog"
	"github.com/realtimeserver/observability/metricsink"
	"github.com/realtimeserver/observability/metricsink/dogstatsd"
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
	Prometheus *metricsink.Prometheus
	Datadog    *datadog.Handler
	DogStatsD  *dogstatsd.Sink

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
//   - the logger is enrich (service, environment, version, host, pid and
//     the context's request_id) over Redact over one Fanout of the console
//     or JSON handler, Datadog when enabled, and cfg.Handlers;
//   - the sink is a Fanout of the METRICS_BACKENDS and cfg.Sinks;
//   - the metrics listener serves /metrics on PROMETHEUS_PORT unless it is
//     turned off or Prometheus is not a backend.
//
// The kit's own health is exported as metrics: log_records_total{level}
// and, with Datadog, datadog_logs_sent_total, datadog_logs_dropped_total
// {reason} and datadog_logs_queue_length. ctx only bounds Setup itself;
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

	// Logs.
	out := cmp.Or[io.Writer](cfg.LogOutput, os.Stderr)
	var backends []slog.Handler
	if cfg.LogFormat == FormatJSON {
		backends = append(backends, slog.NewJSONHandler(out, &slog.HandlerOptions{Level: t.Level}))
	} else {
		backends = append(backends, handler.Console(out, &handler.ConsoleOptions{Level: t.Level}))
	}
	if cfg.EnableDatadog {
		dd, err := datadog.New(datadog.Options{
			APIKey:   cfg.DatadogAPIKey,
			Site:     cfg.DatadogSite,
			URL:      cfg.DatadogLogsURL,
			Service:  names.Service,
			Env:      names.Environment,
			Version:  names.Version,
			Hostname: names.Host,
			Level:    t.Level,
		})
		if err != nil {
			return nil, fmt.Errorf("datadog logs: %w", err)
		}
		t.Datadog = dd
		backends = append(backends, dd)
	}
	backends = append(backends, cfg.Handlers...)
	var h slog.Handler = &countHandler{next: handler.Fanout(backends...), counts: &t.logCounts}
	h = handler.Redact(h)
	h = enrich.New(h, names)
	t.Logger = slog.New(h)

	// Metrics.
	var sinks []metricsink.Sink
	for _, b := range cfg.backends() {
		switch b {
		case BackendPrometheus:
			p, err := metricsink.NewPrometheus(&metricsink.PrometheusOptions{Logger: t.Logger})
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
	sinks = append(sinks, cfg.Sinks...)
	t.Sink = metricsink.Fanout(sinks...)
	t.Metrics = http.NotFoundHandler()
	if t.Prometheus != nil {
		t.Metrics = t.Prometheus
	}
	t.exportHealth()

	if t.Prometheus != nil && !cfg.DisablePrometheusListener {
		addr := net.JoinHostPort(cfg.PrometheusHost, strconv.Itoa(cfg.port()))
		var lc net.ListenConfig
		ln, err := lc.Listen(ctx, "tcp", addr)
		if err != nil {
			t.closeEarly()
			return nil, fmt.Errorf("PROMETHEUS_PORT=%d: metrics listener: %w", cfg.port(), err)
		}
		t.MetricsAddr = ln.Addr().String()
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", t.Prometheus)
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

// exportHealth registers the kit's own metrics on t.Sink.
func (t *Telemetry) exportHealth() {
	reg := func(counter bool, name string, tags metricsink.Tags, f func() float64) {
		var undo func()
		if counter {
			undo, _ = metricsink.CounterFunc(t.Sink, name, tags, f)
		} else {
			undo, _ = metricsink.GaugeFunc(t.Sink, name, tags, f)
		}
		t.unregister = append(t.unregister, undo)
	}
	for _, l := range []struct {
		name  string
		level slog.Level
	}{{"debug", slog.LevelDebug}, {"info", slog.LevelInfo}, {"warn", slog.LevelWarn}, {"error", slog.LevelError}} {
		c := t.logCounts.counter(l.level)
		reg(true, "log.records", metricsink.KV("level", l.name), func() float64 { return float64(c.Load()) })
	}
	if dd := t.Datadog; dd != nil {
		reg(true, "datadog.logs.sent", metricsink.Tags{}, func() float64 { return float64(dd.Stats().Sent) })
		for _, reason := range datadog.DropReasons() {
			reason := reason
			reg(true, "datadog.logs.dropped", metricsink.KV("reason", reason),
				func() float64 { return float64(dd.Stats().Dropped.Get(reason)) })
		}
		reg(false, "datadog.logs.queue_length", metricsink.Tags{}, func() float64 { return float64(dd.Stats().QueueLength) })
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
	if t.Datadog != nil {
		if err := t.Datadog.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("datadog logs: %w", err))
		}
	}
	if t.DogStatsD != nil {
		if err := t.DogStatsD.Close(); err != nil {
			errs = append(errs, fmt.Errorf("dogstatsd: %w", err))
		}
	}
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
