package livedash

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/realtimeserver/observability/metricsink"
)

// fixedSource is a Source of 200 series: 100 counters, 50 gauges and 50
// histograms of 12 buckets, each in families of 10 series.
func fixedSource() Source {
	var fams []Family
	for f := range 20 {
		fam := Family{Name: fmt.Sprintf("family_%d", f), Type: []string{"counter", "counter", "gauge", "histogram"}[f%4]}
		for i := range 10 {
			s := Series{Labels: []metricsink.Tag{{Key: "route", Value: fmt.Sprintf("/api/route/%d", i)}, {Key: "status", Value: "200"}}, Value: float64(i)}
			if fam.Type == "histogram" {
				for b := range 12 {
					s.Buckets = append(s.Buckets, Bucket{UpperBound: math.Pow(2, float64(b)) / 1000, Count: uint64(b * i)})
				}
				s.Buckets[11].UpperBound = math.Inf(1)
				s.Count = s.Buckets[11].Count
			}
			fam.Series = append(fam.Series, s)
		}
		fams = append(fams, fam)
	}
	return SourceFunc(func() []Family { return fams })
}

// BenchmarkSample is what the dashboard does once a second, whoever
// watches: one reading of a Source of 200 series and of the runtime, and
// the history's tick (about 300 series: the Source's as the Metrics page
// charts them, and the pages' charts).
func BenchmarkSample(b *testing.B) {
	s := newSampler(fixedSource())
	h := newHistStore(MaxHistorySeries)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Second)
		_, batch := s.sample(now)
		h.commit(now.UnixMilli(), batch)
	}
	lines, untracked, _ := h.stats()
	b.ReportMetric(float64(lines), "series")
	b.ReportMetric(float64(untracked), "untracked")
}

// BenchmarkSpansAdd keeps a span of ten attributes and an event, and
// asks Wants while nobody watches (what a span processor pays then).
func BenchmarkSpansAdd(b *testing.B) {
	spans, _ := NewSpans(&SpansOptions{KeepAllWhenIdle: true})
	s := testSpan(1)
	b.Run("add", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			spans.Add(s)
		}
	})
	idle, _ := NewSpans(nil)
	b.Run("idle-wants", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if idle.Wants(StatusOK) {
				b.Fatal("an idle Spans wants a span")
			}
		}
	})
}
