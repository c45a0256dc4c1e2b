package handler

import (
	"log/slog"
	"testing"
	"time"
)

// BenchmarkRedactHandle is the cost of Redact itself on the record of the
// kit's BenchmarkLog (three attributes, nothing sensitive) and on records
// with realistic keys, in front of a handler that does nothing.
func BenchmarkRedactHandle(b *testing.B) {
	for _, bc := range []struct {
		name  string
		attrs []slog.Attr
	}{
		{"short-keys", []slog.Attr{slog.Int("a", 1), slog.Int("b", 2), slog.String("c", "three")}},
		{"realistic-keys", []slog.Attr{
			slog.Int("user_id", 1), slog.String("http.method", "GET"), slog.Int("status_code", 200),
			slog.Int("duration_ms", 3), slog.String("route", "/x"),
		}},
		{"a-secret", []slog.Attr{slog.Int("a", 1), slog.String("token", "t"), slog.String("c", "three")}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h := Redact(slog.DiscardHandler, nil)
			r := slog.NewRecord(time.Now(), slog.LevelInfo, "message", 0)
			r.AddAttrs(bc.attrs...)
			ctx := b.Context()
			b.ReportAllocs()
			for b.Loop() {
				_ = h.Handle(ctx, r)
			}
		})
	}
}
