package prometheus

import (
	"math"
	"time"

	"github.com/realtimeserver/observability/drop"
	"github.com/realtimeserver/observability/metricsink"
)

// NewCounter returns the handle of the counter name with tags: the series
// is resolved now, so that each Add is one atomic operation, without
// lookup, lock or allocation. Use metricsink.NewCounter, which accepts any
// Sink. A name or tags that Increment would drop give a handle that drops
// and counts every sample.
func (p *Registry) NewCounter(name string, tags metricsink.Tags) metricsink.Adder {
	e, d := p.handleEntry(metricsink.OpIncrement, name, &tags)
	if e.s == nil {
		return d
	}
	return &counterHandle{p: p, s: e.s, ov: e.ov, name: name}
}

// NewGauge returns the handle of the gauge name with tags; see NewCounter.
func (p *Registry) NewGauge(name string, tags metricsink.Tags) metricsink.GaugeUpdater {
	e, d := p.handleEntry(metricsink.OpGauge, name, &tags)
	if e.s == nil {
		return d
	}
	return &gaugeHandle{s: e.s, ov: e.ov}
}

// NewHistogram returns the handle of the histogram name with tags; see
// NewCounter.
func (p *Registry) NewHistogram(name string, tags metricsink.Tags) metricsink.Observer {
	e, d := p.handleEntry(metricsink.OpHistogram, name, &tags)
	if e.s == nil {
		return d
	}
	return &histogramHandle{p: p, s: e.s, h: e.s.hist, ov: e.ov, name: name}
}

// NewTimer returns the handle of the timing name with tags, recorded in
// seconds as Duration does; see NewCounter.
func (p *Registry) NewTimer(name string, tags metricsink.Tags) metricsink.DurationObserver {
	e, d := p.handleEntry(metricsink.OpDuration, name, &tags)
	if e.s == nil {
		return d
	}
	return &histogramHandle{p: p, s: e.s, h: e.s.hist, ov: e.ov, name: name}
}

func (p *Registry) handleEntry(op metricsink.Op, name string, tags *metricsink.Tags) (*entry, *dropHandle) {
	if !tags.Valid() {
		p.drops.Note(drop.InvalidTags, op.Kind(), name, tags.Err().Error())
		p.drops.Emit()
		return &entry{}, &dropHandle{p: p, why: drop.InvalidTags}
	}
	e := p.resolve(op, name, tags, nil, false)
	if e.s == nil {
		// Resolving counted a drop, but no sample was given yet: each
		// call of the handle counts its own.
		p.drops.Add(e.why, ^uint64(0))
		return e, &dropHandle{p: p, why: e.why}
	}
	return e, nil
}

type counterHandle struct {
	p    *Registry
	s    *series
	ov   *series
	name string
}

func (h *counterHandle) Add(v float64) {
	if v == 1 && h.ov == nil { // Inc: one atomic add
		h.s.ints.Add(1)
		return
	}
	if !(v >= 0 && v <= math.MaxFloat64) {
		h.p.drops.Drop(drop.InvalidValue, metricsink.Counter, h.name, "counter increments must be finite and not negative")
		return
	}
	h.s.addCounter(v)
	if h.ov != nil {
		h.ov.ints.Add(1)
	}
}

type gaugeHandle struct{ s, ov *series }

func (h *gaugeHandle) Set(v float64) {
	h.s.bits.Store(math.Float64bits(v))
	if h.ov != nil {
		h.ov.ints.Add(1)
	}
}

func (h *gaugeHandle) Add(d float64) {
	addFloat(&h.s.bits, d)
	if h.ov != nil {
		h.ov.ints.Add(1)
	}
}

type histogramHandle struct {
	p    *Registry
	s    *series
	h    *histogram // s.hist
	ov   *series
	name string
}

func (h *histogramHandle) Observe(v float64) {
	if !(v >= 0 && v <= math.MaxFloat64) {
		h.p.drops.Drop(drop.InvalidValue, metricsink.Histogram, h.name, "histogram observations must be finite and not negative")
		return
	}
	h.h.observe(v)
	if h.ov != nil {
		h.ov.ints.Add(1)
	}
}

func (h *histogramHandle) ObserveDuration(d time.Duration) {
	if d < 0 {
		h.p.drops.Drop(drop.InvalidValue, metricsink.Histogram, h.name, "durations must not be negative")
		return
	}
	h.h.observe(d.Seconds())
	if h.ov != nil {
		h.ov.ints.Add(1)
	}
}

// ObserveExemplar records v as Observe does, with ex as the exemplar of
// its bucket and the series' latest one (kept when its trace id is
// valid), stamped with v and the time now: no allocation, one lock taken
// for the observation and the exemplar together.
func (h *histogramHandle) ObserveExemplar(v float64, ex metricsink.Exemplar) {
	if !(v >= 0 && v <= math.MaxFloat64) {
		h.p.drops.Drop(drop.InvalidValue, metricsink.Histogram, h.name, "histogram observations must be finite and not negative")
		return
	}
	h.s.observeExemplar(v, &ex)
	if h.ov != nil {
		h.ov.ints.Add(1)
	}
}

// ObserveDurationExemplar records d as ObserveDuration does, with ex as
// ObserveExemplar keeps it.
func (h *histogramHandle) ObserveDurationExemplar(d time.Duration, ex metricsink.Exemplar) {
	if d < 0 {
		h.p.drops.Drop(drop.InvalidValue, metricsink.Histogram, h.name, "durations must not be negative")
		return
	}
	h.s.observeExemplar(d.Seconds(), &ex)
	if h.ov != nil {
		h.ov.ints.Add(1)
	}
}

var (
	_ metricsink.ExemplarObserver         = (*histogramHandle)(nil)
	_ metricsink.ExemplarDurationObserver = (*histogramHandle)(nil)
)

// dropHandle is the handle of a rejected name or tags: it counts every
// sample as dropped.
type dropHandle struct {
	p   *Registry
	why drop.Reason
}

func (d *dropHandle) Add(float64)                   { d.p.drops.Add(d.why, 1) }
func (d *dropHandle) Set(float64)                   { d.p.drops.Add(d.why, 1) }
func (d *dropHandle) Observe(float64)               { d.p.drops.Add(d.why, 1) }
func (d *dropHandle) ObserveDuration(time.Duration) { d.p.drops.Add(d.why, 1) }
