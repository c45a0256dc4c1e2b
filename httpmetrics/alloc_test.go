//go:build !race

package httpmetrics

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/realtimeserver/observability/metricsink"
)

// TestAllocs holds the middleware's own allocations per request to its
// budget: a new request id with its header slice (1), the request copy of
// WithContext (1), enrich.WithRequestID (1), and httpsnoop's wrapper with
// one method value per hooked method the writer has (5 for
// httptest.ResponseRecorder: the state, WriteHeader, Write, WriteString,
// Flush).
func TestAllocs(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /videos/{id}", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	req := httptest.NewRequest("GET", "/videos/1", nil)
	w := httptest.NewRecorder()
	bare := testing.AllocsPerRun(200, func() { mux.ServeHTTP(w, req) })
	h := Middleware(metricsink.Discard, nil)(mux)
	ours := testing.AllocsPerRun(200, func() { h.ServeHTTP(w, req) })
	t.Logf("allocations per request: bare %v, with the middleware %v", bare, ours)
	const budget = 8
	if got := ours - bare; got > budget {
		t.Errorf("middleware adds %v allocations per request, budget %d", got, budget)
	}
	req.Header.Set("X-Request-ID", "incoming-1")
	withID := testing.AllocsPerRun(200, func() { h.ServeHTTP(w, req) })
	if got := withID - bare; got > budget {
		t.Errorf("with an incoming id, middleware adds %v allocations per request, budget %d", got, budget)
	}
}
