package handler

import (
	"log/slog"
	"strconv"
	"strings"
	"testing"
)

func TestParseLevel(t *testing.T) {
	tests := []struct {
		in      string
		want    slog.Level
		wantErr bool
	}{
		{"debug", slog.LevelDebug, false},
		{"DEBUG", slog.LevelDebug, false},
		{"info", slog.LevelInfo, false},
		{" Info\n", slog.LevelInfo, false},
		{"warning", slog.LevelWarn, false},
		{"WARN", slog.LevelWarn, false},
		{"warn", slog.LevelWarn, false},
		{"error", slog.LevelError, false},
		{"\tErRoR ", slog.LevelError, false},
		{"", slog.LevelInfo, true},
		{"verbose", slog.LevelInfo, true},
		{"warnings", slog.LevelInfo, true},
		{"err", slog.LevelInfo, true},
		{"info+1", slog.LevelInfo, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseLevel(tt.in)
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Fatalf("ParseLevel(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
			if err != nil {
				msg := err.Error()
				for _, want := range []string{strconv.Quote(tt.in), "debug", "info", "warning", "warn", "error"} {
					if !strings.Contains(msg, want) {
						t.Errorf("error %q does not mention %s", msg, want)
					}
				}
			}
		})
	}
}

func FuzzParseLevel(f *testing.F) {
	for _, s := range []string{"debug", "Info", " warn ", "warning", "ERROR", "", "x", "\x00info"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseLevel(s)
		if err != nil {
			if l != slog.LevelInfo {
				t.Errorf("ParseLevel(%q) failed with level %v, want INFO", s, l)
			}
			return
		}
		switch l {
		case slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError:
		default:
			t.Errorf("ParseLevel(%q) = %v, not one of the four levels", s, l)
		}
		// The level's own name parses back to it.
		if back, err := ParseLevel(l.String()); err != nil || back != l {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v", l.String(), back, err, l)
		}
	})
}
