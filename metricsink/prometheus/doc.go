// Package prometheus is the Prometheus backend of metricsink: a Registry
// that implements metricsink.Sink (and FuncSink, HandleSink, Declarer),
// serves the text exposition format, pushes it, and gives a structured
// Snapshot of its values. It stores series itself (atomics for counters
// and gauges, one small lock per histogram series), writes the
// exposition, the go_* and process_* families and the pushes itself, and
// depends on nothing outside the standard library, the kit and the
// OpenTelemetry trace API (for exemplars).
//
// What it shares with the other backends is metricsink's core: the kind
// table (metricsink.Kinds), the name and tag rules and the value cut
// (metricsink.Guard), the drop counts and their warnings
// (metricsink.Drops), the reading of GaugeFunc and CounterFunc callbacks
// with a timeout (metricsink.Funcs) and the lookup of a known series
// (metricsink.Lookup). What is its own is Prometheus': the name mapping
// and its lint, the le and quantile labels, overflow series, the
// exposition and the snapshot.
//
// # Usage
//
//	reg, err := prometheus.New(nil) // runtime and process metrics included
//	if err != nil { ... }
//	mux.Handle("GET /metrics", reg)  // or: go reg.Serve(ctx, ":9568")
//	_ = metricsink.Declare(reg, metricsink.Desc{Name: "comments.created", Kind: metricsink.Counter,
//		Help: "Comments stored."})
//	created := metricsink.NewCounter(reg, "comments.created", metricsink.KV("channel", "video"))
//	created.Inc()                     // one atomic add
//	reg.Duration("http.request.duration", time.Since(start), metricsink.KV("route", r.Pattern))
//
// # Names
//
// A name is mapped with metricsink.SnakeCase, prefixed with the namespace
// option, suffixed with its unit (declared, or "seconds" for Duration)
// unless it ends with it, and counters get "_total" unless they end with
// it. So comments.created becomes comments_created_total and
// http.request.duration, recorded with Duration, the histogram
// http_request_duration_seconds.
//
// A name is rejected when nothing is left of it, when it is longer than
// 200 characters once mapped (a tag key: 100), when it starts with a
// digit, or when `promtool check metrics` would complain about it: a
// non-counter ending in _total, a gauge ending in _count, _sum or _bucket,
// the type in the name (queue_gauge), an abbreviated or non-base unit
// (latency_ms, size_kilobytes). The go_* and process_* names are reserved
// for the runtime metrics when those are on, every metricsink_* name for
// the registry's own.
//
// A name has one kind: the first use or declaration of its snake_case
// form wins (a Duration is a histogram in seconds), and samples of another
// kind are dropped and counted (reason type_clash), with one warning. The
// DogStatsD sink applies the same rule.
//
// # Tags
//
// Keys are mapped like names; values are escaped as the format requires,
// invalid UTF-8 is replaced by U+FFFD, and a value longer than
// Options.MaxTagValueLength (256 bytes by default) is cut at a character
// boundary and ends with TruncationMarker ("…"). The keys le, quantile,
// those starting with __ and the constant labels' keys are reserved.
//
// # Values
//
// Counter increments must be finite and not negative; histogram
// observations and durations too. Gauges take any value, NaN and ±Inf
// included. A CounterFunc read that is not finite, negative or smaller
// than the previous one is dropped and the counter keeps its previous
// value.
//
// # Histograms
//
// Every histogram series keeps its classic buckets (le bounds: declared,
// Options.Buckets, or DefaultBuckets, 100 µs to 60 s) and native buckets,
// the sparse exponential buckets of Prometheus' native histograms: schema
// 3 at first (bounds 2^(1/8) apart, a relative error of at most about
// 4.3%), a zero bucket up to 2^-128, and at most Options.MaxNativeBuckets
// buckets (160), past which the series halves its resolution as
// Prometheus does, down to schema -4. Snapshot gives both, and
// Series.Quantile computes quantiles from the native buckets, so that a
// latency of 400 µs reads as about 400 µs whatever the classic buckets.
// One value far from the others (1e300 beside milliseconds) lowers its
// series' resolution for good, as it does in client_golang.
//
// Exemplars: an observation made through metricsink.HistogramContext,
// DurationContext or a handle's ObserveContext inside a sampled span
// keeps the span's trace and span ids, the value and the time, as the
// latest exemplar of its classic bucket and of its series (the native
// histogram's). Snapshot gives them; their labels are trace_id and
// span_id in lowercase hex.
//
// # Bounds, and what is dropped is counted
//
// Nothing here panics, blocks or grows without bound on what a caller
// passes. A sample that cannot be recorded is dropped and counted in
// metricsink_dropped_samples_total{reason}, reason being a drop.Reason:
// invalid_name, invalid_tags, reserved_label, type_clash, invalid_value,
// duplicate, overflow, panic or timeout; a warning is logged once per
// metric and reason (at most 1,024 distinct warnings, then one last one),
// never while a lock is held, so a logger that records metrics into this
// registry is safe.
//
// Memory is bounded by three limits: Options.MaxMetrics names (10,000),
// Options.MaxSeries series in all (100,000) and Options.MaxTagValueLength
// bytes per tag value (256). Each metric holds at most
// Options.MaxSeriesPerMetric series (1,000): past it, samples with new tag
// combinations are recorded in one overflow series whose tag values are
// all "other", a warning is logged once for the metric, and
// metricsink_overflow_series_total{metric} counts those samples.
//
// GaugeFunc and CounterFunc callbacks run at each scrape, push and
// Snapshot, each in a goroutine, without any lock held; the exposition
// waits for them at most Options.CallbackTimeout (1 s) in all. A callback
// that takes longer, or panics, is left out of that exposition and counted
// (reason timeout or panic); one still running is not called again until
// it returns, so a callback that blocks for ever costs one goroutine and
// each scrape at most the timeout. Every other family is served.
//
// # Cost
//
// A handle (metricsink.NewCounter and the like) records with one atomic
// operation (a counter's whole increments), or a lock held for a few
// increments (a histogram: count, sum, classic and native bucket, and the
// exemplar, if any, together), without lookup or allocation; a histogram
// series allocates when its native window grows, a few times in its life
// at most. The Sink methods find a known series
// through one structure, metricsink.Lookup, without a lock or an
// allocation: by the op, the raw name and the raw tags, compared in place,
// in a bucket chosen from their lengths and first and last bytes. Anything
// new, longer than 1,024 bytes, or past the lookup's bounds takes a slower
// path that locks and allocates, and so do ever new tag values sent to a
// metric's overflow series (a handle avoids that).
//
// # Exposition
//
// Every family is written with # HELP and # TYPE, sorted by name;
// histograms are Prometheus histograms with le buckets (the text format
// carries neither native buckets nor exemplars). The go_* and
// process_* families keep the names VictoriaMetrics/metrics gave them when
// the registry used that library (so dashboards and alert rules read the
// same series), under names promtool finds nothing to flag in:
// go_cgo_calls_total, go_gc_forced_total and the gauge go_cpus; the
// runtime's histograms (go_gc_pauses_seconds, go_sched_latencies_seconds)
// have at most 30 buckets up to 1 second and no _sum, which the runtime
// does not keep.
//
// # Lifecycle
//
// A registry owns no goroutine but those of Push. Flush pushes at once to
// every running Push, Close ends them with a last push, and Stats returns
// the drop counts by reason (the same as metricsink_dropped_samples_total)
// and the number of names and series.
package prometheus
