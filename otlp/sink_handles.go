package otlp

import (
	"context"
	"math"
	"time"

	"github.com/realtimeserver/observability/drop"
	"github.com/realtimeserver/observability/metricsink"
)

// NewCounter implements metricsink.HandleSink: the name and tags are
// resolved once; Add records with no lookup.
func (s *Sink) NewCounter(name string, tags metricsink.Tags) metricsink.Adder {
	t, d := s.handle(metricsink.OpIncrement, name, &tags)
	if t == nil {
		return d
	}
	return &counterHandle{s: s, t: t, name: name}
}

// NewGauge implements metricsink.HandleSink: the handle holds the value,
// which is exported at each collection.
func (s *Sink) NewGauge(name string, tags metricsink.Tags) metricsink.GaugeUpdater {
	t, d := s.handle(metricsink.OpGauge, name, &tags)
	if t == nil {
		return d
	}
	return &gaugeHandle{s: s, sr: t.gauge, name: name}
}

// NewHistogram implements metricsink.HandleSink.
func (s *Sink) NewHistogram(name string, tags metricsink.Tags) metricsink.Observer {
	return s.histogramHandle(metricsink.OpHistogram, name, &tags)
}

// NewTimer implements metricsink.HandleSink: durations are recorded in
// seconds.
func (s *Sink) NewTimer(name string, tags metricsink.Tags) metricsink.DurationObserver {
	return s.histogramHandle(metricsink.OpDuration, name, &tags)
}

// handle resolves the series of a handle, or returns the handle that
// drops and counts each sample, having warned once.
func (s *Sink) handle(op metricsink.Op, name string, tags *metricsink.Tags) (*target, *dropper) {
	if err := tags.Err(); err != nil {
		s.drops.Note(drop.InvalidTags, op.Kind(), name, err.Error())
		s.drops.Emit()
		return nil, &dropper{s: s, k: op.Kind(), name: name, reason: drop.InvalidTags}
	}
	t, f := s.resolve(op, name, tags)
	if t == nil {
		if f.detail != "" {
			s.drops.Note(f.r, op.Kind(), name, f.detail)
			s.drops.Emit()
		} else {
			s.drops.Add(f.r, ^uint64(0)) // counted by the kind table: each sample counts its own
		}
		return nil, &dropper{s: s, k: op.Kind(), name: name, reason: f.r}
	}
	return t, nil
}

func (s *Sink) histogramHandle(op metricsink.Op, name string, tags *metricsink.Tags) histogramHandleType {
	t, d := s.handle(op, name, tags)
	if t == nil {
		return d
	}
	return &histHandle{s: s, t: t, name: name}
}

// dropper is the handle of a rejected series: it counts each sample.
type dropper struct {
	s      *Sink
	k      metricsink.Kind
	name   string
	reason drop.Reason
}

func (d *dropper) Add(float64)                   { d.s.drops.Add(d.reason, 1) }
func (d *dropper) Set(float64)                   { d.s.drops.Add(d.reason, 1) }
func (d *dropper) Observe(float64)               { d.s.drops.Add(d.reason, 1) }
func (d *dropper) ObserveDuration(time.Duration) { d.s.drops.Add(d.reason, 1) }

type counterHandle struct {
	s    *Sink
	t    *target
	name string
}

func (h *counterHandle) Add(v float64) {
	switch {
	case h.s.closed.Load():
		h.s.drops.Drop(drop.Closed, metricsink.Counter, h.name, "the sink is closed")
	case !finite(v) || v < 0:
		h.s.drops.Drop(drop.InvalidValue, metricsink.Counter, h.name, "counter increments must be finite and not negative")
	default:
		h.t.in.counter.Add(context.Background(), v, h.t.add...)
	}
}

type gaugeHandle struct {
	s    *Sink
	sr   *series
	name string
}

func (h *gaugeHandle) Set(v float64) {
	if h.s.closed.Load() {
		h.s.drops.Drop(drop.Closed, metricsink.Gauge, h.name, "the sink is closed")
		return
	}
	h.sr.bits.Store(math.Float64bits(v))
}

func (h *gaugeHandle) Add(d float64) {
	if h.s.closed.Load() {
		h.s.drops.Drop(drop.Closed, metricsink.Gauge, h.name, "the sink is closed")
		return
	}
	for {
		old := h.sr.bits.Load()
		if h.sr.bits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+d)) {
			return
		}
	}
}

type histHandle struct {
	s    *Sink
	t    *target
	name string
}

func (h *histHandle) Observe(v float64) { h.ObserveExemplar(v, metricsink.Exemplar{}) }

func (h *histHandle) ObserveDuration(d time.Duration) {
	h.ObserveExemplar(d.Seconds(), metricsink.Exemplar{})
}

// ObserveExemplar implements metricsink.ExemplarObserver: v is recorded
// with ex, which the SDK's exemplar reservoir keeps (see record).
func (h *histHandle) ObserveExemplar(v float64, ex metricsink.Exemplar) {
	switch {
	case h.s.closed.Load():
		h.s.drops.Drop(drop.Closed, metricsink.Histogram, h.name, "the sink is closed")
	case !finite(v) || v < 0:
		h.s.drops.Drop(drop.InvalidValue, metricsink.Histogram, h.name, "observations and durations must be finite and not negative")
	default:
		record(h.t, v, ex)
	}
}

// ObserveDurationExemplar implements metricsink.ExemplarDurationObserver:
// d is recorded in seconds, with ex.
func (h *histHandle) ObserveDurationExemplar(d time.Duration, ex metricsink.Exemplar) {
	h.ObserveExemplar(d.Seconds(), ex)
}

// histogramHandleType is what NewHistogram and NewTimer return.
type histogramHandleType interface {
	metricsink.Observer
	metricsink.DurationObserver
}

var (
	_ metricsink.ExemplarObserver         = (*histHandle)(nil)
	_ metricsink.ExemplarDurationObserver = (*histHandle)(nil)
)
