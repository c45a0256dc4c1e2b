package prometheus_test

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/realtimeserver/observability/drop"
	"github.com/realtimeserver/observability/metricsink"
	"github.com/realtimeserver/observability/metricsink/prometheus"
)

// family returns the family name of fams, failing the test without it.
func family(t *testing.T, fams []prometheus.Family, name string) prometheus.Family {
	t.Helper()
	for _, f := range fams {
		if f.Name == name {
			return f
		}
	}
	t.Fatalf("no family %s", name)
	return prometheus.Family{}
}

// exactQuantile is the nearest-rank q-quantile of sorted.
func exactQuantile(sorted []float64, q float64) float64 {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// Quantiles from Snapshot are within 5% of the exact ones for the
// distributions of latency a service sees: spread over seven decades, two
// peaks far apart, one constant; with exact peaks and with a jitter of a
// few percent around them.
func TestQuantilesWithinFivePercent(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 21))
	const n = 100000
	logUniform := func(lo, hi float64) func() float64 {
		return func() float64 { return math.Exp(math.Log(lo) + r.Float64()*(math.Log(hi)-math.Log(lo))) }
	}
	jitter := func(v float64) float64 { return v * math.Exp(0.02*r.NormFloat64()) }
	tests := []struct {
		name string
		next func() float64 // seconds
	}{
		{"log-uniform 10 µs to 60 s", logUniform(10e-6, 60)},
		{"bimodal 200 µs (60%) and 300 ms (40%)", func() float64 {
			if r.IntN(10) < 6 {
				return 200e-6
			}
			return 0.3
		}},
		{"bimodal 200 µs (90%) and 300 ms (10%)", func() float64 {
			if r.IntN(10) < 9 {
				return 200e-6
			}
			return 0.3
		}},
		{"bimodal with 2% jitter", func() float64 {
			if r.IntN(10) < 7 {
				return jitter(200e-6)
			}
			return jitter(0.3)
		}},
		{"constant 400 µs", func() float64 { return 400e-6 }},
		{"400 µs with 2% jitter", func() float64 { return jitter(400e-6) }},
		{"log-normal around 2 ms", func() float64 { return 2e-3 * math.Exp(0.8*r.NormFloat64()) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg, _ := newProm(t, nil)
			timer := metricsink.NewTimer(reg, "http.request.duration", metricsink.KV("route", "GET /"))
			vals := make([]float64, n)
			for i := range vals {
				d := time.Duration(tt.next() * 1e9)
				vals[i] = d.Seconds()
				timer.Observe(d)
			}
			slices.Sort(vals)
			s := family(t, reg.Snapshot(), "http_request_duration_seconds").Series[0]
			if s.Count != n || s.Native == nil || s.Native.Count() != n {
				t.Fatalf("count %d, native %+v; want %d", s.Count, s.Native, n)
			}
			if len(s.Native.Counts) > prometheus.DefaultMaxNativeBuckets {
				t.Errorf("%d native buckets, past the bound", len(s.Native.Counts))
			}
			for _, q := range []float64{0.5, 0.95, 0.99} {
				want := exactQuantile(vals, q)
				got := s.Quantile(q)
				e := math.Abs(got-want) / want
				t.Logf("p%g = %.6g, exact %.6g: %.2f%% (schema %d, %d buckets)", q*100, got, want, e*100, s.Native.Schema, len(s.Native.Counts))
				if !(e <= 0.05) {
					t.Errorf("p%g = %.6g, exact %.6g: relative error %.1f%% (schema %d)", q*100, got, want, e*100, s.Native.Schema)
				}
			}
		})
	}
}

// The classic buckets alone could not give these: with the buckets the
// registry had before (5 ms to 10 s), a constant 400 µs reads as 2.5 ms.
// Series.Quantile falls back to them, interpolated as histogram_quantile
// does, where a series has no native buckets.
func TestQuantileClassicFallback(t *testing.T) {
	inf := math.Inf(1)
	s := prometheus.Series{Count: 100, Buckets: []prometheus.Bucket{{UpperBound: 0.005, Count: 100}, {UpperBound: 0.01, Count: 100}, {UpperBound: inf, Count: 100}}}
	if got := s.Quantile(0.5); got != 0.0025 {
		t.Errorf("classic p50 = %v, want 0.0025", got)
	}
	tests := []struct {
		name string
		s    prometheus.Series
		q    float64
		want float64
	}{
		{"across buckets", prometheus.Series{Buckets: []prometheus.Bucket{{UpperBound: 0.1, Count: 50}, {UpperBound: 1, Count: 90}, {UpperBound: inf, Count: 100}}}, 0.95, 1},
		{"within a bucket", prometheus.Series{Buckets: []prometheus.Bucket{{UpperBound: 0.1, Count: 0}, {UpperBound: 0.5, Count: 100}, {UpperBound: inf, Count: 100}}}, 0.5, 0.3},
		{"in +Inf: the highest finite bound", prometheus.Series{Buckets: []prometheus.Bucket{{UpperBound: 1, Count: 0}, {UpperBound: inf, Count: 10}}}, 0.5, 1},
		{"empty", prometheus.Series{Buckets: []prometheus.Bucket{{UpperBound: 1}, {UpperBound: inf}}}, 0.5, math.NaN()},
		{"a gauge", prometheus.Series{Value: 3}, 0.5, math.NaN()},
		{"q below 0", prometheus.Series{Value: 3}, -1, math.Inf(-1)},
		{"q above 1", prometheus.Series{Value: 3}, 2, math.Inf(1)},
		{"q NaN", prometheus.Series{Value: 3}, math.NaN(), math.NaN()},
		{"a summary's objective", prometheus.Series{Count: 3, Objectives: []prometheus.Objective{{Quantile: 0.5, Value: 7}}}, 0.5, 7},
		{"a summary without the objective", prometheus.Series{Count: 3, Objectives: []prometheus.Objective{{Quantile: 0.5, Value: 7}}}, 0.99, math.NaN()},
		{"empty native buckets: the classic ones", prometheus.Series{Native: &prometheus.NativeHistogram{Schema: 3},
			Buckets: []prometheus.Bucket{{UpperBound: 0.1, Count: 0}, {UpperBound: 0.5, Count: 100}, {UpperBound: inf, Count: 100}}}, 0.5, 0.3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.s.Quantile(tt.q)
			if !(got == tt.want || math.IsNaN(got) && math.IsNaN(tt.want) || math.Abs(got-tt.want) < 1e-12) {
				t.Errorf("Quantile(%v) = %v, want %v", tt.q, got, tt.want)
			}
		})
	}
}

// NativeHistogram's arithmetic: bounds, spans, sums and differences at the
// lower schema, and quantiles of hand-made histograms.
func TestNativeHistogramArithmetic(t *testing.T) {
	h := prometheus.NativeHistogram{Schema: 0, ZeroThreshold: 0x1p-128, ZeroCount: 1, Offset: -1, Counts: []uint64{2, 0, 3, 0, 0, 0, 1}}
	if lo, hi := h.Bounds(2); lo != 2 || hi != 4 {
		t.Errorf("Bounds(2) at schema 0 = %v, %v; want 2, 4", lo, hi)
	}
	if lo, hi := (prometheus.NativeHistogram{Schema: 3}).Bounds(8); math.Abs(lo-math.Exp2(7.0/8)) > 1e-15 || hi != 2 {
		t.Errorf("Bounds(8) at schema 3 = %v, %v; want 2^(7/8), 2", lo, hi)
	}
	if _, hi := (prometheus.NativeHistogram{Schema: -4}).Bounds(64); hi != math.MaxFloat64 {
		t.Errorf("the last bucket at schema -4 ends at %v, want math.MaxFloat64", hi)
	}
	spans, deltas := h.Spans()
	wantSpans := []prometheus.BucketSpan{{Offset: -1, Length: 3}, {Offset: 3, Length: 1}}
	wantDeltas := []int64{2, -2, 3, -2}
	if !slices.Equal(spans, wantSpans) || !slices.Equal(deltas, wantDeltas) {
		t.Errorf("Spans = %v, %v; want %v, %v", spans, deltas, wantSpans, wantDeltas)
	}
	if h.Count() != 7 {
		t.Errorf("Count = %d, want 7", h.Count())
	}

	// Schema 1 plus schema 0: buckets of schema 1 merge in pairs (index
	// k becomes ceil(k/2)).
	fine := prometheus.NativeHistogram{Schema: 1, ZeroThreshold: 0x1p-128, Offset: 3, Counts: []uint64{1, 1, 5}} // 3, 4, 5 -> 2, 2, 3
	sum := h.Add(fine)
	if sum.Schema != 0 || sum.ZeroCount != 1 || sum.Offset != -1 || !slices.Equal(sum.Counts, []uint64{2, 0, 3, 2, 5, 0, 1}) {
		t.Errorf("Add = %+v", sum)
	}
	if d := sum.Sub(h); d.Schema != 0 || d.ZeroCount != 0 || d.Offset != 2 || !slices.Equal(d.Counts, []uint64{2, 5}) {
		t.Errorf("Sub = %+v, want the schema-1 part at schema 0: 2 at 2, 5 at 3", d)
	}
	if d := h.Sub(sum); d.Count() != 0 || len(d.Counts) != 0 {
		t.Errorf("a reset reads as %+v, want nothing", d)
	}
	if e := (prometheus.NativeHistogram{}).Add(fine); e.Schema != 1 || !slices.Equal(e.Counts, fine.Counts) {
		t.Errorf("empty + h = %+v, want h", e)
	}

	// Quantiles: a lone bucket is read at its geometric middle, the zero
	// bucket linearly.
	lone := prometheus.NativeHistogram{Schema: 0, ZeroThreshold: 0x1p-128, Offset: 3, Counts: []uint64{10}} // (4, 8]
	for _, q := range []float64{0.01, 0.5, 1} {
		if got := lone.Quantile(q); math.Abs(got-math.Sqrt(32)) > 1e-12 {
			t.Errorf("lone bucket p%g = %v, want %v", q*100, got, math.Sqrt(32))
		}
	}
	// A level run of buckets is interpolated geometrically.
	level := prometheus.NativeHistogram{Schema: 0, Offset: 1, Counts: []uint64{10, 10, 10, 10}} // (1, 16]
	if got := level.Quantile(0.5); math.Abs(got-4) > 1e-12 {
		t.Errorf("level p50 = %v, want 4", got)
	}
	if got := level.Quantile(0.625); math.Abs(got-math.Sqrt(32)) > 1e-12 {
		t.Errorf("level p62.5 = %v, want %v", got, math.Sqrt(32))
	}
	zeros := prometheus.NativeHistogram{Schema: 3, ZeroThreshold: 0x1p-128, ZeroCount: 10}
	if got := zeros.Quantile(0.5); got != 0x1p-129 {
		t.Errorf("zero bucket p50 = %v, want %v", got, 0x1p-129)
	}
	if got := (prometheus.NativeHistogram{Schema: 3}).Quantile(0.5); !math.IsNaN(got) {
		t.Errorf("empty p50 = %v, want NaN", got)
	}
	// Out-of-range schemas do not panic.
	for _, schema := range []int32{8, 60, -60, math.MaxInt32, math.MinInt32} {
		x := prometheus.NativeHistogram{Schema: schema, Offset: 1, Counts: []uint64{1, 2}}
		_ = x.Quantile(0.5)
		_ = x.Add(lone)
		_ = lone.Sub(x)
	}
}

// Widening keeps the bucket bound, whatever the range; the bound is an
// option, at least 72.
func TestNativeBucketBound(t *testing.T) {
	for _, bound := range []int{0, 72, 100, 1000} {
		reg, _ := newProm(t, &prometheus.Options{MaxNativeBuckets: bound})
		h := metricsink.NewHistogram(reg, "wide", metricsink.Tags{})
		r := rand.New(rand.NewPCG(5, uint64(bound)))
		for range 20000 {
			h.Observe(math.Exp2(-127 + r.Float64()*1150))
		}
		h.Observe(math.MaxFloat64)
		s := family(t, reg.Snapshot(), "wide").Series[0]
		want := bound
		if want == 0 {
			want = prometheus.DefaultMaxNativeBuckets
		}
		if n := len(s.Native.Counts); n > want || s.Native.Count() != 20001 || s.Native.Schema >= 3 {
			t.Errorf("bound %d: %d buckets at schema %d, %d observations", want, n, s.Native.Schema, s.Native.Count())
		}
	}
	for _, bad := range []int{-1, 1, 71} {
		if _, err := prometheus.New(&prometheus.Options{MaxNativeBuckets: bad}); err == nil || !strings.Contains(err.Error(), "Options.MaxNativeBuckets") {
			t.Errorf("MaxNativeBuckets %d: err = %v, want one naming the option", bad, err)
		}
	}
}

func sampledContext(traceByte, spanByte byte) (context.Context, metricsink.Exemplar) {
	var tid trace.TraceID
	var sid trace.SpanID
	for i := range tid {
		tid[i] = traceByte + byte(i)
	}
	for i := range sid {
		sid[i] = spanByte + byte(i)
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled})
	return trace.ContextWithSpanContext(context.Background(), sc), metricsink.Exemplar{TraceID: tid, SpanID: sid}
}

// Each classic bucket keeps the latest exemplar of its observations, and
// the native histogram the latest overall; through the handles and the
// Sink methods; only sampled spans with valid ids are kept.
func TestExemplarsPerBucket(t *testing.T) {
	reg, _ := newProm(t, nil)
	if err := metricsink.Declare(reg, metricsink.Desc{Name: "size", Kind: metricsink.Histogram, Unit: "bytes", Help: "Sizes.", Buckets: []float64{10, 100}}); err != nil {
		t.Fatal(err)
	}
	h := metricsink.NewHistogram(reg, "size", metricsink.Tags{})
	ctxA, exA := sampledContext(0x10, 0x20)
	ctxB, exB := sampledContext(0xa0, 0xb0)
	ctxC, exC := sampledContext(0x30, 0x40)
	before := time.Now()
	h.ObserveContext(ctxA, 5)   // bucket 10
	h.ObserveContext(ctxB, 7)   // bucket 10: the latest
	h.ObserveContext(ctxA, 500) // +Inf
	unsampled := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{TraceID: exC.TraceID, SpanID: exC.SpanID}))
	h.ObserveContext(unsampled, 8)                                             // counted, no exemplar
	reg.HistogramExemplar("size", 9, metricsink.Tags{}, metricsink.Exemplar{}) // an invalid trace id: counted, not kept
	metricsink.HistogramContext(ctxC, reg, "size", 50, metricsink.Tags{})      // bucket 100, the latest overall
	s := family(t, reg.Snapshot(), "size_bytes").Series[0]
	if s.Count != 6 {
		t.Fatalf("count %d, want 6", s.Count)
	}
	check := func(what string, got *prometheus.Exemplar, want metricsink.Exemplar, v float64) {
		t.Helper()
		if got == nil {
			t.Errorf("%s: no exemplar, want %v", what, want)
			return
		}
		if got.Exemplar != want || got.Value != v || got.Time.Before(before.Add(-time.Second)) || got.Time.After(time.Now()) {
			t.Errorf("%s: exemplar %+v, want %v with value %v", what, got, want, v)
		}
	}
	check("bucket 10", s.Buckets[0].Exemplar, exB, 7)
	check("bucket 100", s.Buckets[1].Exemplar, exC, 50)
	check("bucket +Inf", s.Buckets[2].Exemplar, exA, 500)
	check("native", s.Native.Exemplar, exC, 50)
	if l := s.Buckets[0].Exemplar.Labels(); len(l) != 2 || l[0] != (metricsink.Tag{Key: "trace_id", Value: "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"}) ||
		l[1] != (metricsink.Tag{Key: "span_id", Value: "b0b1b2b3b4b5b6b7"}) {
		t.Errorf("labels = %v, want trace_id and span_id in lowercase hex", l)
	}

	// Timers and Duration: the same.
	tm := metricsink.NewTimer(reg, "wait", metricsink.Tags{})
	tm.ObserveContext(ctxA, 300*time.Microsecond)
	metricsink.DurationContext(ctxB, reg, "wait", 2*time.Second, metricsink.Tags{})
	w := family(t, reg.Snapshot(), "wait_seconds").Series[0]
	check("timer", w.Buckets[slices.IndexFunc(w.Buckets, func(b prometheus.Bucket) bool { return b.UpperBound >= 0.0003 })].Exemplar, exA, 0.0003)
	check("duration", w.Native.Exemplar, exB, 2)
	for i, b := range w.Buckets {
		if b.Exemplar != nil && b.UpperBound != 0.0005 && b.UpperBound != 2.5 {
			t.Errorf("bucket %d (le %v) has exemplar %+v", i, b.UpperBound, b.Exemplar)
		}
	}
}

// Hostile observations never panic: NaN, infinities and negatives are
// dropped and counted, every other value is counted in both views, the
// tiniest in the zero bucket and the largest in the last finite bucket.
func TestHostileObservations(t *testing.T) {
	reg, _ := newProm(t, nil)
	h := metricsink.NewHistogram(reg, "hostile", metricsink.Tags{})
	tm := metricsink.NewTimer(reg, "hostile.wait", metricsink.Tags{})
	ctx, _ := sampledContext(1, 2)
	rejected := []float64{math.NaN(), math.Inf(1), math.Inf(-1), -1, -math.SmallestNonzeroFloat64, -math.MaxFloat64}
	accepted := []float64{0, math.Copysign(0, -1), math.SmallestNonzeroFloat64, 1e-300, 0x1p-128, math.Nextafter(0x1p-128, 1), 1e-9, 1, 1e300, math.MaxFloat64}
	for _, v := range slices.Concat(rejected, accepted) {
		h.Observe(v)
		h.ObserveContext(ctx, v)
		reg.Histogram("hostile", v, metricsink.Tags{})
		metricsink.HistogramContext(ctx, reg, "hostile", v, metricsink.Tags{})
	}
	for _, d := range []time.Duration{-1, math.MinInt64, 0, 1, math.MaxInt64} {
		tm.Observe(d)
		tm.ObserveContext(ctx, d)
		reg.Duration("hostile.wait", d, metricsink.Tags{})
		metricsink.DurationContext(ctx, reg, "hostile.wait", d, metricsink.Tags{})
	}
	if got, want := reg.Stats().Dropped.Get(drop.InvalidValue), uint64(4*len(rejected)+4*2); got != want {
		t.Errorf("dropped as invalid_value: %d, want %d", got, want)
	}
	fams := reg.Snapshot()
	s := family(t, fams, "hostile").Series[0]
	if s.Count != uint64(4*len(accepted)) || s.Native.Count() != s.Count || s.Native.ZeroCount != 4*5 {
		t.Errorf("count %d, native %d (zero %d); want %d, %d in the zero bucket", s.Count, s.Native.Count(), s.Native.ZeroCount, 4*len(accepted), 4*5)
	}
	if !math.IsInf(s.Sum, 1) {
		t.Errorf("sum %v, want +Inf (MaxFloat64 added up)", s.Sum)
	}
	if len(s.Native.Counts) > prometheus.DefaultMaxNativeBuckets {
		t.Errorf("%d native buckets", len(s.Native.Counts))
	}
	for _, q := range []float64{0, 0.25, 0.5, 0.99, 1} {
		if v := s.Quantile(q); math.IsNaN(v) || v < 0 || v > math.MaxFloat64 {
			t.Errorf("p%g = %v", q*100, v)
		}
	}
	if got := family(t, fams, "hostile_wait_seconds").Series[0].Count; got != 4*3 {
		t.Errorf("durations counted: %d, want 12", got)
	}
	checkExposition(t, scrape(reg))
}

// Concurrent observations, with and without exemplars, beside scrapes and
// snapshots: nothing is lost (run under -race).
func TestConcurrentObserve(t *testing.T) {
	reg, _ := newProm(t, nil)
	const writers, each = 4, 3000
	var wg sync.WaitGroup
	done := make(chan struct{})
	var readers sync.WaitGroup
	readers.Add(1)
	go func() {
		defer readers.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			_ = scrape(reg)
			for _, f := range reg.Snapshot() {
				for _, s := range f.Series {
					if s.Native != nil && s.Native.Count() != s.Count {
						t.Errorf("%s: native count %d, count %d", f.Name, s.Native.Count(), s.Count)
						return
					}
				}
			}
		}
	}()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := metricsink.NewHistogram(reg, "shared", metricsink.Tags{})
			ctx, _ := sampledContext(byte(w), byte(w))
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for i := range each {
				v := math.Pow(10, -7+r.Float64()*12)
				switch i % 3 {
				case 0:
					h.Observe(v)
				case 1:
					h.ObserveContext(ctx, v)
				default:
					reg.Histogram("shared", v, metricsink.Tags{})
				}
			}
		}()
	}
	wg.Wait()
	close(done)
	readers.Wait()
	s := family(t, reg.Snapshot(), "shared").Series[0]
	if s.Count != writers*each || s.Native.Count() != writers*each {
		t.Errorf("count %d, native %d; want %d", s.Count, s.Native.Count(), writers*each)
	}
}
