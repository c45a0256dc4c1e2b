package otlp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"

	"github.com/realtimeserver/observability/drop"
	"github.com/realtimeserver/observability/metricsink"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// memExporter keeps what it is given, for tests that read what a Sink
// exports without a network.
type memExporter struct {
	mu   sync.Mutex
	last *metricdata.ResourceMetrics
	n    int
	// histograms is the aggregation it prefers for histograms; nil: the
	// SDK's default.
	histograms sdkmetric.Aggregation
}

func (e *memExporter) Temporality(k sdkmetric.InstrumentKind) metricdata.Temporality {
	return sdkmetric.DefaultTemporalitySelector(k)
}

func (e *memExporter) Aggregation(k sdkmetric.InstrumentKind) sdkmetric.Aggregation {
	if k == sdkmetric.InstrumentKindHistogram && e.histograms != nil {
		return e.histograms
	}
	return sdkmetric.DefaultAggregationSelector(k)
}

func (e *memExporter) Export(_ context.Context, rm *metricdata.ResourceMetrics) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.last = rm
	e.n++
	return nil
}

func (e *memExporter) ForceFlush(context.Context) error { return nil }
func (e *memExporter) Shutdown(context.Context) error   { return nil }

// newManual returns a Sink that exports to memory only when asked, and a
// function that exports and returns what it held, by name.
func newManual(t testing.TB, opts SinkOptions) (*Sink, func() map[string]metricdata.Metrics) {
	t.Helper()
	e := &memExporter{}
	opts.Exporter = e
	opts.Interval = time.Hour
	s, err := NewSink(&opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s, func() map[string]metricdata.Metrics {
		e.mu.Lock()
		e.last = nil
		e.mu.Unlock()
		if err := s.Flush(context.Background()); err != nil {
			t.Error(err)
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		out := map[string]metricdata.Metrics{}
		if e.last == nil {
			return out
		}
		for _, sm := range e.last.ScopeMetrics {
			for _, m := range sm.Metrics {
				out[m.Name] = m
			}
		}
		return out
	}
}

func attrsOf(set attribute.Set) map[string]string {
	m := map[string]string{}
	for _, kv := range set.ToSlice() {
		m[string(kv.Key)] = kv.Value.Emit()
	}
	return m
}

func sumPoint(t *testing.T, m metricdata.Metrics, key, value string) (float64, bool) {
	t.Helper()
	if m.Data == nil {
		return 0, false
	}
	sum, ok := m.Data.(metricdata.Sum[float64])
	if !ok {
		t.Fatalf("%s: data is %T, want Sum[float64]", m.Name, m.Data)
	}
	if !sum.IsMonotonic {
		t.Errorf("%s: not monotonic", m.Name)
	}
	for _, p := range sum.DataPoints {
		if attrsOf(p.Attributes)[key] == value {
			return p.Value, true
		}
	}
	return 0, false
}

func gaugePoint(t *testing.T, m metricdata.Metrics, key, value string) (float64, bool) {
	t.Helper()
	if m.Data == nil {
		return 0, false
	}
	g, ok := m.Data.(metricdata.Gauge[float64])
	if !ok {
		t.Fatalf("%s: data is %T, want Gauge[float64]", m.Name, m.Data)
	}
	for _, p := range g.DataPoints {
		if attrsOf(p.Attributes)[key] == value {
			return p.Value, true
		}
	}
	return 0, false
}

func TestKinds(t *testing.T) {
	s, collect := newManual(t, SinkOptions{})
	s.Increment("comments.created", 1, metricsink.KV("channel", "video"))
	s.Increment("comments.created", 2, metricsink.KV("channel", "video"))
	s.Increment("comments.created", 5, metricsink.KV("channel", "live"))
	s.Gauge("queue.length", 7, metricsink.KV("queue", "a"))
	s.Gauge("queue.length", 3, metricsink.KV("queue", "a"))
	s.Histogram("body.size", 300, metricsink.Tags{})
	s.Duration("http.request.duration", 150*time.Millisecond, metricsink.KV("route", "/x"))
	s.Duration("http.request.duration", 2*time.Second, metricsink.KV("route", "/x"))

	got := collect()
	if v, ok := sumPoint(t, got["comments.created"], "channel", "video"); !ok || v != 3 {
		t.Errorf("comments.created{video} = %v, %v; want 3", v, ok)
	}
	if v, ok := sumPoint(t, got["comments.created"], "channel", "live"); !ok || v != 5 {
		t.Errorf("comments.created{live} = %v, %v; want 5", v, ok)
	}
	if v, ok := gaugePoint(t, got["queue.length"], "queue", "a"); !ok || v != 3 {
		t.Errorf("queue.length = %v, %v; want 3 (the last value)", v, ok)
	}
	d := got["http.request.duration"]
	if d.Unit != "s" {
		t.Errorf("duration unit = %q, want s", d.Unit)
	}
	h, ok := d.Data.(metricdata.ExponentialHistogram[float64])
	if !ok || len(h.DataPoints) != 1 {
		t.Fatalf("duration data = %#v, want one exponential histogram data point", d.Data)
	}
	p := h.DataPoints[0]
	if p.Count != 2 || math.Abs(p.Sum-2.15) > 1e-9 {
		t.Errorf("duration count, sum = %d, %v; want 2, 2.15", p.Count, p.Sum)
	}
	checkExponential(t, "duration", p, []float64{0.15, 2})
	b, ok := got["body.size"].Data.(metricdata.ExponentialHistogram[float64])
	if !ok {
		t.Fatalf("body.size data = %T, want an exponential histogram", got["body.size"].Data)
	}
	checkExponential(t, "body.size", b.DataPoints[0], []float64{300})
	if n := s.Stats().Dropped.Total(); n != 0 {
		t.Errorf("dropped %d samples, want 0: %v", n, s.Stats().Dropped)
	}
}

// checkExponential checks that p is a base-2 exponential histogram data
// point within the Sink's bounds whose positive buckets hold exactly
// values, each in the bucket whose bounds contain it.
func checkExponential(t *testing.T, what string, p metricdata.ExponentialHistogramDataPoint[float64], values []float64) {
	t.Helper()
	if p.Scale > ExponentialMaxScale || p.Scale < -10 {
		t.Errorf("%s: scale %d, want at most %d", what, p.Scale, ExponentialMaxScale)
	}
	if n := len(p.PositiveBucket.Counts); n > ExponentialMaxSize {
		t.Errorf("%s: %d buckets, want at most %d", what, n, ExponentialMaxSize)
	}
	if p.ZeroCount != 0 || len(p.NegativeBucket.Counts) != 0 {
		t.Errorf("%s: zero count %d, negative buckets %v; want none", what, p.ZeroCount, p.NegativeBucket.Counts)
	}
	want := map[int]uint64{}
	for _, v := range values {
		// Bucket i holds (base^i, base^(i+1)] with base = 2^(2^-scale).
		i := int(math.Ceil(math.Log2(v)*math.Exp2(float64(p.Scale)))) - 1
		want[i]++
	}
	got := map[int]uint64{}
	for i, c := range p.PositiveBucket.Counts {
		if c != 0 {
			got[int(p.PositiveBucket.Offset)+i] = c
		}
	}
	if !maps.Equal(got, want) {
		t.Errorf("%s: buckets by index %v at scale %d, want %v for values %v", what, got, p.Scale, want, values)
	}
}

// TestExplicitBuckets: with SinkOptions.ExplicitBuckets, histograms have
// explicit bounds: the declared ones, DurationBuckets() for durations,
// the SDK's default for others.
func TestExplicitBuckets(t *testing.T) {
	s, collect := newManual(t, SinkOptions{ExplicitBuckets: true})
	d := metricsink.Desc{Name: "comment.body.bytes", Kind: metricsink.Histogram, Unit: "bytes", Buckets: []float64{64, 256, 1024}}
	if err := s.Declare(d); err != nil {
		t.Fatal(err)
	}
	s.Histogram("comment.body.bytes", 100, metricsink.Tags{})
	s.Duration("http.request.duration", 150*time.Millisecond, metricsink.Tags{})
	s.Histogram("queue.depth", 7, metricsink.Tags{})
	got := collect()
	for name, want := range map[string][]float64{
		"comment.body.bytes":    d.Buckets,
		"http.request.duration": DurationBuckets(),
		"queue.depth":           sdkmetric.DefaultAggregationSelector(sdkmetric.InstrumentKindHistogram).(sdkmetric.AggregationExplicitBucketHistogram).Boundaries,
	} {
		h, ok := got[name].Data.(metricdata.Histogram[float64])
		if !ok || len(h.DataPoints) != 1 {
			t.Errorf("%s data = %T, want one explicit-bucket histogram data point", name, got[name].Data)
			continue
		}
		if p := h.DataPoints[0]; !slices.Equal(p.Bounds, want) || p.Count != 1 {
			t.Errorf("%s: bounds %v, count %d; want %v, 1", name, p.Bounds, p.Count, want)
		}
	}
}

// TestExplicitBucketsOverExporter: the option decides, whatever the
// exporter prefers for histograms.
func TestExplicitBucketsOverExporter(t *testing.T) {
	for _, tc := range []struct {
		explicit bool
		prefers  sdkmetric.Aggregation
		want     string
	}{
		{false, sdkmetric.AggregationExplicitBucketHistogram{Boundaries: []float64{1, 2}}, "exponential"},
		{true, sdkmetric.AggregationBase2ExponentialHistogram{MaxSize: 20, MaxScale: 5}, "explicit"},
		{true, sdkmetric.AggregationExplicitBucketHistogram{Boundaries: []float64{1, 2}}, "explicit [1 2]"},
	} {
		e := &memExporter{histograms: tc.prefers}
		s, err := NewSink(&SinkOptions{Exporter: e, Interval: time.Hour, ExplicitBuckets: tc.explicit})
		if err != nil {
			t.Fatal(err)
		}
		s.Histogram("h", 1.5, metricsink.Tags{})
		if err := s.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		var got string
		switch d := e.last.ScopeMetrics[0].Metrics[0].Data.(type) {
		case metricdata.ExponentialHistogram[float64]:
			got = "exponential"
			if sc := d.DataPoints[0].Scale; sc != ExponentialMaxScale {
				got += fmt.Sprintf(" at scale %d", sc) // one value: the SDK keeps the largest scale
			}
		case metricdata.Histogram[float64]:
			got = "explicit"
			if b := d.DataPoints[0].Bounds; slices.Equal(b, []float64{1, 2}) {
				got += " [1 2]"
			}
		default:
			got = fmt.Sprintf("%T", d)
		}
		if got != tc.want {
			t.Errorf("ExplicitBuckets %v, exporter preferring %T: %s, want %s", tc.explicit, tc.prefers, got, tc.want)
		}
	}
}

func TestDeclare(t *testing.T) {
	s, collect := newManual(t, SinkOptions{ExplicitBuckets: true})
	d := metricsink.Desc{Name: "comment.body.bytes", Kind: metricsink.Histogram, Unit: "bytes",
		Help: "Size of comment bodies.", Buckets: []float64{64, 256, 1024}}
	if err := metricsink.Declare(s, d); err != nil {
		t.Fatal(err)
	}
	if err := s.Declare(d); err != nil {
		t.Errorf("declaring the same Desc again: %v", err)
	}
	if err := s.Declare(metricsink.Desc{Name: "comment.body.bytes", Kind: metricsink.Counter}); err == nil {
		t.Error("declaring it a counter: no error")
	}
	if err := s.Declare(metricsink.Desc{Name: "9lives", Kind: metricsink.Counter}); err == nil {
		t.Error("declaring an invalid OpenTelemetry name: no error")
	}
	// A declared counter may be read by a function.
	if err := s.Declare(metricsink.Desc{Name: "log.records", Kind: metricsink.Counter, Help: "Records."}); err != nil {
		t.Fatal(err)
	}
	s.CounterFunc("log.records", metricsink.Tags{}, func() float64 { return 5 })
	s.Histogram("comment.body.bytes", 100, metricsink.Tags{})
	s.Gauge("comment.body.bytes", 1, metricsink.Tags{}) // not the declared kind
	got := collect()
	if v, _ := sumPoint(t, got["log.records"], "", ""); v != 5 || got["log.records"].Description != "Records." {
		t.Errorf("log.records = %v (%q); want 5 with the declared help", v, got["log.records"].Description)
	}
	if n := s.Stats().Dropped.Get(drop.TypeClash); n != 1 {
		t.Errorf("type clashes = %d, want 1", n)
	}
	m := got["comment.body.bytes"]
	if m.Unit != "By" || m.Description != "Size of comment bodies." {
		t.Errorf("unit, description = %q, %q", m.Unit, m.Description)
	}
	h := m.Data.(metricdata.Histogram[float64])
	if got := h.DataPoints[0].Bounds; !slices.Equal(got, d.Buckets) {
		t.Errorf("bounds = %v, want %v", got, d.Buckets)
	}
}

func TestDrops(t *testing.T) {
	s, collect := newManual(t, SinkOptions{MaxNames: 3})
	s.Increment("hits", 1, metricsink.Tags{})
	s.Gauge("hits", 1, metricsink.Tags{})                                 // type clash
	s.Histogram("hits", 1, metricsink.Tags{})                             // type clash
	s.CounterFunc("hits", metricsink.Tags{}, func() float64 { return 1 }) // counter by function: clash
	s.Increment("hits", -1, metricsink.Tags{})                            // invalid value
	s.Increment("hits", math.NaN(), metricsink.Tags{})                    // invalid value
	s.Histogram("sizes", math.Inf(1), metricsink.Tags{})                  // invalid value
	s.Increment("hits", 1, metricsink.KV("odd"))                          // invalid tags
	s.Increment("hits", 1, metricsink.KV("", "v"))                        // invalid tags
	s.Increment("9lives", 1, metricsink.Tags{})                           // invalid name
	s.Increment("a b", 1, metricsink.Tags{})                              // invalid name
	s.Increment("second", 1, metricsink.Tags{})
	s.Increment("third", 1, metricsink.Tags{})
	s.Increment("fourth", 1, metricsink.Tags{}) // past MaxNames

	d := s.Stats().Dropped
	for r, want := range map[drop.Reason]uint64{
		drop.TypeClash: 3, drop.InvalidValue: 3, drop.InvalidTags: 2, drop.InvalidName: 2, drop.Overflow: 1,
	} {
		if got := d.Get(r); got != want {
			t.Errorf("dropped[%s] = %d, want %d", r, got, want)
		}
	}
	got := collect()
	if v, _ := sumPoint(t, got["hits"], "", ""); v != 1 {
		// The point without attributes: attrsOf gives "" for a missing key.
		t.Errorf("hits = %v, want 1", v)
	}
	if _, ok := got["fourth"]; ok {
		t.Error("a name past MaxNames was exported")
	}
}

func TestSnakeCaseIsOneMetric(t *testing.T) {
	s, collect := newManual(t, SinkOptions{})
	s.Increment("comments.created", 1, metricsink.Tags{})
	s.Increment("commentsCreated", 1, metricsink.Tags{})
	s.Gauge("comments_created", 1, metricsink.Tags{}) // the same metric: a clash
	got := collect()
	if v, _ := sumPoint(t, got["comments.created"], "", ""); v != 2 {
		t.Errorf("comments.created = %v, want 2", v)
	}
	if len(got) != 1 {
		t.Errorf("exported %d metrics, want 1", len(got))
	}
	if n := s.Stats().Dropped.Get(drop.TypeClash); n != 1 {
		t.Errorf("type clashes = %d, want 1", n)
	}
}

func TestTagValues(t *testing.T) {
	s, collect := newManual(t, SinkOptions{MaxValueBytes: 16})
	s.Gauge("g", 1, metricsink.KV("k", "\xff\xfeok"))
	s.Gauge("g", 2, metricsink.KV("k", "ééééééééé")) // 18 bytes, cut at a rune boundary, marked
	got := collect()["g"].Data.(metricdata.Gauge[float64])
	seen := map[string]float64{}
	for _, p := range got.DataPoints {
		seen[attrsOf(p.Attributes)["k"]] = p.Value
	}
	if _, ok := seen["\uFFFDok"]; !ok {
		t.Errorf("invalid UTF-8 not replaced: %v", seen)
	}
	if _, ok := seen["éééééé"+metricsink.TruncationMarker]; !ok {
		t.Errorf("long value not cut to 16 bytes at a rune boundary, with the marker: %v", seen)
	}
}

func TestFuncs(t *testing.T) {
	s, collect := newManual(t, SinkOptions{})
	var mu sync.Mutex
	total := 10.0
	unreg := s.CounterFunc("pool.waits", metricsink.KV("db", "main"), func() float64 {
		mu.Lock()
		defer mu.Unlock()
		return total
	})
	s.GaugeFunc("pool.open", metricsink.KV("db", "main"), func() float64 { return 4 })
	s.GaugeFunc("pool.broken", metricsink.Tags{}, func() float64 { panic("boom") })

	got := collect()
	if v, ok := sumPoint(t, got["pool.waits"], "db", "main"); !ok || v != 10 {
		t.Errorf("pool.waits = %v, %v; want 10", v, ok)
	}
	if v, ok := gaugePoint(t, got["pool.open"], "db", "main"); !ok || v != 4 {
		t.Errorf("pool.open = %v, %v; want 4", v, ok)
	}
	if n := s.Stats().Dropped.Get(drop.Panic); n != 1 {
		t.Errorf("panics = %d, want 1", n)
	}

	mu.Lock()
	total = 3 // a counter that goes backwards: the previous value stays
	mu.Unlock()
	if v, _ := sumPoint(t, collect()["pool.waits"], "db", "main"); v != 10 {
		t.Errorf("after a decrease pool.waits = %v, want 10", v)
	}
	if n := s.Stats().Dropped.Get(drop.InvalidValue); n != 1 {
		t.Errorf("invalid values = %d, want 1", n)
	}

	unreg()
	unreg() // harmless
	if _, ok := sumPoint(t, collect()["pool.waits"], "db", "main"); ok {
		t.Error("an unregistered function is still observed")
	}
	s.Increment("pool.waits", 1, metricsink.Tags{}) // an Increment on a function counter: clash
	if n := s.Stats().Dropped.Get(drop.TypeClash); n != 1 {
		t.Errorf("type clashes = %d, want 1", n)
	}
}

// TestNoLockWhileCallingFunc: a gauge function that records into the same
// Sink would deadlock if the Sink held its lock while calling it.
func TestNoLockWhileCallingFunc(t *testing.T) {
	s, collect := newManual(t, SinkOptions{})
	s.GaugeFunc("reentrant", metricsink.Tags{}, func() float64 {
		s.Gauge("other", 1, metricsink.Tags{})
		s.GaugeFunc("late", metricsink.Tags{}, func() float64 { return 2 })
		return 1
	})
	done := make(chan struct{})
	go func() { collect(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("collect deadlocked on a function that uses the Sink")
	}
}

func TestHandles(t *testing.T) {
	s, collect := newManual(t, SinkOptions{})
	c := metricsink.NewCounter(s, "sent", metricsink.KV("to", "a"))
	g := metricsink.NewGauge(s, "open", metricsink.KV("ch", "video"))
	h := metricsink.NewHistogram(s, "size", metricsink.Tags{})
	tm := metricsink.NewTimer(s, "took", metricsink.Tags{})
	c.Inc()
	c.Add(2)
	c.Add(-1) // dropped
	g.Inc()
	g.Inc()
	g.Dec()
	g.Add(10)
	h.Observe(3)
	tm.Observe(250 * time.Millisecond)
	bad := metricsink.NewGauge(s, "sent", metricsink.Tags{}) // a counter's name
	bad.Set(1)
	bad.Add(1)

	got := collect()
	if v, _ := sumPoint(t, got["sent"], "to", "a"); v != 3 {
		t.Errorf("sent = %v, want 3", v)
	}
	if v, _ := gaugePoint(t, got["open"], "ch", "video"); v != 11 {
		t.Errorf("open = %v, want 11", v)
	}
	if p := got["took"].Data.(metricdata.ExponentialHistogram[float64]).DataPoints[0]; p.Sum != 0.25 || got["took"].Unit != "s" {
		t.Errorf("took sum = %v unit %q, want 0.25 s", p.Sum, got["took"].Unit)
	}
	d := s.Stats().Dropped
	if d.Get(drop.InvalidValue) != 1 || d.Get(drop.TypeClash) != 2 {
		t.Errorf("dropped = %v; want 1 invalid_value, 2 type_clash", d)
	}
}

func TestClose(t *testing.T) {
	s, _ := newManual(t, SinkOptions{})
	c := metricsink.NewCounter(s, "c", metricsink.Tags{})
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Errorf("second Close: %v", err)
	}
	s.Increment("c", 1, metricsink.Tags{})
	c.Inc()
	metricsink.NewTimer(s, "t", metricsink.Tags{}).Observe(time.Second)
	if n := s.Stats().Dropped.Get(drop.Closed); n != 3 {
		t.Errorf("closed drops = %d, want 3", n)
	}
}

func TestConcurrent(t *testing.T) {
	s, collect := newManual(t, SinkOptions{})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := metricsink.NewCounter(s, "n", metricsink.Tags{})
			for j := range 200 {
				s.Increment("n", 1, metricsink.Tags{})
				c.Inc()
				s.Gauge("g", float64(j), metricsink.KV("w", string(rune('a'+i))))
				un := s.GaugeFunc("f", metricsink.Tags{}, func() float64 { return 1 })
				un()
			}
		}()
	}
	go collect()
	wg.Wait()
	if v, _ := sumPoint(t, collect()["n"], "", ""); v != 8*200*2 {
		t.Errorf("n = %v, want %d", v, 8*200*2)
	}
}

// receiver is an OTLP/HTTP metrics endpoint that decodes requests with the
// protocol's own generated types.
type receiver struct {
	mu       sync.Mutex
	requests []*colmetricpb.ExportMetricsServiceRequest
	status   int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.status != 0 {
		w.WriteHeader(rc.status)
		return
	}
	req := new(colmetricpb.ExportMetricsServiceRequest)
	if err := proto.Unmarshal(body, req); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	rc.requests = append(rc.requests, req)
	w.Header().Set("Content-Type", "application/x-protobuf")
	b, _ := proto.Marshal(&colmetricpb.ExportMetricsServiceResponse{})
	w.Write(b)
}

// httpSink returns a Sink built with opts that exports over OTLP/HTTP to
// a test server running h, closed when the test ends.
func httpSink(t *testing.T, h http.Handler, opts SinkOptions) *Sink {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	exp, err := otlpmetrichttp.New(context.Background(), otlpmetrichttp.WithEndpointURL(srv.URL+"/v1/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	opts.Exporter = exp
	s, err := NewSink(&opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestExportOverHTTP(t *testing.T) {
	rc := &receiver{}
	res := resource.NewSchemaless(attribute.String("service.name", "otlp-test"))
	s := httpSink(t, rc, SinkOptions{Resource: res, Interval: time.Hour})
	s.Increment("comments.created", 4, metricsink.KV("channel", "video"))
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.requests) == 0 {
		t.Fatal("no export reached the receiver on Close")
	}
	rm := rc.requests[0].ResourceMetrics[0]
	var service string
	for _, kv := range rm.Resource.Attributes {
		if kv.Key == "service.name" {
			service = kv.Value.GetStringValue()
		}
	}
	if service != "otlp-test" {
		t.Errorf("service.name = %q, want otlp-test", service)
	}
	m := rm.ScopeMetrics[0].Metrics[0]
	if m.Name != "comments.created" || m.GetSum().DataPoints[0].GetAsDouble() != 4 {
		t.Errorf("metric = %v", m)
	}
	if st := s.Stats(); st.Exports != 1 || st.ExportErrors != 0 {
		t.Errorf("stats = %+v; want 1 export, no error", st)
	}
}

func TestExportFailureCounted(t *testing.T) {
	rc := &receiver{status: http.StatusBadRequest} // permanent: no retries
	s := httpSink(t, rc, SinkOptions{Interval: time.Hour})
	s.Increment("a", 1, metricsink.Tags{})
	s.Gauge("b", 1, metricsink.KV("k", "1"))
	s.Gauge("b", 1, metricsink.KV("k", "2"))
	err := s.Close(context.Background())
	if err == nil || !strings.Contains(err.Error(), "3 data points failed to export") {
		t.Errorf("Close = %v; want an error counting 3 data points", err)
	}
	st := s.Stats()
	if st.ExportErrors != 1 || st.Dropped.Get(drop.RetriesExhausted) != 3 || st.LastError == nil {
		t.Errorf("stats = %+v", st)
	}
}

// TestCloseHonoursDeadline: a receiver that never answers cannot hold
// Close past its context.
func TestCloseHonoursDeadline(t *testing.T) {
	block := make(chan struct{})
	defer close(block) // before the server's Close, which httpSink leaves to t.Cleanup
	s := httpSink(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }), SinkOptions{Interval: time.Hour})
	s.Increment("a", 1, metricsink.Tags{})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.Close(ctx)
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Close took %v past a 300ms deadline", took)
	}
	if err == nil || !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "deadline") {
		t.Errorf("Close = %v; want a deadline error", err)
	}
}

func TestOptions(t *testing.T) {
	for _, o := range []SinkOptions{{Interval: -1}, {Timeout: -1}, {MaxNames: -1}, {MaxSeries: -1}, {MaxValueBytes: -1}} {
		if _, err := NewSink(&o); err == nil {
			t.Errorf("New(%+v): no error", o)
		}
	}
}

// TestGaugeSeriesBound: a gauge keeps its first MaxSeries series, each
// exported under its own tags at every collection, and drops and counts
// samples of further ones. (The SDK's cardinality limit counts its
// overflow series; set to MaxSeries, it folded one of the gauge's series,
// whichever the callback observed last, into otel.metric.overflow.)
func TestGaugeSeriesBound(t *testing.T) {
	s, collect := newManual(t, SinkOptions{MaxSeries: 3})
	for i := range 10 {
		s.Gauge("g", float64(i), metricsink.KV("i", string(rune('a'+i))))
	}
	s.Gauge("g", 42, metricsink.KV("i", "a")) // an existing series still works
	s.GaugeFunc("g", metricsink.KV("i", "z"), func() float64 { return 1 })
	metricsink.NewGauge(s, "g", metricsink.KV("i", "y")).Set(1)
	want := map[string]float64{"a": 42, "b": 1, "c": 2}
	// The callback observes the series in map order, which varies: check
	// several collections.
	for range 20 {
		got := collect()["g"].Data.(metricdata.Gauge[float64])
		if len(got.DataPoints) != 3 {
			t.Errorf("%d series, want MaxSeries 3", len(got.DataPoints))
		}
		for _, p := range got.DataPoints {
			a := attrsOf(p.Attributes)
			if w, ok := want[a["i"]]; !ok || len(a) != 1 || p.Value != w {
				t.Fatalf("data point %v = %v; want only i=a (42), i=b (1), i=c (2)", a, p.Value)
			}
		}
	}
	if n := s.Stats().Dropped.Get(drop.Overflow); n != 9 {
		t.Errorf("overflow = %d, want 7 gauges + 1 function + 1 handle sample", n)
	}
}

// TestCounterSeriesBound: counters and histograms keep MaxSeries series
// of their own, and aggregate further ones into one series marked
// otel.metric.overflow=true.
func TestCounterSeriesBound(t *testing.T) {
	s, collect := newManual(t, SinkOptions{MaxSeries: 3})
	for i := range 6 {
		tags := metricsink.KV("i", string(rune('a'+i)))
		s.Increment("c", float64(i+1), tags)
		s.Histogram("h", float64(i+1), tags)
	}
	got := collect()
	sum := got["c"].Data.(metricdata.Sum[float64])
	if len(sum.DataPoints) != 4 {
		t.Errorf("counter: %d series, want MaxSeries 3 and the overflow series", len(sum.DataPoints))
	}
	for v, want := range map[string]float64{"a": 1, "b": 2, "c": 3} {
		if got, ok := sumPoint(t, got["c"], "i", v); !ok || got != want {
			t.Errorf("c{i=%s} = %v, %v; want %v", v, got, ok, want)
		}
	}
	if got, ok := sumPoint(t, got["c"], "otel.metric.overflow", "true"); !ok || got != 4+5+6 {
		t.Errorf("c{otel.metric.overflow=true} = %v, %v; want 15 (d, e, f)", got, ok)
	}
	hist := got["h"].Data.(metricdata.ExponentialHistogram[float64])
	counts := map[string]uint64{}
	for _, p := range hist.DataPoints {
		a := attrsOf(p.Attributes)
		counts[a["i"]+a["otel.metric.overflow"]] = p.Count
	}
	if want := map[string]uint64{"a": 1, "b": 1, "c": 1, "true": 3}; !maps.Equal(counts, want) {
		t.Errorf("histogram counts by series = %v, want %v", counts, want)
	}
}
