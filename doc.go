// Package observability wires the kit together from the environment: one
// call builds the logger (console or JSON, enrichment, redaction, Datadog),
// the metrics sinks (Prometheus, DogStatsD, your own) and the metrics
// listener, and one Shutdown flushes all of it.
//
//	cfg, err := observability.ConfigFromEnv() // LOG_LEVEL, ENABLE_DATADOG, PROMETHEUS_PORT, ...
//	if err != nil {
//		log.Fatal(err) // names the variable, the value and what is accepted
//	}
//	tel, err := observability.Setup(ctx, cfg)
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer tel.Shutdown(context.WithoutCancel(ctx)) // better: with a deadline
//	slog.SetDefault(tel.Logger)
//
//	handler := httpmetrics.Middleware(tel.Sink, &httpmetrics.Options{AccessLog: true, Logger: tel.Logger})(mux)
//	db, err := dbmetrics.Open("sqlite", dsn, &dbmetrics.Options{Sink: tel.Sink, Logger: tel.Logger})
//
// The guide's logger_backends and metrics_backends are Config.Handlers and
// Config.Sinks: any slog.Handler or metricsink.Sink receives every record
// or sample beside the built-in backends.
package observability
