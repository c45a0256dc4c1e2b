package otlp

import (
	"context"
	"math"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/realtimeserver/observability/drop"
	"github.com/realtimeserver/observability/metricsink"
)

// NewCounter implements metricsink.HandleSink: the name and tags are
// resolved once; Add records with no lookup.
func (s *Sink) NewCounter(name string, tags metricsink.Tags) metricsink.Adder {
	in, r := s.lookup(name, metricsink.Counter, false, false)
	if in == nil {
		return dropper{s, r}
	}
	set, ok := s.attrs(tags)
	if !ok {
		return dropper{s, drop.InvalidTags}
	}
	return &counterHandle{s: s, c: in.counter, opts: []metric.AddOption{metric.WithAttributeSet(set)}}
}

// NewGauge implements metricsink.HandleSink: the handle holds the value,
// which is exported at each collection.
func (s *Sink) NewGauge(name string, tags metricsink.Tags) metricsink.GaugeUpdater {
	in, r := s.lookup(name, metricsink.Gauge, false, false)
	if in == nil {
		return dropper{s, r}
	}
	set, ok := s.attrs(tags)
	if !ok {
		return dropper{s, drop.InvalidTags}
	}
	sr := in.seriesFor(set, nil, s.maxSeries)
	if sr == nil {
		return dropper{s, drop.Overflow}
	}
	return &gaugeHandle{s: s, sr: sr}
}

// NewHistogram implements metricsink.HandleSink.
func (s *Sink) NewHistogram(name string, tags metricsink.Tags) metricsink.Observer {
	return s.histogramHandle(name, false, tags)
}

// NewTimer implements metricsink.HandleSink: durations are recorded in
// seconds.
func (s *Sink) NewTimer(name string, tags metricsink.Tags) metricsink.DurationObserver {
	return s.histogramHandle(name, true, tags)
}

func (s *Sink) histogramHandle(name string, duration bool, tags metricsink.Tags) *histHandle {
	in, r := s.lookup(name, metricsink.Histogram, duration, false)
	if in == nil {
		return &histHandle{s: s, reason: r}
	}
	set, ok := s.attrs(tags)
	if !ok {
		return &histHandle{s: s, reason: drop.InvalidTags}
	}
	return &histHandle{s: s, h: in.hist, opts: []metric.RecordOption{metric.WithAttributeSet(set)}}
}

// dropper is the handle of a rejected series: it counts each sample.
type dropper struct {
	s      *Sink
	reason drop.Reason
}

func (d dropper) Add(float64) { d.s.drop(d.reason) }
func (d dropper) Set(float64) { d.s.drop(d.reason) }

type counterHandle struct {
	s    *Sink
	c    metric.Float64Counter
	opts []metric.AddOption
}

func (h *counterHandle) Add(v float64) {
	switch {
	case h.s.closed.Load():
		h.s.drop(drop.Closed)
	case !finite(v) || v < 0:
		h.s.drop(drop.InvalidValue)
	default:
		h.c.Add(context.Background(), v, h.opts...)
	}
}

type gaugeHandle struct {
	s  *Sink
	sr *series
}

func (h *gaugeHandle) Set(v float64) {
	if h.s.closed.Load() {
		h.s.drop(drop.Closed)
		return
	}
	h.sr.bits.Store(math.Float64bits(v))
}

func (h *gaugeHandle) Add(d float64) {
	if h.s.closed.Load() {
		h.s.drop(drop.Closed)
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
	s      *Sink
	h      metric.Float64Histogram
	opts   []metric.RecordOption
	reason drop.Reason // non-zero: the series was rejected
}

func (h *histHandle) Observe(v float64) {
	switch {
	case h.reason != 0:
		h.s.drop(h.reason)
	case h.s.closed.Load():
		h.s.drop(drop.Closed)
	case !finite(v) || v < 0:
		h.s.drop(drop.InvalidValue)
	default:
		h.h.Record(context.Background(), v, h.opts...)
	}
}

func (h *histHandle) ObserveDuration(d time.Duration) { h.Observe(d.Seconds()) }
