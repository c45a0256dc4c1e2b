package wsmetrics

import (
	"strings"
	"sync"
	"time"

	"github.com/realtimeserver/observability/metricsink"
)

// recorder is an in-memory Sink and FuncSink for tests. Series are keyed as
// name{k=v,k=v} in the order the tags were given.
type recorder struct {
	mu        sync.Mutex
	counters  map[string]float64
	gauges    map[string]float64
	durations map[string]int
	funcs     map[string]func() float64
	invalid   int
}

func newRecorder() *recorder {
	return &recorder{
		counters:  map[string]float64{},
		gauges:    map[string]float64{},
		durations: map[string]int{},
		funcs:     map[string]func() float64{},
	}
}

var (
	_ metricsink.Sink     = (*recorder)(nil)
	_ metricsink.FuncSink = (*recorder)(nil)
)

func seriesKey(name string, tags metricsink.Tags) string {
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte('{')
	i := 0
	for k, v := range tags.All() {
		if i > 0 {
			b.WriteByte(',')
		}
		i++
		b.WriteString(k + "=" + v)
	}
	b.WriteByte('}')
	return b.String()
}

func (r *recorder) Increment(name string, v float64, tags metricsink.Tags) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !tags.Valid() {
		r.invalid++
		return
	}
	r.counters[seriesKey(name, tags)] += v
}

func (r *recorder) Gauge(name string, v float64, tags metricsink.Tags) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gauges[seriesKey(name, tags)] = v
}

func (r *recorder) Histogram(name string, v float64, tags metricsink.Tags) {}

func (r *recorder) Duration(name string, d time.Duration, tags metricsink.Tags) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.durations[seriesKey(name, tags)]++
}

func (r *recorder) GaugeFunc(name string, tags metricsink.Tags, f func() float64) func() {
	k := seriesKey(name, tags)
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.funcs[k]; dup {
		panic("GaugeFunc registered twice: " + k)
	}
	r.funcs[k] = f
	return func() {
		r.mu.Lock()
		delete(r.funcs, k)
		r.mu.Unlock()
	}
}

func (r *recorder) CounterFunc(name string, tags metricsink.Tags, f func() float64) func() {
	return r.GaugeFunc(name, tags, f)
}

func (r *recorder) counter(key string) float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counters[key]
}

// gauge reads a gauge the way a scrape would: through its function when one
// is registered, else its last value.
func (r *recorder) gauge(key string) float64 {
	r.mu.Lock()
	f, ok := r.funcs[key]
	v := r.gauges[key]
	r.mu.Unlock()
	if ok {
		return f()
	}
	return v
}

func (r *recorder) duration(key string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.durations[key]
}

func (r *recorder) nfuncs() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.funcs)
}

// labelValues returns the distinct values of label among the counter series
// of name, with their totals.
func (r *recorder) labelValues(name, label string) map[string]float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]float64{}
	for k, v := range r.counters {
		rest, ok := strings.CutPrefix(k, name+"{")
		if !ok {
			continue
		}
		for _, kv := range strings.Split(strings.TrimSuffix(rest, "}"), ",") {
			if val, ok := strings.CutPrefix(kv, label+"="); ok {
				out[val] += v
			}
		}
	}
	return out
}

// pushSink hides the FuncSink methods of a recorder, like a backend that
// can only be told values.
type pushSink struct{ r *recorder }

func (p pushSink) Increment(n string, v float64, t metricsink.Tags) { p.r.Increment(n, v, t) }
func (p pushSink) Gauge(n string, v float64, t metricsink.Tags)     { p.r.Gauge(n, v, t) }
func (p pushSink) Histogram(n string, v float64, t metricsink.Tags) { p.r.Histogram(n, v, t) }
func (p pushSink) Duration(n string, d time.Duration, t metricsink.Tags) {
	p.r.Duration(n, d, t)
}
