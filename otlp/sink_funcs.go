package otlp

import (
	"github.com/realtimeserver/observability/drop"
	"github.com/realtimeserver/observability/metricsink"
)

// GaugeFunc implements metricsink.FuncSink: f is read before each export,
// with no lock held (so f may use the Sink), from the Sink's export
// goroutine or from a caller of Flush or Close. A panic in f is recovered and counted
// (reason panic). The returned function unregisters f; calling it more
// than once is harmless.
func (s *Sink) GaugeFunc(name string, tags metricsink.Tags, f func() float64) (unregister func()) {
	return s.register(name, metricsink.Gauge, false, tags, f)
}

// CounterFunc implements metricsink.FuncSink: f must return a cumulative,
// never-decreasing total. A value that is not finite, negative or smaller
// than the previous one is dropped (reason invalid_value) and the
// previous value is exported again. A name is a CounterFunc counter or an
// Increment counter, not both: OpenTelemetry has one instrument for each,
// so the second use is refused (reason type_clash).
func (s *Sink) CounterFunc(name string, tags metricsink.Tags, f func() float64) (unregister func()) {
	return s.register(name, metricsink.Counter, true, tags, f)
}

func (s *Sink) register(name string, k metricsink.Kind, observed bool, tags metricsink.Tags, f func() float64) func() {
	if f == nil {
		s.drop(drop.InvalidValue)
		return func() {}
	}
	in, r := s.lookup(name, k, false, observed)
	if in == nil {
		s.drop(r)
		return func() {}
	}
	set, ok := s.attrs(tags)
	if !ok {
		return func() {}
	}
	sr := in.seriesFor(set, f, s.maxSeries)
	if sr == nil {
		s.drop(drop.Overflow)
		return func() {}
	}
	return func() { in.remove(sr) }
}
