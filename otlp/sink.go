package otlp

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/realtimeserver/observability/drop"
	"github.com/realtimeserver/observability/metricsink"
)

// Defaults of SinkOptions.
const (
	DefaultInterval        = 60 * time.Second
	DefaultTimeout         = 30 * time.Second
	DefaultMaxNames        = 1000
	DefaultMaxSeries       = 2000
	DefaultMaxValueBytes   = 256
	DefaultCallbackTimeout = time.Second
)

// ScopeName is the instrumentation scope of every metric the Sink exports.
const ScopeName = "github.com/realtimeserver/observability/metricsink/otlp"

// The base-2 exponential histograms a Sink exports (unless
// SinkOptions.ExplicitBuckets is set), OpenTelemetry's defaults: at most
// ExponentialMaxSize buckets, from ExponentialMaxScale down. The SDK
// lowers the scale of a series as its values spread, so that its buckets
// cover them: values spanning 1 ms to 1 s (a factor of 1000) keep scale 4,
// buckets 2^(1/16) wide, a quantile within about 2.2% of the truth; 1 µs to
// 1 s, scale 3 and 4.4%; 10 µs to 60 s, scale 2 and 9%.
const (
	ExponentialMaxSize  = 160
	ExponentialMaxScale = 20
)

// DurationBuckets returns the bucket bounds, in seconds, of a histogram
// recorded with Duration that was not declared with its own, when
// SinkOptions.ExplicitBuckets is set: the kit's default duration buckets
// (those of the Prometheus registry), 100 µs to 60 s in steps of 1, 2.5
// and 5, with 0.1 s and 0.5 s among them. Each call returns a new slice.
func DurationBuckets() []float64 {
	return []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}
}

// SinkOptions configures a Sink. A nil *SinkOptions, or a zero SinkOptions, means
// every default.
type SinkOptions struct {
	// Exporter receives the metrics every Interval. Default: an OTLP/HTTP
	// exporter configured by the OTEL_EXPORTER_OTLP_* variables, which
	// sends to http://localhost:4318/v1/metrics when none is set.
	Exporter sdkmetric.Exporter
	// Resource describes the service. Default: resource.Default(), which
	// reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES.
	Resource *resource.Resource
	// Interval is the time between two exports, each of which first reads
	// every GaugeFunc and CounterFunc function. Default: DefaultInterval.
	Interval time.Duration
	// Timeout bounds one export. Default: DefaultTimeout.
	Timeout time.Duration
	// MaxNames bounds the number of metric names; samples of further names
	// are dropped and counted (reason overflow). Default: DefaultMaxNames.
	MaxNames int
	// MaxSeries bounds the series (tag combinations) of one metric. Past
	// it, counters and histograms aggregate new series into one marked
	// otel.metric.overflow=true (the SDK's cardinality limit), and gauges
	// and functions drop the samples of new series and count them
	// (reason overflow). Default: DefaultMaxSeries.
	MaxSeries int
	// MaxValueBytes bounds a tag value, at least 16; longer ones are cut
	// at a character boundary and end with metricsink.TruncationMarker.
	// Default: DefaultMaxValueBytes.
	MaxValueBytes int
	// CallbackTimeout bounds the wait for the GaugeFunc and CounterFunc
	// functions before each export, all together. A function that has not
	// returned by then is counted (reason timeout), keeps its last value
	// and is not called again until it returns. Default:
	// DefaultCallbackTimeout.
	CallbackTimeout time.Duration
	// ExplicitBuckets exports histograms (Histogram, Duration and their
	// handles) with explicit bucket bounds, for receivers that do not
	// take exponential histograms: a declared Desc.Buckets, else
	// DurationBuckets() for durations, else the SDK's default bounds.
	// Default: false, base-2 exponential histograms of at most
	// ExponentialMaxSize buckets from ExponentialMaxScale down, whatever
	// aggregation the Exporter prefers for histograms; declared Buckets
	// are then not used.
	ExplicitBuckets bool
}

// Stats are a Sink's counts since it was built.
type SinkStats struct {
	// Exports counts successful exports; ExportErrors failed ones.
	Exports, ExportErrors uint64
	// Dropped counts samples not recorded, and data points not delivered,
	// by reason: invalid_name, invalid_tags, reserved_label (a tag key
	// starting with "__"), invalid_value, type_clash, overflow (past
	// MaxNames), panic and timeout (a GaugeFunc or CounterFunc function
	// panicked or missed CallbackTimeout), closed (after Close),
	// retries_exhausted (data points of a failed export).
	Dropped drop.Counts
	// LastError is the most recent export error, or nil.
	LastError error
}

// Sink is a metricsink.Sink over the OpenTelemetry metrics SDK, exported
// over OTLP. It implements metricsink.FuncSink, metricsink.HandleSink and
// metricsink.Declarer. It is safe for concurrent use; its methods never
// block on the network and never panic. Build it with New; Close it with
// Close.
type Sink struct {
	mp        *sdkmetric.MeterProvider
	meter     metric.Meter
	reader    *sdkmetric.ManualReader
	exporter  *countingExporter
	interval  time.Duration
	timeout   time.Duration
	maxSeries int
	explicit  bool // SinkOptions.ExplicitBuckets

	// lookup finds what a raw op, name and tags resolved to without a
	// lock: the one lookup structure; a miss resolves under mu.
	lookup *metricsink.Lookup[*target]
	guard  metricsink.Guard
	drops  *metricsink.Drops
	funcs  *metricsink.Funcs

	// exportMu makes collections and exports one at a time; no function
	// of the user's is called while it is held.
	exportMu sync.Mutex
	stop     chan struct{}
	done     chan struct{}
	base     context.Context
	cancel   context.CancelFunc

	mu    sync.Mutex
	kinds *metricsink.Kinds // Metric.Data is the *instrument, made at first use
	ins   []*instrument     // the observed ones

	closed atomic.Bool
}

// target is what a sample of a known op, name and tags records into.
type target struct {
	in    *instrument
	add   []metric.AddOption    // counters
	rec   []metric.RecordOption // histograms
	gauge *series               // gauges
}

var (
	_ metricsink.Sink       = (*Sink)(nil)
	_ metricsink.FuncSink   = (*Sink)(nil)
	_ metricsink.HandleSink = (*Sink)(nil)
	_ metricsink.Declarer   = (*Sink)(nil)
)

// New returns a Sink exporting through opts.Exporter (or opts.Reader). It
// returns an error naming the option for invalid SinkOptions, and the
// exporter's error when the default exporter cannot be built.
func NewSink(opts *SinkOptions) (*Sink, error) {
	var o SinkOptions
	if opts != nil {
		o = *opts
	}
	var errs [6]error
	o.Interval, errs[0] = metricsink.Limit("otlp: SinkOptions.Interval", o.Interval, DefaultInterval)
	o.Timeout, errs[1] = metricsink.Limit("otlp: SinkOptions.Timeout", o.Timeout, DefaultTimeout)
	o.MaxNames, errs[2] = metricsink.Limit("otlp: SinkOptions.MaxNames", o.MaxNames, DefaultMaxNames)
	o.MaxSeries, errs[3] = metricsink.Limit("otlp: SinkOptions.MaxSeries", o.MaxSeries, DefaultMaxSeries)
	o.MaxValueBytes, errs[4] = metricsink.Limit("otlp: SinkOptions.MaxValueBytes", o.MaxValueBytes, DefaultMaxValueBytes)
	o.CallbackTimeout, errs[5] = metricsink.Limit("otlp: SinkOptions.CallbackTimeout", o.CallbackTimeout, DefaultCallbackTimeout)
	if err := errors.Join(errs[:]...); err != nil {
		return nil, err
	}
	if o.MaxValueBytes < 16 {
		return nil, fmt.Errorf("otlp: SinkOptions.MaxValueBytes %d is too small; accepted: 0 (default %d) or 16 and more", o.MaxValueBytes, DefaultMaxValueBytes)
	}
	exp := o.Exporter
	if exp == nil {
		var err error
		if exp, err = otlpmetrichttp.New(context.Background()); err != nil {
			return nil, fmt.Errorf("otlp: exporter: %w", err)
		}
	}
	s := &Sink{
		interval:  o.Interval,
		timeout:   o.Timeout,
		maxSeries: o.MaxSeries,
		explicit:  o.ExplicitBuckets,
		lookup:    metricsink.NewLookup[*target](4*o.MaxSeries+1024, 1024),
		guard:     metricsink.NewGuard(o.MaxValueBytes),
		drops:     metricsink.NewDrops("otlp metrics", nil),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	s.funcs = metricsink.NewFuncs(o.CallbackTimeout, s.drops, false)
	s.kinds = metricsink.NewKinds("otlp", s.drops, "SinkOptions.MaxNames", o.MaxNames, o.MaxSeries, math.MaxInt)
	s.exporter = &countingExporter{Exporter: exp, drops: s.drops}
	// A manual reader, collected by the Sink's own loop: functions are read
	// before the SDK's collection starts, so that none runs while the SDK
	// holds its locks (a function that used the Sink would deadlock).
	s.reader = sdkmetric.NewManualReader(
		sdkmetric.WithTemporalitySelector(exp.Temporality),
		sdkmetric.WithAggregationSelector(aggregation(exp, o.ExplicitBuckets)),
	)
	res := o.Resource
	if res == nil {
		res = resource.Default()
	}
	s.mp = sdkmetric.NewMeterProvider(
		sdkmetric.WithReader(s.reader),
		sdkmetric.WithResource(res),
		sdkmetric.WithCardinalityLimit(sdkLimit(o.MaxSeries)),
	)
	s.meter = s.mp.Meter(ScopeName)
	s.base, s.cancel = context.WithCancel(context.Background())
	go s.loop()
	return s, nil
}

// aggregation returns the reader's aggregation selector: the exporter's,
// but histograms are base-2 exponential histograms, or explicit-bucket
// ones when explicit is set (the exporter's choice, or the SDK's default
// when the exporter prefers another), whose bounds the instrument's
// advice replaces (instrumentFor).
func aggregation(exp sdkmetric.Exporter, explicit bool) sdkmetric.AggregationSelector {
	return func(k sdkmetric.InstrumentKind) sdkmetric.Aggregation {
		if k != sdkmetric.InstrumentKindHistogram {
			return exp.Aggregation(k)
		}
		if !explicit {
			return sdkmetric.AggregationBase2ExponentialHistogram{MaxSize: ExponentialMaxSize, MaxScale: ExponentialMaxScale}
		}
		if a, ok := exp.Aggregation(k).(sdkmetric.AggregationExplicitBucketHistogram); ok {
			return a
		}
		return sdkmetric.DefaultAggregationSelector(k)
	}
}

// sdkLimit returns the SDK's cardinality limit for MaxSeries series. The
// SDK counts its overflow series within its limit: a limit of n keeps n-1
// series and the overflow series. One more keeps MaxSeries series of
// their own, as SinkOptions promises; with MaxSeries alone, a gauge holding
// MaxSeries series lost one of them, whichever its callback observed last,
// to the overflow series.
func sdkLimit(maxSeries int) int {
	if maxSeries == math.MaxInt {
		return maxSeries
	}
	return maxSeries + 1
}

func (s *Sink) loop() {
	defer close(s.done)
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(s.base, s.timeout)
			_ = s.export(ctx)
			cancel()
		}
	}
}

// export reads every function, then collects and exports once.
func (s *Sink) export(ctx context.Context) error {
	s.readFuncs()
	s.exportMu.Lock()
	defer s.exportMu.Unlock()
	rm := new(metricdata.ResourceMetrics)
	if err := s.reader.Collect(ctx, rm); err != nil {
		return err
	}
	if points(rm) == 0 {
		return nil
	}
	return s.exporter.Export(ctx, rm)
}

// Stats returns the counts so far.
func (s *Sink) Stats() SinkStats {
	st := SinkStats{Dropped: s.drops.Counts()}
	if e := s.exporter; e != nil {
		st.Exports, st.ExportErrors = e.ok.Load(), e.failed.Load()
		if p := e.last.Load(); p != nil {
			st.LastError = *p
		}
	}
	return st
}

// Flush reads every function and exports what has been recorded, within
// ctx, and returns the export's error.
func (s *Sink) Flush(ctx context.Context) error {
	if s.closed.Load() {
		return nil
	}
	return s.export(ctx)
}

// Close exports what has been recorded, within ctx, and stops the Sink:
// later samples are dropped and counted (reason closed). It returns the
// export's error, and says how many data points failed to export over the
// Sink's life. Calling it again returns nil.
func (s *Sink) Close(ctx context.Context) error {
	if s.closed.Swap(true) {
		return nil
	}
	close(s.stop)
	select {
	case <-s.done:
	case <-ctx.Done():
		s.cancel() // an export in flight gives up
		<-s.done
	}
	err := s.export(ctx)
	s.cancel()
	err = errors.Join(err, s.exporter.Shutdown(ctx), s.mp.Shutdown(ctx))
	if n := s.drops.Load(drop.RetriesExhausted); n > 0 {
		err = errors.Join(err, fmt.Errorf("%d data points failed to export", n))
	}
	return err
}

// instrument is the SDK instrument of a metric name: for gauges and
// counters, whether values are read by a function too, since
// OpenTelemetry has one instrument for each.
type instrument struct {
	m        *metricsink.Metric
	observed bool // CounterFunc: an observable counter

	counter metric.Float64Counter
	hist    metric.Float64Histogram
	obs     metric.Float64Observable

	// Gauges and observed counters are observed at collection: values
	// set by Gauge and handles, one series per tag set, and functions.
	mu     sync.Mutex
	values map[attribute.Distinct]*series
	funcs  []*series
	reg    metric.Registration
}

// series is one observed time series of a gauge or function counter.
type series struct {
	set  attribute.Set
	opt  metric.ObserveOption
	bits atomic.Uint64 // the value observed at each collection
	gone atomic.Bool
}

// validName accepts the names OpenTelemetry accepts: an ASCII letter,
// then up to 254 ASCII letters, digits, '_', '.', '-', '/'.
func validName(n string) bool {
	if n == "" || len(n) > 255 || !isLetter(n[0]) {
		return false
	}
	for i := 1; i < len(n); i++ {
		c := n[i]
		if !isLetter(c) && !('0' <= c && c <= '9') && c != '_' && c != '.' && c != '-' && c != '/' {
			return false
		}
	}
	return true
}

func isLetter(c byte) bool { return 'A' <= c&^0x20 && c&^0x20 <= 'Z' }

// unit maps a Desc's unit word to the UCUM code OpenTelemetry uses.
func unit(u string) string {
	switch u {
	case "seconds":
		return "s"
	case "milliseconds":
		return "ms"
	case "bytes":
		return "By"
	case "ratio":
		return "1"
	case "":
		return ""
	}
	return "{" + u + "}"
}

// Declare implements metricsink.Declarer: d's help, unit and buckets
// are used when the instrument is made, at the name's first use (which
// also tells a counter recorded with Increment from one read with
// CounterFunc). Declaring a name again is accepted with the same Desc;
// declaring one already in use is an error.
func (s *Sink) Declare(d metricsink.Desc) error {
	if err := d.Validate(); err != nil {
		return err
	}
	if !validName(d.Name) {
		return fmt.Errorf("otlp: Desc.Name %q is not an OpenTelemetry instrument name (a letter, then up to 254 letters, digits, '_', '.', '-', '/')", d.Name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, existed, err := s.kinds.Declare(d, nil)
	if err != nil || !existed {
		return err
	}
	switch {
	case !m.Declared:
		return fmt.Errorf("otlp: metric %q was used before it was declared; declare it first", d.Name)
	case !slices.Equal(m.Desc.Buckets, d.Buckets):
		return fmt.Errorf("otlp: metric %q is already declared with buckets %v; cannot declare it with %v", d.Name, m.Desc.Buckets, d.Buckets)
	}
	return nil
}

// instrumentFor returns the instrument of m, made on first use. Called
// with s.mu held; it calls only the SDK's constructors, which call nothing
// of the user's.
func (s *Sink) instrumentFor(m *metricsink.Metric, observed bool) (*instrument, error) {
	if in, ok := m.Data.(*instrument); ok {
		return in, nil
	}
	d := m.Desc
	in := &instrument{m: m, observed: observed}
	help := d.Help
	if help == "" {
		help = "Metric " + d.Name + "."
	}
	u := unit(d.Unit)
	var err error
	switch {
	case d.Kind == metricsink.Counter && !observed:
		in.counter, err = s.meter.Float64Counter(d.Name, metric.WithDescription(help), metric.WithUnit(u))
	case d.Kind == metricsink.Counter:
		var c metric.Float64ObservableCounter
		c, err = s.meter.Float64ObservableCounter(d.Name, metric.WithDescription(help), metric.WithUnit(u))
		if err == nil {
			in.obs = c
			in.reg, err = s.meter.RegisterCallback(in.observe, c)
		}
	case d.Kind == metricsink.Gauge:
		var g metric.Float64ObservableGauge
		g, err = s.meter.Float64ObservableGauge(d.Name, metric.WithDescription(help), metric.WithUnit(u))
		if err == nil {
			in.obs = g
			in.reg, err = s.meter.RegisterCallback(in.observe, g)
		}
	case d.Kind == metricsink.Histogram:
		var b []float64
		switch {
		case !s.explicit: // exponential: no bounds to advise
		case len(d.Buckets) > 0:
			b = d.Buckets
		case d.Unit == "seconds":
			b = DurationBuckets()
		}
		hopts := []metric.Float64HistogramOption{metric.WithDescription(help), metric.WithUnit(u)}
		if len(b) > 0 {
			hopts = append(hopts, metric.WithExplicitBucketBoundaries(b...))
		}
		in.hist, err = s.meter.Float64Histogram(d.Name, hopts...)
	}
	if err != nil {
		return nil, err
	}
	m.Data = in
	if in.obs != nil {
		s.ins = append(s.ins, in)
	}
	return in, nil
}

// refusal is why a sample is dropped: a reason and its detail. An empty
// detail with a reason means the drop is counted already (names past
// MaxNames, see metricsink.Kinds.Use).
type refusal struct {
	r      drop.Reason
	detail string
}

// count counts one sample dropped for f.
func (s *Sink) count(f refusal, k metricsink.Kind, name string) {
	if f.detail != "" {
		s.drops.Drop(f.r, k, name, f.detail)
	}
}

// use returns the instrument of name for samples of op (observed: read
// by a function), made on first use, or why its samples are dropped.
func (s *Sink) use(op metricsink.Op, name string, observed bool) (*instrument, refusal) {
	k := op.Kind()
	if s.closed.Load() {
		return nil, refusal{drop.Closed, "the sink is closed"}
	}
	if !validName(name) {
		return nil, refusal{drop.InvalidName, "not an OpenTelemetry instrument name (a letter, then up to 254 letters, digits, '_', '.', '-', '/')"}
	}
	s.mu.Lock()
	defer s.drops.Emit()
	defer s.mu.Unlock()
	m, r, detail := s.kinds.Use(op, name, nil)
	if m == nil {
		return nil, refusal{r, detail}
	}
	in, err := s.instrumentFor(m, observed)
	switch {
	case err != nil:
		return nil, refusal{drop.InvalidName, err.Error()}
	case k == metricsink.Counter && in.observed != observed:
		return nil, refusal{drop.TypeClash, name + " is a counter recorded with Increment and read with CounterFunc; OpenTelemetry has one instrument for each"}
	}
	return in, refusal{}
}

// attrs turns tags, checked by metricsink.Guard, into an attribute set,
// or says why the sample is dropped.
func (s *Sink) attrs(tags *metricsink.Tags) (attribute.Set, refusal) {
	var buf [metricsink.MaxTags]metricsink.Tag
	clean, r, detail := s.guard.Tags(buf[:0], tags, false)
	if r != 0 {
		return attribute.Set{}, refusal{r, detail}
	}
	var kvs [metricsink.MaxTags]attribute.KeyValue
	for i, t := range clean {
		kvs[i] = attribute.String(t.Key, t.Value)
	}
	return attribute.NewSet(kvs[:len(clean)]...), refusal{}
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// find returns what a sample records into: from the lookup, without a
// lock, or resolved now (and remembered while the lookup has room); nil
// after counting the drop.
func (s *Sink) find(op metricsink.Op, name string, tags *metricsink.Tags) *target {
	if s.closed.Load() {
		s.drops.Drop(drop.Closed, op.Kind(), name, "the sink is closed")
		return nil
	}
	list, err := metricsink.View(tags)
	if err != nil {
		s.drops.Drop(drop.InvalidTags, op.Kind(), name, err.Error())
		return nil
	}
	if t, ok := s.lookup.Get(op, name, list); ok {
		return t
	}
	t, f := s.resolve(op, name, tags)
	if t == nil {
		s.count(f, op.Kind(), name)
		return nil
	}
	s.lookup.Put(op, name, list, t)
	return t
}

// resolve is find's slow path, and the handles': what a sample of op,
// name and tags records into, or why it is dropped (not counted).
func (s *Sink) resolve(op metricsink.Op, name string, tags *metricsink.Tags) (*target, refusal) {
	in, f := s.use(op, name, false)
	if in == nil {
		return nil, f
	}
	set, f := s.attrs(tags)
	if f.r != 0 {
		return nil, f
	}
	t := &target{in: in}
	switch op.Kind() {
	case metricsink.Counter:
		t.add = []metric.AddOption{metric.WithAttributeSet(set)}
	case metricsink.Histogram:
		t.rec = []metric.RecordOption{metric.WithAttributeSet(set)}
	case metricsink.Gauge:
		if t.gauge = s.seriesFor(in, set, false); t.gauge == nil {
			return nil, refusal{drop.Overflow, "the metric holds SinkOptions.MaxSeries series"}
		}
	}
	return t, refusal{}
}

// Increment implements metricsink.Sink.
func (s *Sink) Increment(name string, value float64, tags metricsink.Tags) {
	if !finite(value) || value < 0 {
		s.drops.Drop(drop.InvalidValue, metricsink.Counter, name, "counter increments must be finite and not negative")
		return
	}
	if t := s.find(metricsink.OpIncrement, name, &tags); t != nil {
		t.in.counter.Add(context.Background(), value, t.add...)
	}
}

// Gauge implements metricsink.Sink.
func (s *Sink) Gauge(name string, value float64, tags metricsink.Tags) {
	if t := s.find(metricsink.OpGauge, name, &tags); t != nil {
		t.gauge.bits.Store(math.Float64bits(value))
	}
}

// Histogram implements metricsink.Sink.
func (s *Sink) Histogram(name string, value float64, tags metricsink.Tags) {
	s.observe(metricsink.OpHistogram, name, value, &tags, metricsink.Exemplar{})
}

// Duration implements metricsink.Sink: d is recorded in seconds.
func (s *Sink) Duration(name string, d time.Duration, tags metricsink.Tags) {
	s.observe(metricsink.OpDuration, name, d.Seconds(), &tags, metricsink.Exemplar{})
}

// observe records v, with ex when it names a span (see record).
func (s *Sink) observe(op metricsink.Op, name string, v float64, tags *metricsink.Tags, ex metricsink.Exemplar) {
	if !finite(v) || v < 0 {
		s.drops.Drop(drop.InvalidValue, metricsink.Histogram, name, "observations and durations must be finite and not negative")
		return
	}
	if t := s.find(op, name, tags); t != nil {
		record(t, v, ex)
	}
}

// seriesFor returns the observed series of set: for a value (fn false)
// the one series of set, added when new; for a function a new series. It
// returns nil when the metric already holds MaxSeries series.
func (s *Sink) seriesFor(in *instrument, set attribute.Set, fn bool) *series {
	in.mu.Lock()
	if !fn {
		if sr := in.values[set.Equivalent()]; sr != nil {
			in.mu.Unlock()
			return sr
		}
	}
	in.mu.Unlock()
	s.mu.Lock()
	room := s.kinds.AddSeries(in.m, false)
	s.mu.Unlock()
	if room != metricsink.RoomOK {
		return nil
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if !fn {
		if sr := in.values[set.Equivalent()]; sr != nil { // added meanwhile
			s.mu.Lock()
			s.kinds.RemoveSeries(in.m, false)
			s.mu.Unlock()
			return sr
		}
	}
	sr := &series{set: set, opt: metric.WithAttributeSet(set)}
	if !fn {
		if in.values == nil {
			in.values = map[attribute.Distinct]*series{}
		}
		in.values[set.Equivalent()] = sr
	} else {
		in.funcs = append(in.funcs, sr)
	}
	return sr
}

// remove unregisters a function's series.
func (s *Sink) remove(in *instrument, sr *series) {
	sr.gone.Store(true)
	in.mu.Lock()
	defer in.mu.Unlock()
	for i, x := range in.funcs {
		if x == sr {
			in.funcs = append(in.funcs[:i:i], in.funcs[i+1:]...)
			s.mu.Lock()
			s.kinds.RemoveSeries(in.m, false)
			s.mu.Unlock()
			return
		}
	}
}

// snapshot returns every series, to be read with no lock held.
func (in *instrument) snapshot() []*series {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make([]*series, 0, len(in.values)+len(in.funcs))
	for _, sr := range in.values {
		out = append(out, sr)
	}
	return append(out, in.funcs...)
}

// readFuncs reads every GaugeFunc and CounterFunc function into its
// series (metricsink.Funcs: each in a goroutine, without any lock held,
// waiting at most SinkOptions.CallbackTimeout in all). A counter read
// that is refused keeps the previous value.
func (s *Sink) readFuncs() {
	for _, r := range s.funcs.Read() {
		if sr := r.F.Data.(*series); r.OK && !sr.gone.Load() {
			sr.bits.Store(math.Float64bits(r.Value))
		}
	}
}

// observe is the SDK callback of a gauge or function counter: it only
// reads the values that Gauge, handles and readFuncs stored.
func (in *instrument) observe(_ context.Context, o metric.Observer) error {
	for _, sr := range in.snapshot() {
		if !sr.gone.Load() {
			o.ObserveFloat64(in.obs, math.Float64frombits(sr.bits.Load()), sr.opt)
		}
	}
	return nil
}
