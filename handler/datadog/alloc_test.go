//go:build !race

package datadog

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

func TestHandleAllocations(t *testing.T) {
	in := newIntake(t)
	h, _ := newTestHandler(t, in, Options{FlushInterval: time.Hour, QueueRecords: 100_000})
	l := slog.New(h).With("request_id", "abc").WithGroup("g")
	ctx := context.Background()
	// Warm the pools and the open chunk.
	for range 10 {
		l.Info("message", "a", 1, "b", 2, "c", "three")
	}
	tests := []struct {
		name string
		f    func()
	}{
		{"Logger.Info with 3 attrs", func() { l.Info("message", "a", 1, "b", 2, "c", "three") }},
		{"Handle", func() {
			r := slog.NewRecord(time.Now(), slog.LevelWarn, "message", 0)
			r.AddAttrs(slog.String("trace_id", "1"), slog.Int("n", 2))
			h.Handle(ctx, r)
		}},
	}
	for _, tt := range tests {
		// 400 runs stay below one batch, so the sender does not wake.
		if got := testing.AllocsPerRun(400, tt.f); got != 0 {
			t.Errorf("%s: %v allocs per call, want 0", tt.name, got)
		}
	}
}
