package observability

import (
	"context"
	"log/slog"
	"sync/atomic"
)

// levelCounts counts log records by level, for log_records_total{level}.
type levelCounts struct {
	debug, info, warn, error atomic.Uint64
}

func (c *levelCounts) counter(l slog.Level) *atomic.Uint64 {
	switch {
	case l < slog.LevelInfo:
		return &c.debug
	case l < slog.LevelWarn:
		return &c.info
	case l < slog.LevelError:
		return &c.warn
	}
	return &c.error
}

// countHandler counts every record it passes on. Levels between the four
// named ones count towards the one below them (INFO+2 is info).
type countHandler struct {
	next   slog.Handler
	counts *levelCounts
}

var _ slog.Handler = (*countHandler)(nil)

func (h *countHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *countHandler) Handle(ctx context.Context, r slog.Record) error {
	h.counts.counter(r.Level).Add(1)
	return h.next.Handle(ctx, r)
}

func (h *countHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	return &countHandler{next: h.next.WithAttrs(attrs), counts: h.counts}
}

func (h *countHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &countHandler{next: h.next.WithGroup(name), counts: h.counts}
}
