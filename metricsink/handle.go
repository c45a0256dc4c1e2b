package metricsink

import (
	"math"
	"sync/atomic"
	"time"
)

// HandleSink is implemented by sinks that resolve a name and tags once and
// return what records into that series directly. Use the package functions
// NewCounter, NewGauge, NewHistogram and NewTimer, which accept any Sink.
//
// The returned values must be safe for concurrent use, must never be nil,
// and their methods must not allocate, look anything up, block or panic.
// A name or tags the sink rejects give a value that drops and counts each
// sample, as the Sink methods would.
type HandleSink interface {
	NewCounter(name string, tags Tags) Adder
	NewGauge(name string, tags Tags) GaugeUpdater
	NewHistogram(name string, tags Tags) Observer
	NewTimer(name string, tags Tags) DurationObserver
}

// Adder adds to a counter series: what a CounterHandle calls.
type Adder interface{ Add(v float64) }

// GaugeUpdater sets or adds to a gauge series: what a GaugeHandle calls.
type GaugeUpdater interface {
	Set(v float64)
	Add(delta float64)
}

// Observer records one observation in a histogram series: what a
// HistogramHandle calls.
type Observer interface{ Observe(v float64) }

// DurationObserver records one duration in a timing series: what a
// TimerHandle calls.
type DurationObserver interface{ ObserveDuration(d time.Duration) }

// CounterHandle records into one counter series, a name and tags resolved
// once by NewCounter. Add and Inc look nothing up and allocate nothing
// through any sink of the kit, Fanout included. The zero CounterHandle
// drops everything. Safe for concurrent use; copy it freely.
type CounterHandle struct{ a Adder }

// NewCounter returns the handle of the counter name with tags on s. It is
// Increment(name, v, tags) made cheap: resolve once, at start-up or when a
// connection opens, and call Add on the hot path. On a sink that is not a
// HandleSink, Add calls s.Increment.
func NewCounter(s Sink, name string, tags Tags) CounterHandle {
	if h, ok := s.(HandleSink); ok {
		return CounterHandle{h.NewCounter(name, tags)}
	}
	return CounterHandle{&sinkCounter{s: s, name: name, tags: tags}}
}

// Add adds v, which must be finite and not negative, as Increment does.
func (c CounterHandle) Add(v float64) {
	if c.a != nil {
		c.a.Add(v)
	}
}

// Inc adds 1.
func (c CounterHandle) Inc() { c.Add(1) }

// GaugeHandle records into one gauge series, resolved once by NewGauge.
// Set, Add, Inc and Dec look nothing up and allocate nothing through any
// sink of the kit. The zero GaugeHandle drops everything. Safe for
// concurrent use.
type GaugeHandle struct{ g GaugeUpdater }

// NewGauge returns the handle of the gauge name with tags on s. On a sink
// that is not a HandleSink the handle keeps the value itself and sends it
// with s.Gauge after each change; concurrent changes may then reach s out
// of order, though the handle's own value is always exact.
func NewGauge(s Sink, name string, tags Tags) GaugeHandle {
	if h, ok := s.(HandleSink); ok {
		return GaugeHandle{h.NewGauge(name, tags)}
	}
	return GaugeHandle{&sinkGauge{s: s, name: name, tags: tags}}
}

// Set sets the gauge to v.
func (g GaugeHandle) Set(v float64) {
	if g.g != nil {
		g.g.Set(v)
	}
}

// Add adds delta (negative to subtract) to the gauge.
func (g GaugeHandle) Add(delta float64) {
	if g.g != nil {
		g.g.Add(delta)
	}
}

// Inc adds 1 to the gauge.
func (g GaugeHandle) Inc() { g.Add(1) }

// Dec subtracts 1 from the gauge.
func (g GaugeHandle) Dec() { g.Add(-1) }

// HistogramHandle records into one histogram series, resolved once by
// NewHistogram. The zero HistogramHandle drops everything. Safe for
// concurrent use.
type HistogramHandle struct{ o Observer }

// NewHistogram returns the handle of the histogram name with tags on s,
// Histogram(name, v, tags) made cheap. On a sink that is not a HandleSink,
// Observe calls s.Histogram.
func NewHistogram(s Sink, name string, tags Tags) HistogramHandle {
	if h, ok := s.(HandleSink); ok {
		return HistogramHandle{h.NewHistogram(name, tags)}
	}
	return HistogramHandle{&sinkHistogram{s: s, name: name, tags: tags}}
}

// Observe records v, which must be finite and not negative.
func (h HistogramHandle) Observe(v float64) {
	if h.o != nil {
		h.o.Observe(v)
	}
}

// TimerHandle records durations into one timing series, resolved once by
// NewTimer. The zero TimerHandle drops everything. Safe for concurrent
// use.
type TimerHandle struct{ o DurationObserver }

// NewTimer returns the handle of the timing name with tags on s,
// Duration(name, d, tags) made cheap. On a sink that is not a HandleSink,
// Observe calls s.Duration.
func NewTimer(s Sink, name string, tags Tags) TimerHandle {
	if h, ok := s.(HandleSink); ok {
		return TimerHandle{h.NewTimer(name, tags)}
	}
	return TimerHandle{&sinkTimer{s: s, name: name, tags: tags}}
}

// Observe records d, which must not be negative.
func (t TimerHandle) Observe(d time.Duration) {
	if t.o != nil {
		t.o.ObserveDuration(d)
	}
}

// Since records the time elapsed since start.
func (t TimerHandle) Since(start time.Time) { t.Observe(time.Since(start)) }

// The handles of a sink that is not a HandleSink.

type sinkCounter struct {
	s    Sink
	name string
	tags Tags
}

func (c *sinkCounter) Add(v float64) { c.s.Increment(c.name, v, c.tags) }

type sinkGauge struct {
	s    Sink
	name string
	tags Tags
	bits atomic.Uint64
}

func (g *sinkGauge) Set(v float64) {
	g.bits.Store(math.Float64bits(v))
	g.s.Gauge(g.name, v, g.tags)
}

func (g *sinkGauge) Add(d float64) {
	for {
		old := g.bits.Load()
		v := math.Float64frombits(old) + d
		if g.bits.CompareAndSwap(old, math.Float64bits(v)) {
			g.s.Gauge(g.name, v, g.tags)
			return
		}
	}
}

type sinkHistogram struct {
	s    Sink
	name string
	tags Tags
}

func (h *sinkHistogram) Observe(v float64) { h.s.Histogram(h.name, v, h.tags) }

type sinkTimer struct {
	s    Sink
	name string
	tags Tags
}

func (t *sinkTimer) ObserveDuration(d time.Duration) { t.s.Duration(t.name, d, t.tags) }

// The handles of a Fanout: one per sink, called in order.

type fanCounter []Adder

func (f fanCounter) Add(v float64) {
	for _, a := range f {
		a.Add(v)
	}
}

type fanGauge []GaugeUpdater

func (f fanGauge) Set(v float64) {
	for _, g := range f {
		g.Set(v)
	}
}

func (f fanGauge) Add(d float64) {
	for _, g := range f {
		g.Add(d)
	}
}

type fanHistogram []Observer

func (f fanHistogram) Observe(v float64) {
	for _, o := range f {
		o.Observe(v)
	}
}

type fanTimer []DurationObserver

func (f fanTimer) ObserveDuration(d time.Duration) {
	for _, o := range f {
		o.ObserveDuration(d)
	}
}

func (f fanout) NewCounter(name string, tags Tags) Adder {
	out := make(fanCounter, 0, len(f))
	for _, s := range f {
		if h := NewCounter(s, name, tags).a; h != nil {
			out = append(out, h)
		}
	}
	return out
}

func (f fanout) NewGauge(name string, tags Tags) GaugeUpdater {
	out := make(fanGauge, 0, len(f))
	for _, s := range f {
		if h := NewGauge(s, name, tags).g; h != nil {
			out = append(out, h)
		}
	}
	return out
}

func (f fanout) NewHistogram(name string, tags Tags) Observer {
	out := make(fanHistogram, 0, len(f))
	for _, s := range f {
		if h := NewHistogram(s, name, tags).o; h != nil {
			out = append(out, h)
		}
	}
	return out
}

func (f fanout) NewTimer(name string, tags Tags) DurationObserver {
	out := make(fanTimer, 0, len(f))
	for _, s := range f {
		if h := NewTimer(s, name, tags).o; h != nil {
			out = append(out, h)
		}
	}
	return out
}

// nop is the handle of Discard.
type nop struct{}

func (nop) Add(float64)                   {}
func (nop) Set(float64)                   {}
func (nop) Observe(float64)               {}
func (nop) ObserveDuration(time.Duration) {}
