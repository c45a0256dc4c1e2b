//go:build !race

package httpmetrics

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/realtimeserver/observability/metricsink"
)

// TestAllocs holds the middleware's own allocations per request to its
// budget: the recorder, which holds the request id and the context that
// carries it (1), and the request copy of WithContext (1). The writer the
// handler sees is a view of the recorder, stored in an interface without
// allocating.
func TestAllocs(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /videos/{id}", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	req := httptest.NewRequest("GET", "/videos/1", nil)
	w := httptest.NewRecorder()
	bare := testing.AllocsPerRun(200, func() { mux.ServeHTTP(w, req) })
	h := Middleware(metricsink.Discard, nil)(mux)
	ours := testing.AllocsPerRun(200, func() { h.ServeHTTP(w, req) })
	t.Logf("allocations per request: bare %v, with the middleware %v", bare, ours)
	const budget = 2
	if got := ours - bare; got > budget {
		t.Errorf("middleware adds %v allocations per request, budget %d", got, budget)
	}
	req.Header.Set("X-Request-ID", "incoming-1")
	withID := testing.AllocsPerRun(200, func() { h.ServeHTTP(w, req) })
	if got := withID - bare; got > budget {
		t.Errorf("with an incoming id, middleware adds %v allocations per request, budget %d", got, budget)
	}
}
