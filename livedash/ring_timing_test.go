package livedash

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

// BenchmarkRingHandle is what every record costs the process while the
// dashboard is on: the access log's record, as the Ring keeps it.
func BenchmarkRingHandle(b *testing.B) {
	for _, bc := range []struct {
		name string
		h    slog.Handler
	}{
		{"discard (baseline)", slog.DiscardHandler},
		{"ring", NewRing(nil).WithAttrs([]slog.Attr{slog.String("service", "svc")})},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			r := slog.NewRecord(time.Now(), slog.LevelInfo, "http request", 0)
			r.AddAttrs(slog.String("method", "POST"), slog.String("route", "/api/videos/{video_id}/comments"),
				slog.Int("status", 201), slog.Duration("duration", time.Millisecond), slog.String("request_id", "0123456789abcdef"))
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					bc.h.Handle(ctx, r)
				}
			})
		})
	}
}
