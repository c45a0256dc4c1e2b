//go:build !race

package handler

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"
)

// TestJSONAllocs holds JSON's per-record allocation budgets. The race
// detector allocates on its own, hence the build tag.
func TestJSONAllocs(t *testing.T) {
	h := JSON(io.Discard, nil)
	ids := []slog.Attr{slog.String("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"), slog.String("span_id", "00f067aa0ba902b7")}
	group := slog.Group("http", slog.String("method", "GET"), slog.Int("status", 200), slog.Duration("took", time.Millisecond))
	escaped := "line\nwith \"quotes\" and é and \xff"
	tests := []struct {
		name string
		h    slog.Handler
		log  func(*slog.Logger)
	}{
		{"three attrs", h, func(l *slog.Logger) { l.Info("message", "a", 1, "b", 2, "c", "three") }},
		{"three attrs and span ids", h, func(l *slog.Logger) {
			l.LogAttrs(context.Background(), slog.LevelInfo, "message", slog.Int("a", 1), slog.Int("b", 2), slog.String("c", "three"), ids[0], ids[1])
		}},
		{"every scalar kind", h, func(l *slog.Logger) {
			// At most five attributes: slog allocates for a sixth.
			l.LogAttrs(context.Background(), slog.LevelWarn, "m", slog.Uint64("u", 1), slog.Float64("f", 1.5), slog.Bool("b", true),
				slog.Duration("d", time.Second), slog.Time("t", time.Unix(1, 2)))
			l.LogAttrs(context.Background(), slog.LevelError, "m", slog.Float64("nan", nan()), slog.Float64("big", 1e300))
		}},
		{"escapes", h, func(l *slog.Logger) {
			l.LogAttrs(context.Background(), slog.LevelInfo, escaped, slog.String(escaped, escaped))
		}},
		{"a group", h, func(l *slog.Logger) { l.LogAttrs(context.Background(), slog.LevelInfo, "m", group) }},
		{"an error", h, func(l *slog.Logger) { l.LogAttrs(context.Background(), slog.LevelInfo, "m", slog.Any("err", io.EOF)) }},
		{"WithAttrs and WithGroup", h.WithAttrs([]slog.Attr{slog.String("service", "x"), slog.Int("pid", 1)}).WithGroup("g"),
			func(l *slog.Logger) { l.Info("message", "a", 1, "b", 2, "c", "three") }},
		{"disabled", h, func(l *slog.Logger) { l.Debug("message", "a", 1, "b", 2, "c", "three") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := slog.New(tt.h)
			if got := testing.AllocsPerRun(200, func() { tt.log(l) }); got != 0 {
				t.Errorf("%v allocations per record, want 0", got)
			}
		})
	}
}

func nan() float64 {
	var zero float64
	return zero / zero
}
