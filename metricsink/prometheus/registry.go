package prometheus

import (
	"context"
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

	"github.com/VictoriaMetrics/metrics"

	"github.com/realtimeserver/observability/drop"
	"github.com/realtimeserver/observability/metricsink"
)

type Tag = metricsink.Tag

// DefaultBuckets are the histogram bucket upper bounds, in seconds for
// durations, used when neither a declaration nor Options.Buckets gives
// others. They include 0.1 and 0.5 so that latency alerts at 100 ms and
// 500 ms fall on a bucket edge. New copies it; set Options.Buckets or
// declare a metric rather than changing it.
var DefaultBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Defaults of the Options limits.
const (
	DefaultMaxSeriesPerMetric = 1000
	DefaultMaxMetrics         = 10000
	DefaultMaxSeries          = 100000
	DefaultMaxTagValueLength  = 256
	DefaultCallbackTimeout    = time.Second
)

// TruncationMarker ends a tag value cut to Options.MaxTagValueLength.
const TruncationMarker = "…"

// maxOverflowSeries bounds the overflow series of one metric (one per
// distinct set of tag keys); samples past it are dropped and counted.
const maxOverflowSeries = 16

// maxRemembered bounds the warnings remembered as logged, and the rejected
// raw names and tags remembered by the lookup.
const maxRemembered = 1024

// maxNameLen and maxKeyLen bound the length of a metric name (namespace
// and unit suffixes aside) and of a tag key, once mapped to snake_case;
// longer ones are dropped and counted (invalid_name, invalid_tags).
const (
	maxNameLen = 200
	maxKeyLen  = 100
)

// maxRawKey is the longest raw name and tags the lookup remembers; longer
// ones are resolved on every call, which locks and allocates.
const maxRawKey = 256

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
	// declared with its own, in increasing order. Default: DefaultBuckets.
	Buckets []float64

	// MaxSeriesPerMetric is the most series one metric name may have;
	// past it, new tag combinations are recorded in one overflow series
	// whose tag values are all "other", and GaugeFunc and CounterFunc
	// registrations are refused (counted with reason overflow).
	// Default: DefaultMaxSeriesPerMetric.
	MaxSeriesPerMetric int

	// MaxMetrics is the most metric names (families) the registry holds,
	// its own excluded. Samples of further names are dropped and counted
	// (reason overflow) and one warning is logged. Default:
	// DefaultMaxMetrics.
	MaxMetrics int

	// MaxSeries is the most series the registry holds over every metric.
	// Samples that would create more are dropped and counted (reason
	// overflow) and one warning is logged. Default: DefaultMaxSeries.
	MaxSeries int

	// MaxTagValueLength is the longest tag value, in bytes, that a series
	// keeps. A longer value is cut at a character boundary and ends with
	// TruncationMarker, the whole within the limit; values that differ
	// only past it are one series. Default: DefaultMaxTagValueLength.
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

	// UseGlobalSet makes the registry write into the VictoriaMetrics
	// package's default set (metrics.GetDefaultSet()) instead of a set of
	// its own, so that metrics.WritePrometheus includes its families. The
	// go_* and process_* families are then left to VictoriaMetrics:
	// metrics.WritePrometheus(w, true) writes its own, and never ours as
	// well; the registry's WritePrometheus, ServeHTTP and Push still add
	// ours, once. Default: false.
	UseGlobalSet bool

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
	set         *metrics.Set
	namespace   string
	constLabels []Tag // sorted by key
	constKeys   map[string]bool
	buckets     []float64
	maxSeries   int // per metric
	maxMetrics  int
	maxTotal    int
	maxValueLen int
	cbTimeout   time.Duration
	runtime     bool
	runtimeTail []byte // const labels rendered for runtime lines: `k="v",...`
	logger      *slog.Logger

	// raw finds the entry of a raw kind, name and tags without a lock:
	// an immutable map, replaced under mu.
	raw atomic.Pointer[map[string]*entry]
	// hot finds the entry of a raw name and tags faster still: by the
	// name, then among the first few tag lists seen with it, compared in
	// place. Immutable, replaced under mu.
	hot atomic.Pointer[map[string]*hotName]
	// hint finds the entry of hot for a raw name without hashing it: a
	// slot per hintIndex, holding the first name created there; see
	// hint.go.
	hint [hintSlots]atomic.Pointer[hotName]
	// sorted is every family, sorted by name; replaced under mu.
	sorted atomic.Pointer[[]*family]
	// funcs is every series read from a callback; replaced under mu.
	funcs atomic.Pointer[[]*series]

	dropped drop.Counter

	mu         sync.Mutex
	rawDirty   map[string]*entry
	rawMisses  int
	rawDropped int                // drop entries in rawDirty
	byBase     map[string]*family // snake_case raw name -> family
	families   map[string]*family // exposition name -> family
	taken      map[string]*family // every name a family uses, _bucket etc. included
	nfamilies  int                // families not internal
	nseries    int                // series of families not internal
	logged     map[string]bool    // warnings already logged
	loggedFull bool
	pending    []warning // warnings to log once mu is released

	overflowFam *family
	pushFam     *family
}

var (
	_ metricsink.Sink       = (*Registry)(nil)
	_ metricsink.FuncSink   = (*Registry)(nil)
	_ metricsink.HandleSink = (*Registry)(nil)
	_ metricsink.Declarer   = (*Registry)(nil)
)

// op is what a call records: it decides the kind and the name mapping.
type op uint8

const (
	opCounter op = iota + 1
	opGauge
	opHistogram
	opDuration
	opCounterFunc
	opGaugeFunc
)

func (o op) kind() metricsink.Kind {
	switch o {
	case opCounter, opCounterFunc:
		return metricsink.Counter
	case opGauge, opGaugeFunc:
		return metricsink.Gauge
	}
	return metricsink.Histogram
}

func (o op) typ() string { return o.kind().String() }

type warning struct {
	msg   string
	attrs []slog.Attr
}

// entry is what the lookup remembers of one raw kind, name and tags.
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
		maxSeries:   o.MaxSeriesPerMetric,
		maxMetrics:  o.MaxMetrics,
		maxTotal:    o.MaxSeries,
		maxValueLen: o.MaxTagValueLength,
		cbTimeout:   o.CallbackTimeout,
		runtime:     !o.DisableRuntimeMetrics,
		logger:      o.Logger,
		rawDirty:    make(map[string]*entry),
		byBase:      make(map[string]*family),
		families:    make(map[string]*family),
		taken:       make(map[string]*family),
		logged:      make(map[string]bool),
		constKeys:   make(map[string]bool),
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
	for _, lim := range []struct {
		name string
		v    *int
		def  int
	}{
		{"MaxSeriesPerMetric", &p.maxSeries, DefaultMaxSeriesPerMetric},
		{"MaxMetrics", &p.maxMetrics, DefaultMaxMetrics},
		{"MaxSeries", &p.maxTotal, DefaultMaxSeries},
		{"MaxTagValueLength", &p.maxValueLen, DefaultMaxTagValueLength},
	} {
		switch {
		case *lim.v == 0:
			*lim.v = lim.def
		case *lim.v < 0:
			return nil, fmt.Errorf("prometheus: Options.%s %d is negative; accepted: 0 (default %d) or more", lim.name, *lim.v, lim.def)
		}
	}
	if p.maxValueLen < 16 {
		return nil, fmt.Errorf("prometheus: Options.MaxTagValueLength %d is too small; accepted: 0 (default %d) or 16 and more", p.maxValueLen, DefaultMaxTagValueLength)
	}
	switch {
	case p.cbTimeout == 0:
		p.cbTimeout = DefaultCallbackTimeout
	case p.cbTimeout < 0:
		return nil, fmt.Errorf("prometheus: Options.CallbackTimeout %v is negative; accepted: 0 (default %v) or more", p.cbTimeout, DefaultCallbackTimeout)
	}
	p.buckets = slices.Clone(DefaultBuckets)
	if len(o.Buckets) > 0 {
		if err := (metricsink.Desc{Name: "buckets", Kind: metricsink.Histogram, Buckets: o.Buckets}).Validate(); err != nil {
			return nil, fmt.Errorf("prometheus: Options.Buckets %v: accepted: finite upper bounds in strictly increasing order (+Inf is implied), at most 256", o.Buckets)
		}
		p.buckets = slices.Clone(o.Buckets)
	}
	for _, k := range slices.Sorted(maps.Keys(o.ConstLabels)) {
		v := o.ConstLabels[k]
		if k == "" || snake(k) != k || reservedLabel(k, k) {
			return nil, fmt.Errorf("prometheus: Options.ConstLabels key %q is not accepted: use a snake_case label name other than le, quantile and __*", k)
		}
		if slices.Contains(selfLabels, k) {
			return nil, fmt.Errorf("prometheus: Options.ConstLabels key %q is not accepted: reason, metric and url are labels of the registry's own metrics", k)
		}
		if !utf8.ValidString(v) {
			return nil, fmt.Errorf("prometheus: Options.ConstLabels[%q] = %q is not valid UTF-8", k, v)
		}
		p.constLabels = append(p.constLabels, Tag{Key: k, Value: v})
		p.constKeys[k] = true
	}
	for i, t := range p.constLabels {
		if i > 0 {
			p.runtimeTail = append(p.runtimeTail, ',')
		}
		p.runtimeTail = append(p.runtimeTail, t.Key...)
		p.runtimeTail = append(p.runtimeTail, '=', '"')
		p.runtimeTail = appendLabelValue(p.runtimeTail, t.Value)
		p.runtimeTail = append(p.runtimeTail, '"')
	}
	if o.UseGlobalSet {
		p.set = metrics.GetDefaultSet()
	} else {
		p.set = metrics.NewSet()
	}
	empty := map[string]*entry{}
	p.raw.Store(&empty)
	p.hot.Store(&map[string]*hotName{})
	p.sorted.Store(&[]*family{})
	p.funcs.Store(&[]*series{})

	p.mu.Lock()
	reasons := make([]string, 0, 9)
	for _, r := range registryReasons {
		reasons = append(reasons, r.String())
	}
	dropFam := p.newFamilyLocked("metricsink_dropped_samples_total", metricsink.Counter,
		"Samples the metrics registry dropped, by reason: "+strings.Join(reasons, ", ")+".", "", nil, true)
	for _, r := range registryReasons {
		p.newSeriesLocked(dropFam, []Tag{{Key: "reason", Value: r.String()}}, func(s *series) {
			s.read = func() float64 { return float64(p.dropped.Load(r)) }
		})
	}
	p.overflowFam = p.newFamilyLocked("metricsink_overflow_series_total", metricsink.Counter,
		"Samples recorded in an overflow series because their metric had reached its series limit.", "", nil, true)
	p.pushFam = p.newFamilyLocked("metricsink_push_errors_total", metricsink.Counter,
		"Pushes of the registry to a remote endpoint that failed.", "", nil, true)
	p.mu.Unlock()

	p.set.RegisterMetricsWriter(p.writeFamilies)
	return p, nil
}

// registryReasons are the drop reasons that can happen in a Registry, the
// values of metricsink_dropped_samples_total's reason label.
var registryReasons = []drop.Reason{
	drop.InvalidName, drop.InvalidTags, drop.ReservedLabel, drop.TypeClash,
	drop.InvalidValue, drop.Duplicate, drop.Overflow, drop.Panic, drop.Timeout,
}

// Dropped returns the counts of samples dropped so far, by reason.
func (p *Registry) Dropped() drop.Counts { return p.dropped.Snapshot() }

// Increment adds value to the counter name, exposed as name mapped to
// snake_case, its declared unit and "_total" appended. Negative, NaN and
// infinite values are dropped and counted (reason invalid_value).
func (p *Registry) Increment(name string, value float64, tags metricsink.Tags) {
	if !validNonNegative(value) {
		p.drop(drop.InvalidValue, "counter", name, "counter increments must be finite and not negative")
		return
	}
	if e := p.lookup(opCounter, name, &tags); e != nil {
		e.s.addCounter(value)
		if e.ov != nil {
			e.ov.addCounter(1)
		}
	}
}

// Gauge sets the gauge name to value. NaN and ±Inf are recorded as they
// are: the text format carries them.
func (p *Registry) Gauge(name string, value float64, tags metricsink.Tags) {
	if e := p.lookup(opGauge, name, &tags); e != nil {
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
		p.drop(drop.InvalidValue, "histogram", name, "histogram observations must be finite and not negative")
		return
	}
	if e := p.lookup(opHistogram, name, &tags); e != nil {
		e.s.observe(value)
		if e.ov != nil {
			e.ov.addCounter(1)
		}
	}
}

// Duration records d, in seconds, in the histogram name with "_seconds"
// appended unless name already ends with it. Negative durations are
// dropped and counted (reason invalid_value), and so are durations
// recorded into a histogram declared with a unit other than seconds
// (reason type_clash).
func (p *Registry) Duration(name string, d time.Duration, tags metricsink.Tags) {
	if d < 0 {
		p.drop(drop.InvalidValue, "histogram", name, "durations must not be negative")
		return
	}
	if e := p.lookup(opDuration, name, &tags); e != nil {
		e.s.observe(d.Seconds())
		if e.ov != nil {
			e.ov.addCounter(1)
		}
	}
}

func validNonNegative(v float64) bool { return v >= 0 && v <= math.MaxFloat64 }

// lookup returns the entry of a sample, or nil when it was dropped (and
// counted). Known raw names and tags are found without a lock or an
// allocation: by the name's slot in the hint table or else the hot map,
// then among the tag lists remembered with the name, compared in place;
// failing that, by the raw-key map (lookupRaw).
//
// metricsink.Tags holds MaxTags tags by value, and its methods copy it:
// metricsink.View reads it through the pointer instead, once.
func (p *Registry) lookup(o op, name string, tags *metricsink.Tags) *entry {
	list, err := metricsink.View(tags)
	if err != nil {
		p.dropTags(o, name, err)
		return nil
	}
	hn := p.hint[hintIndex(name)].Load()
	if hn == nil || hn.name != name {
		hn = (*p.hot.Load())[name]
	}
	if hn != nil {
		if l := hn.lists[o].Load(); l != nil {
			for i := range *l {
				if h := &(*l)[i]; slices.Equal(h.tags, list) {
					return h.e
				}
			}
		}
	}
	return p.lookupRaw(o, name, tags)
}

// dropTags counts and reports a sample dropped for its misbuilt tags. It
// is kept out of lookup, whose frame it would otherwise enlarge.
//
//go:noinline
func (p *Registry) dropTags(o op, name string, err error) {
	p.drop(drop.InvalidTags, o.typ(), name, err.Error())
}

// lookupRaw is lookup past the tag lists compared in place: by the raw
// key, then resolve. It is kept out of lookup so that the fast path does
// not pay for the key buffer.
//
//go:noinline
func (p *Registry) lookupRaw(o op, name string, tags *metricsink.Tags) *entry {
	var buf [maxRawKey]byte
	key, ok := rawKey(&buf, o, name, tags)
	if ok {
		if e := (*p.raw.Load())[string(key)]; e != nil {
			if e.s == nil {
				p.dropped.Add(e.why, 1)
				return nil
			}
			return e
		}
	}
	e := p.resolve(o, name, tags, key, ok)
	if e.s == nil {
		return nil
	}
	return e
}

// rawKey writes the lookup key of a sample to buf: the op, then the name
// and each tag key and value preceded by its length. ok is false when it
// does not fit.
func rawKey(buf *[maxRawKey]byte, o op, name string, tags *metricsink.Tags) (key []byte, ok bool) {
	if len(name) > maxRawKey-2 {
		return nil, false
	}
	buf[0], buf[1] = byte(o), byte(len(name))
	n := 2 + copy(buf[2:], name)
	for i := range tags.Len() {
		t := tags.At(i)
		if len(t.Key) > 255 || len(t.Value) > 255 || n+2+len(t.Key)+len(t.Value) > maxRawKey {
			return nil, false
		}
		buf[n] = byte(len(t.Key))
		n += 1 + copy(buf[n+1:], t.Key)
		buf[n] = byte(len(t.Value))
		n += 1 + copy(buf[n+1:], t.Value)
	}
	return buf[:n], true
}

// resolve is the slow path of lookup: it finds or creates the series
// under the lock, counts a drop, and remembers the raw key when it can.
func (p *Registry) resolve(o op, name string, tags *metricsink.Tags, key []byte, remember bool) (e *entry) {
	defer p.emit()
	defer func() {
		if r := recover(); r != nil {
			p.dropped.Add(drop.Panic, 1)
			p.queueLocked("panic\x00"+name, "metricsink: recovered from a panic while recording; sample dropped",
				slog.String("metric", name), slog.Any("panic", r))
			e = &entry{why: drop.Panic}
		}
	}()
	p.mu.Lock()
	defer p.mu.Unlock()
	if remember {
		if old := p.rawDirty[string(key)]; old != nil {
			p.missLocked()
			if old.s == nil {
				p.dropped.Add(old.why, 1)
			}
			return old
		}
	}
	e = p.entryLocked(o, name, tags)
	if !remember {
		return e
	}
	switch {
	case e.s == nil && p.rawDropped < maxRemembered:
		p.rawDropped++
	case e.s == nil:
		return e
	case len(p.rawDirty)-p.rawDropped >= 2*p.maxTotal+maxRemembered:
		return e
	case e.ov != nil && e.s.fam.rawOverflow >= p.maxSeries:
		return e // ever new values past the limit: resolved each time
	case e.ov != nil:
		e.s.fam.rawOverflow++
	}
	p.rawDirty[string(key)] = e
	p.missLocked()
	if e.s != nil {
		p.addHotLocked(o, name, tags, e)
	}
	return e
}

// maxHotTags is how many tag lists per raw name and op the first level of
// the lookup compares in place.
const maxHotTags = 8

// hotName holds the first tag lists seen with one raw name, per op.
type hotName struct {
	name  string // the raw name, owned
	lists [opGaugeFunc + 1]atomic.Pointer[[]hotTags]
}

type hotTags struct {
	tags []Tag // as the caller gave them
	e    *entry
}

// addHotLocked lets the first level of the lookup find e, within its
// bounds: maxHotTags tag lists per name and op, and as many names as the
// raw map holds.
func (p *Registry) addHotLocked(o op, name string, tags *metricsink.Tags, e *entry) {
	m := *p.hot.Load()
	hn := m[name]
	if hn == nil {
		if len(m) >= p.maxMetrics+maxRemembered {
			return
		}
		hn = &hotName{name: strings.Clone(name)}
		next := make(map[string]*hotName, len(m)+1)
		for k, v := range m {
			next[k] = v
		}
		next[hn.name] = hn
		p.hot.Store(&next)
		p.hint[hintIndex(hn.name)].CompareAndSwap(nil, hn)
	}
	var old []hotTags
	if l := hn.lists[o].Load(); l != nil {
		old = *l
	}
	if len(old) >= maxHotTags {
		return
	}
	next := make([]hotTags, len(old), len(old)+1)
	copy(next, old)
	own := make([]Tag, 0, tags.Len())
	for k, v := range tags.All() {
		own = append(own, Tag{Key: strings.Clone(k), Value: strings.Clone(v)})
	}
	next = append(next, hotTags{tags: own, e: e})
	hn.lists[o].Store(&next)
}

// missLocked publishes the raw map once the lookups that missed it add up
// to a quarter of its size, so that copies cost O(1) per entry amortised.
func (p *Registry) missLocked() {
	p.rawMisses++
	if p.rawMisses <= len(p.rawDirty)/4 {
		return
	}
	m := maps.Clone(p.rawDirty)
	p.raw.Store(&m)
	p.rawMisses = 0
}

// entryLocked finds or creates the series of a sample, or returns an
// entry without series after counting the drop.
func (p *Registry) entryLocked(o op, name string, tags *metricsink.Tags) *entry {
	fam, why, msg := p.familyLocked(o, name)
	if fam == nil {
		p.dropLocked(why, o.typ(), name, msg)
		return &entry{why: why}
	}
	labels, why, msg := p.labelsLocked(tags)
	if why != 0 {
		p.dropLocked(why, o.typ(), name, msg)
		return &entry{why: why}
	}
	canon := string(renderLabels(nil, labels))
	if s := fam.byCanon[canon]; s != nil {
		if s.fn != nil {
			p.dropLocked(drop.TypeClash, o.typ(), name, "the series is read from a callback registered with GaugeFunc or CounterFunc")
			return &entry{why: drop.TypeClash}
		}
		if s.overflow {
			return &entry{s: s, ov: p.ovCountLocked(fam)}
		}
		return &entry{s: s}
	}
	if fam.nreal >= p.maxSeries {
		return p.overflowLocked(fam, o, labels)
	}
	if p.nseries >= p.maxTotal {
		p.dropped.Add(drop.Overflow, 1)
		p.queueLocked("overflow-total", "metricsink: the registry reached its limit on series (Options.MaxSeries); samples of new series are dropped",
			slog.Int("limit", p.maxTotal))
		return &entry{why: drop.Overflow}
	}
	s := p.newSeriesLocked(fam, labels, nil)
	fam.nreal++
	return &entry{s: s}
}

// overflowLocked returns the entry of a sample of fam past its series
// limit: the series with every tag value "other" (constant labels
// excepted), a real series when one has those labels, else an overflow
// series; its samples are counted in metricsink_overflow_series_total.
func (p *Registry) overflowLocked(fam *family, o op, labels []Tag) *entry {
	other := make([]Tag, len(labels))
	for i, t := range labels {
		other[i] = t
		if !p.constKeys[t.Key] {
			other[i].Value = "other"
		}
	}
	canon := string(renderLabels(nil, other))
	s := fam.byCanon[canon]
	if s == nil {
		if fam.noverflow >= maxOverflowSeries {
			p.dropLocked(drop.Overflow, o.typ(), fam.name, "too many distinct tag key sets past the series limit")
			return &entry{why: drop.Overflow}
		}
		s = p.newSeriesLocked(fam, other, func(s *series) { s.overflow = true })
		fam.noverflow++
		p.queueLocked("overflow\x00"+fam.name, "metricsink: metric reached its series limit; new tag combinations are recorded with every tag value \"other\"",
			slog.String("metric", fam.name), slog.Int("limit", p.maxSeries))
	}
	if s.fn != nil {
		p.dropLocked(drop.TypeClash, o.typ(), fam.name, "the overflow series is read from a callback")
		return &entry{why: drop.TypeClash}
	}
	return &entry{s: s, ov: p.ovCountLocked(fam)}
}

func (p *Registry) ovCountLocked(fam *family) *series {
	if fam.ovCount == nil {
		fam.ovCount = p.newSeriesLocked(p.overflowFam, []Tag{{Key: "metric", Value: fam.name}}, nil)
	}
	return fam.ovCount
}

// familyLocked maps name for op o and returns its family, creating it on
// first use, or the reason to drop the sample.
func (p *Registry) familyLocked(o op, name string) (*family, drop.Reason, string) {
	if len(name) > 4*maxNameLen {
		return nil, drop.InvalidName, "the name is longer than " + strconv.Itoa(maxNameLen) + " characters"
	}
	base := snake(name)
	if len(p.namespace)+len(base) > maxNameLen {
		return nil, drop.InvalidName, "the name is longer than " + strconv.Itoa(maxNameLen) + " characters once mapped"
	}
	if base == "" {
		return nil, drop.InvalidName, "the name has no letter or digit"
	}
	k := o.kind()
	if fam := p.byBase[base]; fam != nil {
		if fam.kind != k {
			return nil, drop.TypeClash, fam.name + " is already a " + fam.kind.String()
		}
		if o == opDuration && fam.unit != "seconds" {
			return nil, drop.TypeClash, fam.name + " is a histogram of " + cmpOr(fam.unit, "values without unit") + ", not of seconds"
		}
		return fam, 0, ""
	}
	unit := ""
	if o == opDuration {
		unit = "seconds"
	}
	return p.addFamilyLocked(metricsink.Desc{Name: name, Kind: k, Unit: unit}, base, false)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
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

// addFamilyLocked creates the family of d, whose raw name maps to base,
// or returns the reason it cannot.
func (p *Registry) addFamilyLocked(d metricsink.Desc, base string, declared bool) (*family, drop.Reason, string) {
	mapped := p.exposedName(base, d.Kind, d.Unit)
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
		p.byBase[base] = fam
		return fam, 0, ""
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
	if p.nfamilies >= p.maxMetrics {
		p.queueLocked("overflow-names", "metricsink: the registry reached its limit on metric names (Options.MaxMetrics); samples of new names are dropped",
			slog.Int("limit", p.maxMetrics))
		return nil, drop.Overflow, "too many metric names"
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
	fam.declared = declared
	p.byBase[base] = fam
	p.nfamilies++
	return fam, 0, ""
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
	defer p.emit()
	p.mu.Lock()
	defer p.mu.Unlock()
	base := snake(d.Name)
	if fam := p.byBase[base]; fam != nil {
		switch {
		case fam.kind != d.Kind:
			return fmt.Errorf("prometheus: Declare %q as a %s: %s is already a %s", d.Name, d.Kind, fam.name, fam.kind)
		case fam.unit != d.Unit:
			return fmt.Errorf("prometheus: Declare %q with unit %q: %s already has unit %q", d.Name, d.Unit, fam.name, fam.unit)
		case len(d.Buckets) > 0 && !slices.Equal(d.Buckets, fam.buckets.Load().bounds) && len(*fam.list.Load()) > 0:
			return fmt.Errorf("prometheus: Declare %q with buckets %v: %s already has series with buckets %v", d.Name, d.Buckets, fam.name, fam.buckets.Load().bounds)
		}
		if d.Help != "" {
			fam.setHelp(d.Help)
		}
		if len(d.Buckets) > 0 {
			fam.setBuckets(d.Buckets)
		}
		fam.declared = true
		return nil
	}
	if _, why, msg := p.addFamilyLocked(d, base, true); why != 0 {
		return fmt.Errorf("prometheus: Declare %q: %s (%s)", d.Name, msg, why)
	}
	return nil
}

// labelsLocked maps and validates tags, returning them with the constant
// labels, sorted by key, or the reason to drop the sample.
func (p *Registry) labelsLocked(tags *metricsink.Tags) ([]Tag, drop.Reason, string) {
	out := make([]Tag, 0, tags.Len()+len(p.constLabels))
	for i := range tags.Len() {
		t := tags.At(i)
		if len(t.Key) > 4*maxKeyLen {
			return nil, drop.InvalidTags, "tag key " + quoteShort(t.Key) + " is longer than " + strconv.Itoa(maxKeyLen) + " characters"
		}
		key := snake(t.Key)
		switch {
		case len(key) > maxKeyLen:
			return nil, drop.InvalidTags, "tag key " + quoteShort(t.Key) + " is longer than " + strconv.Itoa(maxKeyLen) + " characters once mapped"
		case key == "":
			return nil, drop.InvalidTags, "tag key " + quoteShort(t.Key) + " has no letter or digit"
		case reservedLabel(t.Key, key) || p.constKeys[key]:
			return nil, drop.ReservedLabel, "tag key " + quoteShort(t.Key) + " is reserved (le, quantile, __*, or a constant label)"
		case key[0] >= '0' && key[0] <= '9':
			return nil, drop.InvalidTags, "tag key " + quoteShort(t.Key) + " starts with a digit"
		}
		out = append(out, Tag{Key: key, Value: p.cleanValue(t.Value)})
	}
	out = append(out, p.constLabels...)
	slices.SortFunc(out, func(a, b Tag) int { return strings.Compare(a.Key, b.Key) })
	for i := 1; i < len(out); i++ {
		if out[i].Key == out[i-1].Key {
			return nil, drop.InvalidTags, "two tags map to the key " + strconv.Quote(out[i].Key)
		}
	}
	return out, 0, ""
}

// cleanValue returns v with invalid UTF-8 replaced by U+FFFD and cut to
// maxValueLen bytes, TruncationMarker included, at a character boundary.
func (p *Registry) cleanValue(v string) string {
	if len(v) > p.maxValueLen {
		cut := p.maxValueLen - len(TruncationMarker)
		for cut > 0 && !utf8.RuneStart(v[cut]) {
			cut--
		}
		v = strings.ToValidUTF8(v[:cut], "\uFFFD")
		for len(v)+len(TruncationMarker) > p.maxValueLen { // replacements grew it
			_, size := utf8.DecodeLastRuneInString(v)
			v = v[:len(v)-size]
		}
		return v + TruncationMarker
	}
	if !utf8.ValidString(v) {
		v = strings.ToValidUTF8(v, "\uFFFD")
		if len(v) > p.maxValueLen {
			return p.cleanValue(v)
		}
		return v
	}
	return strings.Clone(v)
}

func quoteShort(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return strconv.Quote(s)
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

// drop counts a dropped sample and logs once per metric and reason.
func (p *Registry) drop(r drop.Reason, typ, name, msg string) {
	p.dropped.Add(r, 1)
	p.warn(r, typ, name, msg)
}

// warn logs once per metric and reason why samples are dropped.
func (p *Registry) warn(r drop.Reason, typ, name, msg string) {
	key := r.String() + "\x00" + typ + "\x00" + name
	p.mu.Lock()
	p.queueLocked(key, "metricsink: sample dropped",
		slog.String("reason", r.String()), slog.String("type", typ), slog.String("metric", truncName(name)), slog.String("detail", msg))
	p.mu.Unlock()
	p.emit()
}

// dropLocked counts a dropped sample and queues its warning.
func (p *Registry) dropLocked(r drop.Reason, typ, name, msg string) {
	p.dropped.Add(r, 1)
	p.queueLocked(r.String()+"\x00"+typ+"\x00"+name, "metricsink: sample dropped",
		slog.String("reason", r.String()), slog.String("type", typ), slog.String("metric", truncName(name)), slog.String("detail", msg))
}

func truncName(s string) string {
	if len(s) > 200 {
		return strings.ToValidUTF8(s[:200], "\uFFFD") + "…"
	}
	return s
}

// queueLocked queues msg to be logged, the first time key is seen, once mu
// is released (by emit). Past maxRemembered keys it queues one last
// warning and then nothing, bounding memory.
func (p *Registry) queueLocked(key, msg string, attrs ...slog.Attr) {
	if p.loggedFull || p.logged[key] {
		return
	}
	if len(p.logged) >= maxRemembered {
		p.loggedFull = true
		p.pending = append(p.pending, warning{msg: "metricsink: too many distinct warnings; further ones are not logged (metricsink_dropped_samples_total still counts them)"})
		return
	}
	p.logged[key] = true
	p.pending = append(p.pending, warning{msg: msg, attrs: attrs})
}

// emit logs the queued warnings. It must be called without mu held: the
// logger may record metrics into this very registry.
func (p *Registry) emit() {
	p.mu.Lock()
	w := p.pending
	p.pending = nil
	p.mu.Unlock()
	if len(w) == 0 {
		return
	}
	l := p.logger
	if l == nil {
		l = slog.Default()
	}
	for _, x := range w {
		l.LogAttrs(context.Background(), slog.LevelWarn, x.msg, x.attrs...)
	}
}

// Set returns the VictoriaMetrics set the registry writes into, for metrics
// that need the library directly. Metrics registered on it are written
// first, as VictoriaMetrics writes them: without # HELP and # TYPE unless
// metrics.ExposeMetadata(true) was called, so promtool will flag them.
func (p *Registry) Set() *metrics.Set { return p.set }
