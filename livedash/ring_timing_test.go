package livedash

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/realtimeserver/observability/handler"
)

// BenchmarkRingHandle is what every record costs the process while the
// Ring keeps it: the demo's access log record, under the attributes Setup
// adds to every record, from every processor at once. The JSON writer of
// Setup's LOG_FORMAT=json is the reference.
//
//	go test ./livedash -run '^$' -bench RingHandle -benchmem -count 5
func BenchmarkRingHandle(b *testing.B) {
	identity := []slog.Attr{slog.String("service", "realtime-server"), slog.String("environment", "development"),
		slog.String("version", "dev"), slog.String("host", "vm"), slog.Int("pid", 11556)}
	for _, bc := range []struct {
		name string
		h    slog.Handler
	}{
		{"discard (baseline)", slog.DiscardHandler},
		{"json (reference)", handler.JSON(io.Discard, nil).WithAttrs(identity)},
		{"ring", NewRing(nil).WithAttrs(identity)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			r := slog.NewRecord(time.Now(), slog.LevelInfo, "http request", 0)
			r.AddAttrs(slog.String("method", "POST"), slog.String("route", "/api/videos/{video_id}/comments"),
				slog.String("path", "/api/videos/1/comments"), slog.Int("status", 201), slog.Duration("duration", 1366867*time.Nanosecond),
				slog.Int("bytes", 89), slog.String("user_agent", "Go-http-client/1.1"), slog.String("client_ip", "127.0.0.1"),
				slog.String("request_id", "0601816c2b07221b0000000000000030"))
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					bc.h.Handle(ctx, r)
				}
			})
		})
	}
}
