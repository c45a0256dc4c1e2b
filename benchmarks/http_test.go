package benchmarks

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/realtimeserver/observability/httpmetrics"
	promsink "github.com/realtimeserver/observability/metricsink/prometheus"
)

// BenchmarkHTTP serves one request through a ServeMux pattern into an
// httptest.ResponseRecorder, with a pre-built request: bare, with our
// middleware (route, method and status labels, a request id, the
// Prometheus sink), and with promhttp's InstrumentHandlerDuration and
// InstrumentHandlerCounter (the route curried in, as promhttp is used per
// route).
func BenchmarkHTTP(b *testing.B) {
	const pattern, target = "GET /videos/{id}/comments", "/videos/42/comments"
	body := []byte(`{"comments":[]}`)
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})
	run := func(b *testing.B, h http.Handler) {
		req := httptest.NewRequest("GET", target, nil)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			h.ServeHTTP(httptest.NewRecorder(), req)
		}
	}

	b.Run("bare", func(b *testing.B) {
		mux := http.NewServeMux()
		mux.Handle(pattern, app)
		run(b, mux)
	})
	b.Run("ours", func(b *testing.B) {
		sink, err := promsink.New(&promsink.Options{DisableRuntimeMetrics: true})
		if err != nil {
			b.Fatal(err)
		}
		mux := http.NewServeMux()
		mux.Handle(pattern, app)
		run(b, httpmetrics.Middleware(sink, nil)(mux))
	})
	b.Run("promhttp", func(b *testing.B) {
		reg := prometheus.NewRegistry()
		dur := prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "http_request_duration_seconds", Help: "Request duration.", Buckets: promsink.DefaultBuckets(),
		}, []string{"route", "method", "code"})
		cnt := prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total", Help: "Requests.",
		}, []string{"route", "method", "code"})
		reg.MustRegister(dur, cnt)
		route := prometheus.Labels{"route": "/videos/{id}/comments"}
		mux := http.NewServeMux()
		mux.Handle(pattern, promhttp.InstrumentHandlerDuration(dur.MustCurryWith(route),
			promhttp.InstrumentHandlerCounter(cnt.MustCurryWith(route), app)))
		run(b, mux)
	})
}
