// Package metricsink is the metrics facade of the kit: the Sink interface
// that instrumentation calls (Increment, Gauge, Histogram, Duration), a
// Prometheus registry over VictoriaMetrics/metrics that implements it, and
// Fanout and Discard to combine or silence sinks.
//
// # Usage
//
//	prom, err := metricsink.NewPrometheus(nil) // runtime and process metrics included
//	if err != nil { ... }
//	mux.Handle("GET /metrics", prom)            // or: go prom.Serve(ctx, ":9568")
//	prom.Increment("comments.created", 1, metricsink.KV("channel", "video"))
//	prom.Duration("http.request.duration", time.Since(start), metricsink.KV("route", r.Pattern))
//
// Code that records should accept a Sink, so that tests can pass a
// metricsinktest.Recorder and deployments a Fanout of Prometheus and
// DogStatsD.
//
// # Names
//
// Names are dotted or snake_case words. Prometheus maps them: ASCII letters
// are lower-cased (camelCase becomes camel_case), every other character is
// a separator, runs of separators become one underscore and leading or
// trailing ones are dropped; the namespace option is prefixed. Counters
// (Increment, CounterFunc) get "_total" appended unless the name ends with
// it; Duration gets "_seconds" unless the name ends with it, and records
// seconds; gauges and histograms keep the mapped name. So comments.created
// becomes comments_created_total and http.request.duration becomes the
// histogram http_request_duration_seconds.
//
// A name is rejected when nothing is left of it, when it starts with a
// digit, or when `promtool check metrics` would complain about it: a
// non-counter ending in _total, a gauge ending in _count, _sum or _bucket,
// the type in the name (queue_gauge), an abbreviated or non-base unit
// (latency_ms, size_kilobytes). The go_* and process_* names are reserved
// for the runtime metrics when those are on, every metricsink_* name for
// its own; a namespace that would put every name there is refused by
// NewPrometheus.
// One mapped name has one type: using it as another (a gauge, then a
// histogram) drops the later samples.
//
// # Tags
//
// Tags are built with KV or Tags.With and passed by value. Keys are mapped
// like names (without suffixes); values are escaped as the format requires
// (backslash, double quote, line feed) and invalid UTF-8 is replaced by
// U+FFFD rather than dropped. The keys le, quantile, those starting with __
// and the constant labels' keys are reserved.
//
// # Values
//
// Counter increments must be finite and not negative; histogram
// observations and durations too. Gauges take any value, NaN and ±Inf
// included, as the text format carries them. A CounterFunc read that is
// not finite, negative or smaller than the previous one is dropped and
// the counter keeps its previous value.
//
// # What is dropped is counted
//
// Nothing here panics or blocks on what a caller passes. A sample that
// cannot be recorded is dropped and counted in
// metricsink_dropped_samples_total{reason}, reason being one of
// invalid_name, invalid_tags, reserved_label, type_clash, invalid_value,
// duplicate, overflow or panic, and a warning is logged once per metric and
// reason (at most 1,024 distinct warnings, then one last one).
//
// # Cardinality guard
//
// Each metric holds at most MaxSeriesPerMetric series (1,000 by default).
// Past it, samples with new tag combinations are recorded in one overflow
// series whose tag values are all "other" (the very series of a real tag
// value "other", when there is one), a warning is logged once for the
// metric, and metricsink_overflow_series_total{metric} counts those
// samples; GaugeFunc and CounterFunc registrations are refused and counted
// (reason overflow).
//
// # Cost
//
// Recording into an existing series allocates nothing and takes no lock
// when its raw name and tags were seen before. What is remembered for that
// is bounded per metric (16 raw names; twice MaxSeriesPerMetric plus 64 raw
// tag lists, the overflow series' included). A metric at its series limit
// is also searched by canonical labels, without lock or allocation, when
// the tags are already canonical (snake_case keys in increasing order,
// valid UTF-8 values, as KV("method", m, "route", r) gives): so ever new
// values sent to the overflow series stay cheap. Any other sample still
// reaches the right series, through a slower path that locks and
// allocates.
//
// # Exposition
//
// Every family is written with # HELP and # TYPE, sorted by name;
// histograms are Prometheus histograms with le buckets. The go_* and
// process_* families come from VictoriaMetrics' WriteProcessMetrics with the
// HELP and TYPE lines it omits added and three names changed so that
// promtool finds nothing to flag: go_cgo_calls_count and go_gc_forced_count
// become the counters go_cgo_calls_total and go_gc_forced_total, and
// go_cpu_count becomes the gauge go_cpus. No global state of the
// VictoriaMetrics package is changed, and none changes the output:
// metrics.ExposeMetadata(true) adds nothing to it (except to metrics
// registered directly on Prometheus.Set). With UseGlobalSet the runtime
// families are written by the registry's own WritePrometheus only, never
// through metrics.WritePrometheus, which writes VictoriaMetrics' own when
// asked to.
package metricsink
