package handler_test

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/realtimeserver/observability/handler"
)

func ExampleJSON() {
	h := handler.JSON(os.Stdout, nil).
		WithAttrs([]slog.Attr{slog.String("service", "realtime-server")}).
		WithGroup("http")

	// A record without a time, so that the output is deterministic; a
	// logger sets the time of each record.
	r := slog.NewRecord(time.Time{}, slog.LevelInfo, "request done", 0)
	r.AddAttrs(slog.String("method", "GET"), slog.Int("status", 200), slog.String("path", "/a<b>&\"c\""))
	_ = h.Handle(context.Background(), r)
	// Output:
	// {"level":"INFO","msg":"request done","service":"realtime-server","http":{"method":"GET","status":200,"path":"/a<b>&\"c\""}}
}
