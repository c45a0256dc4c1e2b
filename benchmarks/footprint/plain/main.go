// Command plain is the footprint check's baseline: the work of ../kit done
// on log/slog, prometheus/client_golang and sqlx alone.
package main

import (
	"log"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	_ "modernc.org/sqlite"
)

func main() {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, nil)))
	requests := prometheus.NewCounter(prometheus.CounterOpts{Name: "hello_requests_total", Help: "Hello requests."})
	work := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "hello_work_seconds", Help: "Hello work."})
	httpDur := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "http_request_duration_seconds", Help: "HTTP requests."}, []string{"route", "method", "status"})
	dbDur := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "db_query_duration_seconds", Help: "Queries."}, []string{"operation"})
	prometheus.MustRegister(requests, work, httpDur, dbDur)

	db, err := sqlx.Open("sqlite", ":memory:")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.Handler())
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		var n int
		if err := db.GetContext(r.Context(), &n, "SELECT 1"); err != nil {
			slog.ErrorContext(r.Context(), "query", "err", err)
		}
		dbDur.WithLabelValues("select").Observe(time.Since(start).Seconds())
		requests.Inc()
		work.Observe(time.Since(start).Seconds())
		slog.InfoContext(r.Context(), "hello", "n", n)
	})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &status{ResponseWriter: w, code: 200}
		mux.ServeHTTP(sw, r)
		httpDur.WithLabelValues(r.Pattern, r.Method, strconv.Itoa(sw.code)).Observe(time.Since(start).Seconds())
	})
	if len(os.Args) > 1 && os.Args[1] == "-serve" {
		log.Fatal(http.ListenAndServe(":8080", h))
	}
}

type status struct {
	http.ResponseWriter
	code int
}

func (s *status) WriteHeader(code int) { s.code = code; s.ResponseWriter.WriteHeader(code) }
