package httpmetrics

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/realtimeserver/observability/enrich"
)

// FuzzRequestID sends any X-Request-ID value and pattern through the
// middleware: it never panics, the response carries the id the context
// carries, and that id is always sane.
func FuzzRequestID(f *testing.F) {
	f.Add("0f8fad5b-d9cb-469f-a165-70867728950e", "GET /x/{id}")
	f.Add("a b\n", "")
	f.Add(strings.Repeat("z", 200), "POST\t\t/y")
	f.Add("\x00\xff", "example.com/")
	f.Fuzz(func(t *testing.T, id, pattern string) {
		var ctxID string
		h := Middleware(nil, &Options{RouteFunc: func(*http.Request) string { return PatternRoute(pattern) }})(
			http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ctxID = enrich.RequestID(r.Context()) }))
		req := httptest.NewRequest("GET", "/", nil)
		req.Header["X-Request-Id"] = []string{id}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		got := w.Header().Get("X-Request-ID")
		if got != ctxID || !SaneRequestID(got) {
			t.Fatalf("response id %q, context id %q, want equal and sane", got, ctxID)
		}
		if SaneRequestID(id) != (got == id) {
			t.Fatalf("incoming %q (sane %v) gave %q", id, SaneRequestID(id), got)
		}
		route := PatternRoute(pattern)
		if strings.HasPrefix(route, " ") || strings.HasPrefix(route, "\t") {
			t.Fatalf("PatternRoute(%q) = %q keeps the separator", pattern, route)
		}
	})
}
