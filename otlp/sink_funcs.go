package otlp

import (
	"github.com/realtimeserver/observability/drop"
	"github.com/realtimeserver/observability/metricsink"
)

// GaugeFunc implements metricsink.FuncSink: f is read before each export
// (metricsink.Funcs: in a goroutine of its own, with no lock held, so f
// may use the Sink, waiting at most SinkOptions.CallbackTimeout), from the
// Sink's export goroutine or from a caller of Flush or Close. A panic in f
// is recovered and counted (reason panic). The returned function
// unregisters f; calling it more than once is harmless.
func (s *Sink) GaugeFunc(name string, tags metricsink.Tags, f func() float64) (unregister func()) {
	return s.register(metricsink.OpGauge, name, tags, f)
}

// CounterFunc implements metricsink.FuncSink: f must return a cumulative,
// never-decreasing total. A value that is not finite, negative or smaller
// than the previous one is dropped (reason invalid_value) and the
// previous value is exported again. A name is a CounterFunc counter or an
// Increment counter, not both: OpenTelemetry has one instrument for each,
// so the second use is refused (reason type_clash).
func (s *Sink) CounterFunc(name string, tags metricsink.Tags, f func() float64) (unregister func()) {
	return s.register(metricsink.OpIncrement, name, tags, f)
}

func (s *Sink) register(op metricsink.Op, name string, tags metricsink.Tags, fn func() float64) func() {
	k := op.Kind()
	if fn == nil {
		s.drops.Drop(drop.InvalidValue, k, name, "nil callback")
		return func() {}
	}
	in, f := s.use(op, name, true)
	if in == nil {
		s.count(f, k, name)
		return func() {}
	}
	set, f := s.attrs(&tags)
	if f.r != 0 {
		s.count(f, k, name)
		return func() {}
	}
	sr := s.seriesFor(in, set, true)
	if sr == nil {
		s.drops.Drop(drop.Overflow, k, name, "the metric holds SinkOptions.MaxSeries series")
		return func() {}
	}
	_, undo := s.funcs.Add(name, k, fn, sr)
	return func() {
		undo()
		s.remove(in, sr)
	}
}
