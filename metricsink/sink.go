package metricsink

import (
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

// MaxTags is the most tags one Tags value holds. Metrics with more labels
// than this are rarely a good idea; a KV call given more is marked invalid
// and its samples are dropped and counted by the sink.
const MaxTags = 8

// Tag is one metric label: a key and its value.
type Tag struct {
	Key, Value string
}

// Tags is a small, fixed-capacity list of tags. It is a value type so that
// passing it through the Sink interface never allocates; the zero Tags is
// the empty list.
type Tags struct {
	n       uint8
	invalid bool
	tags    [MaxTags]Tag
}

// KV builds Tags from alternating keys and values:
//
//	sink.Increment("comments.created", 1, metricsink.KV("region", region))
//
// An odd number of strings, or more than 2*MaxTags of them, gives Tags that
// report Valid() == false; sinks drop such samples and count them.
func KV(kv ...string) Tags {
	var t Tags
	if len(kv)%2 != 0 || len(kv) > 2*MaxTags {
		t.invalid = true
		return t
	}
	for i := 0; i < len(kv); i += 2 {
		t.tags[t.n] = Tag{Key: kv[i], Value: kv[i+1]}
		t.n++
	}
	return t
}

// With returns a copy of t with one more tag. Past MaxTags the copy is
// marked invalid. t itself is never changed.
func (t Tags) With(key, value string) Tags {
	if int(t.n) >= MaxTags {
		t.invalid = true
		return t
	}
	t.tags[t.n] = Tag{Key: key, Value: value}
	t.n++
	return t
}

// Len reports the number of tags.
func (t *Tags) Len() int { return int(t.n) }

// At returns the i'th tag, 0 <= i < Len().
func (t *Tags) At(i int) Tag { return t.tags[i] }

// Valid reports whether t was built without error: an even number of
// strings, at most MaxTags pairs.
func (t *Tags) Valid() bool { return !t.invalid }

// All returns the tags as a slice that aliases t; callers must not keep it
// beyond the call that received t.
func (t *Tags) All() []Tag { return t.tags[:t.n:t.n] }

// Discard is a Sink that drops every sample.
var Discard Sink = discard{}

type discard struct{}

func (discard) Increment(string, float64, Tags)      {}
func (discard) Gauge(string, float64, Tags)          {}
func (discard) Histogram(string, float64, Tags)      {}
func (discard) Duration(string, time.Duration, Tags) {}

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

var _ FuncSink = fanout(nil)

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
