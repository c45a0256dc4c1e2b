package enrich

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/slogtest"
	"time"
)

var fixed = Options{Service: "svc", Environment: "test", Version: "v1.2.3", Host: "h1", PID: 42}

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

func TestSlogtest(t *testing.T) {
	var buf bytes.Buffer
	slogtest.Run(t, func(*testing.T) slog.Handler {
		buf.Reset()
		return New(slog.NewJSONHandler(&buf, nil), &fixed)
	}, func(t *testing.T) map[string]any { return jsonLine(t, &buf) })
}

func TestSlogtestWithContext(t *testing.T) {
	// slogtest logs without a context; with extractors configured the
	// handler takes its slow path on every record, which must pass too.
	var buf bytes.Buffer
	opts := fixed
	opts.Extractors = []Extractor{func(context.Context) []slog.Attr { return nil }}
	slogtest.Run(t, func(*testing.T) slog.Handler {
		buf.Reset()
		return New(slog.NewJSONHandler(&buf, nil), &opts)
	}, func(t *testing.T) map[string]any { return jsonLine(t, &buf) })
}

// keysInOrder returns the keys of a flat JSON object in the order written.
func keysInOrder(t *testing.T, line string) []string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(line))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

type traceKey struct{}

func traceExtractor(ctx context.Context) []slog.Attr {
	as, _ := ctx.Value(traceKey{}).([]slog.Attr)
	return as
}

func TestContextAttrs(t *testing.T) {
	ctx := t.Context()
	tests := []struct {
		name     string
		ctx      context.Context
		attrs    []any // the record's own
		extract  bool
		wantKeys []string // after time, level, msg and the five service keys
		want     map[string]any
	}{
		{
			name:     "empty context",
			ctx:      ctx,
			attrs:    []any{"a", 1},
			wantKeys: []string{"a"},
			want:     map[string]any{"a": 1.0},
		},
		{
			name:     "request id",
			ctx:      WithRequestID(ctx, "req-1"),
			attrs:    []any{"a", 1},
			wantKeys: []string{"a", "request_id"},
			want:     map[string]any{"a": 1.0, "request_id": "req-1"},
		},
		{
			name:     "request id first, then attrs, then extractors",
			ctx:      context.WithValue(WithAttrs(WithRequestID(WithAttrs(ctx, slog.Int("user_id", 7)), "req-2"), slog.String("channel", "video")), traceKey{}, []slog.Attr{slog.String("trace_id", "abc")}),
			attrs:    []any{"a", 1},
			extract:  true,
			wantKeys: []string{"a", "request_id", "user_id", "channel", "trace_id"},
			want:     map[string]any{"a": 1.0, "request_id": "req-2", "user_id": 7.0, "channel": "video", "trace_id": "abc"},
		},
		{
			name:     "spills past five attributes",
			ctx:      WithAttrs(WithRequestID(ctx, "req-3"), slog.Int("x", 1), slog.Int("y", 2)),
			attrs:    []any{"a", 1, "b", 2, "c", 3, "d", 4},
			wantKeys: []string{"a", "b", "c", "d", "request_id", "x", "y"},
			want:     map[string]any{"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0, "request_id": "req-3", "x": 1.0, "y": 2.0},
		},
		{
			name:     "extractor finds nothing",
			ctx:      ctx,
			attrs:    []any{"a", 1},
			extract:  true,
			wantKeys: []string{"a"},
			want:     map[string]any{"a": 1.0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			opts := fixed
			if tt.extract {
				opts.Extractors = []Extractor{nil, traceExtractor}
			}
			slog.New(New(slog.NewJSONHandler(&buf, nil), &opts)).InfoContext(tt.ctx, "m", tt.attrs...)
			got := jsonLine(t, &buf)
			wantKeys := append([]string{"time", "level", "msg", "service", "environment", "version", "host", "pid"}, tt.wantKeys...)
			if keys := keysInOrder(t, buf.String()); !reflect.DeepEqual(keys, wantKeys) {
				t.Errorf("keys: got %v, want %v", keys, wantKeys)
			}
			want := map[string]any{"level": "INFO", "msg": "m", "service": "svc", "environment": "test", "version": "v1.2.3", "host": "h1", "pid": 42.0}
			for k, v := range tt.want {
				want[k] = v
			}
			delete(got, "time")
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %v\nwant %v", got, want)
			}
		})
	}
}

// TestRecordNotMutated hands the same record, whose overflow slice has
// spare capacity, to the handler with two different contexts: neither
// call may change the record or see the other's attributes.
func TestRecordNotMutated(t *testing.T) {
	var buf bytes.Buffer
	h := New(slog.NewJSONHandler(&buf, nil), &fixed)
	r := slog.NewRecord(time.Now(), slog.LevelInfo, "m", 0)
	for i := range 8 { // one at a time, so that the overflow slice grows to 3 of 4
		r.AddAttrs(slog.Int(string(rune('a'+i)), i+1))
	}
	before := r.NumAttrs()
	for _, id := range []string{"first", "second"} {
		buf.Reset()
		if err := h.Handle(WithAttrs(WithRequestID(t.Context(), id), slog.String("only", id)), r); err != nil {
			t.Fatal(err)
		}
		got := jsonLine(t, &buf)
		if got["request_id"] != id || got["only"] != id || got["f"] != 6.0 {
			t.Errorf("record for %s: %v", id, got)
		}
		if strings.Contains(buf.String(), "!BUG") {
			t.Errorf("slog saw a shared record modified: %s", buf.String())
		}
		if r.NumAttrs() != before {
			t.Fatalf("the caller's record has %d attrs, had %d", r.NumAttrs(), before)
		}
	}
}

func TestDefaults(t *testing.T) {
	var buf bytes.Buffer
	slog.New(New(slog.NewJSONHandler(&buf, nil), &Options{})).Info("m")
	got := jsonLine(t, &buf)
	host, _ := os.Hostname()
	want := map[string]any{
		"service":     filepath.Base(os.Args[0]),
		"environment": "development",
		"version":     buildVersion(),
		"host":        host,
		"pid":         float64(os.Getpid()),
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	// A test binary has no module version of its own.
	if v := buildVersion(); v != "dev" {
		t.Errorf("buildVersion() = %q in a test binary, want dev", v)
	}
	if host == "" {
		t.Fatal("os.Hostname is empty; the host default cannot be checked")
	}
}

func TestWithAttrsAndGroup(t *testing.T) {
	var buf bytes.Buffer
	h := New(slog.NewJSONHandler(&buf, nil), &fixed).WithAttrs([]slog.Attr{slog.String("component", "db")}).WithGroup("q")
	slog.New(h).InfoContext(WithRequestID(t.Context(), "r"), "m", "ms", 5)
	got := jsonLine(t, &buf)
	if got["service"] != "svc" || got["component"] != "db" {
		t.Errorf("service attrs or With attrs missing: %v", got)
	}
	q, _ := got["q"].(map[string]any)
	if q["ms"] != 5.0 || q["request_id"] != "r" {
		t.Errorf("group q = %v, want ms and request_id inside", q)
	}
}

func TestEnabled(t *testing.T) {
	h := New(slog.NewJSONHandler(&bytes.Buffer{}, &slog.HandlerOptions{Level: slog.LevelWarn}), &fixed)
	if h.Enabled(t.Context(), slog.LevelInfo) || !h.Enabled(t.Context(), slog.LevelWarn) {
		t.Errorf("Enabled does not follow next's level")
	}
}

func TestNewPanicsOnNil(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New(nil) did not panic")
		}
	}()
	New(nil, nil)
}

func TestContextHelpers(t *testing.T) {
	ctx := t.Context()
	if RequestID(ctx) != "" || ContextAttrs(ctx) != nil {
		t.Fatal("an empty context carries something")
	}
	if WithRequestID(ctx, "") != ctx || WithAttrs(ctx) != ctx {
		t.Error("empty input did not return ctx itself")
	}
	a := WithAttrs(WithRequestID(ctx, "r"), slog.Int("x", 1))
	b := WithAttrs(a, slog.Int("y", 2))
	c := WithAttrs(a, slog.Int("z", 3)) // must not overwrite b's y
	got := func(ctx context.Context) string {
		var s []string
		for _, a := range ContextAttrs(ctx) {
			s = append(s, a.String())
		}
		return strings.Join(s, " ")
	}
	for _, tt := range []struct {
		ctx  context.Context
		want string
	}{{a, "request_id=r x=1"}, {b, "request_id=r x=1 y=2"}, {c, "request_id=r x=1 z=3"}} {
		if g := got(tt.ctx); g != tt.want {
			t.Errorf("ContextAttrs = %q, want %q", g, tt.want)
		}
	}
	if RequestID(WithRequestID(b, "r2")) != "r2" || RequestID(b) != "r" {
		t.Error("WithRequestID did not replace the id in a copy only")
	}
}

func TestContextDerivation(t *testing.T) {
	type key struct{}
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "v"))
	ctx := WithAttrs(WithRequestID(parent, "r1"), slog.Int("a", 1))
	if got := ctx.Value(key{}); got != "v" {
		t.Errorf("parent value = %v, want v", got)
	}
	if got := RequestID(ctx); got != "r1" {
		t.Errorf("RequestID = %q, want r1", got)
	}
	child, stop := context.WithCancel(ctx)
	defer stop()
	cancel()
	select {
	case <-child.Done():
	case <-time.After(time.Second):
		t.Fatal("cancelling the parent did not reach a context derived from ours")
	}
	if ctx.Err() != context.Canceled {
		t.Errorf("Err = %v, want context.Canceled", ctx.Err())
	}
	if got := RequestID(WithRequestID(nil, "x")); got != "x" {
		t.Errorf("RequestID(WithRequestID(nil)) = %q", got)
	}
}

func TestScope(t *testing.T) {
	type key struct{}
	parent := WithAttrs(context.WithValue(t.Context(), key{}, "v"), slog.Int("x", 1))
	var s Scope
	if s.WithRequestID(parent, "") != parent {
		t.Error("an empty id did not return ctx itself")
	}
	ctx := s.WithRequestID(parent, "r")
	if got := ctx.Value(key{}); got != "v" {
		t.Errorf("parent value = %v, want v", got)
	}
	var got []string
	for _, a := range ContextAttrs(ctx) {
		got = append(got, a.String())
	}
	if g := strings.Join(got, " "); g != "request_id=r x=1" {
		t.Errorf("ContextAttrs = %q, want %q", g, "request_id=r x=1")
	}
	if RequestID(parent) != "" {
		t.Error("the parent gained the id")
	}
}
