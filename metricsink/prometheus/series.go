package prometheus

import (
	"log/slog"
	"maps"
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
	declared bool
	internal bool

	buckets atomic.Pointer[bucketSet] // histograms

	byCanon     map[string]*series // canonical labels -> series; under mu
	list        atomic.Pointer[[]*series]
	nreal       int // series other than overflow ones; under mu
	noverflow   int
	rawOverflow int     // raw keys remembered for the overflow series; under mu
	ovCount     *series // metricsink_overflow_series_total{metric=name}
	helpSnap    atomic.Pointer[string]
}

// bucketSet is a histogram family's upper bounds and their le texts.
type bucketSet struct {
	bounds []float64
	le     []string // formatted bounds, then "+Inf"
}

func newBucketSet(b []float64) *bucketSet {
	bs := &bucketSet{bounds: slices.Clone(b), le: make([]string, 0, len(b)+1)}
	for _, v := range b {
		bs.le = append(bs.le, strconv.FormatFloat(v, 'g', -1, 64))
	}
	bs.le = append(bs.le, "+Inf")
	return bs
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
	fn   *callback      // GaugeFunc and CounterFunc series
	read func() float64 // the registry's own series read at exposition
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

// histogram counts observations per bucket; counts has one more slot than
// bounds, for +Inf. The count is the sum of the buckets.
type histogram struct {
	bounds []float64
	counts []atomic.Uint64
	sum    atomic.Uint64 // float64 bits
}

func (h *histogram) observe(v float64) {
	i := 0
	if n := len(h.bounds); n <= 16 {
		for i < n && v > h.bounds[i] {
			i++
		}
	} else {
		lo, hi := 0, n
		for lo < hi {
			m := int(uint(lo+hi) >> 1)
			if v > h.bounds[m] {
				lo = m + 1
			} else {
				hi = m
			}
		}
		i = lo
	}
	h.counts[i].Add(1)
	addFloat(&h.sum, v)
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
		s.hist = &histogram{bounds: bs.bounds, counts: make([]atomic.Uint64, len(bs.bounds)+1)}
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
	if !fam.internal {
		p.nseries++
	}
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
		p.nseries--
	}
	if !s.overflow {
		fam.nreal--
	}
}

// callback is the state of a GaugeFunc or CounterFunc series.
type callback struct {
	f       func() float64
	counter bool
	busy    atomic.Bool // a call is in flight

	mu   sync.Mutex // counters: last good value
	last float64
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
	return p.register(opGaugeFunc, name, &tags, f)
}

// CounterFunc is GaugeFunc for a counter family, exposed with "_total"
// appended; f must return a cumulative, never-decreasing total. A read
// that is negative, NaN, infinite or smaller than the previous good one is
// counted (reason invalid_value) and the series keeps its previous good
// value (0 before the first); so does a read that panics (counted with
// reason panic), so that a counter never disappears or goes backwards.
func (p *Registry) CounterFunc(name string, tags metricsink.Tags, f func() float64) (unregister func()) {
	return p.register(opCounterFunc, name, &tags, f)
}

func (p *Registry) register(o op, name string, tags *metricsink.Tags, f func() float64) (unregister func()) {
	noop := func() {}
	if f == nil {
		p.drop(drop.InvalidValue, o.typ(), name, "nil callback")
		return noop
	}
	if !tags.Valid() {
		p.drop(drop.InvalidTags, o.typ(), name, tags.Err().Error())
		return noop
	}
	defer p.emit()
	p.mu.Lock()
	defer p.mu.Unlock()
	fam, why, msg := p.familyLocked(o, name)
	if fam == nil {
		p.dropLocked(why, o.typ(), name, msg)
		return noop
	}
	labels, why, msg := p.labelsLocked(tags)
	if why != 0 {
		p.dropLocked(why, o.typ(), name, msg)
		return noop
	}
	canon := string(renderLabels(nil, labels))
	if fam.byCanon[canon] != nil {
		p.dropLocked(drop.Duplicate, fam.kind.String(), name, "series "+fam.name+canon+" exists already")
		return noop
	}
	if fam.nreal >= p.maxSeries {
		p.dropped.Add(drop.Overflow, 1)
		p.queueLocked("overflow\x00"+fam.name, "metricsink: metric reached its series limit; GaugeFunc and CounterFunc registrations past it are refused",
			slog.Int("limit", p.maxSeries), slog.String("metric", fam.name))
		return noop
	}
	if p.nseries >= p.maxTotal {
		p.dropLocked(drop.Overflow, fam.kind.String(), name, "the registry reached its limit on series (Options.MaxSeries)")
		return noop
	}
	s := p.newSeriesLocked(fam, labels, func(s *series) {
		s.fn = &callback{f: f, counter: o == opCounterFunc}
	})
	fam.nreal++
	funcs := append(slices.Clone(*p.funcs.Load()), s)
	p.funcs.Store(&funcs)
	var once sync.Once
	return func() {
		once.Do(func() {
			p.mu.Lock()
			defer p.mu.Unlock()
			if fam.byCanon[canon] != s {
				return
			}
			p.removeSeriesLocked(s, canon)
			old := *p.funcs.Load()
			next := make([]*series, 0, len(old))
			for _, x := range old {
				if x != s {
					next = append(next, x)
				}
			}
			p.funcs.Store(&next)
			p.dropRawLocked(s)
		})
	}
}

// dropRawLocked forgets the raw keys that lead to s.
func (p *Registry) dropRawLocked(s *series) {
	changed := false
	for k, e := range p.rawDirty {
		if e.s == s {
			delete(p.rawDirty, k)
			changed = true
		}
	}
	if changed {
		m := maps.Clone(p.rawDirty)
		p.raw.Store(&m)
		p.rawMisses = 0
	}
	for _, hn := range *p.hot.Load() {
		for o := range hn.lists {
			l := hn.lists[o].Load()
			if l == nil {
				continue
			}
			var keep []hotTags
			for _, h := range *l {
				if h.e.s != s {
					keep = append(keep, h)
				}
			}
			if len(keep) != len(*l) {
				hn.lists[o].Store(&keep)
			}
		}
	}
}

// funcResult is what one exposition read from a callback.
type funcResult struct {
	v  float64
	ok bool
}

// collect calls every callback, each in a goroutine of its own, and waits
// for them for at most the callback timeout in all. Callbacks still
// running from an earlier exposition are not called again. The result
// holds the series that returned in time, with their values.
func (p *Registry) collect() map[*series]float64 {
	funcs := *p.funcs.Load()
	if len(funcs) == 0 {
		return nil
	}
	type done struct {
		i int
		r funcResult
	}
	ch := make(chan done, len(funcs)) // never blocks a late callback
	started := 0
	for i, s := range funcs {
		if !s.fn.busy.CompareAndSwap(false, true) {
			p.dropped.Add(drop.Timeout, 1)
			continue
		}
		started++
		go func() {
			r := p.call(s)
			s.fn.busy.Store(false)
			ch <- done{i, r}
		}()
	}
	out := make(map[*series]float64, len(funcs))
	if started == 0 {
		return out
	}
	timer := time.NewTimer(p.cbTimeout)
	defer timer.Stop()
	for got := 0; got < started; got++ {
		select {
		case d := <-ch:
			if d.r.ok {
				out[funcs[d.i]] = d.r.v
			}
		case <-timer.C:
			late := started - got
			p.dropped.Add(drop.Timeout, uint64(late))
			p.mu.Lock()
			p.queueLocked("timeout", "metricsink: a GaugeFunc or CounterFunc callback did not return in time; its series is left out of the exposition until it does",
				slog.Duration("timeout", p.cbTimeout))
			p.mu.Unlock()
			p.emit()
			return out
		}
	}
	return out
}

// call reads the callback of s, recovering a panic, and applies the
// counter rules.
func (p *Registry) call(s *series) (r funcResult) {
	cb := s.fn
	defer func() {
		if x := recover(); x != nil {
			p.dropped.Add(drop.Panic, 1)
			p.mu.Lock()
			p.queueLocked("panic\x00"+s.fam.name, "metricsink: recovered from a panic in a GaugeFunc or CounterFunc callback",
				slog.String("metric", s.fam.name), slog.Any("panic", x))
			p.mu.Unlock()
			p.emit()
			r = funcResult{}
			if cb.counter {
				cb.mu.Lock()
				r = funcResult{v: cb.last, ok: true}
				cb.mu.Unlock()
			}
		}
	}()
	v := cb.f()
	if !cb.counter {
		return funcResult{v: v, ok: true}
	}
	cb.mu.Lock()
	last := cb.last
	good := v >= last && v <= math.MaxFloat64
	if good {
		cb.last = v
	}
	cb.mu.Unlock()
	if !good {
		p.drop(drop.InvalidValue, "counter", s.fam.name, "a CounterFunc read "+strconv.FormatFloat(v, 'g', -1, 64)+" after "+strconv.FormatFloat(last, 'g', -1, 64)+"; counters must be finite and never decrease")
		return funcResult{v: last, ok: true}
	}
	return funcResult{v: v, ok: true}
}
