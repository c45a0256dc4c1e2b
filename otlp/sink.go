package otlp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

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
	DefaultInterval      = 60 * time.Second
	DefaultTimeout       = 30 * time.Second
	DefaultMaxNames      = 1000
	DefaultMaxSeries     = 2000
	DefaultMaxValueBytes = 256
)

// ScopeName is the instrumentation scope of every metric the Sink exports.
const ScopeName = "github.com/realtimeserver/observability/metricsink/otlp"

// DurationBuckets are the bucket bounds, in seconds, of a histogram
// recorded with Duration that was not declared with its own: 5 ms to 10 s,
// with 0.1 s and 0.5 s among them.
var DurationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

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
	// MaxValueBytes bounds a tag value; longer ones are cut at a UTF-8
	// boundary. Default: DefaultMaxValueBytes.
	MaxValueBytes int
}

// Stats are a Sink's counts since it was built.
type SinkStats struct {
	// Exports counts successful exports; ExportErrors failed ones.
	Exports, ExportErrors uint64
	// Dropped counts samples not recorded, and data points not delivered,
	// by reason: invalid_name, invalid_tags, invalid_value, type_clash,
	// overflow (past MaxNames), panic (a GaugeFunc or CounterFunc
	// function panicked), closed (after Close), retries_exhausted (data
	// points of a failed export).
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
	maxNames  int
	maxSeries int
	maxValue  int

	// exportMu makes collections and exports one at a time; no function
	// of the user's is called while it is held.
	exportMu sync.Mutex
	stop     chan struct{}
	done     chan struct{}
	base     context.Context
	cancel   context.CancelFunc

	mu      sync.Mutex
	decls   map[string]metricsink.Desc // by metricsink.SnakeCase(name)
	metrics map[string]*instrument     // by metricsink.SnakeCase(name)
	warned  map[string]bool            // type clashes warned about, by name

	closed  atomic.Bool
	dropped drop.Counter
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
	for _, f := range []struct {
		name string
		v    int64
	}{{"Interval", int64(o.Interval)}, {"Timeout", int64(o.Timeout)}, {"MaxNames", int64(o.MaxNames)}, {"MaxSeries", int64(o.MaxSeries)}, {"MaxValueBytes", int64(o.MaxValueBytes)}} {
		if f.v < 0 {
			return nil, fmt.Errorf("otlp: SinkOptions.%s is negative; want 0 (the default) or more", f.name)
		}
	}
	if o.MaxNames == 0 {
		o.MaxNames = DefaultMaxNames
	}
	if o.MaxSeries == 0 {
		o.MaxSeries = DefaultMaxSeries
	}
	if o.MaxValueBytes == 0 {
		o.MaxValueBytes = DefaultMaxValueBytes
	}
	if o.Interval == 0 {
		o.Interval = DefaultInterval
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
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
		maxNames:  o.MaxNames,
		maxSeries: o.MaxSeries,
		maxValue:  o.MaxValueBytes,
		metrics:   map[string]*instrument{},
		decls:     map[string]metricsink.Desc{},
		warned:    map[string]bool{},
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	s.exporter = &countingExporter{Exporter: exp, dropped: &s.dropped}
	// A manual reader, collected by the Sink's own loop: functions are read
	// before the SDK's collection starts, so that none runs while the SDK
	// holds its locks (a function that used the Sink would deadlock).
	s.reader = sdkmetric.NewManualReader(
		sdkmetric.WithTemporalitySelector(exp.Temporality),
		sdkmetric.WithAggregationSelector(exp.Aggregation),
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
	st := SinkStats{Dropped: s.dropped.Snapshot()}
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
	if n := s.dropped.Load(drop.RetriesExhausted); n > 0 {
		err = errors.Join(err, fmt.Errorf("%d data points failed to export", n))
	}
	return err
}

// kind of a registered instrument: the facade's Kind, and for gauges and
// counters whether values are read by a function, since OpenTelemetry
// has one instrument for each.
type instrument struct {
	name     string // as declared or first given
	kind     metricsink.Kind
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
	bits atomic.Uint64  // the value observed at each collection
	f    func() float64 // the function read into bits, or nil
	gone atomic.Bool
}

func (s *Sink) drop(r drop.Reason) { s.dropped.Add(r, 1) }

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
func unit(u string, duration bool) string {
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
		if duration {
			return "s"
		}
		return ""
	}
	return "{" + u + "}"
}

// Declare implements metricsink.Declarer: d's help, unit and buckets
// are used when the instrument is made, at the name's first use (which
// also tells a counter recorded with Increment from one read with
// CounterFunc).
func (s *Sink) Declare(d metricsink.Desc) error {
	if err := d.Validate(); err != nil {
		return err
	}
	if !validName(d.Name) {
		return fmt.Errorf("otlp: Desc.Name %q is not an OpenTelemetry instrument name (a letter, then up to 254 letters, digits, '_', '.', '-', '/')", d.Name)
	}
	key := metricsink.SnakeCase(d.Name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.decls[key]; ok {
		if old.Kind != d.Kind || old.Unit != d.Unit || !equalFloats(old.Buckets, d.Buckets) {
			return fmt.Errorf("otlp: metric %q is already declared a %s with unit %q; cannot declare it a %s with unit %q", d.Name, old.Kind, old.Unit, d.Kind, d.Unit)
		}
		return nil
	}
	if in := s.metrics[key]; in != nil {
		if in.kind != d.Kind {
			return fmt.Errorf("otlp: metric %q is already a %s; cannot declare it a %s", d.Name, in.kind, d.Kind)
		}
		return fmt.Errorf("otlp: metric %q was used before it was declared; declare it first", d.Name)
	}
	if len(s.decls) >= s.maxNames {
		return fmt.Errorf("otlp: %d metric names declared already; MaxNames reached", s.maxNames)
	}
	s.decls[key] = d
	return nil
}

func equalFloats(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// create makes the instrument of d. Called with s.mu held; it calls only
// the SDK's constructors, which call nothing of the user's.
func (s *Sink) create(d metricsink.Desc, duration, observed bool) (*instrument, error) {
	in := &instrument{name: d.Name, kind: d.Kind, observed: observed}
	help := d.Help
	if help == "" {
		help = "Metric " + d.Name + "."
	}
	u := unit(d.Unit, duration)
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
		b := d.Buckets
		if len(b) == 0 && (duration || d.Unit == "seconds") {
			b = DurationBuckets
		}
		hopts := []metric.Float64HistogramOption{metric.WithDescription(help), metric.WithUnit(u)}
		if len(b) > 0 {
			hopts = append(hopts, metric.WithExplicitBucketBoundaries(b...))
		}
		in.hist, err = s.meter.Float64Histogram(d.Name, hopts...)
	}
	return in, err
}

// lookup returns the instrument of name for samples of kind k, creating
// it on first use, or nil and the reason its samples are dropped; the
// caller counts. A type clash is warned about once per name.
func (s *Sink) lookup(name string, k metricsink.Kind, duration, observed bool) (*instrument, drop.Reason) {
	if s.closed.Load() {
		return nil, drop.Closed
	}
	key := metricsink.SnakeCase(name)
	s.mu.Lock()
	in := s.metrics[key]
	if in == nil {
		switch {
		case !validName(name) || key == "":
			s.mu.Unlock()
			return nil, drop.InvalidName
		case len(s.metrics) >= s.maxNames:
			s.mu.Unlock()
			return nil, drop.Overflow
		}
		d, declared := s.decls[key]
		if !declared {
			d = metricsink.Desc{Name: name, Kind: k}
		} else if d.Kind != k {
			s.mu.Unlock()
			return nil, drop.TypeClash
		}
		var err error
		in, err = s.create(d, duration, observed)
		if err != nil {
			s.mu.Unlock()
			return nil, drop.InvalidName
		}
		s.metrics[key] = in
	}
	clash := in.kind != k || (k == metricsink.Counter && in.observed != observed)
	warn := clash && !s.warned[key]
	if warn {
		s.warned[key] = true
	}
	s.mu.Unlock()
	if clash {
		if warn {
			slog.Default().Warn("otlp metrics: a metric name used as two kinds; samples of the second are dropped",
				"metric", name, "kind", in.kind.String(), "dropped_kind", k.String())
		}
		return nil, drop.TypeClash
	}
	return in, 0
}

// use is lookup for one sample: it counts the drop.
func (s *Sink) use(name string, k metricsink.Kind, duration bool) *instrument {
	in, r := s.lookup(name, k, duration, false)
	if in == nil {
		s.drop(r)
	}
	return in
}

// attrs turns tags into an attribute set, or reports false after counting
// invalid tags.
func (s *Sink) attrs(tags metricsink.Tags) (attribute.Set, bool) {
	if tags.Err() != nil {
		s.drop(drop.InvalidTags)
		return attribute.Set{}, false
	}
	var buf [metricsink.MaxTags]attribute.KeyValue
	kvs := buf[:0]
	for k, v := range tags.All() {
		if k == "" || !utf8.ValidString(k) {
			s.drop(drop.InvalidTags)
			return attribute.Set{}, false
		}
		if !utf8.ValidString(v) {
			v = strings.ToValidUTF8(v, "\uFFFD")
		}
		if len(v) > s.maxValue {
			v = cut(v, s.maxValue)
		}
		kvs = append(kvs, attribute.String(k, v))
	}
	return attribute.NewSet(kvs...), true
}

// cut shortens s to at most n bytes at a rune boundary.
func cut(s string, n int) string {
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// Increment implements metricsink.Sink.
func (s *Sink) Increment(name string, value float64, tags metricsink.Tags) {
	if !finite(value) || value < 0 {
		s.drop(drop.InvalidValue)
		return
	}
	in := s.use(name, metricsink.Counter, false)
	if in == nil {
		return
	}
	if set, ok := s.attrs(tags); ok {
		in.counter.Add(context.Background(), value, metric.WithAttributeSet(set))
	}
}

// Gauge implements metricsink.Sink.
func (s *Sink) Gauge(name string, value float64, tags metricsink.Tags) {
	in := s.use(name, metricsink.Gauge, false)
	if in == nil {
		return
	}
	set, ok := s.attrs(tags)
	if !ok {
		return
	}
	sr := in.seriesFor(set, nil, s.maxSeries)
	if sr == nil {
		s.drop(drop.Overflow)
		return
	}
	sr.bits.Store(math.Float64bits(value))
}

// Histogram implements metricsink.Sink.
func (s *Sink) Histogram(name string, value float64, tags metricsink.Tags) {
	s.observe(name, value, false, tags)
}

// Duration implements metricsink.Sink: d is recorded in seconds.
func (s *Sink) Duration(name string, d time.Duration, tags metricsink.Tags) {
	s.observe(name, d.Seconds(), true, tags)
}

func (s *Sink) observe(name string, v float64, duration bool, tags metricsink.Tags) {
	if !finite(v) || v < 0 {
		s.drop(drop.InvalidValue)
		return
	}
	in := s.use(name, metricsink.Histogram, duration)
	if in == nil {
		return
	}
	if set, ok := s.attrs(tags); ok {
		in.hist.Record(context.Background(), v, metric.WithAttributeSet(set))
	}
}

// seriesFor returns the observed series of set: for a value (f nil) the
// one series of set, added when new; for a function a new series. It
// returns nil when the instrument already holds max series.
func (in *instrument) seriesFor(set attribute.Set, f func() float64, max int) *series {
	in.mu.Lock()
	defer in.mu.Unlock()
	if f == nil {
		if sr := in.values[set.Equivalent()]; sr != nil {
			return sr
		}
	}
	if len(in.values)+len(in.funcs) >= max {
		return nil
	}
	sr := &series{set: set, opt: metric.WithAttributeSet(set), f: f}
	if f == nil {
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
func (in *instrument) remove(sr *series) {
	sr.gone.Store(true)
	in.mu.Lock()
	defer in.mu.Unlock()
	for i, x := range in.funcs {
		if x == sr {
			in.funcs = append(in.funcs[:i:i], in.funcs[i+1:]...)
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

// call reads f, turning a panic into a counted drop.
func (s *Sink) call(f func() float64) (v float64, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			s.drop(drop.Panic)
			ok = false
		}
	}()
	return f(), true
}

// readFuncs reads every GaugeFunc and CounterFunc function into its
// series, holding no lock while a function runs.
func (s *Sink) readFuncs() {
	s.mu.Lock()
	ins := make([]*instrument, 0, len(s.metrics))
	for _, in := range s.metrics {
		if in.obs != nil {
			ins = append(ins, in)
		}
	}
	s.mu.Unlock()
	for _, in := range ins {
		for _, sr := range in.snapshot() {
			if sr.f == nil || sr.gone.Load() {
				continue
			}
			v, ok := s.call(sr.f)
			if !ok {
				continue
			}
			if in.kind == metricsink.Counter {
				last := math.Float64frombits(sr.bits.Load())
				if !finite(v) || v < 0 || v < last {
					s.drop(drop.InvalidValue)
					continue
				}
			}
			sr.bits.Store(math.Float64bits(v))
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
