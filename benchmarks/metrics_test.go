package benchmarks

import (
	"fmt"
	"io"
	"testing"

	"github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/realtimeserver/observability/metricsink"
	promsink "github.com/realtimeserver/observability/metricsink/prometheus"
)

// incrementCase is one row of BenchmarkIncrement: incrementing a counter
// with two tags whose series exists already. Other files add rows in init.
type incrementCase struct {
	name string
	run  func(b *testing.B)
}

// incrementCases are the rows of BenchmarkIncrement, in order. They are a
// package-level initializer, which Go runs before any init, so rows that
// other files append from init (dogstatsd) come after these.
var incrementCases = []incrementCase{
	{"ours", benchIncrementOurs},
	{"client_golang", benchIncrementClientGolang},
	{"vm", benchIncrementVM},
}

// BenchmarkIncrement measures one counter increment with two tags on an
// existing series: ours through the metricsink.Sink interface, client_golang
// through CounterVec.WithLabelValues(...).Inc(), VictoriaMetrics through
// GetOrCreateCounter on a prebuilt name (the baseline underneath ours).
func BenchmarkIncrement(b *testing.B) {
	for _, c := range incrementCases {
		b.Run(c.name, c.run)
	}
}

func newOurs(b *testing.B) metricsink.Sink {
	p, err := promsink.New(&promsink.Options{DisableRuntimeMetrics: true})
	if err != nil {
		b.Fatal(err)
	}
	return p
}

func benchIncrementOurs(b *testing.B) {
	var s metricsink.Sink = newOurs(b)
	route, method := "/videos/{id}/comments", "POST"
	s.Increment("http.requests", 1, metricsink.KV("route", route, "method", method))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		s.Increment("http.requests", 1, metricsink.KV("route", route, "method", method))
	}
}

func benchIncrementClientGolang(b *testing.B) {
	reg := prometheus.NewRegistry()
	cv := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "http_requests_total", Help: "Requests."}, []string{"route", "method"})
	reg.MustRegister(cv)
	route, method := "/videos/{id}/comments", "POST"
	cv.WithLabelValues(route, method).Inc()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		cv.WithLabelValues(route, method).Inc()
	}
}

func benchIncrementVM(b *testing.B) {
	set := metrics.NewSet()
	name := `http_requests_total{method="POST",route="/videos/{id}/comments"}`
	set.GetOrCreateCounter(name).Inc()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		set.GetOrCreateCounter(name).Inc()
	}
}

// BenchmarkIncrementParallel is BenchmarkIncrement from every core at once
// on the same series.
func BenchmarkIncrementParallel(b *testing.B) {
	route, method := "/videos/{id}/comments", "POST"
	b.Run("ours", func(b *testing.B) {
		var s metricsink.Sink = newOurs(b)
		s.Increment("http.requests", 1, metricsink.KV("route", route, "method", method))
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				s.Increment("http.requests", 1, metricsink.KV("route", route, "method", method))
			}
		})
	})
	b.Run("client_golang", func(b *testing.B) {
		cv := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "http_requests_total", Help: "Requests."}, []string{"route", "method"})
		prometheus.NewRegistry().MustRegister(cv)
		cv.WithLabelValues(route, method).Inc()
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				cv.WithLabelValues(route, method).Inc()
			}
		})
	})
}

// BenchmarkHistogram measures one observation with two tags on an existing
// series, with the same buckets in both libraries.
func BenchmarkHistogram(b *testing.B) {
	route, method := "/videos/{id}/comments", "POST"
	values := [...]float64{0.003, 0.02, 0.07, 0.2, 0.4, 0.9, 3}
	b.Run("ours", func(b *testing.B) {
		var s metricsink.Sink = newOurs(b)
		b.ReportAllocs()
		b.ResetTimer()
		i := 0
		for b.Loop() {
			s.Histogram("http.request.latency_seconds", values[i%len(values)], metricsink.KV("route", route, "method", method))
			i++
		}
	})
	b.Run("client_golang", func(b *testing.B) {
		hv := prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "http_request_latency_seconds", Help: "Latency.", Buckets: promsink.DefaultBuckets(),
		}, []string{"route", "method"})
		prometheus.NewRegistry().MustRegister(hv)
		b.ReportAllocs()
		b.ResetTimer()
		i := 0
		for b.Loop() {
			hv.WithLabelValues(route, method).Observe(values[i%len(values)])
			i++
		}
	})
}

const scrapeFamilies, scrapeSeriesPerFamily = 10, 1000

// scrapeRegistry returns our registry holding the scrape benchmarks'
// 10,000 counter series.
func scrapeRegistry(b *testing.B) *promsink.Registry {
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
	return p
}

// scrapeClientGolang measures client_golang's scrape of the same series
// in format, as promhttp answers: Gather, then expfmt's encoder.
func scrapeClientGolang(b *testing.B, format expfmt.FormatType) {
	reg := prometheus.NewRegistry()
	for f := range scrapeFamilies {
		cv := prometheus.NewCounterVec(prometheus.CounterOpts{Name: fmt.Sprintf("family%d_events_total", f), Help: "Events."}, []string{"instance", "kind"})
		reg.MustRegister(cv)
		for i := range scrapeSeriesPerFamily {
			cv.WithLabelValues(fmt.Sprintf("host-%d", i), "a").Add(float64(i))
		}
	}
	f := expfmt.NewFormat(format)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		mfs, err := reg.Gather()
		if err != nil {
			b.Fatal(err)
		}
		enc := expfmt.NewEncoder(io.Discard, f)
		for _, mf := range mfs {
			if err := enc.Encode(mf); err != nil {
				b.Fatal(err)
			}
		}
		if c, ok := enc.(expfmt.Closer); ok { // OpenMetrics' "# EOF"
			if err := c.Close(); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkScrape measures one whole exposition of 10,000 counter series in
// 10 families, written to io.Discard.
func BenchmarkScrape(b *testing.B) {
	b.Run("ours", func(b *testing.B) {
		p := scrapeRegistry(b)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			p.WritePrometheus(io.Discard)
		}
	})
	b.Run("client_golang", func(b *testing.B) { scrapeClientGolang(b, expfmt.TypeTextPlain) })
}

// BenchmarkScrapeOpenMetrics is BenchmarkScrape in OpenMetrics 1.0.0, the
// format Prometheus asks for first when it does not scrape native
// histograms: ours through WriteOpenMetrics, client_golang through Gather
// and expfmt's OpenMetrics encoder, as promhttp answers that Accept header.
func BenchmarkScrapeOpenMetrics(b *testing.B) {
	b.Run("ours", func(b *testing.B) {
		p := scrapeRegistry(b)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if err := p.WriteOpenMetrics(io.Discard); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("client_golang", func(b *testing.B) { scrapeClientGolang(b, expfmt.TypeOpenMetrics) })
}
