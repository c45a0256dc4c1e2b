// Package livedash is a live dashboard inside the running process: an
// http.Handler that serves pages of the service's metrics, recent logs,
// recent traces and Go runtime, updated every second, with nothing to
// install beside it.
//
//	ring := livedash.NewRing(nil)                 // a slog.Handler: add it to the logger's fan-out
//	spans, err := livedash.NewSpans(nil)          // fed by a span processor: see Spans
//	dash, err := livedash.New(&livedash.Options{Source: registry, Logs: ring, Spans: spans})
//	defer dash.Close(ctx)
//	mux.Handle("/dashboard/", dash)
//	mux.Handle("/dashboard", dash)
//
// With observability.Setup, DASHBOARD=true mounts it at /dashboard on the
// metrics listener, and DASHBOARD_TOKEN protects it.
//
// # Pages
//
// Each page has its own URL under Options.Path: Home (/, the process and
// the headline charts), HTTP (/http), Database (/db), WebSockets (/ws),
// Metrics (/metrics, every family of the Source, searchable, and a chart of
// any series), Logs (/logs, a live tail with level, text, request_id and
// trace_id filters), Traces (/traces, with Options.Spans) and Runtime
// (/runtime, from runtime/metrics). Rates and quantiles are computed over
// the last 5 seconds, one point a second. Quantiles come from the native
// buckets of the registry's histograms (prometheus.NativeHistogram.Quantile:
// within about 5% at any scale, so a 400 µs request reads as 400 µs), or,
// for a Source without them, from the classic buckets, interpolated as
// Prometheus's histogram_quantile does.
//
// Every chart shows the last 15 minutes as soon as its page opens, however
// the page was reached, and a series picked on the Metrics page shows its
// history from the moment the dashboard first saw it.
//
// The Traces page lists the latest traces and the slowest trace of each
// root span name (a route), and opens each as a waterfall of its spans,
// with their attributes and events, errors marked, and the trace's log
// records from the Ring (those with its trace_id attribute). A trace_id on
// the Logs page opens its trace. A span processor feeds Spans (the otlp
// package's DashboardProcessor over the OpenTelemetry SDK); this package
// uses the OpenTelemetry trace API alone. Without Spans, Options.TracesOff
// gives a Traces page that says how to turn traces on.
//
// With Options.Level the Logs page shows the logger's level and changes
// it, for good or for a while (operate.Level behind the dashboard's
// token); with Options.Profiles the Runtime page links a 10 s CPU profile,
// a heap profile and a goroutine dump (operate/profiling, mounted under
// the dashboard's path).
//
// # Cost
//
// From New to Close, one goroutine reads the Source and the runtime once a
// second, whoever watches: one Source.Snapshot and one runtime/metrics
// read. It keeps 15 minutes of every page's chart series and of every
// series of the Source (a counter's rate, a gauge's value, a histogram's
// p50, p95 and p99), at most MaxHistorySeries (1024) series of
// HistoryPoints (900) float32 values: 3.5 KiB a series, HistoryBytes (3.5
// MiB) at most. Past the bound a new series is kept only once a page shows
// it, in the place of the series viewed least recently, which is dropped
// and counted (Stats). Open pages read nothing more of the Source: their
// tables come from the sampler's last reading and their charts from the
// history. The Ring keeps the recent records within its own bounds
// (RingOptions), in buffers allocated on its first record: keeping a record
// renders it and copies its text in, and allocates nothing. Spans keeps the
// recent spans within its own (SpansOptions). While no page is open, and 15
// minutes after the last one closed, the Ring keeps only warnings and
// errors (RingOptions.IdleLevel) and is not even called for other records,
// and Spans keeps only spans with an error status (none, with
// SpansOptions.NothingWhenIdle) and tells its span processor so before it
// converts a span, or its provider before it makes one (Spans.Wants): a
// dashboard nobody watches costs the service its once-a-second sample and
// nothing per request.
//
// # Bounds
//
// What a request costs is bounded, however many arrive. Options.MaxViewers
// bounds the open pages and Options.MaxQueries the searches of the Ring
// (the Logs page's request and trace links) and of Spans (a trace opened)
// running at once; past either, a request is refused at once with 503 and
// Retry-After, never queued, and counted in Stats. A search copies the Ring
// out 64 KiB at a time and writes its answer as it goes: at most 2000
// records and 4 MiB; a trace's query at most 2000 spans and 4 MiB. A live
// update carries at most 500 records and 128 KiB of their text, or a page's
// first update at most 24 lines of 900 points a chart, and must be written
// within 10 s. A page's connection is a lease of StreamLifetime (20 s): the
// dashboard then ends it and the page's EventSource opens the next one and
// carries on where it was, so that a client that stopped reading loses its
// place, and what it held, within the lease and two seconds (its last
// writes' deadlines), whatever the socket buffers could still absorb.
//
// # Security
//
// The pages show logs and SQL: serve them only where the metrics are
// served, and set Options.Token (DASHBOARD_TOKEN) where others can reach
// it. The token is accepted as a bearer token or once as ?token=, after
// which an HttpOnly, SameSite=Strict cookie carries it; it is compared in
// constant time and never logged. Pages carry a Content-Security-Policy
// that allows this origin alone: the HTML, CSS and JavaScript are embedded
// in the binary (about 46 KB), with no external resource. Logs, spans,
// metric names and labels are shown as text, never as HTML.
package livedash
