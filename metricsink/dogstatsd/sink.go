package dogstatsd

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/DataDog/datadog-go/v5/statsd"

	"github.com/realtimeserver/observability/drop"
	"github.com/realtimeserver/observability/metricsink"
)

// DefaultAddr is the address used when neither Options.Addr nor Datadog's
// environment variables name one: the Agent's default DogStatsD port.
const DefaultAddr = "localhost:8125"

// DefaultPollInterval is how often GaugeFunc and CounterFunc functions are
// read when Options.PollInterval is zero.
const DefaultPollInterval = 10 * time.Second

// DefaultMaxSeries is the default of Options.MaxSeries.
const DefaultMaxSeries = 10000

// Options configures a Sink. A nil *Options, or a zero Options, means every
// default.
type Options struct {
	// Addr is the Agent's DogStatsD address: "host:port" for UDP,
	// "unix:///path.sock" (or unixgram://, unixstream://) for a Unix socket,
	// `\\.\pipe\name` for a Windows named pipe. Default: read from
	// DD_DOGSTATSD_URL, else DD_AGENT_HOST and DD_DOGSTATSD_PORT, else
	// DefaultAddr.
	Addr string

	// Namespace is prefixed, with a '.', to every metric name
	// ("realtime" gives "realtime.comments.created"). Default: none. It must
	// start with a letter and hold only ASCII letters, digits, '_' and '.'.
	Namespace string

	// Tags are sent with every sample, as "key:value" or a bare "value".
	// Default: none. Datadog's client also adds env, service and version
	// from DD_ENV, DD_SERVICE and DD_VERSION when they are set. A tag may not
	// be empty nor contain '|', ',', '#', CR or LF.
	Tags []string

	// Distributions makes Histogram send distributions (|d), aggregated
	// across hosts by Datadog, instead of histograms (|h), aggregated per
	// host by the Agent. Default: false (histograms).
	Distributions bool

	// PollInterval is how often GaugeFunc and CounterFunc functions are
	// read. Default: DefaultPollInterval. Negative values are an error.
	PollInterval time.Duration

	// MaxSeries bounds the cache of converted names and tags, and the
	// names whose kind the Sink remembers. Past it, new series of known
	// names still work but are converted on every call, which allocates;
	// samples of new names are dropped and counted (reason overflow).
	// Default: DefaultMaxSeries. Negative values are an error.
	MaxSeries int

	// CallbackTimeout bounds the wait for the GaugeFunc and CounterFunc
	// functions at each poll and at Close, all together. A function that
	// has not returned by then is counted (reason timeout) and not called
	// again until it returns. Default: 1 second.
	CallbackTimeout time.Duration

	// ClientOptions are passed to statsd.New after the Sink's own (an error
	// handler that counts client errors into Stats), so they can override
	// them: statsd.WithoutClientSideAggregation, statsd.WithChannelMode,
	// statsd.WithoutTelemetry and so on. Default: Datadog's defaults.
	ClientOptions []statsd.Option
}

// Sink is a metricsink.Sink and metricsink.FuncSink that sends samples over
// DogStatsD. Build it with New. It is safe for concurrent use; its methods
// never block on the network and never panic.
type Sink struct {
	client        *statsd.Client
	distributions bool
	namespaceLen  int
	maxSeries     int
	pollInterval  time.Duration

	mu     sync.RWMutex
	series map[string]*series  // by appendKey
	kinds  map[string]kindInfo // by metricsink.SnakeCase(name)
	cbWait time.Duration

	// closeMu orders Flush, Close and the poller's start.
	closeMu sync.Mutex
	closed  atomic.Bool
	// sendMu is held for reading from the check of closed to the hand-over
	// of a sample to the client, and for writing by Close while it sets
	// closed: no sample counted as sent reaches a closed client.
	sendMu sync.RWMutex

	poll poller

	stats counters
}

var (
	_ metricsink.Sink       = (*Sink)(nil)
	_ metricsink.FuncSink   = (*Sink)(nil)
	_ metricsink.HandleSink = (*Sink)(nil)
	_ metricsink.Declarer   = (*Sink)(nil)
)

// kindInfo is what the Sink knows of a name: its kind, fixed by its first
// use or declaration, and whether its histograms are distributions.
type kindInfo struct {
	kind metricsink.Kind
	dist bool
}

// New returns a Sink sending to the address Options.Addr names, or the one
// Datadog's environment variables name (see the package documentation).
// It returns an error naming the option for invalid Options, and the
// client's error when the address cannot be used.
func New(opts *Options) (*Sink, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.PollInterval < 0 {
		return nil, fmt.Errorf("dogstatsd: Options.PollInterval %v is negative; want 0 (default %v) or more", o.PollInterval, DefaultPollInterval)
	}
	if o.PollInterval == 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.MaxSeries < 0 {
		return nil, fmt.Errorf("dogstatsd: Options.MaxSeries %d is negative; want 0 (default %d) or more", o.MaxSeries, DefaultMaxSeries)
	}
	if o.MaxSeries == 0 {
		o.MaxSeries = DefaultMaxSeries
	}
	switch {
	case o.CallbackTimeout < 0:
		return nil, fmt.Errorf("dogstatsd: Options.CallbackTimeout %v is negative; want 0 (default 1s) or more", o.CallbackTimeout)
	case o.CallbackTimeout == 0:
		o.CallbackTimeout = time.Second
	}
	if o.Namespace != "" && !validNamespace(o.Namespace) {
		return nil, fmt.Errorf("dogstatsd: Options.Namespace %q is invalid; want a leading ASCII letter, then letters, digits, '_' or '.', at most %d characters", o.Namespace, maxNameLen-2)
	}
	tags := make([]string, 0, len(o.Tags))
	for _, t := range o.Tags {
		n, ok := normalizeGlobalTag(t)
		if !ok || !validGlobalTag(t) {
			return nil, fmt.Errorf("dogstatsd: Options.Tags entry %q is invalid; want \"key:value\" or \"value\" starting with a letter, without '|', ',', '#', CR or LF", t)
		}
		tags = append(tags, n)
	}
	addr := o.Addr
	if addr == "" && os.Getenv("DD_DOGSTATSD_URL") == "" && os.Getenv("DD_AGENT_HOST") == "" {
		addr = DefaultAddr
	}

	s := &Sink{
		distributions: o.Distributions,
		maxSeries:     o.MaxSeries,
		pollInterval:  o.PollInterval,
		series:        make(map[string]*series),
		kinds:         make(map[string]kindInfo),
		cbWait:        o.CallbackTimeout,
	}
	copts := []statsd.Option{
		statsd.WithErrorHandler(func(error) { s.stats.clientErrors.Add(1) }),
	}
	if o.Namespace != "" {
		ns := o.Namespace
		if ns[len(ns)-1] != '.' {
			ns += "."
		}
		s.namespaceLen = len(ns)
		copts = append(copts, statsd.WithNamespace(ns))
	}
	if len(tags) > 0 {
		copts = append(copts, statsd.WithTags(tags))
	}
	copts = append(copts, o.ClientOptions...)
	c, err := statsd.New(addr, copts...)
	if err != nil {
		if addr == "" {
			return nil, fmt.Errorf("dogstatsd: no usable address in DD_DOGSTATSD_URL=%q (accepted: udp://host[:port], unix:///path) or DD_AGENT_HOST=%q, DD_DOGSTATSD_PORT=%q: %w",
				os.Getenv("DD_DOGSTATSD_URL"), os.Getenv("DD_AGENT_HOST"), os.Getenv("DD_DOGSTATSD_PORT"), err)
		}
		return nil, fmt.Errorf("dogstatsd: Options.Addr %q cannot be used: %w", addr, err)
	}
	s.client = c
	return s, nil
}

// Increment sends value as a count. Negative, NaN and infinite values are
// dropped and counted; a fractional value is rounded at random to one of its
// two nearest integers so that sums stay right on average (one rounded to
// 0 is not sent and is counted in Stats.RoundedToZero).
func (s *Sink) Increment(name string, value float64, tags metricsink.Tags) {
	s.record(opCount, name, &tags, value)
}

// Gauge sends value as a gauge. NaN and infinite values are dropped and
// counted.
func (s *Sink) Gauge(name string, value float64, tags metricsink.Tags) {
	s.record(opGauge, name, &tags, value)
}

// Histogram sends value as a histogram sample, or a distribution sample
// when the name was declared with Distribution or Options.Distributions
// is set. NaN and infinite values are dropped and counted.
func (s *Sink) Histogram(name string, value float64, tags metricsink.Tags) {
	s.record(opHistogram, name, &tags, value)
}

// Duration sends d as a timing in milliseconds (fractions kept). Negative
// durations are dropped and counted.
func (s *Sink) Duration(name string, d time.Duration, tags metricsink.Tags) {
	if d < 0 {
		s.drop(drop.InvalidValue, name)
		return
	}
	s.record(opTiming, name, &tags, float64(d)/float64(time.Millisecond))
}

// op is what a sample is sent as.
type op uint8

const (
	opCount op = iota + 1
	opGauge
	opHistogram
	opTiming
)

func (o op) kind() metricsink.Kind {
	switch o {
	case opCount:
		return metricsink.Counter
	case opGauge:
		return metricsink.Gauge
	}
	return metricsink.Histogram
}

// record looks the series up and sends value.
func (s *Sink) record(o op, name string, tags *metricsink.Tags, value float64) {
	if !validValue(o, value) {
		s.drop(drop.InvalidValue, name)
		return
	}
	s.sendMu.RLock()
	defer s.sendMu.RUnlock()
	if sr := s.lookup(o, name, tags); sr != nil {
		s.send(o, sr, value)
	}
}

func validValue(o op, v float64) bool {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return false
	}
	return o != opCount || v >= 0
}

// send hands one sample of a valid series to the client. The caller holds
// sendMu for reading and has checked that the sink is open.
func (s *Sink) send(o op, sr *series, value float64) {
	switch o {
	case opCount:
		n, ok := toCount(value)
		switch {
		case !ok:
			s.drop(drop.InvalidValue, sr.name)
		case n == 0 && value != 0:
			s.stats.rounded.Add(1) // rounded down to nothing: nothing to send
		default:
			s.sent(s.client.Count(sr.name, n, sr.tags, 1))
		}
	case opGauge:
		s.sent(s.client.Gauge(sr.name, value, sr.tags, 1))
	case opHistogram:
		if sr.dist {
			s.sent(s.client.Distribution(sr.name, value, sr.tags, 1))
		} else {
			s.sent(s.client.Histogram(sr.name, value, sr.tags, 1))
		}
	case opTiming:
		s.sent(s.client.TimeInMilliseconds(sr.name, value, sr.tags, 1))
	}
}

// Declare fixes the kind of d.Name (first use or declaration wins) and,
// for a histogram, whether it is sent as a distribution. It returns an
// error when d is invalid or the name already has another kind. Help,
// Unit and Buckets have no DogStatsD equivalent.
func (s *Sink) Declare(d metricsink.Desc) error {
	if err := d.Validate(); err != nil {
		return err
	}
	base := metricsink.SnakeCase(d.Name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if ki, ok := s.kinds[base]; ok && ki.kind != d.Kind {
		return fmt.Errorf("dogstatsd: Declare %q as a %s: it is already a %s", d.Name, d.Kind, ki.kind)
	}
	if _, ok := s.kinds[base]; !ok && len(s.kinds) >= s.maxSeries {
		return fmt.Errorf("dogstatsd: Declare %q: the sink already knows Options.MaxSeries (%d) names", d.Name, s.maxSeries)
	}
	s.kinds[base] = kindInfo{kind: d.Kind, dist: d.Distribution || s.distributions}
	return nil
}

// Flush sends everything the client buffers or aggregates now, and returns
// when it has been written. It is not needed before Close, which flushes.
// After Close it does nothing.
func (s *Sink) Flush() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed.Load() {
		return nil
	}
	return s.client.Flush()
}

// Close stops the poller, reads the GaugeFunc and CounterFunc functions one
// last time, flushes everything buffered and closes the connection. Samples
// given after Close are dropped and counted as closed. It returns by ctx's
// end even when the last reads or the connection hold it up (the reads
// are bounded by Options.CallbackTimeout, a Unix socket write by the
// client's write timeout), with ctx's error; the close then completes in
// the background. Calling Close again does nothing and returns nil.
func (s *Sink) Close(ctx context.Context) error {
	done := make(chan error, 1)
	go func() { done <- s.close() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("dogstatsd: close: %w", context.Cause(ctx))
	}
}

func (s *Sink) close() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed.Load() {
		return nil
	}
	s.poll.stop()
	s.collect()
	s.sendMu.Lock()
	s.closed.Store(true)
	s.sendMu.Unlock()
	return s.client.Close()
}

// lookup returns the converted series for name and tags, or nil after
// counting the drop when the sample cannot be sent. Callers that send hold
// sendMu for reading, from lookup to the send.
func (s *Sink) lookup(o op, name string, tags *metricsink.Tags) *series {
	if s.closed.Load() {
		s.drop(drop.Closed, name)
		return nil
	}
	sr := s.resolve(o, name, tags)
	if sr.reason != 0 {
		s.drop(sr.reason, name)
		return nil
	}
	return sr
}

// resolve returns the series of a sample, valid or not, from the cache or
// converted now.
func (s *Sink) resolve(o op, name string, tags *metricsink.Tags) *series {
	if !tags.Valid() {
		return &series{reason: drop.InvalidTags}
	}
	if len(name) > maxNameLen {
		return &series{reason: drop.InvalidName}
	}
	var arr [256]byte
	key, ok := appendKey(append(arr[:0], byte(o)), name, tags)
	if !ok { // too long to be a cache key: converted each time
		return s.check(o, name, newSeries(name, tags, s.namespaceLen))
	}
	s.mu.RLock()
	sr := s.series[string(key)]
	s.mu.RUnlock()
	if sr == nil {
		sr = s.convert(key, o, name, tags)
	}
	return sr
}

// convert builds the series for name and tags, checks the name's kind
// (the first wins) and caches the series under key while there is room.
func (s *Sink) convert(key []byte, o op, name string, tags *metricsink.Tags) *series {
	sr := newSeries(name, tags, s.namespaceLen)
	base := metricsink.SnakeCase(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.series[string(key)]; old != nil {
		return old
	}
	if sr = s.checkLocked(o, base, sr); sr.reason == drop.Overflow {
		return sr
	}
	if len(s.series) < s.maxSeries {
		s.series[string(key)] = sr
	}
	return sr
}

// check is checkLocked for a series that is not cached.
func (s *Sink) check(o op, name string, sr *series) *series {
	base := metricsink.SnakeCase(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.checkLocked(o, base, sr)
}

// checkLocked applies the name's kind (the first wins) to sr.
func (s *Sink) checkLocked(o op, base string, sr *series) *series {
	if sr.reason != 0 {
		return sr
	}
	ki, ok := s.kinds[base]
	switch {
	case ok && ki.kind != o.kind():
		return &series{reason: drop.TypeClash}
	case ok:
		sr.dist = ki.dist
	case len(s.kinds) >= s.maxSeries:
		return &series{reason: drop.Overflow}
	default:
		s.kinds[base] = kindInfo{kind: o.kind(), dist: s.distributions}
		sr.dist = s.distributions
	}
	return sr
}

// sent counts a sample handed to the client: sent, or dropped when the
// client refused it.
func (s *Sink) sent(err error) {
	if err != nil {
		s.stats.drops.Add(drop.QueueFull, 1)
		return
	}
	s.stats.sent.Add(1)
}

// toCount converts an increment to the integer DogStatsD counts carry,
// rounding fractions at random in proportion (stochastic rounding).
func toCount(v float64) (int64, bool) {
	if !(v >= 0) || v > 1<<62 { // also rejects NaN
		return 0, false
	}
	n := int64(v)
	if frac := v - float64(n); frac > 0 && rand.Float64() < frac {
		n++
	}
	return n, true
}

// Stats counts what a Sink did with the samples it was given. A sample is
// one call of Increment, Gauge, Histogram or Duration (or of a handle's
// method), one GaugeFunc or CounterFunc registration refused, or one read
// of a registered function that sent or dropped something (a CounterFunc
// read that found no increase sends nothing and is not counted). Every
// sample is in exactly one of Sent, RoundedToZero and Dropped.
type Stats struct {
	// Sent counts samples handed to Datadog's client (before its
	// aggregation), the client open. What the client then failed to
	// deliver is in ClientErrors and Client.
	Sent uint64
	// RoundedToZero counts fractional increments that stochastic rounding
	// turned into 0, so that nothing was sent; others round up, so that
	// sums stay right on average.
	RoundedToZero uint64
	// Dropped counts the samples not sent, by reason: invalid_name (empty,
	// not starting with a letter, too long), invalid_tags (Tags whose Err
	// is not nil, a key not starting with a letter), type_clash (a name
	// used with a kind other than its first), invalid_value (NaN or
	// infinite values, negative increments and durations), panic and
	// timeout (GaugeFunc and CounterFunc reads), overflow (new names past
	// Options.MaxSeries), closed (after or during Close) and queue_full
	// (samples the client refused when they were handed to it, such as a
	// full input channel in channel mode with
	// statsd.WithErrorOnBlockedChannel).
	Dropped drop.Counts
	// ClientErrors counts the errors the client reported to its error
	// handler later, about samples or payloads it had accepted (and which
	// are therefore in Sent): a payload that could not be written, a
	// sample dropped from a full channel. One error may stand for many
	// samples, so it is not part of the sum above.
	ClientErrors uint64
	// Series is the number of cached name and tags pairs.
	Series int
	// Client is the Datadog client's telemetry (payloads sent and dropped
	// and why); all zero when its telemetry is turned off with
	// statsd.WithoutTelemetry.
	Client statsd.Telemetry
}

// Stats returns the Sink's counts so far. It is safe to call at any time,
// also after Close.
func (s *Sink) Stats() Stats {
	s.mu.RLock()
	n := len(s.series)
	s.mu.RUnlock()
	return Stats{
		Sent:          s.stats.sent.Load(),
		RoundedToZero: s.stats.rounded.Load(),
		Dropped:       s.stats.drops.Snapshot(),
		ClientErrors:  s.stats.clientErrors.Load(),
		Series:        n,
		Client:        s.client.GetTelemetry(),
	}
}

type counters struct {
	sent         atomic.Uint64
	rounded      atomic.Uint64
	clientErrors atomic.Uint64
	drops        drop.Counter
	logged       [32]atomic.Bool // by drop.Reason
}

// drop counts a dropped sample and logs the first one of each reason,
// without any lock held.
func (s *Sink) drop(r drop.Reason, name string) {
	s.stats.drops.Add(r, 1)
	if int(r) < len(s.stats.logged) && !s.stats.logged[r].Load() && s.stats.logged[r].CompareAndSwap(false, true) {
		slog.Default().Warn("dogstatsd: dropping samples; see Stats for counts (logged once per reason)",
			slog.String("reason", r.String()), slog.String("metric", truncate(name, 64)))
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return strings.ToValidUTF8(s[:n], "\uFFFD") + "…"
	}
	return s
}
