// Package dogstatsd is a [metricsink.Sink] that sends every sample to a
// Datadog Agent over DogStatsD, through Datadog's own client
// (github.com/DataDog/datadog-go/v5/statsd): its buffering, client-side
// aggregation and UDP, Unix-socket and named-pipe transports.
//
// Usage:
//
//	sink, err := dogstatsd.New(&dogstatsd.Options{Namespace: "realtime"})
//	if err != nil {
//		return err
//	}
//	defer sink.Close(ctx) // flushes, by ctx's end
//	sink.Increment("comments.created", 1, metricsink.KV("channel", "video"))
//
// # Mapping
//
//   - Increment sends a count (|c). DogStatsD counts are integers in Datadog's
//     client; a fractional increment is rounded to one of the two nearest
//     integers at random, in proportion, so totals stay right on average
//     (0.25 sent four times adds 1 on average).
//   - Gauge sends a gauge (|g).
//   - Histogram sends a distribution (|d); with [Options.AgentHistograms],
//     a histogram (|h).
//   - Duration sends a distribution (|d) in milliseconds; with
//     [Options.AgentHistograms], a timing (|ms) in milliseconds.
//   - Handles (metricsink.NewCounter and the like) send the same, the name
//     and tags converted once; a gauge handle keeps its value, so that Add
//     sends the new value.
//
// Names keep Datadog's dotted style ("comments.created"). Datadog accepts
// ASCII letters, digits, underscores and periods, a leading letter and at
// most 200 characters (namespace included): any other character is replaced
// with '_', and a name that still breaks the rules (empty, not starting with
// a letter, too long) is dropped and counted.
//
// A name has one kind: the first use or declaration of its
// metricsink.SnakeCase form wins, and samples of another kind are dropped
// and counted (type_clash), as in the Prometheus registry.
//
// Tags are sent as Datadog stores them (see [NormalizeTag]), so that what
// is sent is what Datadog shows and dashboards group by: lower-cased; every
// character but Unicode letters and digits, '_', '-', '.', '/' and, in
// values, ':' replaced with '_'; runs of '_' reduced to one; trailing '_'
// (and ':') removed; at most 200 characters per tag. A key that does not
// start with a letter, or Tags whose Err is not nil, drop the sample and
// count it; an empty value is sent as "none". So
// route=/api/videos/{video_id}/comments is sent as
// route:/api/videos/_video_id_/comments.
//
// [Sink.Stats] reports the counts by drop.Reason; the first drop of each
// reason is also logged once through [slog.Default].
//
// # Distributions or Agent histograms
//
// Durations and histograms are sent as distributions by default, because
// that is how Datadog gives correct percentiles. The Agent forwards every
// value of a distribution; Datadog merges them from every host into one
// sketch (DDSketch, a bounded relative error) per tag combination, so
// p50:http.request.duration{*} by {route} is the median of every request
// of the route, on any number of hosts, over any time span. Turn the
// percentiles on once per metric in Datadog's Metrics Summary ("Advanced"
// or "percentile aggregations"); avg, count, sum, min and max need
// nothing.
//
// A histogram or timing, instead, is summarised by each Agent every flush
// interval into fixed series per host (name.avg, name.median,
// name.95percentile, name.max, name.count): a dashboard can only average
// those across hosts and time, and an average of 95th percentiles is no
// percentile at all. [Options.AgentHistograms] keeps them, for dashboards
// and monitors already built on those series; Desc.Distribution still
// makes a declared name a distribution. A name is stored by Datadog as one
// type: the histogram series are name.avg and so on, the distribution is
// name, so switching does not mix them, but old dashboards must change
// their queries (avg:name.95percentile becomes p95:name).
//
// # Address
//
// [Options.Addr] wins. When it is empty the client reads the environment as
// Datadog documents it: DD_DOGSTATSD_URL (udp://host:port or
// unix:///path.sock), else DD_AGENT_HOST with DD_DOGSTATSD_PORT (8125 by
// default). When none of these is set, the Agent's default address
// localhost:8125 is used.
//
// # Functions read on an interval
//
// A Sink is a [metricsink.FuncSink]: GaugeFunc and CounterFunc functions are
// read every [Options.PollInterval] (10 s by default) and once more by
// Close, each in a goroutine, without any lock held; a poll waits for them
// at most [Options.CallbackTimeout] (1 s) in all, and a function that
// blocks or panics is counted (timeout, panic) and not called again until
// it returns. A gauge sends its value; a counter sends the increase
// since the previous read as a count (the whole first reading, and the whole
// value again after the counter went backwards, as after a restart).
//
// # Cost
//
// Each distinct name and Tags pair is converted once, to a sanitised name and
// the client's []string of tags, and remembered in a [metricsink.Lookup]
// (up to [Options.MaxSeries] pairs), so a call for a known series takes no
// lock and allocates nothing in this package. The kind table, the tag
// rules, the drop counts and the reading of functions are metricsink's
// core, shared with the other backends. The Datadog client never blocks
// the caller: it buffers, and drops and counts what it cannot send.
//
// # Lifecycle
//
// [Sink.Flush] reads the functions and writes what the client holds, by
// its context's end; [Sink.Close] does the same one last time and closes
// the connection; [Sink.Stats] counts what was sent and dropped.
package dogstatsd
