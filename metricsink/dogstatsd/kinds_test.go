package dogstatsd

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/DataDog/datadog-go/v5/statsd"

	"github.com/realtimeserver/observability/drop"
	"github.com/realtimeserver/observability/internal/hostile"
	"github.com/realtimeserver/observability/metricsink"
)

// One kind per name, as in the Prometheus registry: the first use or
// declaration of a name's snake_case form wins.
func TestOneKindPerName(t *testing.T) {
	l := listen(t)
	s := newTestSink(t, l, &Options{ClientOptions: []statsd.Option{statsd.WithoutClientSideAggregation()}})
	s.Increment("queue.size", 1, metricsink.Tags{})
	s.Gauge("queue.size", 5, metricsink.Tags{})
	s.Gauge("queueSize", 5, metricsink.Tags{})
	metricsink.NewHistogram(s, "queue_size", metricsink.Tags{}).Observe(1)
	if err := metricsink.Declare(s, metricsink.Desc{Name: "queue.size", Kind: metricsink.Gauge}); err == nil {
		t.Errorf("declaring a counter as a gauge: no error")
	}
	s.Increment("test.marker", 1, metricsink.Tags{})
	got := l.waitFor(wait, isMarker)
	for _, x := range got {
		if x.Name != "test.marker" && x.Type != "c" {
			t.Errorf("a second kind was sent: %v", x)
		}
	}
	if n := s.Stats().Dropped.Get(drop.TypeClash); n != 3 {
		t.Errorf("Dropped[type_clash] = %d, want 3", n)
	}
}

// With AgentHistograms, a declared histogram is still sent as a
// distribution when its Desc says so, by the Sink methods and the handles,
// for observations and durations; others are histograms and timings.
func TestDeclaredDistribution(t *testing.T) {
	l := listen(t)
	s := newTestSink(t, l, &Options{AgentHistograms: true})
	for _, d := range []metricsink.Desc{
		{Name: "body.bytes", Kind: metricsink.Histogram, Unit: "bytes", Distribution: true},
		{Name: "took", Kind: metricsink.Histogram, Unit: "seconds", Distribution: true},
	} {
		if err := metricsink.Declare(s, d); err != nil {
			t.Fatal(err)
		}
	}
	s.Histogram("body.bytes", 120, metricsink.Tags{})
	metricsink.NewHistogram(s, "body.bytes", metricsink.KV("k", "handle")).Observe(3)
	s.Duration("took", time.Millisecond, metricsink.Tags{})
	metricsink.NewTimer(s, "took", metricsink.KV("k", "handle")).Observe(time.Millisecond)
	s.Histogram("other.size", 3, metricsink.Tags{})
	metricsink.NewHistogram(s, "other.size", metricsink.KV("k", "handle")).Observe(3)
	s.Duration("other.took", time.Millisecond, metricsink.Tags{})
	metricsink.NewTimer(s, "other.took", metricsink.KV("k", "handle")).Observe(time.Millisecond)
	want := map[string]string{"body.bytes": "d", "took": "d", "other.size": "h", "other.took": "ms"}
	for name := range want {
		for _, handle := range []bool{false, true} {
			l.waitFor(wait, func(x line) bool { return x.Name == name && (len(x.Tags) == 1) == handle })
		}
	}
	for _, x := range l.received() {
		if w := want[x.Name]; x.Type != w {
			t.Errorf("%v: sent as |%s, want |%s", x, x.Type, w)
		}
	}
}

// Handles send what the Sink methods send; a gauge handle adds to its own
// value; concurrent use is safe.
func TestHandles(t *testing.T) {
	l := listen(t)
	s := newTestSink(t, l, &Options{ClientOptions: []statsd.Option{statsd.WithoutClientSideAggregation()}})
	tags := metricsink.KV("route", "/api/videos/{video_id}/comments")
	c := metricsink.NewCounter(s, "hits", tags)
	g := metricsink.NewGauge(s, "open", tags)
	tm := metricsink.NewTimer(s, "latency", tags)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 10 {
				c.Inc()
				tm.Observe(2 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	g.Add(3)
	g.Dec()
	bad := metricsink.NewCounter(s, "", tags)
	bad.Inc()
	s.Increment("test.marker", 1, metricsink.Tags{})
	if err := s.Close(context.Background()); err != nil { // flushes every buffer
		t.Fatal(err)
	}
	l.waitFor(wait, isMarker)
	time.Sleep(50 * time.Millisecond)
	got := l.received()
	hits, timings := 0, 0
	var gauges []string
	for _, x := range got {
		if x.Name != "test.marker" && !slices.Equal(x.Tags, []string{"route:/api/videos/_video_id_/comments"}) {
			t.Errorf("line %v: tags not as Datadog stores them", x)
		}
		switch x.Name {
		case "hits":
			n, _ := strconv.Atoi(x.Value)
			hits += n
		case "latency":
			timings++
		case "open":
			gauges = append(gauges, x.Value)
		}
	}
	if hits != 40 || timings != 40 {
		t.Errorf("received %d counts and %d timings, want 40 of each", hits, timings)
	}
	if !slices.Equal(gauges, []string{"3", "2"}) {
		t.Errorf("gauge values %q, want [3 2]", gauges)
	}
	if n := s.Stats().Dropped.Get(drop.InvalidName); n != 1 {
		t.Errorf("Dropped[invalid_name] = %d, want 1 (the bad handle's sample)", n)
	}
}

// A function that blocks costs a poll at most the timeout and is counted;
// Close does not hang on it.
func TestBlockingFunction(t *testing.T) {
	l := listen(t)
	s := newTestSink(t, l, &Options{PollInterval: time.Hour, CallbackTimeout: 100 * time.Millisecond})
	release := make(chan struct{})
	s.GaugeFunc("stuck", metricsink.Tags{}, func() float64 { <-release; return 1 })
	s.GaugeFunc("fine", metricsink.Tags{}, func() float64 { return 7 })
	start := time.Now()
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v with a blocked function, want about the 100ms timeout", d)
	}
	l.waitFor(wait, func(x line) bool { return x.Name == "fine" && x.Value == "7" })
	if n := s.Stats().Dropped.Get(drop.Timeout); n != 1 {
		t.Errorf("Dropped[timeout] = %d, want 1", n)
	}
	close(release)
}

// The shared hostile corpus as names, tag keys and values: nothing panics,
// long strings are not cached, every line sent is valid.
func TestHostileCorpus(t *testing.T) {
	l := listen(t)
	s := newTestSink(t, l, &Options{MaxSeries: 100})
	s.Increment("test.marker", 0, metricsink.Tags{}) // a known name: past MaxSeries names, new ones are dropped
	var strs []string
	for _, c := range hostile.Cases() {
		strs = append(strs, c.Name, c.Message)
		for i, a := range c.Attrs {
			if i < 64 {
				strs = append(strs, a.Key)
				if a.Value.Kind() == slog.KindString {
					strs = append(strs, a.Value.String())
				}
			}
		}
	}
	for i, x := range strs {
		tags := metricsink.KV(x, strs[(i+1)%len(strs)], "k", x)
		s.Increment(x, 1, tags)
		s.Gauge("g", 1, tags)
		metricsink.NewCounter(s, "h", metricsink.KV("v", x)).Inc()
	}
	if n := s.Stats().Series; n > 100 {
		t.Errorf("%d series cached, more than MaxSeries", n)
	}
	s.Increment("test.marker", 1, metricsink.Tags{})
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	l.waitFor(wait, isMarker) // and no malformed line
}

// Close returns by its context's end even when the last read of the
// functions takes longer (here a timeout of 10 s), and the close then
// completes in the background.
func TestCloseHonoursContext(t *testing.T) {
	l := listen(t)
	s := newTestSink(t, l, &Options{PollInterval: time.Hour, CallbackTimeout: 10 * time.Second})
	release := make(chan struct{})
	s.GaugeFunc("stuck", metricsink.Tags{}, func() float64 { <-release; return 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.Close(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close = %v, want the context's deadline error", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v past a 100ms deadline", d)
	}
	close(release)
	// The background close finishes: a later Close waits for it and
	// returns nil, and samples are dropped as closed.
	if err := s.Close(context.Background()); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	s.Increment("after", 1, metricsink.Tags{})
	if n := s.Stats().Dropped.Get(drop.Closed); n != 1 {
		t.Errorf("Dropped[closed] = %d, want 1", n)
	}
}
