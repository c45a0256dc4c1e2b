package metricsinktest_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/realtimeserver/observability/metricsink"
	"github.com/realtimeserver/observability/metricsink/metricsinktest"
)

func TestQueries(t *testing.T) {
	rec := metricsinktest.New()
	rec.Increment("http.requests", 1, metricsink.KV("route", "/a", "status", "200"))
	rec.Increment("http.requests", 2, metricsink.KV("route", "/a", "status", "500"))
	rec.Increment("http.requests", 1, metricsink.KV("route", "/b", "status", "200"))
	rec.Gauge("queue.length", 3, metricsink.Tags{})
	rec.Gauge("queue.length", 5, metricsink.Tags{})
	rec.Duration("http.request.duration", 250*time.Millisecond, metricsink.KV("route", "/a"))
	rec.Histogram("payload.bytes", 10, metricsink.KV("odd"))

	tests := []struct {
		name      string
		got, want any
	}{
		{"Count all", rec.Count("http.requests"), 3},
		{"Count by tag", rec.Count("http.requests", "status", "200"), 2},
		{"Count by two tags", rec.Count("http.requests", "route", "/a", "status", "200"), 1},
		{"Count no match", rec.Count("http.requests", "route", "/c"), 0},
		{"Count odd kv", rec.Count("http.requests", "route"), 0},
		{"Sum", rec.Sum("http.requests", "route", "/a"), 3.0},
		{"Duration in seconds", rec.Sum("http.request.duration"), 0.25},
		{"Kind", rec.Samples("http.request.duration")[0].Kind, metricsinktest.Duration},
		{"invalid tags recorded", rec.Samples("payload.bytes")[0].Valid, false},
		{"Names", fmt.Sprint(rec.Names()), "[http.request.duration http.requests payload.bytes queue.length]"},
		{"every name", rec.Count(""), 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
	if v, ok := rec.Last("queue.length"); !ok || v != 5 {
		t.Errorf("Last(queue.length) = %v, %v; want 5, true", v, ok)
	}
	if _, ok := rec.Last("missing"); ok {
		t.Errorf("Last(missing) reported a value")
	}
	s := rec.Samples("http.requests")
	s[0].Tags["route"] = "changed"
	if rec.Count("http.requests", "route", "changed") != 0 {
		t.Errorf("Samples returned tags that alias the recorder's")
	}
	rec.Reset()
	if n := rec.Count(""); n != 0 {
		t.Errorf("after Reset, Count = %d, want 0", n)
	}
}

func TestFuncs(t *testing.T) {
	rec := metricsinktest.New()
	n := 0.0
	unG, ok := metricsink.GaugeFunc(rec, "pool.open", metricsink.KV("db", "main"), func() float64 { return 4 })
	if !ok {
		t.Fatal("Recorder is not a FuncSink")
	}
	unC, _ := metricsink.CounterFunc(rec, "pool.waits", metricsink.Tags{}, func() float64 { n++; return n })
	rec.Collect()
	rec.Collect()
	if v, _ := rec.Last("pool.waits"); v != 2 {
		t.Errorf("pool.waits after two collections = %v, want 2", v)
	}
	if got := rec.Count("pool.open", "db", "main"); got != 2 {
		t.Errorf("pool.open samples = %d, want 2", got)
	}
	unG()
	unG()
	unC()
	if rec.Funcs() != 0 {
		t.Errorf("Funcs() = %d after unregistering, want 0", rec.Funcs())
	}
}

func TestConcurrent(t *testing.T) {
	rec := metricsinktest.New()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range 500 {
				rec.Increment("hits", 1, metricsink.KV("k", "v"))
				if i%100 == 0 {
					_ = rec.Sum("hits")
				}
			}
		})
	}
	wg.Wait()
	if got := rec.Sum("hits", "k", "v"); got != 4000 {
		t.Errorf("Sum = %v, want 4000", got)
	}
}

// Collect survives nil and panicking callbacks, keeps the validity of the
// tags given, and marks its samples as read from a function.
func TestCollectRobust(t *testing.T) {
	rec := metricsinktest.New()
	total := 0.0
	rec.GaugeFunc("nil.func", metricsink.Tags{}, nil)
	rec.GaugeFunc("boom", metricsink.Tags{}, func() float64 { panic("callback failed") })
	rec.GaugeFunc("odd.tags", metricsink.KV("odd"), func() float64 { return 1 })
	rec.CounterFunc("pool.waits", metricsink.Tags{}, func() float64 { total += 3; return total })
	rec.Increment("pool.waits", 1, metricsink.Tags{})
	rec.Collect()
	rec.Collect()
	tests := []struct {
		name      string
		got, want any
	}{
		{"nil callback skipped", rec.Count("nil.func"), 0},
		{"panicking callback skipped", rec.Count("boom"), 0},
		{"invalid tags recorded as invalid", rec.Samples("odd.tags")[0].Valid, false},
		{"func sample marked", rec.Samples("odd.tags")[0].Func, true},
		{"Increment not marked", rec.Samples("pool.waits")[0].Func, false},
		{"CounterFunc records the current total", rec.Samples("pool.waits")[2].Value, 6.0},
		{"CounterFunc kind", rec.Samples("pool.waits")[2].Kind, metricsinktest.Counter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
	if v, ok := rec.Last("pool.waits"); !ok || v != 6 {
		t.Errorf("Last(pool.waits) = %v, %v; want 6, true", v, ok)
	}
}
