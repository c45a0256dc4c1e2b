package enrich_test

import (
	"context"
	"log/slog"
	"os"

	"github.com/realtimeserver/observability/enrich"
)

// noTime removes the time so that the output is deterministic.
func noTime(groups []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey && len(groups) == 0 {
		return slog.Attr{}
	}
	return a
}

func ExampleNew() {
	h := slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: noTime})
	logger := slog.New(enrich.New(h, &enrich.Options{
		Service:     "realtime-server",
		Environment: "production",
		Version:     "v1.4.0",
		Host:        "web-1",
		PID:         4242,
	}))

	// In the HTTP middleware:
	ctx := enrich.WithRequestID(context.Background(), "req-42")

	// Good: the facts are attributes.
	logger.InfoContext(ctx, "comment created", "user_id", 7, "comment_id", 99, "video_id", 42)
	// Output:
	// {"level":"INFO","msg":"comment created","service":"realtime-server","environment":"production","version":"v1.4.0","host":"web-1","pid":4242,"user_id":7,"comment_id":99,"video_id":42,"request_id":"req-42"}
}

// traceKey is where a tracing middleware would keep the trace's attributes.
type traceKey struct{}

func ExampleExtractor() {
	trace := func(ctx context.Context) []slog.Attr {
		as, _ := ctx.Value(traceKey{}).([]slog.Attr) // nil when there is no trace
		return as
	}
	h := slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: noTime})
	logger := slog.New(enrich.New(h, &enrich.Options{
		Service: "api", Environment: "staging", Version: "v2", Host: "h", PID: 1,
		Extractors: []enrich.Extractor{trace},
	}))

	ctx := context.WithValue(context.Background(), traceKey{}, []slog.Attr{
		slog.String("trace_id", "4bf92f3577b34da6"), slog.String("span_id", "00f067aa0ba902b7"),
	})
	ctx = enrich.WithAttrs(ctx, slog.Int("user_id", 7))
	logger.InfoContext(ctx, "video watched", "video_id", 42)
	logger.Info("no context, no extra attributes")
	// Output:
	// level=INFO msg="video watched" service=api environment=staging version=v2 host=h pid=1 video_id=42 user_id=7 trace_id=4bf92f3577b34da6 span_id=00f067aa0ba902b7
	// level=INFO msg="no context, no extra attributes" service=api environment=staging version=v2 host=h pid=1
}
