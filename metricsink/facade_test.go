package metricsink_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/realtimeserver/observability/metricsink"
	"github.com/realtimeserver/observability/metricsink/metricsinktest"
)

func TestTagsValueReceivers(t *testing.T) {
	// Value receivers: methods work on the result of a call.
	if n := metricsink.KV("a", "b").Len(); n != 1 {
		t.Errorf("KV(a, b).Len() = %d, want 1", n)
	}
	if got := metricsink.KV("a", "b").With("c", "d").At(1); got != (metricsink.Tag{Key: "c", Value: "d"}) {
		t.Errorf("At(1) = %v", got)
	}
	var keys []string
	for k, v := range metricsink.KV("x", "1", "y", "2").All() {
		keys = append(keys, k+"="+v)
	}
	if got := strings.Join(keys, ","); got != "x=1,y=2" {
		t.Errorf("All() gave %q, want x=1,y=2", got)
	}
	for k := range metricsink.KV("x", "1", "y", "2").All() {
		if k != "x" {
			t.Errorf("break after the first tag yielded %q", k)
		}
		break
	}
	base := metricsink.KV("a", "1")
	_ = base.With("b", "2")
	if base.Len() != 1 {
		t.Errorf("With changed its receiver")
	}
}

func TestTagsErr(t *testing.T) {
	full := metricsink.KV("a", "1", "b", "2", "c", "3", "d", "4", "e", "5", "f", "6", "g", "7", "h", "8")
	tests := []struct {
		name string
		tags metricsink.Tags
		want error
	}{
		{"zero", metricsink.Tags{}, nil},
		{"pairs", metricsink.KV("a", "b"), nil},
		{"odd", metricsink.KV("a"), metricsink.ErrOddTags},
		{"too many in KV", metricsink.KV(append(make([]string, 16), "i", "9")...), metricsink.ErrTooManyTags},
		{"too many by With", full.With("i", "9"), metricsink.ErrTooManyTags},
		{"odd then With", metricsink.KV("a").With("b", "c"), metricsink.ErrOddTags},
	}
	for _, tt := range tests {
		if got := tt.tags.Err(); !errors.Is(got, tt.want) {
			t.Errorf("%s: Err() = %v, want %v", tt.name, got, tt.want)
		}
		if tt.tags.Valid() != (tt.want == nil) {
			t.Errorf("%s: Valid() = %v", tt.name, tt.tags.Valid())
		}
	}
}

// A strict recorder fails the test that misuses the facade.
func TestStrictRecorderReports(t *testing.T) {
	for _, tt := range []struct {
		name   string
		misuse func(s metricsink.Sink)
		want   string
	}{
		{"odd tags", func(s metricsink.Sink) { s.Increment("x", 1, metricsink.KV("k")) }, "odd number"},
		{"too many tags", func(s metricsink.Sink) {
			s.Gauge("x", 1, metricsink.KV("a", "1", "b", "2", "c", "3", "d", "4", "e", "5", "f", "6", "g", "7", "h", "8").With("i", "9"))
		}, "MaxTags"},
		{"two kinds", func(s metricsink.Sink) {
			s.Increment("queue.size", 1, metricsink.Tags{})
			s.Gauge("queueSize", 1, metricsink.Tags{})
		}, "first use wins"},
		{"declared kind", func(s metricsink.Sink) {
			_ = metricsink.Declare(s, metricsink.Desc{Name: "jobs", Kind: metricsink.Counter})
			metricsink.NewHistogram(s, "jobs", metricsink.Tags{}).Observe(1)
		}, "first use wins"},
	} {
		ft := &fakeT{TB: t}
		tt.misuse(metricsinktest.NewStrict(ft))
		if !strings.Contains(ft.msg, tt.want) {
			t.Errorf("%s: strict recorder reported %q, want it to mention %q", tt.name, ft.msg, tt.want)
		}
	}
	ft := &fakeT{TB: t}
	rec := metricsinktest.NewStrict(ft)
	rec.Increment("ok", 1, metricsink.KV("a", "b"))
	metricsink.NewGauge(rec, "level", metricsink.Tags{}).Add(2)
	if ft.msg != "" {
		t.Errorf("a correct use was reported: %s", ft.msg)
	}
}

type fakeT struct {
	testing.TB
	mu  sync.Mutex
	msg string
}

func (f *fakeT) Helper() {}
func (f *fakeT) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.msg += strings.TrimSpace(strings.ReplaceAll(format, "%s", "")) + " " + strings.TrimSpace(func() string {
		var b strings.Builder
		for _, a := range args {
			b.WriteString(a.(string))
		}
		return b.String()
	}())
}

// Handles work on any Sink: through a Fanout, on a sink without handles of
// its own (the recorder), with gauges that are added to.
func TestHandlesThroughFanout(t *testing.T) {
	a, b := metricsinktest.New(), metricsinktest.New()
	sink := metricsink.Fanout(a, b)
	tags := metricsink.KV("route", "/x")
	c := metricsink.NewCounter(sink, "hits", tags)
	g := metricsink.NewGauge(sink, "open", tags)
	h := metricsink.NewHistogram(sink, "size", tags)
	tm := metricsink.NewTimer(sink, "latency", tags)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				c.Inc()
				g.Inc()
				h.Observe(3)
				tm.Observe(time.Millisecond)
				g.Dec()
			}
		})
	}
	wg.Wait()
	g.Add(5)
	for _, r := range []*metricsinktest.Recorder{a, b} {
		if got := r.Sum("hits", "route", "/x"); got != 800 {
			t.Errorf("hits = %v, want 800", got)
		}
		if got := r.Count("size"); got != 800 {
			t.Errorf("size samples = %d, want 800", got)
		}
		if got := r.Count("latency"); got != 800 {
			t.Errorf("latency samples = %d, want 800", got)
		}
	}
	// Every update was sent as the new value; the last one is exact.
	if v, _ := a.Last("open"); v != 5 {
		t.Errorf("open = %v, want 5", v)
	}
	var zero metricsink.CounterHandle
	zero.Inc() // the zero handle drops, without panicking
}

func TestDescValidate(t *testing.T) {
	for _, tt := range []struct {
		d  metricsink.Desc
		ok bool
	}{
		{metricsink.Desc{Name: "a.b", Kind: metricsink.Counter}, true},
		{metricsink.Desc{Name: "a.b", Kind: metricsink.Histogram, Unit: "bytes", Buckets: []float64{1, 2}}, true},
		{metricsink.Desc{Name: "...", Kind: metricsink.Counter}, false},
		{metricsink.Desc{Name: "a", Kind: 0}, false},
		{metricsink.Desc{Name: "a", Kind: metricsink.Gauge, Buckets: []float64{1}}, false},
		{metricsink.Desc{Name: "a", Kind: metricsink.Histogram, Buckets: []float64{2, 1}}, false},
		{metricsink.Desc{Name: "a", Kind: metricsink.Histogram, Unit: "Kilo Bytes"}, false},
	} {
		if err := tt.d.Validate(); (err == nil) != tt.ok {
			t.Errorf("%+v: Validate() = %v, want ok %v", tt.d, err, tt.ok)
		}
	}
	if got := metricsink.SnakeCase("requestCount.HTTP-total"); got != "request_count_http_total" {
		t.Errorf("SnakeCase = %q", got)
	}
}

func TestView(t *testing.T) {
	tags := metricsink.KV("a", "1", "b", "2")
	list, err := metricsink.View(&tags)
	if err != nil || len(list) != 2 || list[0] != (metricsink.Tag{Key: "a", Value: "1"}) || list[1] != (metricsink.Tag{Key: "b", Value: "2"}) {
		t.Errorf("View(KV(a,1,b,2)) = %v, %v; want [{a 1} {b 2}], nil", list, err)
	}
	if cap(list) != 2 {
		t.Errorf("cap = %d, want 2: an append must not write into the Tags", cap(list))
	}
	odd := metricsink.KV("a")
	if list, err := metricsink.View(&odd); err != metricsink.ErrOddTags || list != nil {
		t.Errorf("View(KV(a)) = %v, %v; want nil, ErrOddTags", list, err)
	}
	if allocs := testing.AllocsPerRun(100, func() { _, _ = metricsink.View(&tags) }); allocs != 0 {
		t.Errorf("View allocates %v times", allocs)
	}
}
