package httpmetrics

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/realtimeserver/observability/metricsink/metricsinktest"
)

// TestSeriesTableOverflow serves more label combinations than the series
// table holds, from several goroutines at once, and checks that every
// request is recorded once under its own labels, whether its combination
// has handles or is recorded through the Sink methods.
func TestSeriesTableOverflow(t *testing.T) {
	const routes, statuses, rounds = maxSeries/4 + 64, 2, 3 // past maxSeries combinations with two methods
	sink := metricsinktest.New()
	h := Middleware(sink, &Options{RouteFunc: func(r *http.Request) string { return r.URL.Path }})(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			code, _ := strconv.Atoi(r.URL.Query().Get("code"))
			w.WriteHeader(code)
		}))
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range routes {
				if i%4 != g {
					continue
				}
				for round := range rounds {
					for s := range statuses {
						code := 200 + 300*s // 200 and 500
						req := httptest.NewRequest("GET", "/r"+strconv.Itoa(i)+"?code="+strconv.Itoa(code), nil)
						if round == 1 {
							req.Method = "POST"
						}
						h.ServeHTTP(httptest.NewRecorder(), req)
					}
				}
			}
		}()
	}
	wg.Wait()
	for i := 0; i < routes; i += 7 { // every 7th route: the recorder's Count scans every sample
		route := "/r" + strconv.Itoa(i)
		for _, tc := range []struct {
			method, status string
			want           int
		}{{"GET", "200", rounds - 1}, {"GET", "500", rounds - 1}, {"POST", "200", 1}, {"POST", "500", 1}} {
			if got := sink.Count(CountMetric, "route", route, "method", tc.method, "status", tc.status); got != tc.want {
				t.Fatalf("%s %s %s: %d counts, want %d", tc.method, route, tc.status, got, tc.want)
			}
			if got := sink.Count(DurationMetric, "route", route, "method", tc.method, "status", tc.status); got != tc.want {
				t.Fatalf("%s %s %s: %d durations, want %d", tc.method, route, tc.status, got, tc.want)
			}
		}
	}
}
