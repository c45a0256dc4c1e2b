package httpmetrics

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/realtimeserver/observability/metricsink"
	"github.com/realtimeserver/observability/metricsink/prometheus"
)

// BenchmarkMiddleware measures one request through a ServeMux into a
// ResponseRecorder: bare, then with the middleware over a sink that
// discards (the middleware's own cost), then over the Prometheus sink.
func BenchmarkMiddleware(b *testing.B) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /videos/{id}/comments", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"comments":[]}`))
	})
	prom, err := prometheus.New(&prometheus.Options{DisableRuntimeMetrics: true})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{
		{"bare", mux},
		{"discard", Middleware(metricsink.Discard, nil)(mux)},
		{"prometheus", Middleware(prom, nil)(mux)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/videos/42/comments", nil)
			b.ReportAllocs()
			for b.Loop() {
				bc.h.ServeHTTP(httptest.NewRecorder(), req)
			}
		})
	}
}
