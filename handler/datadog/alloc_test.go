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
		before := h.Stats()
		// 400 runs stay below one batch, so the sender does not wake.
		if got := testing.AllocsPerRun(400, tt.f); got != 0 {
			t.Errorf("%s: %v allocs per call, want 0", tt.name, got)
		}
		// AllocsPerRun calls f once more to warm up. Every call must have
		// queued its record: dropping it would allocate nothing too.
		after := h.Stats()
		if got := after.Enqueued - before.Enqueued; got != 401 {
			t.Errorf("%s: %d records enqueued, want 401", tt.name, got)
		}
		if got := after.QueueLength - before.QueueLength; got != 401 || after.Dropped.Total() != 0 {
			t.Errorf("%s: queue grew by %d records with %d dropped (%+v), want 401 and 0", tt.name, got, after.Dropped.Total(), after.Dropped)
		}
	}
	// And they reach the intake.
	flush(t, h)
	if s := h.Stats(); s.Sent != s.Enqueued || s.Dropped.Total() != 0 {
		t.Errorf("after Flush: %+v, want every record sent", s)
	}
	if _, entries := in.snapshot(); len(entries) != 10+2*401 {
		t.Errorf("intake received %d entries, want %d", len(entries), 10+2*401)
	}
}
