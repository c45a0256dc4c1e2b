//go:build !race

package promproto_test

import (
	"fmt"
	"io"
	"testing"

	"github.com/realtimeserver/observability/metricsink"
	"github.com/realtimeserver/observability/metricsink/prometheus"
)

// A scrape in protobuf of a registry that has not changed since the
// previous one reuses that one's families and messages: it allocates a
// fixed few objects whatever the counters and gauges, and per native
// histogram its spans (two slices) and per exemplar its ids (one string).
func TestAllocsWriteProtobuf(t *testing.T) {
	p := newRegistry(t, &prometheus.Options{DisableRuntimeMetrics: true, MaxSeriesPerMetric: 2000})
	for i := range 2000 {
		p.Increment("events", float64(i), metricsink.KV("instance", fmt.Sprintf("host-%d", i)))
		p.Gauge("temperature", float64(i), metricsink.KV("instance", fmt.Sprintf("host-%d", i)))
	}
	for range 3 {
		if err := p.WriteProtobuf(io.Discard); err != nil {
			t.Fatal(err)
		}
	}
	counters := testing.AllocsPerRun(20, func() { _ = p.WriteProtobuf(io.Discard) })
	if counters > 4 {
		t.Errorf("a scrape of 4,000 counters and gauges: %v allocs, want at most 4", counters)
	}

	for i := range 100 {
		p.HistogramExemplar("latency", float64(i)/1000, metricsink.KV("route", fmt.Sprint(i)), exemplar(i))
	}
	for range 3 {
		_ = p.WriteProtobuf(io.Discard)
	}
	// 100 series: two slices of spans each, and 2 exemplars (a bucket's,
	// the latest), one string each.
	got := testing.AllocsPerRun(20, func() { _ = p.WriteProtobuf(io.Discard) })
	if want := counters + 100*(2+2); got > want {
		t.Errorf("with 100 histograms with exemplars: %v allocs, want at most %v", got, want)
	}
	t.Logf("allocations per scrape: %v for 4,000 counters and gauges, %v with 100 histograms", counters, got)
}
