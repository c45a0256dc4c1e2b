package httpmetrics_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/realtimeserver/observability/httpmetrics"
	"github.com/realtimeserver/observability/metricsink"
	"github.com/realtimeserver/observability/metricsink/prometheus"
)

func Example() {
	sink, err := prometheus.New(&prometheus.Options{DisableRuntimeMetrics: true})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /videos/{id}/comments", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "[]")
	})
	handler := httpmetrics.Middleware(sink, nil)(mux)

	for _, path := range []string{"/videos/1/comments", "/videos/2/comments", "/wp-login.php"} {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("X-Request-ID", "req-"+strings.TrimPrefix(path, "/"))
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, req)
		fmt.Println(w.Code, w.Header().Get("X-Request-ID"))
	}

	var out bytes.Buffer
	sink.WritePrometheus(&out)
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(line, "http_requests_total{") {
			fmt.Println(line)
		}
	}
	// Output:
	// 200 req-videos/1/comments
	// 200 req-videos/2/comments
	// 404 req-wp-login.php
	// http_requests_total{method="GET",route="/videos/{id}/comments",status="200"} 2
	// http_requests_total{method="GET",route="unmatched",status="404"} 1
}

// A chi router keeps the matched route in its context; give it to the
// middleware with RouteFunc (this package does not import chi):
//
//	r := chi.NewRouter()
//	r.Use(httpmetrics.Middleware(sink, &httpmetrics.Options{
//		RouteFunc: func(r *http.Request) string {
//			return chi.RouteContext(r.Context()).RoutePattern()
//		},
//	}))
func ExampleOptions_routeFunc() {
	routes := map[string]string{"/users/7": "/users/{id}"} // a stand-in router
	handler := httpmetrics.Middleware(metricsink.Discard, &httpmetrics.Options{
		RouteFunc: func(r *http.Request) string { return routes[r.URL.Path] },
	})(http.NotFoundHandler())
	handler.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/users/7", nil))
	fmt.Println("ok")
	// Output: ok
}
