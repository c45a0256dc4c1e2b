//go:build !race

package handler

import (
	"io"
	"log/slog"
	"testing"
)

// TestAllocs holds the per-record allocation budgets. The race detector
// allocates on its own, hence the build tag.
func TestAllocs(t *testing.T) {
	rec := &recorder{}
	tests := []struct {
		name string
		h    slog.Handler
		log  func(*slog.Logger)
		want float64
	}{
		{"Redact, nothing to redact", Redact(rec, nil), func(l *slog.Logger) { l.Info("m", "a", 1, "b", 2, "c", "three") }, 0},
		{"Redact, five attrs", Redact(rec, nil), func(l *slog.Logger) { l.Info("m", "a", 1, "b", 2, "c", "three", "d", 4, "e", 5) }, 0},
		{"Redact, a secret among five attrs", Redact(rec, nil), func(l *slog.Logger) { l.Info("m", "a", 1, "b", 2, "Token", "t", "d", 4, "e", 5) }, 0},
		{"Redact, With", Redact(rec, nil).WithAttrs([]slog.Attr{slog.String("password", "p")}).WithGroup("g"), func(l *slog.Logger) { l.Info("m", "a", 1) }, 0},
		{"Fanout of two", Fanout(rec, rec), func(l *slog.Logger) { l.Info("m", "a", 1, "b", 2, "c", "three") }, 0},
		{"Fanout of one", Fanout(rec), func(l *slog.Logger) { l.Info("m", "a", 1, "b", 2, "c", "three") }, 0},
		{"Fanout disabled", Fanout(rec, rec), func(l *slog.Logger) { l.Debug("m", "a", 1, "b", 2, "c", "three") }, 0},
		{"Console", Console(io.Discard, nil), func(l *slog.Logger) { l.Info("m", "a", 1, "b", 2, "c", "three") }, 0},
		{"Console, With", Console(io.Discard, nil).WithAttrs([]slog.Attr{slog.String("svc", "x")}), func(l *slog.Logger) { l.Info("m", "a", 1) }, 0},
		{"Redact, realistic keys", Redact(rec, nil), func(l *slog.Logger) {
			l.Info("m", "user_id", 1, "http.method", "GET", "status_code", 200, "duration_ms", 3, "route", "/x")
		}, 0},
		{"MinLevel", MinLevel(rec, slog.LevelInfo), func(l *slog.Logger) { l.Info("m", "a", 1) }, 0},
		{"MinLevel disabled", MinLevel(rec, slog.LevelInfo), func(l *slog.Logger) { l.Debug("m", "a", 1) }, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := slog.New(tt.h)
			if got := testing.AllocsPerRun(100, func() { tt.log(l) }); got > tt.want {
				t.Errorf("%v allocations per record, want at most %v", got, tt.want)
			}
		})
	}
	if rec.records == 0 {
		t.Fatal("the recorder saw no record: the budgets measured nothing")
	}
}
