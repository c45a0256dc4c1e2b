package enrich

import (
	"bytes"
	"context"
	"encoding/hex"
	"log/slog"
	"regexp"
	"sync"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// spanContext returns a context holding a span of a real SDK tracer.
func spanContext(t *testing.T) (context.Context, trace.SpanContext) {
	t.Helper()
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	ctx, span := tp.Tracer("test").Start(context.Background(), "op")
	t.Cleanup(func() { span.End() })
	return ctx, span.SpanContext()
}

func TestTraceIDs(t *testing.T) {
	ctx, sc := spanContext(t)
	var buf bytes.Buffer
	l := slog.New(New(slog.NewJSONHandler(&buf, nil), &fixed))

	l.InfoContext(WithRequestID(ctx, "r1"), "m", "a", 1)
	got := jsonLine(t, &buf)
	if got[TraceIDKey] != sc.TraceID().String() || got[SpanIDKey] != sc.SpanID().String() {
		t.Errorf("trace_id=%v span_id=%v, want %v %v", got[TraceIDKey], got[SpanIDKey], sc.TraceID(), sc.SpanID())
	}
	hexRE := regexp.MustCompile(`^[0-9a-f]{32}$`)
	if !hexRE.MatchString(got[TraceIDKey].(string)) {
		t.Errorf("trace_id %q is not 32 lower-case hex digits", got[TraceIDKey])
	}
	if got[RequestIDKey] != "r1" {
		t.Errorf("request_id=%v, want r1", got[RequestIDKey])
	}

	// No span, or an invalid one: no ids.
	for _, c := range []context.Context{context.Background(), trace.ContextWithSpanContext(context.Background(), trace.SpanContext{})} {
		buf.Reset()
		l.InfoContext(c, "m")
		if got := jsonLine(t, &buf); got[TraceIDKey] != nil || got[SpanIDKey] != nil {
			t.Errorf("ids without a valid span: %v", got)
		}
	}
}

// TestTraceIDsConcurrent logs under many spans whose ids share a cache
// slot, from many goroutines: every record carries its own span's ids.
func TestTraceIDsConcurrent(t *testing.T) {
	h := New(&checkIDs{t: t}, &fixed)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				var tid trace.TraceID
				var sid trace.SpanID
				tid[0], tid[1], sid[0], sid[1] = byte(g), byte(i), byte(g), byte(i>>8)
				tid[15], sid[7] = 1, 7 // valid ids, one cache slot for all
				sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid})
				ctx := trace.ContextWithSpanContext(context.Background(), sc)
				slog.New(h).InfoContext(ctx, "m", "want", hex.EncodeToString(tid[:])+hex.EncodeToString(sid[:]))
			}
		})
	}
	wg.Wait()
}

type checkIDs struct{ t *testing.T }

func (c *checkIDs) Enabled(context.Context, slog.Level) bool { return true }
func (c *checkIDs) Handle(_ context.Context, r slog.Record) error {
	var want, tid, sid string
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "want":
			want = a.Value.String()
		case TraceIDKey:
			tid = a.Value.String()
		case SpanIDKey:
			sid = a.Value.String()
		}
		return true
	})
	if tid+sid != want {
		c.t.Errorf("ids %s %s, want %s", tid, sid, want)
	}
	return nil
}
func (c *checkIDs) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *checkIDs) WithGroup(string) slog.Handler      { return c }

func TestContextOnly(t *testing.T) {
	var buf bytes.Buffer
	opts := fixed
	opts.ContextOnly = true
	l := slog.New(New(slog.NewJSONHandler(&buf, nil), &opts))
	l.InfoContext(WithRequestID(context.Background(), "r"), "m", "a", 1)
	got := jsonLine(t, &buf)
	for _, k := range []string{ServiceKey, EnvironmentKey, VersionKey, HostKey, PIDKey} {
		if _, ok := got[k]; ok {
			t.Errorf("ContextOnly record carries %s: %v", k, got)
		}
	}
	if got[RequestIDKey] != "r" || got["a"] != 1.0 {
		t.Errorf("context attributes missing: %v", got)
	}
}
