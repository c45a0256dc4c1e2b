package handler

import (
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
