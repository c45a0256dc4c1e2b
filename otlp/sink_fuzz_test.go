package otlp

import (
	"context"
	"math"
	"testing"
	"unicode/utf8"

	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/realtimeserver/observability/metricsink"
)

// FuzzSamples: whatever name, tag and value a caller passes, the Sink
// neither panics nor exports a string that OTLP's protobuf encoding would
// refuse, and every sample it does not record is counted.
func FuzzSamples(f *testing.F) {
	f.Add("comments.created", "channel", "video", 1.0)
	f.Add("a", "", "x", -1.0)
	f.Add("9x", "k", "\xff", math.NaN())
	f.Add("http.request.duration", "k\xfe", "v", 0.5)
	f.Add("x/y-z_w", "route", "/api/{id}", math.Inf(1))
	f.Fuzz(func(t *testing.T, name, key, value string, v float64) {
		e := &memExporter{}
		s, err := NewSink(&SinkOptions{Exporter: e, Interval: 1 << 62, MaxValueBytes: 16})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close(context.Background())
		tags := metricsink.KV(key, value)
		s.Increment(name, v, tags)
		s.Gauge(name+".g", v, tags)
		s.Histogram(name+".h", v, tags)
		var ex metricsink.Exemplar
		copy(ex.TraceID[:], key+value)
		copy(ex.SpanID[:], value)
		s.HistogramExemplar(name+".x", v, tags, ex)
		metricsink.NewCounter(s, name+".c", tags).Add(v)
		if err := s.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		if e.last == nil {
			return
		}
		for _, sm := range e.last.ScopeMetrics {
			for _, m := range sm.Metrics {
				if !utf8.ValidString(m.Name) || !validName(m.Name) {
					t.Errorf("exported name %q", m.Name)
				}
				checkPoints(t, m)
			}
		}
	})
}

func checkPoints(t *testing.T, m metricdata.Metrics) {
	var sets []map[string]string
	switch d := m.Data.(type) {
	case metricdata.Sum[float64]:
		for _, p := range d.DataPoints {
			sets = append(sets, attrsOf(p.Attributes))
		}
	case metricdata.Gauge[float64]:
		for _, p := range d.DataPoints {
			sets = append(sets, attrsOf(p.Attributes))
		}
	case metricdata.Histogram[float64]:
		for _, p := range d.DataPoints {
			sets = append(sets, attrsOf(p.Attributes))
		}
	case metricdata.ExponentialHistogram[float64]:
		for _, p := range d.DataPoints {
			sets = append(sets, attrsOf(p.Attributes))
			n := p.ZeroCount
			for _, c := range p.PositiveBucket.Counts {
				n += c
			}
			if n != p.Count || len(p.NegativeBucket.Counts) != 0 || p.Scale > ExponentialMaxScale {
				t.Errorf("%s: count %d, buckets and zeros %d, negative %v, scale %d", m.Name, p.Count, n, p.NegativeBucket.Counts, p.Scale)
			}
			for _, e := range p.Exemplars {
				if len(e.TraceID) != 16 || len(e.SpanID) != 8 || e.Value != p.Sum {
					t.Errorf("%s: exemplar %+v of a series whose sum is %v", m.Name, e, p.Sum)
				}
			}
		}
	default:
		t.Errorf("%s: data %T", m.Name, m.Data)
	}
	for _, a := range sets {
		for k, v := range a {
			if !utf8.ValidString(k) || !utf8.ValidString(v) || len(v) > 16 {
				t.Errorf("%s exported tag %q=%q", m.Name, k, v)
			}
		}
	}
}
