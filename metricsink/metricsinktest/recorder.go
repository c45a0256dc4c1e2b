// Package metricsinktest provides a Sink that records every sample in
// memory, for tests of code that takes a metricsink.Sink:
//
//	rec := metricsinktest.New()
//	handler := httpmetrics.New(rec, ...)   // any code that records
//	...
//	if got := rec.Count("http.requests", "status", "200"); got != 1 { t.Errorf(...) }
//
// Names and tags are recorded exactly as given, without the mapping of a
// real backend, so tests assert on what the code asked for. NewStrict
// returns a Recorder that also fails the test on a misuse a real backend
// would only count: Tags whose Err is not nil, a name used (or declared)
// with two kinds, an invalid declaration.
package metricsinktest

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/realtimeserver/observability/metricsink"
)

// Kind says which Sink method recorded a sample.
type Kind string

// The kinds of samples.
const (
	Counter   Kind = "counter"   // Increment
	Gauge     Kind = "gauge"     // Gauge
	Histogram Kind = "histogram" // Histogram
	Duration  Kind = "duration"  // Duration; Value is in seconds
)

// Sample is one recorded call, or one read of a registered function.
type Sample struct {
	Name  string
	Kind  Kind
	Value float64           // the value; seconds for Duration
	Tags  map[string]string // nil when the call had no tags
	Valid bool              // Tags.Valid() of the call or registration
	// Func is true for a sample that Collect read from a GaugeFunc
	// (Kind Gauge) or CounterFunc (Kind Counter). Its Value is what the
	// function returned: for a CounterFunc the cumulative total, not an
	// increment, so read it with Last rather than Sum.
	Func bool
	// Exemplar is the exemplar of a Histogram or Duration sample recorded
	// through metricsink.HistogramContext or DurationContext (or a
	// handle's ObserveContext) inside a sampled span; nil otherwise.
	Exemplar *metricsink.Exemplar
}

// Recorder is a metricsink.Sink and metricsink.FuncSink that records every
// sample. It is safe for concurrent use. The zero Recorder is not ready;
// use New.
type Recorder struct {
	t       testing.TB // NewStrict's; nil otherwise
	mu      sync.Mutex
	samples []Sample
	funcs   map[*funcEntry]struct{}
	descs   map[string]metricsink.Desc // by metricsink.SnakeCase(name)
	kinds   map[string]metricsink.Kind // by metricsink.SnakeCase(name)
}

type funcEntry struct {
	name  string
	kind  Kind
	tags  map[string]string
	valid bool
	f     func() float64
}

var (
	_ metricsink.Sink     = (*Recorder)(nil)
	_ metricsink.FuncSink = (*Recorder)(nil)
	_ metricsink.Declarer = (*Recorder)(nil)
)

// New returns an empty Recorder.
func New() *Recorder {
	return &Recorder{funcs: make(map[*funcEntry]struct{}), descs: map[string]metricsink.Desc{}, kinds: map[string]metricsink.Kind{}}
}

// NewStrict returns an empty Recorder that reports, with t.Errorf, every
// misuse a real backend would drop and count: Tags whose Err is not nil,
// a name used or declared with a kind other than its first, and an
// invalid declaration. The sample is recorded all the same.
func NewStrict(t testing.TB) *Recorder {
	r := New()
	r.t = t
	return r
}

func tagMap(tags metricsink.Tags) map[string]string {
	if tags.Len() == 0 {
		return nil
	}
	m := make(map[string]string, tags.Len())
	for k, v := range tags.All() {
		m[k] = v
	}
	return m
}

func (k Kind) kind() metricsink.Kind {
	switch k {
	case Counter:
		return metricsink.Counter
	case Gauge:
		return metricsink.Gauge
	}
	return metricsink.Histogram
}

// check records the kind of name and returns the misuse to report, or "".
// Called with mu held.
func (r *Recorder) checkLocked(name string, k metricsink.Kind, tags metricsink.Tags) string {
	if err := tags.Err(); err != nil {
		return "metric " + name + ": " + err.Error()
	}
	base := metricsink.SnakeCase(name)
	if have, ok := r.kinds[base]; ok && have != k {
		return "metric " + name + " used as a " + k.String() + " but it is a " + have.String() + " (first use wins; backends drop these samples)"
	} else if !ok {
		r.kinds[base] = k
	}
	return ""
}

func (r *Recorder) report(msg string) {
	if msg != "" && r.t != nil {
		r.t.Helper()
		r.t.Errorf("metricsinktest: %s", msg)
	}
}

func (r *Recorder) add(name string, k Kind, v float64, tags metricsink.Tags) {
	r.addExemplar(name, k, v, tags, nil)
}

func (r *Recorder) addExemplar(name string, k Kind, v float64, tags metricsink.Tags, ex *metricsink.Exemplar) {
	s := Sample{Name: name, Kind: k, Value: v, Tags: tagMap(tags), Valid: tags.Valid(), Exemplar: ex}
	r.mu.Lock()
	r.samples = append(r.samples, s)
	msg := r.checkLocked(name, k.kind(), tags)
	r.mu.Unlock()
	r.report(msg)
}

// Declare records d; Desc returns it. A Desc that is not valid, or whose
// name is already used or declared with another kind, is an error (and
// fails the test of a strict Recorder).
func (r *Recorder) Declare(d metricsink.Desc) error {
	if err := d.Validate(); err != nil {
		r.report(err.Error())
		return err
	}
	r.mu.Lock()
	msg := r.checkLocked(d.Name, d.Kind, metricsink.Tags{})
	if msg == "" {
		r.descs[metricsink.SnakeCase(d.Name)] = d
	}
	r.mu.Unlock()
	if msg != "" {
		r.report(msg)
		return errors.New("metricsinktest: " + msg)
	}
	return nil
}

// Desc returns the declaration of name (or of a name with the same
// metricsink.SnakeCase), and false when it was not declared.
func (r *Recorder) Desc(name string) (metricsink.Desc, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d, ok := r.descs[metricsink.SnakeCase(name)]
	return d, ok
}

// Increment records a Counter sample.
func (r *Recorder) Increment(name string, value float64, tags metricsink.Tags) {
	r.add(name, Counter, value, tags)
}

// Gauge records a Gauge sample.
func (r *Recorder) Gauge(name string, value float64, tags metricsink.Tags) {
	r.add(name, Gauge, value, tags)
}

// Histogram records a Histogram sample.
func (r *Recorder) Histogram(name string, value float64, tags metricsink.Tags) {
	r.add(name, Histogram, value, tags)
}

// Duration records a Duration sample whose Value is d in seconds.
func (r *Recorder) Duration(name string, d time.Duration, tags metricsink.Tags) {
	r.add(name, Duration, d.Seconds(), tags)
}

// HistogramExemplar records a Histogram sample with its exemplar.
func (r *Recorder) HistogramExemplar(name string, value float64, tags metricsink.Tags, ex metricsink.Exemplar) {
	r.addExemplar(name, Histogram, value, tags, &ex)
}

// DurationExemplar records a Duration sample with its exemplar.
func (r *Recorder) DurationExemplar(name string, d time.Duration, tags metricsink.Tags, ex metricsink.Exemplar) {
	r.addExemplar(name, Duration, d.Seconds(), tags, &ex)
}

var _ metricsink.ExemplarSink = (*Recorder)(nil)

// GaugeFunc registers f, even nil; Collect reads it. The returned function
// unregisters it and may be called more than once.
func (r *Recorder) GaugeFunc(name string, tags metricsink.Tags, f func() float64) (unregister func()) {
	return r.register(name, Gauge, tags, f)
}

// CounterFunc registers f, even nil; Collect reads it and records the
// total it returns (see Collect). The returned function unregisters it and
// may be called more than once.
func (r *Recorder) CounterFunc(name string, tags metricsink.Tags, f func() float64) (unregister func()) {
	return r.register(name, Counter, tags, f)
}

func (r *Recorder) register(name string, k Kind, tags metricsink.Tags, f func() float64) func() {
	e := &funcEntry{name: name, kind: k, tags: tagMap(tags), valid: tags.Valid(), f: f}
	r.mu.Lock()
	r.funcs[e] = struct{}{}
	msg := r.checkLocked(name, k.kind(), tags)
	r.mu.Unlock()
	r.report(msg)
	return func() {
		r.mu.Lock()
		delete(r.funcs, e)
		r.mu.Unlock()
	}
}

// Collect calls every registered GaugeFunc and CounterFunc, as a scrape
// would, and records what they return as samples of kind Gauge or Counter
// with Func set. A CounterFunc sample holds the current total the function
// returned, not the increase since the last Collect: use Last for it (Sum
// adds the totals of every Collect). A nil function, or one that panics,
// records nothing. The callbacks run without the Recorder's lock held.
func (r *Recorder) Collect() {
	r.mu.Lock()
	entries := make([]*funcEntry, 0, len(r.funcs))
	for e := range r.funcs {
		entries = append(entries, e)
	}
	r.mu.Unlock()
	for _, e := range entries {
		v, ok := read(e.f)
		if !ok {
			continue
		}
		r.mu.Lock()
		r.samples = append(r.samples, Sample{Name: e.name, Kind: e.kind, Value: v, Tags: e.tags, Valid: e.valid, Func: true})
		r.mu.Unlock()
	}
}

// read calls f, reporting false when f is nil or panics.
func read(f func() float64) (v float64, ok bool) {
	if f == nil {
		return 0, false
	}
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return f(), true
}

// Funcs reports how many GaugeFunc and CounterFunc registrations are live.
func (r *Recorder) Funcs() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.funcs)
}

// Samples returns a copy of the samples recorded under name whose tags
// include every key/value pair of kv ("status", "200", ...), in the order
// they were recorded. An empty name matches every name. An odd kv matches
// nothing.
func (r *Recorder) Samples(name string, kv ...string) []Sample {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Sample
	if len(kv)%2 != 0 {
		return nil
	}
	for _, s := range r.samples {
		if (name == "" || s.Name == name) && matches(s.Tags, kv) {
			s.Tags = cloneTags(s.Tags)
			out = append(out, s)
		}
	}
	return out
}

func cloneTags(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func matches(tags map[string]string, kv []string) bool {
	for i := 0; i+1 < len(kv); i += 2 {
		if v, ok := tags[kv[i]]; !ok || v != kv[i+1] {
			return false
		}
	}
	return true
}

// Count reports how many samples Samples(name, kv...) would return.
func (r *Recorder) Count(name string, kv ...string) int {
	return len(r.Samples(name, kv...))
}

// Sum adds up the values of Samples(name, kv...): the total of a counter
// recorded with Increment. Samples that Collect read from a CounterFunc hold
// cumulative totals, which Sum adds up as well; use Last for those.
func (r *Recorder) Sum(name string, kv ...string) float64 {
	var sum float64
	for _, s := range r.Samples(name, kv...) {
		sum += s.Value
	}
	return sum
}

// Last returns the value of the latest of Samples(name, kv...), the
// current value of a gauge, and false when there is none.
func (r *Recorder) Last(name string, kv ...string) (float64, bool) {
	s := r.Samples(name, kv...)
	if len(s) == 0 {
		return 0, false
	}
	return s[len(s)-1].Value, true
}

// Names returns the distinct names recorded, sorted.
func (r *Recorder) Names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	for _, s := range r.samples {
		if !seen[s.Name] {
			seen[s.Name] = true
			out = append(out, s.Name)
		}
	}
	slices.Sort(out)
	return out
}

// Reset forgets every recorded sample; registered functions stay.
func (r *Recorder) Reset() {
	r.mu.Lock()
	r.samples = nil
	r.mu.Unlock()
}
