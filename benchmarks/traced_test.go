package benchmarks

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/XSAM/otelsql"
	"github.com/jmoiron/sqlx"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/realtimeserver/observability/dbmetrics"
	"github.com/realtimeserver/observability/httpmetrics"
	"github.com/realtimeserver/observability/metricsink/prometheus"
)

// discardExporter drops every span: the traced benchmarks measure the
// instrumentation and the SDK, not a network.
type discardExporter struct{}

func (discardExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardExporter) Shutdown(context.Context) error                             { return nil }

// tracingProvider samples every span and hands it to discardExporter as
// it ends.
func tracingProvider(b *testing.B) *sdktrace.TracerProvider {
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithSpanProcessor(sdktrace.NewSimpleSpanProcessor(discardExporter{})),
	)
	b.Cleanup(func() { tp.Shutdown(context.Background()) })
	return tp
}

// BenchmarkHTTPTraced is BenchmarkHTTP with tracing on (every span
// sampled, a discarding exporter): bare, our middleware (metrics into the
// Prometheus sink and a server span), and otelhttp's handler alone (a
// server span, metrics to a no-op meter provider), over the same mux.
func BenchmarkHTTPTraced(b *testing.B) {
	const pattern, target = "GET /videos/{id}/comments", "/videos/42/comments"
	body := []byte(`{"comments":[]}`)
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})
	newMux := func() *http.ServeMux {
		mux := http.NewServeMux()
		mux.Handle(pattern, app)
		return mux
	}
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
	b.Run("bare", func(b *testing.B) { run(b, newMux()) })
	b.Run("ours", func(b *testing.B) {
		sink, err := prometheus.New(&prometheus.Options{DisableRuntimeMetrics: true})
		if err != nil {
			b.Fatal(err)
		}
		run(b, httpmetrics.Middleware(sink, &httpmetrics.Options{TracerProvider: tracingProvider(b)})(newMux()))
	})
	b.Run("otelhttp", func(b *testing.B) {
		run(b, otelhttp.NewHandler(newMux(), "server",
			otelhttp.WithTracerProvider(tracingProvider(b)),
			otelhttp.WithMeterProvider(metricnoop.NewMeterProvider())))
	})
}

// BenchmarkDBTraced is BenchmarkDB with tracing on: sqlx opened by
// dbmetrics (metrics into the Prometheus sink and a client span per
// statement) and sqlx over XSAM/otelsql (a span per statement, metrics to
// a no-op meter provider), same schema, rows and statement.
func BenchmarkDBTraced(b *testing.B) {
	const rows = 1000
	const query = "SELECT id, video_id, body FROM comments WHERE id = ?"
	type comment struct {
		ID      int64  `db:"id"`
		VideoID int64  `db:"video_id"`
		Body    string `db:"body"`
	}
	prepare := func(b *testing.B, db *sqlx.DB) {
		b.Cleanup(func() { db.Close() })
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		db.MustExec("CREATE TABLE comments (id INTEGER PRIMARY KEY, video_id INTEGER NOT NULL, body TEXT NOT NULL)")
		tx := db.MustBegin()
		for i := 1; i <= rows; i++ {
			tx.MustExec("INSERT INTO comments (id, video_id, body) VALUES (?, ?, ?)", i, i%10, "a comment of moderate length")
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	run := func(b *testing.B, db *sqlx.DB) {
		var c comment
		ctx := context.Background()
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if err := db.GetContext(ctx, &c, query, i%rows+1); err != nil {
				b.Fatal(err)
			}
			i++
		}
	}
	b.Run("ours", func(b *testing.B) {
		sink, err := prometheus.New(&prometheus.Options{DisableRuntimeMetrics: true})
		if err != nil {
			b.Fatal(err)
		}
		db, err := dbmetrics.Open("sqlite", ":memory:", &dbmetrics.Options{
			Sink: sink, Logger: slog.New(slog.DiscardHandler), TracerProvider: tracingProvider(b)})
		if err != nil {
			b.Fatal(err)
		}
		prepare(b, db)
		run(b, db)
	})
	b.Run("otelsql", func(b *testing.B) {
		sdb, err := otelsql.Open("sqlite", ":memory:",
			otelsql.WithTracerProvider(tracingProvider(b)),
			otelsql.WithMeterProvider(metricnoop.NewMeterProvider()))
		if err != nil {
			b.Fatal(err)
		}
		db := sqlx.NewDb(sdb, "sqlite")
		prepare(b, db)
		run(b, db)
	})
}
