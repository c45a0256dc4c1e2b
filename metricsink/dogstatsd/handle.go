package dogstatsd

import (
	"math"
	"sync/atomic"
	"time"

	"github.com/realtimeserver/observability/drop"

	"github.com/realtimeserver/observability/metricsink"
)

// NewCounter returns the handle of the counter name with tags: the name
// and tags are converted, and the kind checked, now, so that each Add
// only hands the sample to the client. Use metricsink.NewCounter, which
// accepts any Sink. A rejected name or tags give a handle that drops and
// counts every sample.
func (s *Sink) NewCounter(name string, tags metricsink.Tags) metricsink.Adder {
	return &handle{s: s, o: opCount, sr: s.resolve(opCount, name, &tags), name: name}
}

// NewGauge returns the handle of the gauge name with tags. The handle
// keeps the gauge's value, so that Add can send the new value; see
// NewCounter.
func (s *Sink) NewGauge(name string, tags metricsink.Tags) metricsink.GaugeUpdater {
	return &gaugeHandle{handle: handle{s: s, o: opGauge, sr: s.resolve(opGauge, name, &tags), name: name}}
}

// NewHistogram returns the handle of the histogram name with tags; see
// NewCounter.
func (s *Sink) NewHistogram(name string, tags metricsink.Tags) metricsink.Observer {
	return &handle{s: s, o: opHistogram, sr: s.resolve(opHistogram, name, &tags), name: name}
}

// NewTimer returns the handle of the timing name with tags, sent in
// milliseconds as Duration does; see NewCounter.
func (s *Sink) NewTimer(name string, tags metricsink.Tags) metricsink.DurationObserver {
	return &handle{s: s, o: opTiming, sr: s.resolve(opTiming, name, &tags), name: name}
}

type handle struct {
	s    *Sink
	o    op
	sr   *series
	name string
}

func (h *handle) record(v float64) {
	s := h.s
	if !validValue(h.o, v) {
		s.dropValue(h.o, h.name)
		return
	}
	s.sendMu.RLock()
	defer s.sendMu.RUnlock()
	switch {
	case s.closed.Load():
		s.drops.Drop(drop.Closed, h.o.Kind(), h.name, "the sink is closed")
	case h.sr.reason != 0:
		s.drops.Drop(h.sr.reason, h.o.Kind(), h.name, h.sr.detail)
	default:
		s.send(h.o, h.sr, v)
	}
}

func (h *handle) Add(v float64)     { h.record(v) }
func (h *handle) Observe(v float64) { h.record(v) }

func (h *handle) ObserveDuration(d time.Duration) {
	if d < 0 {
		h.s.dropValue(h.o, h.name)
		return
	}
	h.record(float64(d) / float64(time.Millisecond))
}

type gaugeHandle struct {
	handle
	bits atomic.Uint64
}

func (g *gaugeHandle) Set(v float64) {
	if !math.IsNaN(v) && !math.IsInf(v, 0) {
		g.bits.Store(math.Float64bits(v))
	}
	g.record(v)
}

func (g *gaugeHandle) Add(d float64) {
	for {
		old := g.bits.Load()
		v := math.Float64frombits(old) + d
		if math.IsNaN(v) || math.IsInf(v, 0) {
			g.record(v) // dropped and counted
			return
		}
		if g.bits.CompareAndSwap(old, math.Float64bits(v)) {
			g.record(v)
			return
		}
	}
}
