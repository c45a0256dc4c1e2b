//go:build !race

package livedash

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

// A record costs the Ring one allocation: the copy of its rendered
// attributes (none without attributes). With attributes are shared.
func TestRingHandleAllocs(t *testing.T) {
	h := NewRing(nil).WithAttrs([]slog.Attr{slog.String("service", "svc"), slog.Int("pid", 1)})
	ctx := context.Background()
	with := slog.NewRecord(time.Now(), slog.LevelInfo, "http request", 0)
	with.AddAttrs(slog.String("method", "POST"), slog.Int("status", 201), slog.Duration("duration", time.Millisecond),
		slog.String("request_id", "0123456789abcdef"), slog.Any("err", nil))
	bare := slog.NewRecord(time.Now(), slog.LevelInfo, "tick", 0)
	tests := []struct {
		name string
		r    slog.Record
		max  float64
	}{{"five attributes", with, 1}, {"none", bare, 0}}
	for _, tt := range tests {
		h.Handle(ctx, tt.r) // warm the pool
		if got := testing.AllocsPerRun(1000, func() { h.Handle(ctx, tt.r) }); got > tt.max {
			t.Errorf("%s: %v allocations per record, want at most %v", tt.name, got, tt.max)
		}
	}
}
