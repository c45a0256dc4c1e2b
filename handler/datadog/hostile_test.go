package datadog

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"

	"github.com/realtimeserver/observability/handler"
	"github.com/realtimeserver/observability/internal/hostile"
)

// entryWriter is a slog.Handler that writes each entry the Datadog
// encoder makes for a record (Handler.entry, what Handle queues) to w, one
// per line, instead of queueing it: the encoder under test, without the
// network.
type entryWriter struct {
	h *Handler
	w io.Writer
}

func (e entryWriter) Enabled(ctx context.Context, l slog.Level) bool { return e.h.Enabled(ctx, l) }
func (e entryWriter) WithAttrs(as []slog.Attr) slog.Handler {
	return entryWriter{e.h.WithAttrs(as).(*Handler), e.w}
}
func (e entryWriter) WithGroup(n string) slog.Handler {
	return entryWriter{e.h.WithGroup(n).(*Handler), e.w}
}

func (e entryWriter) Handle(_ context.Context, r slog.Record) error {
	b := e.h.entry(nil, r)
	if len(b) > 0 {
		if !json.Valid(b) {
			return &invalidEntry{b}
		}
		e.w.Write(append(b, '\n'))
	}
	return nil
}

type invalidEntry struct{ b []byte }

func (e *invalidEntry) Error() string { return "invalid entry: " + string(e.b[:min(len(e.b), 300)]) }

func newEntryWriter(t *testing.T, w io.Writer) entryWriter {
	cfg, err := newConfig(&Options{APIKey: testKey, Hostname: "h", Service: "s"})
	if err != nil {
		t.Fatal(err)
	}
	c := newCore(cfg)
	t.Cleanup(c.cancel)
	return entryWriter{&Handler{c: c}, w}
}

// TestHostileValues runs the kit's corpus of hostile values through the
// Datadog encoder: no panic, every entry one valid JSON object within
// MaxRecordBytes, and, behind handler.Redact as Setup builds the pipeline,
// no secret.
func TestHostileValues(t *testing.T) {
	t.Run("encoder", func(t *testing.T) {
		hostile.Check(t, hostile.Options{
			New:  func(w io.Writer) slog.Handler { return newEntryWriter(t, w) },
			JSON: true,
		})
	})
	t.Run("behind Redact", func(t *testing.T) {
		hostile.Check(t, hostile.Options{
			New:     func(w io.Writer) slog.Handler { return handler.Redact(newEntryWriter(t, w), nil) },
			JSON:    true,
			Redacts: true,
		})
	})
}

// TestHostileEntriesStayWithinLimits: each entry of the corpus fits in
// MaxRecordBytes and nests no deeper than MaxDepth.
func TestHostileEntriesStayWithinLimits(t *testing.T) {
	for _, c := range hostile.Cases() {
		var buf bytes.Buffer
		if err := c.Log(t.Context(), newEntryWriter(t, &buf)); err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		for _, line := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
			if len(line) > MaxIntakeRecordBytes {
				t.Errorf("%s: entry of %d bytes", c.Name, len(line))
			}
			if d := jsonDepth(line); d > MaxDepth {
				t.Errorf("%s: entry nests %d levels, more than %d: %.300s", c.Name, d, MaxDepth, line)
			}
		}
	}
}
