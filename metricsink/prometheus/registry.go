package prometheus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/realtimeserver/observability/drop"
	"github.com/realtimeserver/observability/metricsink"
)

// Tag is a label: a key and its value.
type Tag = metricsink.Tag

// DefaultBuckets returns the classic histogram bucket upper bounds, in
// seconds for durations, used when neither a declaration nor
// Options.Buckets gives others: 100 µs to 60 s in steps of 1, 2.5 and 5
// (then 10, 30 and 60 s), 18 bounds, so that a sub-millisecond request
// and a minute-long one each land in a bucket of their own, with 0.1 and
// 0.5 among them so that latency alerts at 100 ms and 500 ms fall on a
// bucket edge. Quantiles need not come from them: every histogram also
// keeps native buckets (see Options.MaxNativeBuckets). Each call returns a
// new slice.
func DefaultBuckets() []float64 {
	return []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}
}

// Defaults of the Options limits.
const (
	DefaultMaxSeriesPerMetric = 1000
	DefaultMaxMetrics         = 10000
	DefaultMaxSeries          = 100000
	DefaultMaxTagValueLength  = 256
	DefaultCallbackTimeout    = time.Second
)

// TruncationMarker ends a tag value cut to Options.MaxTagValueLength.
const TruncationMarker = metricsink.TruncationMarker

// maxOverflowSeries bounds the overflow series of one metric (one per
// distinct set of tag keys); samples past it are dropped and counted.
const maxOverflowSeries = 16

// maxRemembered bounds the rejected names and tags the lookup remembers.
const maxRemembered = 1024

// maxKeyBytes is the longest raw name and tags (together) the lookup
// remembers; longer ones are resolved on every call, which locks and
// allocates.
const maxKeyBytes = 1024

// selfLabels are the label names of the registry's own families; constant
// labels may not use them.
var selfLabels = []string{"reason", "metric", "url"}

// Options configures New. A nil or zero Options consists entirely of
// default values. New never writes to it.
type Options struct {
	// Namespace, when set, is prefixed with an underscore to every metric
	// name recorded through the Sink methods ("app" turns comments.created
	// into app_comments_created_total). It must already be snake_case.
	// Runtime, process and metricsink_* metrics are not prefixed. It may
	// not make every name reserved: "metricsink" (or metricsink_...) is
	// refused, and so are "go" and "process" (or go_..., process_...)
	// unless DisableRuntimeMetrics is set. Default: none.
	Namespace string

	// ConstLabels are added to every series, the runtime and process ones
	// included. Keys must be snake_case label names, not reserved (le,
	// quantile, __*) and not a label of the registry's own metrics
	// (reason, metric, url); values must be valid UTF-8. Sink calls may
	// not use these keys as tags. Default: none.
	ConstLabels map[string]string

	// Buckets are the upper bounds of the buckets of every histogram not
	// declared with its own, in increasing order. Default:
	// DefaultBuckets().
	Buckets []float64

	// MaxNativeBuckets is the most native (sparse exponential) buckets a
	// histogram series keeps, counted from its lowest bucket to its
	// highest, at least 72. A series starts at schema 3 (bounds 2^(1/8)
	// apart, a relative error of at most about 4.3%); when an observation
	// would need more buckets, the series halves its resolution (schema
	// 2, 1, ... down to -4, where every finite value fits in 72 buckets),
	// as Prometheus' native histograms do, for the rest of its life.
	// Default: DefaultMaxNativeBuckets (160: at schema 3, 20 powers of
	// two, such as 10 µs to 10 s).
	MaxNativeBuckets int

	// MaxSeriesPerMetric is the most series one metric name may have;
	// past it, new tag combinations are recorded in one overflow series
	// whose tag values are all "other", and GaugeFunc and CounterFunc
	// registrations are refused (counted with reason overflow).
	// Default: DefaultMaxSeriesPerMetric.
	MaxSeriesPerMetric int

	// MaxMetrics is the most metric names the registry holds, its own
	// excluded. Samples of further names are dropped and counted (reason
	// overflow). Default: DefaultMaxMetrics.
	MaxMetrics int

	// MaxSeries is the most series the registry holds over every metric.
	// Samples that would create more are dropped and counted (reason
	// overflow) and one warning is logged. Default: DefaultMaxSeries.
	MaxSeries int

	// MaxTagValueLength is the longest tag value, in bytes, that a series
	// keeps, at least 16. A longer value is cut at a character boundary
	// and ends with TruncationMarker, the whole within the limit; values
	// that differ only past it are one series. Default:
	// DefaultMaxTagValueLength.
	MaxTagValueLength int

	// CallbackTimeout is the longest a scrape, a push or Snapshot waits
	// for the GaugeFunc and CounterFunc callbacks, all together. A
	// callback that has not returned by then is left out of that
	// exposition and counted (reason timeout); until it returns it is not
	// called again, and each exposition it misses is counted.
	// Default: DefaultCallbackTimeout.
	CallbackTimeout time.Duration

	// DisableRuntimeMetrics turns off the go_* and process_* families.
	// Default: false (they are exposed).
	DisableRuntimeMetrics bool

	// Logger receives the warnings about rejected names, tags and values,
	// each logged once per name and reason, never while the registry holds
	// a lock. Default: slog.Default() at the time of each warning.
	Logger *slog.Logger
}

// Registry is a metrics registry that serves the Prometheus text format.
// It implements metricsink.Sink, FuncSink, HandleSink and Declarer, and
// http.Handler; see the package documentation for how names and tags are
// mapped and which samples are dropped. All methods are safe for
// concurrent use.
type Registry struct {
	namespace   string
	constLabels []Tag // sorted by key
	buckets     []float64
	maxNative   int // native buckets per histogram series
	maxSeries   int // per metric
	maxTotal    int
	runtime     bool
	logger      *slog.Logger

	// lookup finds the entry of a raw op, name and tags without a lock:
	// the registry's one lookup structure; a miss resolves under mu.
	lookup metricsink.Lookup[*entry]
	guard  metricsink.Guard
	drops  *metricsink.Drops
	funcs  *metricsink.Funcs

	// sorted is every family, sorted by name; replaced under mu.
	sorted atomic.Pointer[[]*family]

	mu         sync.Mutex
	kinds      *metricsink.Kinds
	families   map[string]*family // exposition name -> family
	taken      map[string]*family // every name a family uses, _bucket etc. included
	remembered int                // rejected samples the lookup remembers

	overflowFam *family
	pushFam     *family

	pushes pushers
}

var (
	_ metricsink.Sink         = (*Registry)(nil)
	_ metricsink.FuncSink     = (*Registry)(nil)
	_ metricsink.HandleSink   = (*Registry)(nil)
	_ metricsink.Declarer     = (*Registry)(nil)
	_ metricsink.ExemplarSink = (*Registry)(nil)
)

// entry is what the lookup remembers of one raw op, name and tags.
type entry struct {
	s   *series // nil when the sample is dropped
	ov  *series // counts the samples s receives as overflow, or nil
	why drop.Reason
}

// New returns a registry configured by opts (nil means all defaults). It
// returns an error naming the option when opts is invalid.
func New(opts *Options) (*Registry, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	p := &Registry{
		runtime:  !o.DisableRuntimeMetrics,
		logger:   o.Logger,
		families: make(map[string]*family),
		taken:    make(map[string]*family),
	}
	if ns := o.Namespace; ns != "" {
		if snake(ns) != ns {
			return nil, fmt.Errorf("prometheus: Options.Namespace %q is not a snake_case name; accepted: lower-case letters, digits and single underscores, such as %q", ns, snake(ns))
		}
		if why := lintName(ns, ""); why != "" {
			return nil, fmt.Errorf("prometheus: Options.Namespace %q is not accepted: %s", ns, why)
		}
		if strings.HasPrefix(ns+"_", "metricsink_") {
			return nil, fmt.Errorf("prometheus: Options.Namespace %q is not accepted: metricsink_* names are reserved for the registry's own metrics", ns)
		}
		if p.runtime && (strings.HasPrefix(ns+"_", "go_") || strings.HasPrefix(ns+"_", "process_")) {
			return nil, fmt.Errorf("prometheus: Options.Namespace %q is not accepted with runtime metrics on: go_* and process_* names are reserved for them; choose another namespace or set DisableRuntimeMetrics", ns)
		}
		p.namespace = ns
	}
	var errs []error
	limit := func(name string, v, def int) int {
		n, err := metricsink.Limit("prometheus: Options."+name, v, def)
		errs = append(errs, err)
		return n
	}
	p.maxSeries = limit("MaxSeriesPerMetric", o.MaxSeriesPerMetric, DefaultMaxSeriesPerMetric)
	maxMetrics := limit("MaxMetrics", o.MaxMetrics, DefaultMaxMetrics)
	p.maxTotal = limit("MaxSeries", o.MaxSeries, DefaultMaxSeries)
	maxValueLen := limit("MaxTagValueLength", o.MaxTagValueLength, DefaultMaxTagValueLength)
	p.maxNative = limit("MaxNativeBuckets", o.MaxNativeBuckets, DefaultMaxNativeBuckets)
	cbTimeout, err := metricsink.Limit("prometheus: Options.CallbackTimeout", o.CallbackTimeout, DefaultCallbackTimeout)
	if err := errors.Join(append(errs, err)...); err != nil {
		return nil, err
	}
	if maxValueLen < 16 {
		return nil, fmt.Errorf("prometheus: Options.MaxTagValueLength %d is too small; accepted: 0 (default %d) or 16 and more", maxValueLen, DefaultMaxTagValueLength)
	}
	if p.maxNative < minNativeBuckets {
		return nil, fmt.Errorf("prometheus: Options.MaxNativeBuckets %d is too small; accepted: 0 (default %d) or %d and more, the buckets every finite value needs at the coarsest schema", p.maxNative, DefaultMaxNativeBuckets, minNativeBuckets)
	}
	p.buckets = DefaultBuckets()
	if len(o.Buckets) > 0 {
		if err := (metricsink.Desc{Name: "buckets", Kind: metricsink.Histogram, Buckets: o.Buckets}).Validate(); err != nil {
			return nil, fmt.Errorf("prometheus: Options.Buckets %v: accepted: finite upper bounds in strictly increasing order (+Inf is implied), at most 256", o.Buckets)
		}
		p.buckets = slices.Clone(o.Buckets)
	}
	reserved := []string{"le", "quantile"}
	for _, k := range slices.Sorted(maps.Keys(o.ConstLabels)) {
		v := o.ConstLabels[k]
		if k == "" || snake(k) != k || strings.HasPrefix(k, "__") || slices.Contains(reserved[:2], k) {
			return nil, fmt.Errorf("prometheus: Options.ConstLabels key %q is not accepted: use a snake_case label name other than le, quantile and __*", k)
		}
		if slices.Contains(selfLabels, k) {
			return nil, fmt.Errorf("prometheus: Options.ConstLabels key %q is not accepted: reason, metric and url are labels of the registry's own metrics", k)
		}
		if !utf8.ValidString(v) {
			return nil, fmt.Errorf("prometheus: Options.ConstLabels[%q] = %q is not valid UTF-8", k, v)
		}
		p.constLabels = append(p.constLabels, Tag{Key: k, Value: v})
		reserved = append(reserved, k)
	}
	p.guard = metricsink.NewGuard(maxValueLen, reserved...)
	p.drops = metricsink.NewDrops("prometheus", o.Logger)
	p.funcs = metricsink.NewFuncs(cbTimeout, p.drops, false)
	p.kinds = metricsink.NewKinds("prometheus", p.drops, "Options.MaxMetrics", maxMetrics, p.maxSeries, p.maxTotal)
	p.lookup.Init(2*p.maxTotal+maxRemembered, maxKeyBytes)
	p.sorted.Store(&[]*family{})

	p.mu.Lock()
	reasons := make([]string, 0, len(registryReasons))
	for _, r := range registryReasons {
		reasons = append(reasons, r.String())
	}
	dropFam := p.newFamilyLocked("metricsink_dropped_samples_total", metricsink.Counter,
		"Samples the metrics registry dropped, by reason: "+strings.Join(reasons, ", ")+".", "", nil, true)
	for _, r := range registryReasons {
		p.newSeriesLocked(dropFam, []Tag{{Key: "reason", Value: r.String()}}, func(s *series) {
			s.read = func() float64 { return float64(p.drops.Load(r)) }
		})
	}
	p.overflowFam = p.newFamilyLocked("metricsink_overflow_series_total", metricsink.Counter,
		"Samples recorded in an overflow series because their metric had reached its series limit.", "", nil, true)
	p.pushFam = p.newFamilyLocked("metricsink_push_errors_total", metricsink.Counter,
		"Pushes of the registry to a remote endpoint that failed.", "", nil, true)
	p.mu.Unlock()
	return p, nil
}

// registryReasons are the drop reasons that can happen in a Registry, the
// values of metricsink_dropped_samples_total's reason label.
var registryReasons = []drop.Reason{
	drop.InvalidName, drop.InvalidTags, drop.ReservedLabel, drop.TypeClash,
	drop.InvalidValue, drop.Duplicate, drop.Overflow, drop.Panic, drop.Timeout,
}

// Stats are a Registry's counts.
type Stats struct {
	// Dropped counts the samples dropped so far, by reason (see the
	// package documentation); metricsink_dropped_samples_total exposes
	// the same counts.
	Dropped drop.Counts
	// Metrics and Series are the metric names and the series the registry
	// holds, its own excluded.
	Metrics, Series int
	// PushErrors counts failed pushes (see Push).
	PushErrors uint64
}

// Stats returns the registry's counts so far.
func (p *Registry) Stats() Stats {
	p.mu.Lock()
	names, series := p.kinds.Names(), p.kinds.Series()
	var pushErrs uint64
	for _, s := range *p.pushFam.list.Load() {
		pushErrs += s.ints.Load()
	}
	p.mu.Unlock()
	return Stats{Dropped: p.drops.Counts(), Metrics: names, Series: series, PushErrors: pushErrs}
}

// Increment adds value to the counter name, exposed as name mapped to
// snake_case, its declared unit and "_total" appended. Negative, NaN and
// infinite values are dropped and counted (reason invalid_value).
func (p *Registry) Increment(name string, value float64, tags metricsink.Tags) {
	if !validNonNegative(value) {
		p.drops.Drop(drop.InvalidValue, metricsink.Counter, name, "counter increments must be finite and not negative")
		return
	}
	if e := p.lookup.Find(metricsink.OpIncrement, name, &tags, (*resolver)(p)); e.s == nil {
		p.drops.Add(e.why, 1) // a rejected sample the lookup remembers; 0: counted already
	} else {
		e.s.addCounter(value)
		if e.ov != nil {
			e.ov.addCounter(1)
		}
	}
}

// Gauge sets the gauge name to value. NaN and ±Inf are recorded as they
// are: the text format carries them.
func (p *Registry) Gauge(name string, value float64, tags metricsink.Tags) {
	if e := p.lookup.Find(metricsink.OpGauge, name, &tags, (*resolver)(p)); e.s == nil {
		p.drops.Add(e.why, 1) // a rejected sample the lookup remembers; 0: counted already
	} else {
		e.s.bits.Store(math.Float64bits(value))
		if e.ov != nil {
			e.ov.addCounter(1)
		}
	}
}

// Histogram records value in the histogram name, with the buckets of its
// declaration or Options.Buckets. Negative, NaN and infinite values are
// dropped and counted (reason invalid_value).
func (p *Registry) Histogram(name string, value float64, tags metricsink.Tags) {
	if !validNonNegative(value) {
		p.drops.Drop(drop.InvalidValue, metricsink.Histogram, name, "histogram observations must be finite and not negative")
		return
	}
	p.observe(metricsink.OpHistogram, name, value, &tags, nil)
}

// Duration records d, in seconds, in the histogram name with "_seconds"
// appended unless name already ends with it. Negative durations are
// dropped and counted (reason invalid_value), and so are durations
// recorded into a histogram declared with a unit other than seconds
// (reason type_clash).
func (p *Registry) Duration(name string, d time.Duration, tags metricsink.Tags) {
	if d < 0 {
		p.drops.Drop(drop.InvalidValue, metricsink.Histogram, name, "durations must not be negative")
		return
	}
	p.observe(metricsink.OpDuration, name, d.Seconds(), &tags, nil)
}

// HistogramExemplar records value as Histogram does, with ex as the
// exemplar of its classic bucket and the series' latest one, stamped with
// value and the time now (metricsink.HistogramContext calls it with the
// span of a context). An exemplar without a valid trace id is not kept.
func (p *Registry) HistogramExemplar(name string, value float64, tags metricsink.Tags, ex metricsink.Exemplar) {
	if !validNonNegative(value) {
		p.drops.Drop(drop.InvalidValue, metricsink.Histogram, name, "histogram observations must be finite and not negative")
		return
	}
	p.observe(metricsink.OpHistogram, name, value, &tags, &ex)
}

// DurationExemplar records d as Duration does, with ex as
// HistogramExemplar keeps it.
func (p *Registry) DurationExemplar(name string, d time.Duration, tags metricsink.Tags, ex metricsink.Exemplar) {
	if d < 0 {
		p.drops.Drop(drop.InvalidValue, metricsink.Histogram, name, "durations must not be negative")
		return
	}
	p.observe(metricsink.OpDuration, name, d.Seconds(), &tags, &ex)
}

// observe records v, checked, in the histogram series of op, name and
// tags, with ex when it is not nil.
func (p *Registry) observe(op metricsink.Op, name string, v float64, tags *metricsink.Tags, ex *metricsink.Exemplar) {
	if e := p.lookup.Find(op, name, tags, (*resolver)(p)); e.s == nil {
		p.drops.Add(e.why, 1) // a rejected sample the lookup remembers; 0: counted already
	} else {
		if ex != nil {
			e.s.observeExemplar(v, ex)
		} else {
			e.s.observe(v)
		}
		if e.ov != nil {
			e.ov.addCounter(1)
		}
	}
}

func validNonNegative(v float64) bool { return v >= 0 && v <= math.MaxFloat64 }

// The Sink methods find the entry of a sample with p.lookup.Find,
// inlined: a known op, name and tags cost one call, no lock and no
// allocation; anything else is resolved under the lock
// (resolver.Resolve). An entry without series is a rejected sample the
// lookup remembers (counted by the caller) or counted (why 0).

// counted is what resolver.Resolve returns for a sample it dropped and
// counted already.
var counted = &entry{}

// resolver is the Registry as the metricsink.Resolver of its lookup.
type resolver Registry

// Resolve is find's slow path: misbuilt tags, or a key the lookup does
// not know, resolved and remembered.
func (r *resolver) Resolve(op metricsink.Op, name string, tags metricsink.Tags) *entry {
	p := (*Registry)(r)
	list, err := metricsink.View(&tags)
	if err != nil {
		p.drops.Drop(drop.InvalidTags, op.Kind(), name, err.Error())
		return counted
	}
	if e := p.resolve(op, name, &tags, list, true); e.s != nil {
		return e
	}
	return counted
}

// resolve finds or creates the series of a sample under the lock, counts
// a drop, and remembers the result in the lookup when remember is set and
// the lookup's bounds allow.
func (p *Registry) resolve(op metricsink.Op, name string, tags *metricsink.Tags, list []Tag, remember bool) (e *entry) {
	defer p.drops.Emit()
	defer func() {
		if r := recover(); r != nil {
			p.drops.Add(drop.Panic, 1)
			p.drops.Warn("panic\x00"+name, "recovered from a panic while recording; sample dropped",
				slog.String("metric", name), slog.Any("panic", r))
			e = &entry{why: drop.Panic}
		}
	}()
	p.mu.Lock()
	defer p.mu.Unlock()
	if remember {
		if old, ok := p.lookup.Get(op, name, list); ok { // resolved meanwhile
			if old.s == nil {
				p.drops.Add(old.why, 1)
				return counted
			}
			return old
		}
	}
	e = p.entryLocked(op, name, tags)
	if !remember {
		return e
	}
	switch {
	case e.s == nil && p.remembered >= maxRemembered:
		return e
	case e.s == nil:
		p.remembered++
	case e.ov != nil && e.s.fam.rawOverflow >= p.maxSeries:
		return e // ever new values past the limit: resolved each time
	case e.ov != nil:
		e.s.fam.rawOverflow++
	}
	p.lookup.Put(op, name, list, e)
	return e
}

// entryLocked finds or creates the series of a sample, or returns an
// entry without series after counting the drop.
func (p *Registry) entryLocked(op metricsink.Op, name string, tags *metricsink.Tags) *entry {
	k := op.Kind()
	m, why, msg := p.kinds.Use(op, name, p.createFamily)
	if m == nil {
		if msg != "" {
			p.drops.Queue(why, k, name, msg)
		}
		return &entry{why: why}
	}
	fam := m.Data.(*family)
	labels, why, msg := p.labels(tags)
	if why != 0 {
		p.drops.Queue(why, k, name, msg)
		return &entry{why: why}
	}
	canon := string(renderLabels(nil, labels))
	if s := fam.byCanon[canon]; s != nil {
		if s.fn != nil {
			p.drops.Queue(drop.TypeClash, k, name, "the series is read from a callback registered with GaugeFunc or CounterFunc")
			return &entry{why: drop.TypeClash}
		}
		if s.overflow {
			return &entry{s: s, ov: p.ovCountLocked(fam)}
		}
		return &entry{s: s}
	}
	switch p.kinds.AddSeries(fam.m, false) {
	case metricsink.RoomMetricFull:
		return p.overflowLocked(fam, k, labels)
	case metricsink.RoomFull:
		p.drops.Add(drop.Overflow, 1)
		p.drops.Warn("overflow-total", "the registry reached its limit on series (Options.MaxSeries); samples of new series are dropped",
			slog.Int("limit", p.maxTotal))
		return &entry{why: drop.Overflow}
	}
	return &entry{s: p.newSeriesLocked(fam, labels, nil)}
}

// overflowLocked returns the entry of a sample of fam past its series
// limit: the series with every tag value "other" (constant labels
// excepted), a real series when one has those labels, else an overflow
// series; its samples are counted in metricsink_overflow_series_total.
func (p *Registry) overflowLocked(fam *family, k metricsink.Kind, labels []Tag) *entry {
	other := make([]Tag, len(labels))
	for i, t := range labels {
		other[i] = t
		if !p.isConst(t.Key) {
			other[i].Value = "other"
		}
	}
	canon := string(renderLabels(nil, other))
	s := fam.byCanon[canon]
	if s == nil {
		if fam.noverflow >= maxOverflowSeries {
			p.drops.Queue(drop.Overflow, k, fam.name, "too many distinct tag key sets past the series limit")
			return &entry{why: drop.Overflow}
		}
		if p.kinds.AddSeries(fam.m, true) != metricsink.RoomOK {
			p.drops.Queue(drop.Overflow, k, fam.name, "the registry reached its limit on series (Options.MaxSeries)")
			return &entry{why: drop.Overflow}
		}
		s = p.newSeriesLocked(fam, other, func(s *series) { s.overflow = true })
		fam.noverflow++
		p.drops.Warn("overflow\x00"+fam.name, "metric reached its series limit; new tag combinations are recorded with every tag value \"other\"",
			slog.String("metric", fam.name), slog.Int("limit", p.maxSeries))
	}
	if s.fn != nil {
		p.drops.Queue(drop.TypeClash, k, fam.name, "the overflow series is read from a callback")
		return &entry{why: drop.TypeClash}
	}
	return &entry{s: s, ov: p.ovCountLocked(fam)}
}

func (p *Registry) isConst(key string) bool {
	for _, c := range p.constLabels {
		if c.Key == key {
			return true
		}
	}
	return false
}

func (p *Registry) ovCountLocked(fam *family) *series {
	if fam.ovCount == nil {
		fam.ovCount = p.newSeriesLocked(p.overflowFam, []Tag{{Key: "metric", Value: fam.name}}, nil)
	}
	return fam.ovCount
}

// exposedName returns the exposition name of base for kind k and unit.
func (p *Registry) exposedName(base string, k metricsink.Kind, unit string) string {
	b := make([]byte, 0, len(p.namespace)+len(base)+len(unit)+8)
	if p.namespace != "" {
		b = append(b, p.namespace...)
		b = append(b, '_')
	}
	b = append(b, base...)
	if unit != "" && base != unit && !strings.HasSuffix(base, "_"+unit) {
		b = append(b, '_')
		b = append(b, unit...)
	}
	if k == metricsink.Counter && !strings.HasSuffix(string(b), "_total") {
		b = append(b, "_total"...)
	}
	return string(b)
}

// createFamily is the registry's part of a new metric of the kind table:
// its family, or the family of another name with the same exposition
// name, or the reason the name cannot be exposed. Called with mu held.
func (p *Registry) createFamily(m *metricsink.Metric) (*metricsink.Metric, drop.Reason, string) {
	d := m.Desc
	if len(p.namespace)+len(m.Base) > metricsink.MaxNameLen {
		return nil, drop.InvalidName, "the name is longer than " + strconv.Itoa(metricsink.MaxNameLen) + " characters once mapped"
	}
	mapped := p.exposedName(m.Base, d.Kind, d.Unit)
	typ := d.Kind.String()
	if why := lintName(mapped, typ); why != "" {
		return nil, drop.InvalidName, mapped + ": " + why
	}
	if p.runtime && (strings.HasPrefix(mapped, "go_") || strings.HasPrefix(mapped, "process_")) {
		return nil, drop.InvalidName, mapped + ": go_* and process_* are reserved for the runtime metrics"
	}
	if strings.HasPrefix(mapped, "metricsink_") {
		return nil, drop.InvalidName, mapped + ": metricsink_* is reserved for the registry's own metrics"
	}
	if fam, ok := p.families[mapped]; ok {
		// Another raw name with the same exposition: "x" and "x_total"
		// for a counter, or "x.seconds" and a Duration of "x".
		if fam.internal || fam.kind != d.Kind || fam.unit != d.Unit {
			return nil, drop.TypeClash, mapped + " is already a " + fam.kind.String()
		}
		return fam.m, 0, ""
	}
	if other, ok := p.taken[mapped]; ok {
		return nil, drop.TypeClash, mapped + " is already used by the " + other.kind.String() + " " + other.name
	}
	if d.Kind == metricsink.Histogram {
		for _, suf := range [...]string{"_bucket", "_sum", "_count"} {
			if other, ok := p.taken[mapped+suf]; ok {
				return nil, drop.TypeClash, mapped + suf + " is already used by the " + other.kind.String() + " " + other.name
			}
		}
	}
	help := d.Help
	if help == "" {
		help = typ + " " + strconv.Quote(d.Name) + " (recorded through metricsink without a declaration)"
	}
	var buckets []float64
	if d.Kind == metricsink.Histogram {
		buckets = p.buckets
		if len(d.Buckets) > 0 {
			buckets = slices.Clone(d.Buckets)
		}
	}
	fam := p.newFamilyLocked(mapped, d.Kind, help, d.Unit, buckets, false)
	fam.m = m
	m.Data = fam
	return nil, 0, ""
}

// Declare declares d: its help text, unit and buckets are those of the
// family it names from now on. Declaring a name already in use is accepted
// when the kind and unit agree, and the buckets too once it has series;
// otherwise it returns an error (and the earlier use wins). Declaring the
// same Desc again returns nil.
func (p *Registry) Declare(d metricsink.Desc) error {
	if err := d.Validate(); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	m, existed, err := p.kinds.Declare(d, p.createFamily)
	if err != nil || !existed {
		return err
	}
	fam := m.Data.(*family)
	if len(d.Buckets) > 0 && !slices.Equal(d.Buckets, fam.buckets.Load().bounds) && len(*fam.list.Load()) > 0 {
		return fmt.Errorf("prometheus: Declare %q with buckets %v: %s already has series with buckets %v", d.Name, d.Buckets, fam.name, fam.buckets.Load().bounds)
	}
	if d.Help != "" {
		fam.setHelp(d.Help)
	}
	if len(d.Buckets) > 0 {
		fam.setBuckets(d.Buckets)
	}
	m.Declared = true
	return nil
}

// labels maps and validates tags (metricsink.Guard), returning them with
// the constant labels, sorted by key and owned, or the reason to drop the
// sample.
func (p *Registry) labels(tags *metricsink.Tags) ([]Tag, drop.Reason, string) {
	out, why, msg := p.guard.Tags(make([]Tag, 0, tags.Len()+len(p.constLabels)), tags, true)
	if why != 0 {
		return nil, why, msg
	}
	for i := range out {
		out[i].Value = strings.Clone(out[i].Value)
	}
	out = append(out, p.constLabels...)
	slices.SortFunc(out, func(a, b Tag) int { return strings.Compare(a.Key, b.Key) })
	return out, 0, ""
}

// renderLabels appends {k="v",...} to dst, or nothing for no labels.
func renderLabels(dst []byte, labels []Tag) []byte {
	if len(labels) == 0 {
		return dst
	}
	dst = append(dst, '{')
	dst = appendLabelPairs(dst, labels)
	return append(dst, '}')
}

// appendLabelPairs appends k="v",... to dst.
func appendLabelPairs(dst []byte, labels []Tag) []byte {
	for i, t := range labels {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, t.Key...)
		dst = append(dst, '=', '"')
		dst = appendLabelValue(dst, t.Value)
		dst = append(dst, '"')
	}
	return dst
}

// Flush pushes the exposition now to every endpoint a running Push sends
// to, and returns their errors, by ctx's end. Without Push there is
// nothing to deliver: a scrape reads the registry.
func (p *Registry) Flush(ctx context.Context) error { return p.pushes.flush(ctx) }

// Close ends every running Push, each with a last push of the final
// values by ctx's end, and returns their errors. The registry goes on
// recording and serving: a scrape after Close reads the final values.
// Calling Close again returns nil.
func (p *Registry) Close(ctx context.Context) error { return p.pushes.close(ctx) }
