package otlp

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/trace"

	"github.com/realtimeserver/observability/metricsink"
)

// spanCtx returns a context carrying a span context with the trace id and
// span id that n makes, sampled or not.
func spanCtx(n uint64, sampled bool) (context.Context, trace.TraceID, trace.SpanID) {
	var tid trace.TraceID
	var sid trace.SpanID
	binary.BigEndian.PutUint64(tid[8:], n+1)
	tid[0] = 0xab
	binary.BigEndian.PutUint64(sid[:], n+1)
	cfg := trace.SpanContextConfig{TraceID: tid, SpanID: sid}
	if sampled {
		cfg.TraceFlags = trace.FlagsSampled
	}
	return trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(cfg)), tid, sid
}

// exemplarsOf returns the exemplars of every data point of a histogram,
// exponential or explicit.
func exemplarsOf(t *testing.T, m metricdata.Metrics) []metricdata.Exemplar[float64] {
	t.Helper()
	var out []metricdata.Exemplar[float64]
	switch d := m.Data.(type) {
	case metricdata.ExponentialHistogram[float64]:
		for _, p := range d.DataPoints {
			out = append(out, p.Exemplars...)
		}
	case metricdata.Histogram[float64]:
		for _, p := range d.DataPoints {
			out = append(out, p.Exemplars...)
		}
	default:
		t.Fatalf("%s: data is %T, want a histogram", m.Name, m.Data)
	}
	return out
}

// TestExemplars: an observation made in a sampled span, through the Sink
// methods or the handles, is exported with an exemplar carrying its trace
// id, span id, value and time; one made outside a span, in an unsampled
// one, or given the zero Exemplar, carries none. Both aggregations keep
// them.
func TestExemplars(t *testing.T) {
	for _, explicit := range []bool{false, true} {
		s, collect := newManual(t, SinkOptions{ExplicitBuckets: explicit})
		before := time.Now()
		type want struct {
			n     uint64
			value float64
		}
		wants := map[string]want{
			"sink.histogram": {1, 0.3},
			"sink.duration":  {2, 0.25},
			"handle.hist":    {3, 5},
			"handle.timer":   {4, 0.002},
		}
		ctx := func(name string) context.Context { c, _, _ := spanCtx(wants[name].n, true); return c }
		tags := metricsink.KV("route", "/x")
		metricsink.HistogramContext(ctx("sink.histogram"), s, "sink.histogram", 0.3, tags)
		metricsink.DurationContext(ctx("sink.duration"), s, "sink.duration", 250*time.Millisecond, tags)
		metricsink.NewHistogram(s, "handle.hist", tags).ObserveContext(ctx("handle.hist"), 5)
		metricsink.NewTimer(s, "handle.timer", tags).ObserveContext(ctx("handle.timer"), 2*time.Millisecond)

		unsampled, _, _ := spanCtx(9, false)
		metricsink.HistogramContext(unsampled, s, "none.unsampled", 1, tags)
		metricsink.NewTimer(s, "none.unsampled.handle", tags).ObserveContext(unsampled, time.Second)
		metricsink.HistogramContext(context.Background(), s, "none.nospan", 1, tags)
		s.HistogramExemplar("none.zero", 1, tags, metricsink.Exemplar{})
		s.DurationExemplar("none.zero.duration", time.Second, tags, metricsink.Exemplar{})

		got := collect()
		for name, w := range wants {
			_, tid, sid := spanCtx(w.n, true)
			ex := exemplarsOf(t, got[name])
			if len(ex) != 1 {
				t.Errorf("explicit %v, %s: %d exemplars, want 1", explicit, name, len(ex))
				continue
			}
			e := ex[0]
			if !bytes.Equal(e.TraceID, tid[:]) || !bytes.Equal(e.SpanID, sid[:]) {
				t.Errorf("explicit %v, %s: exemplar trace %x span %x, want %x %x", explicit, name, e.TraceID, e.SpanID, tid, sid)
			}
			if math.Abs(e.Value-w.value) > 1e-12 || e.Time.Before(before) || e.Time.After(time.Now()) {
				t.Errorf("explicit %v, %s: exemplar value %v at %v, want %v now", explicit, name, e.Value, e.Time, w.value)
			}
		}
		for _, name := range []string{"none.unsampled", "none.unsampled.handle", "none.nospan", "none.zero", "none.zero.duration"} {
			if ex := exemplarsOf(t, got[name]); len(ex) != 0 {
				t.Errorf("explicit %v, %s: exemplars %v, want none", explicit, name, ex)
			}
		}
		if n := s.Stats().Dropped.Total(); n != 0 {
			t.Errorf("explicit %v: dropped %v", explicit, s.Stats().Dropped)
		}
	}
}

// TestExemplarsConcurrent: exemplars recorded from many goroutines at
// once keep their own trace and span ids, never another observation's:
// the context that carries them to the SDK is reused (record).
func TestExemplarsConcurrent(t *testing.T) {
	for _, explicit := range []bool{false, true} {
		s, collect := newManual(t, SinkOptions{ExplicitBuckets: explicit})
		h := metricsink.NewHistogram(s, "handle", metricsink.Tags{})
		const workers, each = 8, 300
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					n := uint64(w*each + i)
					ctx, _, _ := spanCtx(n, true)
					// The value names the observation: n+1 ms.
					v := float64(n+1) / 1000
					h.ObserveContext(ctx, v)
					metricsink.HistogramContext(ctx, s, "sink", v, metricsink.KV("w", string(rune('a'+w))))
				}
			})
		}
		var checked, wrong int
		check := func(got map[string]metricdata.Metrics) {
			for _, name := range []string{"handle", "sink"} {
				if got[name].Data == nil {
					continue
				}
				for _, e := range exemplarsOf(t, got[name]) {
					n := uint64(math.Round(e.Value*1000)) - 1
					_, tid, sid := spanCtx(n, true)
					checked++
					if bytes.Equal(e.TraceID, tid[:]) && bytes.Equal(e.SpanID, sid[:]) {
						continue
					}
					if wrong++; wrong == 1 {
						t.Errorf("explicit %v, %s: the exemplar of value %v has trace %x span %x, want %x %x",
							explicit, name, e.Value, e.TraceID, e.SpanID, tid, sid)
					}
				}
			}
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
	loop:
		for {
			select {
			case <-done:
				break loop
			default:
				check(collect())
			}
		}
		check(collect())
		if checked == 0 || wrong > 0 {
			t.Errorf("explicit %v: %d of %d exemplars exported carry another observation's ids", explicit, wrong, checked)
		}
	}
}

// TestExemplarOverHTTP: an exemplar reaches an OTLP receiver on an
// exponential histogram data point, decoded with the protocol's own types.
func TestExemplarOverHTTP(t *testing.T) {
	rc := &receiver{}
	s := httpSink(t, rc, SinkOptions{Interval: time.Hour})
	ctx, tid, sid := spanCtx(41, true)
	metricsink.DurationContext(ctx, s, "http.request.duration", 420*time.Microsecond, metricsink.KV("route", "/x"))
	s.Duration("http.request.duration", 3*time.Millisecond, metricsink.KV("route", "/x"))
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.requests) == 0 {
		t.Fatal("no export reached the receiver on Close")
	}
	m := rc.requests[0].ResourceMetrics[0].ScopeMetrics[0].Metrics[0]
	eh := m.GetExponentialHistogram()
	if m.Name != "http.request.duration" || eh == nil || len(eh.DataPoints) != 1 {
		t.Fatalf("metric = %v; want http.request.duration as one exponential histogram data point", m)
	}
	p := eh.DataPoints[0]
	if p.Count != 2 || p.Scale > ExponentialMaxScale || len(p.Positive.BucketCounts) == 0 {
		t.Errorf("data point count %d, scale %d, buckets %v", p.Count, p.Scale, p.Positive.BucketCounts)
	}
	if len(p.Exemplars) != 1 {
		t.Fatalf("%d exemplars, want 1", len(p.Exemplars))
	}
	e := p.Exemplars[0]
	if !bytes.Equal(e.TraceId, tid[:]) || !bytes.Equal(e.SpanId, sid[:]) || e.GetAsDouble() != 0.00042 {
		t.Errorf("exemplar trace %x span %x value %v; want %x %x 0.00042", e.TraceId, e.SpanId, e.GetAsDouble(), tid, sid)
	}
}
