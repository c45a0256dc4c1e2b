//go:build !race

package livedash

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

// Keeping a record allocates nothing: its text is copied into the Ring's
// own buffer, whatever its attributes, groups or request id.
func TestRingHandleAllocs(t *testing.T) {
	ctx := context.Background()
	base := NewRing(keepAll(nil)).WithAttrs([]slog.Attr{slog.String("service", "svc"), slog.Int("pid", 1)})
	with := slog.NewRecord(time.Now(), slog.LevelInfo, "http request", 0)
	with.AddAttrs(slog.String("method", "POST"), slog.Int("status", 201), slog.Duration("duration", time.Millisecond),
		slog.String("request_id", "0123456789abcdef"), slog.Any("err", nil))
	intRID := slog.NewRecord(time.Now(), slog.LevelInfo, "job", 0)
	intRID.AddAttrs(slog.Int("request_id", 42), slog.Bool("ok", true))
	grouped := slog.NewRecord(time.Now(), slog.LevelWarn, "db query", 0)
	grouped.AddAttrs(slog.Group("db", slog.String("operation", "INSERT"), slog.Group("pool", slog.Int("in_use", 3))))
	tests := []struct {
		name string
		h    slog.Handler
		r    slog.Record
	}{
		{"five attributes", base, with},
		{"none", base, slog.NewRecord(time.Now(), slog.LevelInfo, "tick", 0)},
		{"rendered request id", base, intRID},
		{"groups", base, grouped},
		{"under WithGroup", base.WithGroup("req"), with},
		{"limited ring", NewRing(keepAll(&RingOptions{MaxRecords: 3, MaxBytes: 1 << 10})), with},
	}
	for _, tt := range tests {
		tt.h.Handle(ctx, tt.r) // the first record allocates the Ring's buffers
		if got := testing.AllocsPerRun(1000, func() { tt.h.Handle(ctx, tt.r) }); got != 0 {
			t.Errorf("%s: %v allocations per record, want 0", tt.name, got)
		}
	}
}
