package handler

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// ParseLevel returns the level named by s: "debug", "info", "warning" (or
// "warn") and "error", in any letter case and with surrounding white space
// ignored. Anything else is an error that quotes s and lists the accepted
// words; the returned level is then slog.LevelInfo.
//
// To change the level of a running program, parse into a [slog.LevelVar]
// and give that to the handlers as their Leveler:
//
//	var level slog.LevelVar // Info by default
//	h := handler.Console(os.Stderr, &handler.ConsoleOptions{Level: &level})
//	if l, err := handler.ParseLevel(os.Getenv("LOG_LEVEL")); err == nil {
//		level.Set(l)
//	}
func ParseLevel(s string) (slog.Level, error) {
	switch t := strings.TrimSpace(s); {
	case strings.EqualFold(t, "debug"):
		return slog.LevelDebug, nil
	case strings.EqualFold(t, "info"):
		return slog.LevelInfo, nil
	case strings.EqualFold(t, "warning"), strings.EqualFold(t, "warn"):
		return slog.LevelWarn, nil
	case strings.EqualFold(t, "error"):
		return slog.LevelError, nil
	}
	return slog.LevelInfo, fmt.Errorf("log level %q: accepted values are debug, info, warning (or warn), error", s)
}

// MinLevel returns a handler that passes on only records at or above
// level (read on every call, so a *slog.LevelVar works) and for which next
// is enabled too: a level can only narrow what next would take, never
// widen it. Use it to give one backend of a [Fanout] a stricter level than
// the others, or to put one level in front of a whole pipeline (Setup does,
// with LOG_LEVEL). A nil level means slog.LevelInfo.
//
// Enabled is one Level call and a comparison before it asks next; Handle
// drops a record below level even when called without Enabled.
// MinLevel panics if next is nil.
func MinLevel(next slog.Handler, level slog.Leveler) slog.Handler {
	if next == nil {
		panic("handler.MinLevel: nil next handler")
	}
	if level == nil {
		level = slog.LevelInfo
	}
	lv, _ := level.(*slog.LevelVar)
	return &minLevel{next: next, level: level, lv: lv}
}

type minLevel struct {
	next  slog.Handler
	level slog.Leveler
	lv    *slog.LevelVar // level, when it is one: read without an interface call
}

var _ slog.Handler = (*minLevel)(nil)

func (h *minLevel) min() slog.Level {
	if h.lv != nil {
		return h.lv.Level()
	}
	return h.level.Level()
}

func (h *minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min() && h.next.Enabled(ctx, l)
}

func (h *minLevel) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < h.min() {
		return nil
	}
	return h.next.Handle(ctx, r)
}

func (h *minLevel) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	c := *h
	c.next = h.next.WithAttrs(attrs)
	return &c
}

func (h *minLevel) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.next = h.next.WithGroup(name)
	return &c
}
