// Package metricsink is the metrics facade of the kit: the Sink interface
// that instrumentation calls (Increment, Gauge, Histogram, Duration),
// declarations, handles for hot paths, Tags, and Fanout and Discard to
// combine or silence sinks. It knows no backend: the Prometheus registry
// is package metricsink/prometheus, the DogStatsD sink metricsink/dogstatsd,
// and metricsinktest records samples for tests.
//
// # Usage
//
//	reg, _ := prometheus.New(nil)
//	sink := metricsink.Fanout(reg, statsd) // any Sinks
//	sink.Increment("comments.created", 1, metricsink.KV("channel", "video"))
//	sink.Duration("http.request.duration", time.Since(start), metricsink.KV("route", r.Pattern))
//
// Code that records should accept a Sink, so that tests can pass a
// metricsinktest.Recorder and deployments a Fanout of backends.
//
// # Declarations
//
// A metric may be declared once with its kind, help text, unit and, for a
// histogram, its buckets; every backend honours what it can (see Desc):
//
//	_ = metricsink.Declare(sink, metricsink.Desc{Name: "comment.body.bytes", Kind: metricsink.Histogram,
//		Unit: "bytes", Help: "Size of comment bodies.", Buckets: []float64{64, 256, 1024, 4096}})
//
// Undeclared names work as well, with a generic help text and the
// backend's default buckets.
//
// # Handles
//
// For a name and tags known in advance, NewCounter, NewGauge, NewHistogram
// and NewTimer resolve the series once and return a handle whose Add, Inc,
// Set, Dec, Observe and Since look nothing up and allocate nothing, through
// the kit's sinks and Fanout alike:
//
//	created := metricsink.NewCounter(sink, "comments.created", metricsink.KV("channel", "video"))
//	created.Inc()
//	open := metricsink.NewGauge(sink, "websocket.connections", metricsink.KV("channel", "video"))
//	open.Inc(); defer open.Dec()
//
// A sink that is not a HandleSink still works with handles: they call its
// Sink methods (a gauge handle keeps the value and sends it with Gauge).
//
// # Names and kinds
//
// Names are dotted or snake_case words. SnakeCase gives their canonical
// form: "comments.created" and "commentsCreated" are one metric. A name
// has one kind (Counter, Gauge or Histogram; Duration records a histogram)
// in every backend: the first use or declaration wins, and samples of
// another kind are dropped and counted (reason type_clash), with one
// warning. Each backend maps names to its own conventions.
//
// # Tags
//
// Tags are built with KV or Tags.With and passed by value; every method
// has a value receiver, and All iterates with range-over-func. A misuse (an
// odd number of strings, more than MaxTags tags) is reported by Tags.Err;
// sinks drop such samples and count them (reason invalid_tags), and the
// recorder of metricsinktest.NewStrict fails the test that made them.
//
// # Never hurting the caller
//
// Sinks never panic, never block the caller and never call a logger, a
// callback or another sink while holding a lock of their own. What they
// cannot record is dropped and counted under a drop.Reason.
//
// # Writing a backend
//
// The kit's backends (Prometheus, DogStatsD, OTLP) share one core, and a
// new backend should use it rather than write its own: Kinds is the kind
// table (one kind per name, the first use wins) with the bounds on names
// and series; Guard the name, tag-key and tag-value rules (reserved keys,
// the value-length cut ending with TruncationMarker); Drops the drop
// counts by drop.Reason and their warnings, logged once per reason and
// metric and never under a lock; Funcs the GaugeFunc and CounterFunc
// callbacks, read with a timeout, each in a goroutine, never called again
// while one runs; Lookup the one structure that finds a known series from
// what a Sink method was given, without a lock or an allocation; Limit
// the one meaning of a zero or negative option. What stays the backend's
// is its format: how names and tags are written, and what it sends.
//
// Every backend that buffers or owns goroutines has Flush(ctx) error,
// Close(ctx) error and Stats(), whose Dropped field is a drop.Counts.
package metricsink
