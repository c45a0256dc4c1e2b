package observability_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/realtimeserver/observability"
	"github.com/realtimeserver/observability/metricsink"
)

// ExampleSetup builds the logger and the metrics from the environment (the
// README's variables), logs and counts, and shuts everything down, flushing
// what is queued. A service mounts tel.Metrics on its own mux, or scrapes
// the listener Setup starts on PROMETHEUS_PORT (9568).
func ExampleSetup() {
	cfg, err := observability.ConfigFromEnv()
	if err != nil {
		log.Fatal(err) // names each invalid variable, its value and what is accepted
	}
	// For this example only: no listener, and no log lines in the output.
	cfg.DisablePrometheusListener = true
	cfg.LogOutput = io.Discard

	ctx := context.Background()
	tel, err := observability.Setup(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := tel.Shutdown(sctx); err != nil {
			log.Print(err)
		}
	}()
	slog.SetDefault(tel.Logger)

	slog.Info("comment created", "user_id", 7, "video_id", 42)
	tel.Sink.Increment("comments.created", 1, metricsink.KV("channel", "video"))

	// What Prometheus scrapes.
	rec := httptest.NewRecorder()
	tel.Metrics.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "comments_created_total") || strings.HasPrefix(line, `log_records_total{level="info"}`) {
			fmt.Println(line)
		}
	}
	// Output:
	// comments_created_total{channel="video"} 1
	// log_records_total{level="info"} 1
}
