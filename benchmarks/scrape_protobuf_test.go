package benchmarks

import (
	"fmt"
	"io"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/realtimeserver/observability/metricsink"
	promsink "github.com/realtimeserver/observability/metricsink/prometheus"
	_ "github.com/realtimeserver/observability/metricsink/prometheus/promproto" // the protobuf encoder
)

// BenchmarkScrapeProtobuf measures what BenchmarkScrape measures, one
// whole exposition of 10,000 counter series in 10 families to io.Discard,
// in the protobuf format Prometheus asks for when it scrapes native
// histograms: ours through WriteProtobuf (with promproto imported),
// client_golang through Gather and expfmt's delimited encoder, which is
// what promhttp does for that Accept header.
func BenchmarkScrapeProtobuf(b *testing.B) {
	b.Run("ours", func(b *testing.B) {
		p, err := promsink.New(&promsink.Options{DisableRuntimeMetrics: true, MaxSeriesPerMetric: scrapeSeriesPerFamily})
		if err != nil {
			b.Fatal(err)
		}
		var s metricsink.Sink = p
		for f := range scrapeFamilies {
			name := fmt.Sprintf("family%d.events", f)
			for i := range scrapeSeriesPerFamily {
				s.Increment(name, float64(i), metricsink.KV("instance", fmt.Sprintf("host-%d", i), "kind", "a"))
			}
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if err := p.WriteProtobuf(io.Discard); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("client_golang", func(b *testing.B) {
		reg := prometheus.NewRegistry()
		for f := range scrapeFamilies {
			cv := prometheus.NewCounterVec(prometheus.CounterOpts{Name: fmt.Sprintf("family%d_events_total", f), Help: "Events."}, []string{"instance", "kind"})
			reg.MustRegister(cv)
			for i := range scrapeSeriesPerFamily {
				cv.WithLabelValues(fmt.Sprintf("host-%d", i), "a").Add(float64(i))
			}
		}
		format := expfmt.NewFormat(expfmt.TypeProtoDelim)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			mfs, err := reg.Gather()
			if err != nil {
				b.Fatal(err)
			}
			enc := expfmt.NewEncoder(io.Discard, format)
			for _, mf := range mfs {
				if err := enc.Encode(mf); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
