package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

// jsonLine decodes the single JSON record in buf.
func jsonLine(t *testing.T, buf *bytes.Buffer) map[string]any {
	t.Helper()
	line := strings.TrimSuffix(buf.String(), "\n")
	if line == "" || strings.Contains(line, "\n") {
		t.Fatalf("want one JSON line, got %q", buf.String())
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatalf("%q: %v", line, err)
	}
	return m
}

// recorder is a handler that keeps what it is given; it allocates nothing
// per record (its attrs are read, not kept) so that allocation budgets
// measure the handler under test alone.
type recorder struct {
	level   slog.Level
	records int
	attrs   int
	err     error
	panicV  any
}

func (r *recorder) Enabled(_ context.Context, l slog.Level) bool { return l >= r.level }

func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	if r.panicV != nil {
		panic(r.panicV)
	}
	r.records++
	rec.Attrs(func(a slog.Attr) bool {
		a.Value.Resolve()
		r.attrs++
		return true
	})
	return r.err
}

func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }
