package prometheus

import (
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/realtimeserver/observability/drop"
	"github.com/realtimeserver/observability/metricsink"
)

// family is one exposed metric: its name, kind, help and series.
type family struct {
	name     string // as exposed
	kind     metricsink.Kind
	unit     string
	internal bool

	m       *metricsink.Metric        // the kind table's; nil for the registry's own
	buckets atomic.Pointer[bucketSet] // histograms

	byCanon     map[string]*series // canonical labels -> series; under mu
	list        atomic.Pointer[[]*series]
	noverflow   int
	rawOverflow int     // raw keys remembered for the overflow series; under mu
	ovCount     *series // metricsink_overflow_series_total{metric=name}
	helpSnap    atomic.Pointer[string]
}

// bucketSet is a histogram family's upper bounds and their le texts.
type bucketSet struct {
	bounds []float64
	le     []string // formatted bounds, then "+Inf"

	// below[k-first] is the number of bounds at most the lower bound of
	// the schema-3 native bucket k, for k from first to first+len-1:
	// where a value's classic bucket search starts once its native index
	// is known (classicIndex). nil when the bounds span too many native
	// buckets or too many share one.
	first int
	below []uint16
}

// Bounds of a bucketSet's lookup: its length, and the most bounds one
// native bucket may hold, each costing a comparison.
const (
	maxBelow       = 1024
	maxBoundsInOne = 2
)

func newBucketSet(b []float64) *bucketSet {
	bs := &bucketSet{bounds: slices.Clone(b), le: make([]string, 0, len(b)+1)}
	for _, v := range b {
		bs.le = append(bs.le, strconv.FormatFloat(v, 'g', -1, 64))
	}
	bs.le = append(bs.le, "+Inf")
	bs.first, bs.below = bucketLookup(bs.bounds)
	return bs
}

// bucketLookup returns the lookup of a bucketSet with bounds (see
// bucketSet.below), or nil.
func bucketLookup(bounds []float64) (first int, below []uint16) {
	var lo, hi int
	any := false
	for _, b := range bounds {
		if b > nativeZeroThreshold && b <= math.MaxFloat64 {
			k := key3(b)
			if !any {
				lo, any = k, true
			}
			hi = k
		}
	}
	if !any || hi-lo+1 > maxBelow || len(bounds) > math.MaxUint16 {
		return 0, nil
	}
	below = make([]uint16, hi-lo+1)
	n := 0
	for k := lo; k <= hi; k++ {
		lower := nativeBound(int32(k-1), nativeStartSchema)
		start := n
		for n < len(bounds) && bounds[n] <= lower {
			n++
		}
		below[k-lo] = uint16(n)
		if k > lo && n-start > maxBoundsInOne { // in bucket k-1
			return 0, nil
		}
	}
	if len(bounds)-n > maxBoundsInOne { // in bucket hi
		return 0, nil
	}
	return lo, below
}

func (f *family) setBuckets(b []float64) { f.buckets.Store(newBucketSet(b)) }

func (f *family) getHelp() string {
	if h := f.helpSnap.Load(); h != nil {
		return *h
	}
	return ""
}

// series is one labelled time series of a family.
type series struct {
	fam      *family
	labels   []Tag  // canonical, constant labels included, sorted by key
	text     string // k="v",... without braces
	overflow bool

	// Counters: an integer part added atomically and a fractional part
	// added by compare-and-swap, so that whole increments cost one atomic
	// add. Gauges: bits holds the value.
	ints atomic.Uint64
	bits atomic.Uint64

	hist *histogram
	fn   *metricsink.Func // GaugeFunc and CounterFunc series
	read func() float64   // the registry's own series read at exposition
}

func (s *series) addCounter(v float64) {
	if v == 1 {
		s.ints.Add(1)
		return
	}
	if v == math.Trunc(v) && v < 1<<53 {
		s.ints.Add(uint64(v))
		return
	}
	addFloat(&s.bits, v)
}

func addFloat(bits *atomic.Uint64, v float64) {
	for {
		old := bits.Load()
		if bits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

func (s *series) counterValue() float64 {
	return float64(s.ints.Load()) + math.Float64frombits(s.bits.Load())
}

func (s *series) observe(v float64) {
	if h := s.hist; h != nil {
		h.observe(v)
	}
}

// observeExemplar records v with ex, which is kept when its trace id is
// valid.
func (s *series) observeExemplar(v float64, ex *metricsink.Exemplar) {
	h := s.hist
	if h == nil {
		return
	}
	if !ex.TraceID.IsValid() {
		h.observe(v)
		return
	}
	h.record(v, ex, time.Now().UnixNano())
}

// newFamilyLocked creates and registers a family.
func (p *Registry) newFamilyLocked(name string, k metricsink.Kind, help, unit string, buckets []float64, internal bool) *family {
	fam := &family{name: name, kind: k, unit: unit, internal: internal, byCanon: make(map[string]*series)}
	fam.setHelp(help)
	if k == metricsink.Histogram {
		fam.setBuckets(buckets)
	}
	fam.list.Store(&[]*series{})
	p.families[name] = fam
	p.taken[name] = fam
	if k == metricsink.Histogram {
		p.taken[name+"_bucket"] = fam
		p.taken[name+"_sum"] = fam
		p.taken[name+"_count"] = fam
	}
	old := *p.sorted.Load()
	i, _ := slices.BinarySearchFunc(old, name, func(f *family, n string) int { return strings.Compare(f.name, n) })
	next := make([]*family, 0, len(old)+1)
	next = append(next, old[:i]...)
	next = append(next, fam)
	next = append(next, old[i:]...)
	p.sorted.Store(&next)
	return fam
}

func (f *family) setHelp(h string) { f.helpSnap.Store(&h) }

// newSeriesLocked creates a series of fam with labels (sorted by key; the
// constant labels are added to the registry's own families here).
//
// setup, when not nil, completes the series before it is published: once
// in fam.list, a series is read without the lock (scrapes, Snapshot), so
// no field may be written after this returns.
func (p *Registry) newSeriesLocked(fam *family, labels []Tag, setup func(*series)) *series {
	canon := string(renderLabels(nil, labels))
	if fam.internal && len(p.constLabels) > 0 {
		labels = append(slices.Clone(labels), p.constLabels...)
		slices.SortFunc(labels, func(a, b Tag) int { return strings.Compare(a.Key, b.Key) })
	}
	s := &series{fam: fam, labels: labels, text: string(appendLabelPairs(nil, labels))}
	if fam.kind == metricsink.Histogram {
		bs := fam.buckets.Load()
		s.hist = newHistogram(bs, p.maxNative)
	}
	if setup != nil {
		setup(s)
	}
	fam.byCanon[canon] = s
	old := *fam.list.Load()
	i, _ := slices.BinarySearchFunc(old, s.text, func(x *series, t string) int { return strings.Compare(x.text, t) })
	next := make([]*series, 0, len(old)+1)
	next = append(next, old[:i]...)
	next = append(next, s)
	next = append(next, old[i:]...)
	fam.list.Store(&next)
	return s
}

// removeSeriesLocked forgets s.
func (p *Registry) removeSeriesLocked(s *series, canon string) {
	fam := s.fam
	delete(fam.byCanon, canon)
	old := *fam.list.Load()
	next := make([]*series, 0, len(old))
	for _, x := range old {
		if x != s {
			next = append(next, x)
		}
	}
	fam.list.Store(&next)
	if !fam.internal {
		p.kinds.RemoveSeries(fam.m, s.overflow)
	}
}

// GaugeFunc registers f, called at each scrape, push or Snapshot, as the
// source of the series name{tags} of a gauge family. It returns the
// function that unregisters it. Registering a series that exists already
// is dropped and counted (reason duplicate) and returns a no-op, and so is
// one past the metric's series limit (reason overflow, warned once). f is
// called without any lock held and waited for at most
// Options.CallbackTimeout; a call that panics is counted (reason panic)
// and one that takes longer (reason timeout), and the series is left out
// of that exposition.
func (p *Registry) GaugeFunc(name string, tags metricsink.Tags, f func() float64) (unregister func()) {
	return p.register(metricsink.OpGauge, name, &tags, f)
}

// CounterFunc is GaugeFunc for a counter family, exposed with "_total"
// appended; f must return a cumulative, never-decreasing total. A read
// that is negative, NaN, infinite or smaller than the previous good one is
// counted (reason invalid_value) and the series keeps its previous good
// value (0 before the first); so does a read that panics (counted with
// reason panic), so that a counter never disappears or goes backwards.
func (p *Registry) CounterFunc(name string, tags metricsink.Tags, f func() float64) (unregister func()) {
	return p.register(metricsink.OpIncrement, name, &tags, f)
}

func (p *Registry) register(op metricsink.Op, name string, tags *metricsink.Tags, f func() float64) (unregister func()) {
	noop := func() {}
	k := op.Kind()
	if f == nil {
		p.drops.Drop(drop.InvalidValue, k, name, "nil callback")
		return noop
	}
	if !tags.Valid() {
		p.drops.Drop(drop.InvalidTags, k, name, tags.Err().Error())
		return noop
	}
	defer p.drops.Emit()
	p.mu.Lock()
	defer p.mu.Unlock()
	m, why, msg := p.kinds.Use(op, name, p.createFamily)
	if m == nil {
		if msg != "" {
			p.drops.Queue(why, k, name, msg)
		}
		return noop
	}
	fam := m.Data.(*family)
	labels, why, msg := p.labels(tags)
	if why != 0 {
		p.drops.Queue(why, k, name, msg)
		return noop
	}
	canon := string(renderLabels(nil, labels))
	if fam.byCanon[canon] != nil {
		p.drops.Queue(drop.Duplicate, k, name, "series "+fam.name+canon+" exists already")
		return noop
	}
	switch p.kinds.AddSeries(m, false) {
	case metricsink.RoomMetricFull:
		p.drops.Add(drop.Overflow, 1)
		p.drops.Warn("overflow\x00"+fam.name, "metric reached its series limit; GaugeFunc and CounterFunc registrations past it are refused",
			slog.Int("limit", p.maxSeries), slog.String("metric", fam.name))
		return noop
	case metricsink.RoomFull:
		p.drops.Queue(drop.Overflow, k, name, "the registry reached its limit on series (Options.MaxSeries)")
		return noop
	}
	var undo func()
	s := p.newSeriesLocked(fam, labels, func(s *series) {
		s.fn, undo = p.funcs.Add(fam.name, k, f, s)
	})
	var once sync.Once
	return func() {
		once.Do(func() {
			undo()
			p.mu.Lock()
			defer p.mu.Unlock()
			if fam.byCanon[canon] != s {
				return
			}
			p.removeSeriesLocked(s, canon)
			p.lookup.DeleteFunc(func(e *entry) bool { return e.s == s })
		})
	}
}

// collect calls every callback (metricsink.Funcs: each in a goroutine,
// waiting at most the callback timeout in all) and returns the series that
// gave a value in time, with their values.
func (p *Registry) collect() map[*series]float64 {
	readings := p.funcs.Read()
	if readings == nil {
		return nil
	}
	out := make(map[*series]float64, len(readings))
	for _, r := range readings {
		if r.OK {
			out[r.F.Data.(*series)] = r.Value
		}
	}
	return out
}
