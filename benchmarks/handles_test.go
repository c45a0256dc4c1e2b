package benchmarks

import (
	"testing"

	"github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/realtimeserver/observability/metricsink"
	promsink "github.com/realtimeserver/observability/metricsink/prometheus"
)

// BenchmarkCounterHandle measures one increment of a counter series with
// two tags, resolved before the loop: ours through metricsink.NewCounter's
// handle, VictoriaMetrics through a held *metrics.Counter (the pre-built
// name resolved once), client_golang through a cached
// CounterVec.WithLabelValues(...) counter.
func BenchmarkCounterHandle(b *testing.B) {
	route, method := "/videos/{id}/comments", "POST"
	b.Run("ours", func(b *testing.B) {
		c := metricsink.NewCounter(newOurs(b), "http.requests", metricsink.KV("route", route, "method", method))
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			c.Add(1)
		}
	})
	b.Run("vm", func(b *testing.B) {
		c := metrics.NewSet().NewCounter(`http_requests_total{method="POST",route="/videos/{id}/comments"}`)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			c.Inc()
		}
	})
	b.Run("client_golang", func(b *testing.B) {
		cv := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "http_requests_total", Help: "Requests."}, []string{"route", "method"})
		prometheus.NewRegistry().MustRegister(cv)
		c := cv.WithLabelValues(route, method)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			c.Inc()
		}
	})
}

// BenchmarkHistogramHandle measures one observation in a histogram series
// with two tags, resolved before the loop, with the same buckets: ours
// through metricsink.NewHistogram's handle, VictoriaMetrics through a held
// *metrics.PrometheusHistogram.
func BenchmarkHistogramHandle(b *testing.B) {
	route, method := "/videos/{id}/comments", "POST"
	values := [...]float64{0.003, 0.02, 0.07, 0.2, 0.4, 0.9, 3}
	b.Run("ours", func(b *testing.B) {
		h := metricsink.NewHistogram(newOurs(b), "http.request.latency_seconds", metricsink.KV("route", route, "method", method))
		b.ReportAllocs()
		b.ResetTimer()
		i := 0
		for b.Loop() {
			h.Observe(values[i%len(values)])
			i++
		}
	})
	b.Run("vm", func(b *testing.B) {
		h := metrics.NewSet().NewPrometheusHistogramExt(`http_request_latency_seconds{method="POST",route="/videos/{id}/comments"}`, promsink.DefaultBuckets())
		b.ReportAllocs()
		b.ResetTimer()
		i := 0
		for b.Loop() {
			h.Update(values[i%len(values)])
			i++
		}
	})
}

// BenchmarkHistogramNative measures one observation in a series with
// native (sparse exponential) buckets, resolved before the loop, over
// latencies from 400 µs to 3 s: ours through metricsink.NewHistogram's
// handle (schema 3, at most 160 buckets, beside the classic
// DefaultBuckets), client_golang through a cached
// HistogramVec.WithLabelValues(...) observer with a bucket factor of 1.1
// (schema 3) and at most 160 buckets, native buckets only;
// client_golang-classic keeps DefaultBuckets beside them, as ours does.
func BenchmarkHistogramNative(b *testing.B) {
	route, method := "/videos/{id}/comments", "POST"
	values := [...]float64{0.0004, 0.003, 0.02, 0.07, 0.2, 0.9, 3}
	b.Run("ours", func(b *testing.B) {
		observeLoop(b, metricsink.NewHistogram(newOurs(b), "http.request.latency_seconds", metricsink.KV("route", route, "method", method)), values[:])
	})
	clientGolang := func(buckets []float64) func(b *testing.B) {
		return func(b *testing.B) {
			hv := prometheus.NewHistogramVec(prometheus.HistogramOpts{
				Name: "http_request_latency_seconds", Help: "Latency.", Buckets: buckets,
				NativeHistogramBucketFactor: 1.1, NativeHistogramMaxBucketNumber: 160,
			}, []string{"route", "method"})
			prometheus.NewRegistry().MustRegister(hv)
			observeLoop(b, hv.WithLabelValues(route, method), values[:])
		}
	}
	b.Run("client_golang", clientGolang(nil))
	b.Run("client_golang-classic", clientGolang(promsink.DefaultBuckets()))
}

// observeLoop observes every value once (so that the series' native
// buckets are allocated before the timer starts), then values in turn.
func observeLoop(b *testing.B, h interface{ Observe(float64) }, values []float64) {
	for _, v := range values {
		h.Observe(v)
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		h.Observe(values[i%len(values)])
		i++
	}
}
