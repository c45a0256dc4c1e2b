package handler

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/realtimeserver/observability/internal/hostile"
)

func TestHostileConsole(t *testing.T) {
	hostile.Check(t, hostile.Options{
		New: func(w io.Writer) slog.Handler { return Console(w, &ConsoleOptions{NoColor: true}) },
	})
}

func TestHostileRedact(t *testing.T) {
	hostile.Check(t, hostile.Options{
		New:     func(w io.Writer) slog.Handler { return Redact(slog.NewJSONHandler(w, nil), nil) },
		JSON:    true,
		Redacts: true,
	})
}

func TestHostileRedactConsole(t *testing.T) {
	hostile.Check(t, hostile.Options{
		New:     func(w io.Writer) slog.Handler { return Redact(Console(w, &ConsoleOptions{NoColor: true}), nil) },
		Redacts: true,
	})
}

func TestHostileFanout(t *testing.T) {
	hostile.Check(t, hostile.Options{
		New: func(w io.Writer) slog.Handler {
			return Redact(Fanout(Console(w, &ConsoleOptions{NoColor: true}), Console(w, nil)), nil)
		},
		Redacts:  true,
		MaxBytes: 16 << 20, // two copies
	})
}

// TestHostileSelfMapWithSecret is the case that used to end the process
// with a fatal stack overflow (which no recover can catch): a map that
// contains itself, holding a sensitive key, through Redact. It runs in a
// child process, so that a regression fails this test instead of killing
// the test binary.
func TestHostileSelfMapWithSecret(t *testing.T) {
	if os.Getenv("HOSTILE_CHILD") == "1" {
		m := map[string]any{"password": hostile.Secret}
		m["self"] = m
		var buf bytes.Buffer
		slog.New(Redact(slog.NewJSONHandler(&buf, nil), nil)).Info("m", "m", m)
		slog.New(Redact(Console(&buf, &ConsoleOptions{NoColor: true}), nil)).Info("m", "m", m)
		m2 := map[string]any{"a": 1}
		m2["self"] = m2
		slog.New(Console(&buf, &ConsoleOptions{NoColor: true})).Info("m", "m", m2)
		os.Stdout.Write(buf.Bytes())
		return
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestHostileSelfMapWithSecret$", "-test.count=1")
	cmd.Env = append(os.Environ(), "HOSTILE_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		first, _, _ := strings.Cut(string(out), "\n")
		t.Fatalf("the child process failed: %v: %.300s", err, first)
	}
	if strings.Contains(string(out), hostile.Secret) {
		t.Errorf("the secret reached the output: %s", out)
	}
	if !strings.Contains(string(out), `"m":{"password":"[REDACTED]","self":"!CYCLE"}`) || !strings.Contains(string(out), "m.a=1 m.self=!CYCLE") {
		t.Errorf("want the cycle marked, got %s", out)
	}
}
