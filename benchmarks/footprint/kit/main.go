// Command kit is the footprint check's program on the kit: it logs through
// observability.Setup to the console, serves /metrics with one counter and
// one histogram, and wraps one HTTP handler and one sqlx database on SQLite.
// Its twin, ../plain, does the same on log/slog, client_golang and sqlx.
package main

import (
	"context"
	"log"
	"log/slog"
	"net/http"
	"os"
	"time"

	_ "modernc.org/sqlite"

	"github.com/realtimeserver/observability"
	"github.com/realtimeserver/observability/dbmetrics"
	"github.com/realtimeserver/observability/httpmetrics"
	"github.com/realtimeserver/observability/metricsink"
)

func main() {
	cfg, err := observability.ConfigFromEnv()
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	tel, err := observability.Setup(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer tel.Shutdown(ctx)
	slog.SetDefault(tel.Logger)

	db, err := dbmetrics.Open("sqlite", ":memory:", &dbmetrics.Options{Sink: tel.Sink})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", tel.Metrics)
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		var n int
		if err := db.GetContext(r.Context(), &n, "SELECT 1"); err != nil {
			slog.ErrorContext(r.Context(), "query", "err", err)
		}
		tel.Sink.Increment("hello.requests", 1, metricsink.Tags{})
		tel.Sink.Histogram("hello.work", time.Since(start).Seconds(), metricsink.Tags{})
		slog.InfoContext(r.Context(), "hello", "n", n)
	})
	h := httpmetrics.Middleware(tel.Sink, nil)(mux)
	if len(os.Args) > 1 && os.Args[1] == "-serve" {
		log.Fatal(http.ListenAndServe(":8080", h))
	}
}
