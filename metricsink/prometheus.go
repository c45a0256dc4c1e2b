package metricsink

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// DefaultBuckets are the histogram bucket upper bounds, in seconds for
// durations, used when PrometheusOptions.Buckets is empty. They include 0.1
// and 0.5 so that latency alerts at 100 ms and 500 ms fall on a bucket edge.
// NewPrometheus copies it; set PrometheusOptions.Buckets rather than
// changing it.
var DefaultBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// DefaultMaxSeriesPerMetric is the cardinality limit used when
// PrometheusOptions.MaxSeriesPerMetric is zero.
const DefaultMaxSeriesPerMetric = 1000

// maxOverflowSeries bounds the overflow series of one metric (one per
// distinct set of tag keys); samples past it are dropped and counted.
const maxOverflowSeries = 16

// maxRemembered bounds the memory spent on rejected names: the cache of
// mapping results for them and the set of names already logged.
const maxRemembered = 1024

// maxRawNames bounds the raw names remembered for one family ("a.b",
// "a_b" and "A.b" are three raw names of a_b). Others are mapped again on
// every call, on the slow path.
const maxRawNames = 16

// selfLabels are the label names of metricsink's own families; constant
// labels may not use them.
var selfLabels = []string{"reason", "metric", "url"}

// rawTagsCap is how many raw tag lists, over all its raw names, the hot
// path remembers for a family whose limit is maxSeries: room for each
// series twice (tags given in two orders, say) and for the overflow
// series. Past it, samples with tag lists not yet seen take the slow path,
// which finds the same series but takes the mutex and allocates.
func rawTagsCap(maxSeries int) int { return 2*maxSeries + 4*maxOverflowSeries }

// PrometheusOptions configures NewPrometheus. A nil or zero
// PrometheusOptions consists entirely of default values. NewPrometheus
// never writes to it.
type PrometheusOptions struct {
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
	// quantile, __*) and not a label of metricsink's own metrics (reason,
	// metric, url, which would then appear twice in one series); values
	// must be valid UTF-8. Sink calls may not use these keys as tags.
	// Default: none.
	ConstLabels map[string]string

	// Buckets are the upper bounds of every histogram's buckets, in
	// increasing order. Default: DefaultBuckets.
	Buckets []float64

	// MaxSeriesPerMetric is the most series one metric name may have;
	// past it, new tag combinations are recorded in one overflow series
	// whose tag values are all "other", and GaugeFunc and CounterFunc
	// registrations are refused (counted with reason overflow).
	// Default: DefaultMaxSeriesPerMetric.
	MaxSeriesPerMetric int

	// DisableRuntimeMetrics turns off the go_* and process_* families.
	// Default: false (they are exposed).
	DisableRuntimeMetrics bool

	// UseGlobalSet makes the registry write into the VictoriaMetrics
	// package's default set (metrics.GetDefaultSet()) instead of a set of
	// its own, so that metrics.WritePrometheus includes it. The go_* and
	// process_* families are then left to VictoriaMetrics:
	// metrics.WritePrometheus(w, true) writes its own (without # HELP and
	// # TYPE), metrics.WritePrometheus(w, false) none, and never ours as
	// well; the registry's WritePrometheus, ServeHTTP and Push still add
	// ours, once. Default: false.
	UseGlobalSet bool

	// Logger receives the warnings about rejected names, tags and values,
	// each logged once per name. Default: slog.Default() at the time of
	// each warning.
	Logger *slog.Logger
}

// Prometheus is a metrics registry that serves the Prometheus text format.
// It implements Sink, FuncSink and http.Handler; see the package
// documentation for how names and tags are mapped and which samples are
// rejected. All methods are safe for concurrent use.
//
// Recording into an existing series, the overflow series included, takes
// no lock and does not allocate when the raw name and tags were seen
// before (a lookup keyed by them, bounded per metric), or when the metric
// is at its series limit and the tags are already in canonical form
// (snake_case keys in increasing order, valid UTF-8 values): ever new tag
// values sent to the overflow series cost no more than known ones. Other
// samples are resolved on a slower path that takes a mutex and allocates.
type Prometheus struct {
	set         *metrics.Set
	namespace   string
	constLabels []Tag // sorted by key
	constKeys   map[string]bool
	buckets     []float64
	maxSeries   int
	runtime     bool
	runtimeTail []byte // const labels rendered for runtime lines: `k="v",...`
	logger      *slog.Logger

	// hot finds existing series by raw name and tags, per kind; see hot.go.
	hot [kindDuration + 1]cowMap[*nameEntry]
	// nameCache finds the entry of a name string without hashing it, by
	// the address of its bytes; see hot.go.
	nameCache [kindDuration + 1][nameCacheSize]atomic.Pointer[nameCacheLine]

	mu         sync.Mutex
	names      map[string]nameResult // kind byte + raw name -> mapping result
	families   map[string]*family    // exposition name -> family
	sorted     []*family             // families sorted by name
	taken      map[string]*family    // every name a family uses, _bucket etc. included
	logged     map[string]bool       // warnings already logged
	loggedFull bool

	dropped     [numReasons]*metrics.Gauge
	overflowFam *family
	pushFam     *family
}

var (
	_ Sink     = (*Prometheus)(nil)
	_ FuncSink = (*Prometheus)(nil)
)

type kind uint8

const (
	kindCounter kind = iota + 1
	kindGauge
	kindHistogram
	kindDuration
	kindCounterFunc
	kindGaugeFunc
)

func (k kind) typ() string {
	switch k {
	case kindCounter, kindCounterFunc:
		return "counter"
	case kindGauge, kindGaugeFunc:
		return "gauge"
	}
	return "histogram"
}

// Reasons for which a sample is dropped; each is the value of the reason
// label of metricsink_dropped_samples_total.
type reason uint8

const (
	reasonInvalidName reason = iota
	reasonInvalidTags
	reasonReservedLabel
	reasonTypeClash
	reasonInvalidValue
	reasonDuplicate
	reasonOverflow
	reasonPanic
	numReasons
)

var reasonNames = [numReasons]string{
	"invalid_name", "invalid_tags", "reserved_label", "type_clash",
	"invalid_value", "duplicate", "overflow", "panic",
}

type nameResult struct {
	fam *family
	why reason
	msg string
}

type family struct {
	rawNames int // raw names remembered in Prometheus.names
	rawTags  int // raw tag lists remembered by the hot path
	name     string
	typ      string
	help     string
	set      *metrics.Set
	internal bool
	series   map[string]*series // canonical labels -> series
	overflow map[string]*series // canonical "other" labels -> overflow series
	ovCount  *metrics.Gauge     // metricsink_overflow_series_total{metric=name}
	nseries  int                // series that are written

	// For the lock-free search of a full family; see hot.go.
	full    atomic.Bool           // len(series) >= the series limit
	byCanon cowMap[*series]       // canonical labels -> series and overflow series
	byOther cowMap[*cachedSeries] // "other" labels -> overflow target and counter
}

type series struct {
	kind kind
	g    *metrics.Gauge               // counters and gauges
	h    *metrics.PrometheusHistogram // histograms and durations
}

// NewPrometheus returns a registry configured by opts (nil means all
// defaults). It returns an error naming the option when opts is invalid.
func NewPrometheus(opts *PrometheusOptions) (*Prometheus, error) {
	if opts == nil {
		opts = &PrometheusOptions{}
	}
	p := &Prometheus{
		maxSeries: opts.MaxSeriesPerMetric,
		runtime:   !opts.DisableRuntimeMetrics,
		logger:    opts.Logger,
		names:     make(map[string]nameResult),
		families:  make(map[string]*family),
		taken:     make(map[string]*family),
		logged:    make(map[string]bool),
		constKeys: make(map[string]bool),
	}
	if ns := opts.Namespace; ns != "" {
		if snake(ns) != ns {
			return nil, fmt.Errorf("metricsink: PrometheusOptions.Namespace %q is not a snake_case name; accepted: lower-case letters, digits and single underscores, such as %q", ns, snake(ns))
		}
		if why := lintName(ns, ""); why != "" {
			return nil, fmt.Errorf("metricsink: PrometheusOptions.Namespace %q is not accepted: %s", ns, why)
		}
		if strings.HasPrefix(ns+"_", "metricsink_") {
			return nil, fmt.Errorf("metricsink: PrometheusOptions.Namespace %q is not accepted: metricsink_* names are reserved for metricsink's own metrics", ns)
		}
		if p.runtime && (strings.HasPrefix(ns+"_", "go_") || strings.HasPrefix(ns+"_", "process_")) {
			return nil, fmt.Errorf("metricsink: PrometheusOptions.Namespace %q is not accepted with runtime metrics on: go_* and process_* names are reserved for them; choose another namespace or set DisableRuntimeMetrics", ns)
		}
		p.namespace = ns
	}
	switch {
	case p.maxSeries == 0:
		p.maxSeries = DefaultMaxSeriesPerMetric
	case p.maxSeries < 0:
		return nil, fmt.Errorf("metricsink: PrometheusOptions.MaxSeriesPerMetric %d is negative; accepted: 0 (default %d) or more", p.maxSeries, DefaultMaxSeriesPerMetric)
	}
	p.buckets = slices.Clone(DefaultBuckets)
	if len(opts.Buckets) > 0 {
		if err := metrics.ValidateBuckets(opts.Buckets); err != nil {
			return nil, fmt.Errorf("metricsink: PrometheusOptions.Buckets %v: %v; accepted: finite upper bounds in increasing order", opts.Buckets, err)
		}
		for _, b := range opts.Buckets {
			if math.IsNaN(b) || math.IsInf(b, 0) {
				return nil, fmt.Errorf("metricsink: PrometheusOptions.Buckets %v holds %v; accepted: finite upper bounds in increasing order (+Inf is implied)", opts.Buckets, b)
			}
		}
		p.buckets = slices.Clone(opts.Buckets)
	}
	for _, k := range slices.Sorted(maps.Keys(opts.ConstLabels)) {
		v := opts.ConstLabels[k]
		if k == "" || snake(k) != k || reservedLabel(k, k) {
			return nil, fmt.Errorf("metricsink: PrometheusOptions.ConstLabels key %q is not accepted: use a snake_case label name other than le, quantile and __*", k)
		}
		if slices.Contains(selfLabels, k) {
			return nil, fmt.Errorf("metricsink: PrometheusOptions.ConstLabels key %q is not accepted: reason, metric and url are labels of metricsink's own metrics", k)
		}
		if !utf8Valid(v) {
			return nil, fmt.Errorf("metricsink: PrometheusOptions.ConstLabels[%q] = %q is not valid UTF-8", k, v)
		}
		p.constLabels = append(p.constLabels, Tag{k, v})
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
	if opts.UseGlobalSet {
		p.set = metrics.GetDefaultSet()
	} else {
		p.set = metrics.NewSet()
	}

	dropFam := p.newFamily("metricsink_dropped_samples_total", "counter",
		"Samples metricsink dropped, by reason: invalid_name, invalid_tags, reserved_label, type_clash, invalid_value, duplicate, overflow, panic.", true)
	for r := range numReasons {
		s := p.newSeries(dropFam, []Tag{{"reason", reasonNames[r]}}, kindCounter)
		p.dropped[r] = s.g
	}
	p.overflowFam = p.newFamily("metricsink_overflow_series_total", "counter",
		"Samples metricsink recorded in an overflow series because their metric had reached its series limit.", true)
	p.pushFam = p.newFamily("metricsink_push_errors_total", "counter",
		"Pushes of the registry to a remote endpoint that failed.", true)

	p.set.RegisterMetricsWriter(p.writeFamilies)
	return p, nil
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

// Increment adds value to the counter name, exposed as name mapped to
// snake_case with "_total" appended. Negative, NaN and infinite values are
// dropped and counted (reason invalid_value).
func (p *Prometheus) Increment(name string, value float64, tags Tags) {
	if !(value >= 0 && value <= math.MaxFloat64) {
		p.drop(reasonInvalidValue, "counter", name, "counter increments must be finite and not negative")
		return
	}
	if s := p.lookup(kindCounter, name, &tags); s != nil {
		s.g.Add(value)
	}
}

// Gauge sets the gauge name to value. NaN and ±Inf are recorded as they
// are: the text format carries them.
func (p *Prometheus) Gauge(name string, value float64, tags Tags) {
	if s := p.lookup(kindGauge, name, &tags); s != nil {
		s.g.Set(value)
	}
}

// Histogram records value in the histogram name, a Prometheus histogram
// with the configured buckets. Negative, NaN and infinite values are
// dropped and counted (reason invalid_value).
func (p *Prometheus) Histogram(name string, value float64, tags Tags) {
	if !(value >= 0 && value <= math.MaxFloat64) {
		p.drop(reasonInvalidValue, "histogram", name, "histogram observations must be finite and not negative")
		return
	}
	if s := p.lookup(kindHistogram, name, &tags); s != nil {
		s.h.Update(value)
	}
}

// Duration records d, in seconds, in the histogram name with "_seconds"
// appended unless name already ends with it. Negative durations are dropped
// and counted (reason invalid_value).
func (p *Prometheus) Duration(name string, d time.Duration, tags Tags) {
	if d < 0 {
		p.drop(reasonInvalidValue, "duration", name, "durations must not be negative")
		return
	}
	if s := p.lookup(kindDuration, name, &tags); s != nil {
		s.h.Update(d.Seconds())
	}
}

// GaugeFunc registers f, called at each scrape or push, as the source of
// the series name{tags} of a gauge family. It returns the function that
// unregisters it. Registering a series that exists already is dropped and
// counted (reason duplicate) and returns a no-op, and so is one past the
// metric's series limit (reason overflow, warned once). A panic in f is
// recovered and counted (reason panic), and the series reads NaN for that
// scrape.
func (p *Prometheus) GaugeFunc(name string, tags Tags, f func() float64) (unregister func()) {
	return p.register(kindGaugeFunc, name, &tags, f)
}

// CounterFunc is GaugeFunc for a counter family, exposed with "_total"
// appended and "# TYPE name counter"; f must return a cumulative,
// never-decreasing total. A read that is negative, NaN, infinite or
// smaller than the previous good one is counted (reason invalid_value) and
// the series keeps its previous good value (0 before the first); so does a
// read that panics (counted with reason panic).
func (p *Prometheus) CounterFunc(name string, tags Tags, f func() float64) (unregister func()) {
	return p.register(kindCounterFunc, name, &tags, f)
}

// lookup returns the series of kind k for name and tags, or nil when the
// sample is dropped. For an existing series it allocates nothing.
func (p *Prometheus) lookup(k kind, name string, tags *Tags) *series {
	if !tags.Valid() {
		p.drop(reasonInvalidTags, k.typ(), name, "more than MaxTags tags or an odd number of strings")
		return nil
	}
	if e := p.entry(k, name); e != nil {
		if c := e.find(tags); c != nil {
			if c.ov != nil {
				c.ov.Add(1)
			}
			return c.s
		}
		if e.fam.full.Load() {
			if s, ov := p.findFull(e.fam, k, tags); s != nil {
				if ov != nil {
					ov.Add(1)
				}
				return s
			}
		}
	}
	return p.slow(k, name, tags)
}

// slow finds or creates the series for a raw key that missed the read
// snapshot: it maps and validates the name and tags, applies the
// cardinality guard and remembers the raw key.
func (p *Prometheus) slow(k kind, name string, tags *Tags) (s *series) {
	defer func() {
		if r := recover(); r != nil {
			p.dropped[reasonPanic].Add(1)
			p.warnOnce("panic\x00"+name, "metricsink: recovered from a panic while recording; sample dropped",
				slog.String("metric", name), slog.Any("panic", r))
			s = nil
		}
	}()
	p.mu.Lock()
	defer p.mu.Unlock()
	entry, ok := p.hot[k].getLocked([]byte(name))
	if ok {
		if c := entry.findLocked(tags); c != nil {
			if c.ov != nil {
				c.ov.Add(1)
			}
			return c.s
		}
	}
	fam, remembered, ok := p.familyLocked(k, name)
	if !ok {
		return nil
	}
	labels, ok := p.labelsLocked(fam, name, tags)
	if !ok {
		return nil
	}
	canon := string(renderLabels(nil, labels))
	s, ok = fam.series[canon]
	if !ok {
		s, ok = fam.overflow[canon] // the labels of an overflow series
	}
	if ok {
		if !sameKind(s.kind, k) {
			p.dropLocked(reasonTypeClash, k.typ(), name, "the series is read from a callback registered with GaugeFunc or CounterFunc")
			return nil
		}
		p.rememberLocked(entry, remembered, fam, k, name, tags, s, nil, false)
		return s
	}
	if len(fam.series) >= p.maxSeries {
		s = p.overflowLocked(fam, k, labels)
		if s != nil {
			p.rememberLocked(entry, remembered, fam, k, name, tags, s, fam.ovCount, false)
		}
		return s
	}
	s = p.newSeries(fam, labels, k)
	fam.series[canon] = s
	p.addCanonLocked(fam, canon, s)
	p.rememberLocked(entry, remembered, fam, k, name, tags, s, nil, true)
	return s
}

// sameKind reports whether a sample of kind k may be recorded in a series
// of kind have.
func sameKind(have, k kind) bool {
	return have == k || (have == kindHistogram && k == kindDuration)
}

// rememberLocked lets the hot path find s for the raw name and tags, and
// count ov (when not nil) for each sample, within the bounds of
// maxRawNames and rawTagsCap: a raw name that familyLocked did not
// remember gets no entry, and a family whose raw tag lists reached the cap
// gets no more, except the first tag list of each new series (fresh),
// which the series limit bounds.
func (p *Prometheus) rememberLocked(entry *nameEntry, remembered bool, fam *family, k kind, name string, tags *Tags, s *series, ov *metrics.Gauge, fresh bool) {
	if !fresh && fam.rawTags >= rawTagsCap(p.maxSeries) {
		return
	}
	if entry == nil {
		if !remembered {
			return
		}
		entry = &nameEntry{fam: fam}
		p.hot[k].storeLocked(name, entry)
	}
	fam.rawTags++
	entry.addLocked(tags, s, ov)
	p.nameCache[k][nameSlot(name)].Store(&nameCacheLine{name: name, e: entry})
}

// overflowLocked returns the series that receives a sample of fam past its
// series limit, labels being the sample's, and counts the sample in
// metricsink_overflow_series_total. That series has the labels with every
// value "other", constant labels excepted: a real series when one has
// those labels, else an overflow series.
func (p *Prometheus) overflowLocked(fam *family, k kind, labels []Tag) *series {
	other := make([]Tag, len(labels))
	for i, t := range labels {
		other[i] = t
		if !p.constKeys[t.Key] {
			other[i].Value = "other"
		}
	}
	canon := string(renderLabels(nil, other))
	s, ok := fam.series[canon]
	if !ok {
		s, ok = fam.overflow[canon]
	}
	if !ok {
		if len(fam.overflow) >= maxOverflowSeries {
			p.dropLocked(reasonOverflow, k.typ(), fam.name, "too many distinct tag key sets past the series limit")
			return nil
		}
		if fam.overflow == nil {
			fam.overflow = make(map[string]*series)
		}
		s = p.newSeries(fam, other, k)
		fam.overflow[canon] = s
		p.addCanonLocked(fam, canon, s)
		p.warnOnceLocked("overflow\x00"+fam.name, "metricsink: metric reached its series limit; new tag combinations are recorded with every tag value \"other\"",
			slog.String("metric", fam.name), slog.Int("limit", p.maxSeries))
	}
	if fam.ovCount == nil {
		fam.ovCount = p.newSeries(p.overflowFam, []Tag{{"metric", fam.name}}, kindCounter).g
	}
	if !sameKind(s.kind, k) {
		p.dropLocked(reasonTypeClash, k.typ(), fam.name, "the overflow series has another kind")
		return nil
	}
	fam.ovCount.Add(1)
	if _, ok := fam.byOther.getLocked([]byte(canon)); !ok {
		fam.byOther.storeLocked(canon, &cachedSeries{s: s, ov: fam.ovCount})
	}
	return s
}

// familyLocked maps name for kind k and returns its family, creating it on
// first use, and whether the raw name is remembered (at most maxRawNames
// per family, maxRemembered rejected ones); or drops the sample and
// returns false.
func (p *Prometheus) familyLocked(k kind, name string) (fam *family, remembered, ok bool) {
	ck := string(rune(k)) + name
	res, remembered := p.names[ck]
	if !remembered {
		res = p.resolveLocked(k, name)
		switch {
		case res.fam != nil && res.fam.rawNames < maxRawNames:
			res.fam.rawNames++
			p.names[ck] = res
			remembered = true
		case res.fam == nil && len(p.names) < maxRemembered:
			p.names[ck] = res
		}
	}
	if res.fam == nil {
		p.dropLocked(res.why, k.typ(), name, res.msg)
		return nil, false, false
	}
	return res.fam, remembered, true
}

func (p *Prometheus) resolveLocked(k kind, name string) nameResult {
	var b []byte
	if p.namespace != "" {
		b = append(b, p.namespace...)
		b = append(b, '_')
	}
	nsLen := len(b)
	b = appendSnake(b, name)
	if len(b) == nsLen {
		return nameResult{why: reasonInvalidName, msg: "the name has no letter or digit"}
	}
	switch k {
	case kindCounter, kindCounterFunc:
		if !strings.HasSuffix(string(b), "_total") {
			b = append(b, "_total"...)
		}
	case kindDuration:
		if !strings.HasSuffix(string(b), "_seconds") {
			b = append(b, "_seconds"...)
		}
	}
	mapped := string(b)
	typ := k.typ()
	if why := lintName(mapped, typ); why != "" {
		return nameResult{why: reasonInvalidName, msg: mapped + ": " + why}
	}
	if p.runtime && (strings.HasPrefix(mapped, "go_") || strings.HasPrefix(mapped, "process_")) {
		return nameResult{why: reasonInvalidName, msg: mapped + ": go_* and process_* are reserved for the runtime metrics"}
	}
	if strings.HasPrefix(mapped, "metricsink_") {
		return nameResult{why: reasonInvalidName, msg: mapped + ": metricsink_* is reserved for metricsink's own metrics"}
	}
	if fam, ok := p.families[mapped]; ok {
		if fam.internal {
			return nameResult{why: reasonInvalidName, msg: mapped + ": reserved for metricsink's own metrics"}
		}
		if fam.typ != typ {
			return nameResult{why: reasonTypeClash, msg: mapped + " is already a " + fam.typ}
		}
		return nameResult{fam: fam}
	}
	if other, ok := p.taken[mapped]; ok {
		return nameResult{why: reasonTypeClash, msg: mapped + " is already used by the " + other.typ + " " + other.name}
	}
	if typ == "histogram" {
		for _, suf := range [...]string{"_bucket", "_sum", "_count"} {
			if other, ok := p.taken[mapped+suf]; ok {
				return nameResult{why: reasonTypeClash, msg: mapped + suf + " is already used by the " + other.typ + " " + other.name}
			}
		}
	}
	help := typ + " recorded through metricsink as " + strconv.Quote(name)
	return nameResult{fam: p.newFamily(mapped, typ, help, false)}
}

func (p *Prometheus) newFamily(name, typ, help string, internal bool) *family {
	fam := &family{name: name, typ: typ, help: help, set: metrics.NewSet(), internal: internal, series: make(map[string]*series)}
	p.families[name] = fam
	p.taken[name] = fam
	if typ == "histogram" {
		p.taken[name+"_bucket"] = fam
		p.taken[name+"_sum"] = fam
		p.taken[name+"_count"] = fam
	}
	i, _ := slices.BinarySearchFunc(p.sorted, name, func(f *family, n string) int { return strings.Compare(f.name, n) })
	p.sorted = slices.Insert(p.sorted, i, fam)
	return fam
}

// newSeries creates a series of kind k in fam; labels are sorted by key,
// const labels included.
func (p *Prometheus) newSeries(fam *family, labels []Tag, k kind) *series {
	if fam.internal && len(p.constLabels) > 0 {
		labels = p.withConst(labels)
	}
	full := string(renderLabels([]byte(fam.name), labels))
	s := &series{kind: k}
	switch k {
	case kindHistogram, kindDuration:
		s.kind = kindHistogram
		s.h = fam.set.NewPrometheusHistogramExt(full, p.buckets)
	default:
		s.g = fam.set.NewGauge(full, nil)
	}
	fam.nseries++
	return s
}

func (p *Prometheus) withConst(labels []Tag) []Tag {
	out := make([]Tag, 0, len(labels)+len(p.constLabels))
	out = append(out, labels...)
	out = append(out, p.constLabels...)
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// labelsLocked maps and validates tags, returning them with the const
// labels, sorted by key.
func (p *Prometheus) labelsLocked(fam *family, name string, tags *Tags) ([]Tag, bool) {
	out := make([]Tag, 0, tags.Len()+len(p.constLabels))
	for _, t := range tags.All() {
		key := snake(t.Key)
		switch {
		case key == "":
			p.dropLocked(reasonInvalidTags, fam.typ, name, "tag key "+strconv.Quote(t.Key)+" has no letter or digit")
			return nil, false
		case reservedLabel(t.Key, key) || p.constKeys[key]:
			p.dropLocked(reasonReservedLabel, fam.typ, name, "tag key "+strconv.Quote(t.Key)+" is reserved (le, quantile, __*, or a constant label)")
			return nil, false
		case key[0] >= '0' && key[0] <= '9':
			p.dropLocked(reasonInvalidTags, fam.typ, name, "tag key "+strconv.Quote(t.Key)+" starts with a digit")
			return nil, false
		}
		v := t.Value
		if !utf8Valid(v) {
			v = strings.ToValidUTF8(v, "\uFFFD")
		}
		out = append(out, Tag{key, v})
	}
	out = append(out, p.constLabels...)
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	for i := 1; i < len(out); i++ {
		if out[i].Key == out[i-1].Key {
			p.dropLocked(reasonInvalidTags, fam.typ, name, "two tags map to the key "+strconv.Quote(out[i].Key))
			return nil, false
		}
	}
	return out, true
}

// renderLabels appends {k="v",...} to dst, or nothing for no labels.
func renderLabels(dst []byte, labels []Tag) []byte {
	if len(labels) == 0 {
		return dst
	}
	dst = append(dst, '{')
	for i, t := range labels {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, t.Key...)
		dst = append(dst, '=', '"')
		dst = appendLabelValue(dst, t.Value)
		dst = append(dst, '"')
	}
	return append(dst, '}')
}

// register implements GaugeFunc and CounterFunc.
func (p *Prometheus) register(k kind, name string, tags *Tags, f func() float64) (unregister func()) {
	noop := func() {}
	if f == nil {
		p.drop(reasonInvalidValue, k.typ(), name, "nil callback")
		return noop
	}
	if !tags.Valid() {
		p.drop(reasonInvalidTags, k.typ(), name, "more than MaxTags tags or an odd number of strings")
		return noop
	}
	defer func() {
		if r := recover(); r != nil {
			p.dropped[reasonPanic].Add(1)
			unregister = noop
		}
	}()
	p.mu.Lock()
	defer p.mu.Unlock()
	fam, _, ok := p.familyLocked(k, name)
	if !ok {
		return noop
	}
	labels, ok := p.labelsLocked(fam, name, tags)
	if !ok {
		return noop
	}
	canon := string(renderLabels(nil, labels))
	_, exists := fam.series[canon]
	if _, ov := fam.overflow[canon]; exists || ov {
		p.dropLocked(reasonDuplicate, fam.typ, name, "series "+fam.name+canon+" exists already")
		return noop
	}
	if len(fam.series) >= p.maxSeries {
		p.dropped[reasonOverflow].Add(1)
		p.warnOnceLocked("overflow\x00"+fam.name, "metricsink: metric reached its series limit; GaugeFunc and CounterFunc registrations past it are refused",
			slog.String("metric", fam.name), slog.Int("limit", p.maxSeries))
		return noop
	}
	full := fam.name + canon
	s := &series{kind: k, g: fam.set.NewGauge(full, p.reader(k, full, f))}
	fam.series[canon] = s
	p.addCanonLocked(fam, canon, s)
	fam.nseries++
	var once sync.Once
	return func() {
		once.Do(func() {
			p.mu.Lock()
			defer p.mu.Unlock()
			if fam.series[canon] == s {
				delete(fam.series, canon)
				p.removeCanonLocked(fam, canon)
				fam.set.UnregisterMetric(full)
				fam.nseries--
			}
		})
	}
}

// reader wraps the callback f of the series full. A panic in f is
// recovered and counted (reason panic); a gauge then reads NaN. A counter
// reads its last good value instead of a panic or of a value that is NaN,
// infinite, negative or smaller than the last good one (counted with
// reason invalid_value), so that it never goes backwards; before any good
// value it reads 0.
func (p *Prometheus) reader(k kind, full string, f func() float64) func() float64 {
	call := func() (v float64, ok bool) {
		defer func() {
			if r := recover(); r != nil {
				p.dropped[reasonPanic].Add(1)
				p.warnOnce("panic\x00"+full, "metricsink: recovered from a panic in a GaugeFunc or CounterFunc callback", slog.String("series", full), slog.Any("panic", r))
				ok = false
			}
		}()
		return f(), true
	}
	if k != kindCounterFunc {
		return func() float64 {
			if v, ok := call(); ok {
				return v
			}
			return math.NaN()
		}
	}
	var (
		mu   sync.Mutex
		last float64
	)
	return func() float64 {
		mu.Lock()
		defer mu.Unlock()
		v, ok := call()
		if !ok {
			return last
		}
		if !(v >= last && v <= math.MaxFloat64) {
			p.drop(reasonInvalidValue, "counter", full, "a CounterFunc read "+strconv.FormatFloat(v, 'g', -1, 64)+" after "+strconv.FormatFloat(last, 'g', -1, 64)+"; counters must be finite and never decrease")
			return last
		}
		last = v
		return v
	}
}

// drop counts a dropped sample and logs once per metric and reason.
func (p *Prometheus) drop(r reason, typ, name, msg string) {
	p.dropped[r].Add(1)
	p.warnOnce(reasonNames[r]+"\x00"+typ+"\x00"+name, "metricsink: sample dropped",
		slog.String("reason", reasonNames[r]), slog.String("type", typ), slog.String("metric", name), slog.String("detail", msg))
}

func (p *Prometheus) dropLocked(r reason, typ, name, msg string) {
	p.dropped[r].Add(1)
	p.warnOnceLocked(reasonNames[r]+"\x00"+typ+"\x00"+name, "metricsink: sample dropped",
		slog.String("reason", reasonNames[r]), slog.String("type", typ), slog.String("metric", name), slog.String("detail", msg))
}

func (p *Prometheus) warnOnce(key, msg string, attrs ...slog.Attr) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.warnOnceLocked(key, msg, attrs...)
}

// warnOnceLocked logs msg the first time key is seen. Past maxRemembered
// keys it logs one last warning and then nothing, bounding memory.
func (p *Prometheus) warnOnceLocked(key, msg string, attrs ...slog.Attr) {
	if p.logged[key] || p.loggedFull {
		return
	}
	l := p.logger
	if l == nil {
		l = slog.Default()
	}
	if len(p.logged) >= maxRemembered {
		p.loggedFull = true
		l.Warn("metricsink: too many distinct warnings; further ones are not logged (metricsink_dropped_samples_total still counts them)")
		return
	}
	p.logged[key] = true
	l.LogAttrs(context.Background(), slog.LevelWarn, msg, attrs...)
}

// Set returns the VictoriaMetrics set the registry writes into, for metrics
// that need the library directly. Metrics registered on it are written
// first, as VictoriaMetrics writes them: without # HELP and # TYPE unless
// metrics.ExposeMetadata(true) was called, so promtool will flag them.
func (p *Prometheus) Set() *metrics.Set { return p.set }
