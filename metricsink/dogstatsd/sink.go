package dogstatsd

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
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

// DefaultCallbackTimeout is the default of Options.CallbackTimeout.
const DefaultCallbackTimeout = time.Second

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

	// AgentHistograms makes Histogram send histograms (|h) and Duration
	// timings (|ms), which each Agent aggregates into fixed series per
	// host (name.avg, name.median, name.95percentile, name.max,
	// name.count), instead of distributions (|d), which Datadog aggregates
	// across hosts and from which it computes any percentile (p50:name,
	// p99:name). A name declared with Desc.Distribution is still sent as a
	// distribution. Default: false (distributions); see the package
	// documentation for the choice.
	AgentHistograms bool

	// PollInterval is how often GaugeFunc and CounterFunc functions are
	// read. Default: DefaultPollInterval. Negative values are an error.
	PollInterval time.Duration

	// MaxSeries bounds the converted names and tags the Sink remembers,
	// and the names whose kind it remembers. Past it, new series of known
	// names still work but are converted on every call, which allocates;
	// samples of new names are dropped and counted (reason overflow).
	// Default: DefaultMaxSeries. Negative values are an error.
	MaxSeries int

	// CallbackTimeout bounds the wait for the GaugeFunc and CounterFunc
	// functions at each poll and at Close, all together. A function that
	// has not returned by then is counted (reason timeout) and not called
	// again until it returns. Default: DefaultCallbackTimeout.
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
	client          *statsd.Client
	agentHistograms bool
	namespaceLen    int
	pollInterval    time.Duration

	// lookup finds the converted series of a raw op, name and tags without
	// a lock: the one lookup structure, bounded by Options.MaxSeries.
	lookup *metricsink.Lookup[*series]
	guard  metricsink.Guard
	drops  *metricsink.Drops
	funcs  *metricsink.Funcs

	mu    sync.Mutex
	kinds *metricsink.Kinds // Metric.Data is the name's kindInfo

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

// maxValueBytes bounds a tag value before Datadog's own rules (200
// characters a tag) apply.
const maxValueBytes = 256

var (
	_ metricsink.Sink       = (*Sink)(nil)
	_ metricsink.FuncSink   = (*Sink)(nil)
	_ metricsink.HandleSink = (*Sink)(nil)
	_ metricsink.Declarer   = (*Sink)(nil)
)

// kindInfo is what the Sink keeps for a name of its kind table: whether
// its histograms or durations are sent as distributions.
type kindInfo struct {
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
	var errs [3]error
	o.PollInterval, errs[0] = metricsink.Limit("dogstatsd: Options.PollInterval", o.PollInterval, DefaultPollInterval)
	o.MaxSeries, errs[1] = metricsink.Limit("dogstatsd: Options.MaxSeries", o.MaxSeries, DefaultMaxSeries)
	o.CallbackTimeout, errs[2] = metricsink.Limit("dogstatsd: Options.CallbackTimeout", o.CallbackTimeout, DefaultCallbackTimeout)
	if err := errors.Join(errs[:]...); err != nil {
		return nil, err
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
		agentHistograms: o.AgentHistograms,
		pollInterval:    o.PollInterval,
		lookup:          metricsink.NewLookup[*series](o.MaxSeries, maxKeyLen),
		guard:           metricsink.NewGuard(maxValueBytes),
		drops:           metricsink.NewDrops("dogstatsd", nil),
	}
	s.funcs = metricsink.NewFuncs(o.CallbackTimeout, s.drops, true)
	s.kinds = metricsink.NewKinds("dogstatsd", s.drops, "Options.MaxSeries", o.MaxSeries, math.MaxInt, math.MaxInt)
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

// Histogram sends value as a distribution sample, or a histogram sample
// when Options.AgentHistograms is set and the name was not declared with
// Distribution. NaN and infinite values are dropped and counted.
func (s *Sink) Histogram(name string, value float64, tags metricsink.Tags) {
	s.record(opHistogram, name, &tags, value)
}

// Duration sends d in milliseconds (fractions kept) as a distribution
// sample, or a timing when Options.AgentHistograms is set and the name was
// not declared with Distribution. Negative durations are dropped and
// counted.
func (s *Sink) Duration(name string, d time.Duration, tags metricsink.Tags) {
	if d < 0 {
		s.dropValue(opTiming, name)
		return
	}
	s.record(opTiming, name, &tags, float64(d)/float64(time.Millisecond))
}

// op is the Sink method of a sample, which decides what it is sent as.
type op = metricsink.Op

const (
	opCount     = metricsink.OpIncrement
	opGauge     = metricsink.OpGauge
	opHistogram = metricsink.OpHistogram
	opTiming    = metricsink.OpDuration
)

// record looks the series up and sends value.
func (s *Sink) record(o op, name string, tags *metricsink.Tags, value float64) {
	if !validValue(o, value) {
		s.dropValue(o, name)
		return
	}
	s.sendMu.RLock()
	defer s.sendMu.RUnlock()
	if sr := s.find(o, name, tags); sr != nil {
		s.send(o, sr, value)
	}
}

func validValue(o op, v float64) bool {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return false
	}
	return o != opCount || v >= 0
}

// dropValue counts a sample dropped for its value.
func (s *Sink) dropValue(o op, name string) {
	s.drops.Drop(drop.InvalidValue, o.Kind(), name, "DogStatsD carries finite values only, and counters and durations must not be negative")
}

// send hands one sample of a valid series to the client. The caller holds
// sendMu for reading and has checked that the sink is open.
func (s *Sink) send(o op, sr *series, value float64) {
	switch o {
	case opCount:
		n, ok := toCount(value)
		switch {
		case !ok:
			s.dropValue(o, sr.name)
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
		if sr.dist {
			s.sent(s.client.Distribution(sr.name, value, sr.tags, 1))
		} else {
			s.sent(s.client.TimeInMilliseconds(sr.name, value, sr.tags, 1))
		}
	}
}

// Declare fixes the kind of d.Name (first use or declaration wins) and,
// for a histogram, whether it is sent as a distribution even when
// Options.AgentHistograms is set (Desc.Distribution). It returns an
// error when d is invalid or the name already has another kind or unit.
// Help and Buckets have no DogStatsD equivalent.
func (s *Sink) Declare(d metricsink.Desc) error {
	if err := d.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, existed, err := s.kinds.Declare(d, s.create)
	if err == nil && existed && d.Kind == metricsink.Histogram {
		m.Data = kindInfo{dist: d.Distribution || !s.agentHistograms}
	}
	return err
}

// create is the Sink's part of a new metric of its kind table: whether its
// histograms or durations are sent as distributions.
func (s *Sink) create(m *metricsink.Metric) (*metricsink.Metric, drop.Reason, string) {
	m.Data = kindInfo{dist: m.Desc.Distribution || !s.agentHistograms}
	return nil, 0, ""
}

// Flush reads the GaugeFunc and CounterFunc functions, then sends
// everything the client buffers or aggregates now, and returns when it has
// been written, or with ctx's error when ctx ends first (the flush then
// completes in the background). It is not needed before Close, which
// flushes. After Close it does nothing.
func (s *Sink) Flush(ctx context.Context) error {
	done := make(chan error, 1)
	go func() {
		s.closeMu.Lock()
		defer s.closeMu.Unlock()
		if s.closed.Load() {
			done <- nil
			return
		}
		s.collect()
		done <- s.client.Flush()
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("dogstatsd: flush: %w", context.Cause(ctx))
	}
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

// find returns the converted series for name and tags, or nil after
// counting the drop when the sample cannot be sent. Callers that send hold
// sendMu for reading, from find to the send.
func (s *Sink) find(o op, name string, tags *metricsink.Tags) *series {
	if s.closed.Load() {
		s.drops.Drop(drop.Closed, o.Kind(), name, "the sink is closed")
		return nil
	}
	sr := s.resolve(o, name, tags)
	if sr.reason != 0 {
		s.drops.Drop(sr.reason, o.Kind(), name, sr.detail)
		return nil
	}
	return sr
}

// resolve returns the series of a sample, valid or not: from the lookup,
// else converted now and remembered while the lookup has room.
func (s *Sink) resolve(o op, name string, tags *metricsink.Tags) *series {
	list, err := metricsink.View(tags)
	if err != nil {
		return &series{reason: drop.InvalidTags, detail: err.Error()}
	}
	if sr, ok := s.lookup.Get(o, name, list); ok {
		return sr
	}
	sr := s.convert(o, name, tags)
	if sr.reason == 0 {
		s.lookup.Put(o, name, list, sr)
	}
	return sr
}

// convert applies the kind table (the first kind wins) and the tag rules
// of metricsink.Guard, then Datadog's rules, to a sample's name and tags.
func (s *Sink) convert(o op, name string, tags *metricsink.Tags) *series {
	var buf [metricsink.MaxTags]metricsink.Tag
	clean, r, detail := s.guard.Tags(buf[:0], tags, false)
	if r != 0 {
		return &series{reason: r, detail: detail}
	}
	s.mu.Lock()
	m, r, detail := s.kinds.Use(o, name, s.create)
	s.mu.Unlock()
	s.drops.Emit()
	if m == nil {
		if detail == "" { // counted already
			s.drops.Add(r, ^uint64(0))
		}
		return &series{reason: r, detail: detail}
	}
	sr := newSeries(name, clean, s.namespaceLen)
	if sr.reason == 0 {
		sr.dist = m.Data.(kindInfo).dist
	}
	return sr
}

// sent counts a sample handed to the client: sent, or dropped when the
// client refused it.
func (s *Sink) sent(err error) {
	if err != nil {
		s.drops.Add(drop.QueueFull, 1)
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
	// Series is the number of name and tags pairs remembered converted.
	Series int
	// Client is the Datadog client's telemetry (payloads sent and dropped
	// and why); all zero when its telemetry is turned off with
	// statsd.WithoutTelemetry.
	Client statsd.Telemetry
}

// Stats returns the Sink's counts so far. It is safe to call at any time,
// also after Close.
func (s *Sink) Stats() Stats {
	return Stats{
		Sent:          s.stats.sent.Load(),
		RoundedToZero: s.stats.rounded.Load(),
		Dropped:       s.drops.Counts(),
		ClientErrors:  s.stats.clientErrors.Load(),
		Series:        s.lookup.Len(),
		Client:        s.client.GetTelemetry(),
	}
}

type counters struct {
	sent         atomic.Uint64
	rounded      atomic.Uint64
	clientErrors atomic.Uint64
}
