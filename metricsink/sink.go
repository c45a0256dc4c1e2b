package metricsink

import (
	"errors"
	"time"
)

// Sink is the metrics facade every backend implements: the guide's
// increment, gauge and histogram, plus Duration so that units stay right
// across backends (Prometheus records seconds, DogStatsD milliseconds).
//
// Names are dotted or snake_case words ("comments.created"); each backend maps
// them to its own conventions. Tags are passed by value, so a call through
// this interface allocates nothing for them.
//
// Implementations must be safe for concurrent use, must never panic and must
// never block the caller on a network: a sample they cannot record is dropped
// and counted.
type Sink interface {
	// Increment adds value (normally 1) to the counter name.
	Increment(name string, value float64, tags Tags)
	// Gauge sets the gauge name to value.
	Gauge(name string, value float64, tags Tags)
	// Histogram records value as one observation of the distribution name.
	Histogram(name string, value float64, tags Tags)
	// Duration records d as one observation of the timing name.
	Duration(name string, d time.Duration, tags Tags)
}

// FuncSink is implemented by sinks that can read a value at collection time
// (a Prometheus scrape, a DogStatsD poll) instead of being told it: pool
// statistics, queue lengths. Use the package functions GaugeFunc and
// CounterFunc, which accept any Sink and report whether it supports this.
type FuncSink interface {
	// GaugeFunc registers f as the source of the gauge name. The returned
	// function unregisters it; calling it more than once is harmless.
	GaugeFunc(name string, tags Tags, f func() float64) (unregister func())
	// CounterFunc registers f as the source of the counter name; f must
	// return a cumulative, never-decreasing total (sql.DBStats.WaitCount).
	CounterFunc(name string, tags Tags, f func() float64) (unregister func())
}

// GaugeFunc registers f on s when s is a FuncSink and returns the function
// that unregisters it, and true. For a Fanout it registers f on each of its
// sinks that is a FuncSink and reports whether there was one. For any other
// sink it returns a no-op and false. ok says that a sink took f, not that it
// accepted name and tags: a sink that rejects them counts that its own way.
func GaugeFunc(s Sink, name string, tags Tags, f func() float64) (unregister func(), ok bool) {
	switch fs := s.(type) {
	case fanout:
		return fs.register(func(c Sink) (func(), bool) { return GaugeFunc(c, name, tags, f) })
	case FuncSink:
		return fs.GaugeFunc(name, tags, f), true
	}
	return func() {}, false
}

// CounterFunc is GaugeFunc for cumulative counters.
func CounterFunc(s Sink, name string, tags Tags, f func() float64) (unregister func(), ok bool) {
	switch fs := s.(type) {
	case fanout:
		return fs.register(func(c Sink) (func(), bool) { return CounterFunc(c, name, tags, f) })
	case FuncSink:
		return fs.CounterFunc(name, tags, f), true
	}
	return func() {}, false
}

// Discard is a Sink that drops every sample.
var Discard Sink = discard{}

type discard struct{}

func (discard) Increment(string, float64, Tags)      {}
func (discard) Gauge(string, float64, Tags)          {}
func (discard) Histogram(string, float64, Tags)      {}
func (discard) Duration(string, time.Duration, Tags) {}

func (discard) NewCounter(string, Tags) Adder          { return nop{} }
func (discard) NewGauge(string, Tags) GaugeUpdater     { return nop{} }
func (discard) NewHistogram(string, Tags) Observer     { return nop{} }
func (discard) NewTimer(string, Tags) DurationObserver { return nop{} }
func (discard) Declare(Desc) error                     { return nil }

// Fanout returns a Sink that sends every sample to each of sinks, in order.
// Nil sinks are skipped; with no sinks left it returns Discard, and with one
// it returns that sink itself.
func Fanout(sinks ...Sink) Sink {
	out := make([]Sink, 0, len(sinks))
	for _, s := range sinks {
		if s != nil {
			out = append(out, s)
		}
	}
	switch len(out) {
	case 0:
		return Discard
	case 1:
		return out[0]
	}
	return fanout(out)
}

type fanout []Sink

var (
	_ FuncSink   = fanout(nil)
	_ HandleSink = fanout(nil)
	_ Declarer   = fanout(nil)
	_ HandleSink = discard{}
)

// Declare declares d on each sink of f that is a Declarer and returns
// their errors joined.
func (f fanout) Declare(d Desc) error {
	var errs []error
	for _, s := range f {
		if err := Declare(s, d); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (f fanout) GaugeFunc(name string, tags Tags, fn func() float64) func() {
	undo, _ := GaugeFunc(f, name, tags, fn)
	return undo
}

func (f fanout) CounterFunc(name string, tags Tags, fn func() float64) func() {
	undo, _ := CounterFunc(f, name, tags, fn)
	return undo
}

// register calls reg for each sink of f and returns the function that
// undoes every registration, and whether reg reported one.
func (f fanout) register(reg func(Sink) (func(), bool)) (func(), bool) {
	var undo []func()
	for _, s := range f {
		if u, ok := reg(s); ok {
			undo = append(undo, u)
		}
	}
	return func() {
		for _, u := range undo {
			u()
		}
	}, len(undo) > 0
}

func (f fanout) Increment(name string, value float64, tags Tags) {
	for _, s := range f {
		s.Increment(name, value, tags)
	}
}

func (f fanout) Gauge(name string, value float64, tags Tags) {
	for _, s := range f {
		s.Gauge(name, value, tags)
	}
}

func (f fanout) Histogram(name string, value float64, tags Tags) {
	for _, s := range f {
		s.Histogram(name, value, tags)
	}
}

func (f fanout) Duration(name string, d time.Duration, tags Tags) {
	for _, s := range f {
		s.Duration(name, d, tags)
	}
}
