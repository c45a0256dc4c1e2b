// Package livedash is a live dashboard inside the running process: an
// http.Handler that serves pages of the service's metrics, recent logs and
// Go runtime, updated every second, with nothing to install beside it.
//
//	ring := livedash.NewRing(nil)                 // a slog.Handler: add it to the logger's fan-out
//	dash, err := livedash.New(&livedash.Options{Source: registry, Logs: ring})
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
// Metrics (/metrics, every family of the registry, searchable, and a
// chart of any series), Logs (/logs, a live tail with level, text and
// request_id filters) and Runtime (/runtime, from runtime/metrics). Rates
// and quantiles are computed over the last 5 seconds, one point a second;
// quantiles interpolate within histogram buckets as Prometheus's
// histogram_quantile does.
//
// # Cost
//
// From New to Close, one goroutine samples the headline series (request
// rate, 5xx ratio, p95 latency, runtime memory, goroutines) once a second:
// one Source.Snapshot and one runtime/metrics read. They are kept for 15
// minutes in fixed rings of HistoryBytes (43 KiB), so the Home page shows
// them as soon as it opens. Everything else is computed only while a page
// that shows it is open: each open page holds one server-sent-events
// connection, reads the Source once a second and keeps at most six
// snapshots. The Ring keeps the recent records within its own bounds
// (RingOptions), in buffers allocated on its first record: keeping a
// record renders it and copies its text in, and allocates nothing. While
// no page is open, and 15 minutes after the last one closed
// (RingOptions.IdleAfter), it keeps only warnings and errors
// (RingOptions.IdleLevel) and is not even called for other records: a
// dashboard nobody watches costs the service its once-a-second sample and
// nothing per request.
//
// # Bounds
//
// What a request costs is bounded, however many arrive. Options.MaxViewers
// bounds the open pages and Options.MaxQueries the Logs page's searches of
// the Ring (its request-id links) running at once; past either, a request
// is refused at once with 503 and Retry-After, never queued, and counted
// in Stats. A search copies the Ring out 64 KiB at a time and writes its
// answer as it goes: at most 2000 records and 4 MiB. A live update
// carries at most 500 records and 128 KiB of their text, and must be
// written within 10 s. A page's connection is a lease of StreamLifetime
// (20 s): the dashboard then ends it and the page's EventSource opens the
// next one and carries on where it was, so that a client that stopped
// reading loses its place, and what it held, within the lease and two
// seconds (its last writes' deadlines), whatever the socket buffers could
// still absorb.
//
// # Security
//
// The pages show logs and SQL: serve them only where the metrics are
// served, and set Options.Token (DASHBOARD_TOKEN) where others can reach
// it. The token is accepted as a bearer token or once as ?token=, after
// which an HttpOnly, SameSite=Strict cookie carries it; it is compared in
// constant time and never logged. Pages carry a Content-Security-Policy
// that allows this origin alone: the HTML, CSS and JavaScript are
// embedded in the binary (about 32 KB), with no external resource.
package livedash
