package wsmetrics

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/realtimeserver/observability/metricsink"
	"github.com/realtimeserver/observability/metricsink/metricsinktest"
)

// tracedSocket serves one WebSocket on "video:42" whose request runs in a
// span, as httpmetrics makes it, reads n messages and returns the spans.
func tracedSocket(t *testing.T, traceMessages bool, n int) []sdktrace.ReadOnlySpan {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	tracker := NewTracker(metricsink.Discard, &Options{TraceMessages: traceMessages, TracerProvider: tp})
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(done)
		ctx, span := tp.Tracer("test").Start(r.Context(), "GET /socket")
		defer span.End()
		wc, err := Accept(w, r.WithContext(ctx), nil, tracker, "video:42")
		if err != nil {
			t.Error(err)
			return
		}
		defer wc.CloseNow()
		for range n {
			if _, _, err := wc.Read(ctx); err != nil {
				t.Error(err)
				return
			}
		}
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	for range n {
		if err := c.Write(ctx, websocket.MessageText, []byte(`{"event":"comment.create","payload":{}}`)); err != nil {
			t.Fatal(err)
		}
	}
	<-done
	return rec.Ended()
}

func TestMessageSpans(t *testing.T) {
	spans := tracedSocket(t, true, 2)
	var request sdktrace.ReadOnlySpan
	var messages []sdktrace.ReadOnlySpan
	for _, s := range spans {
		switch s.Name() {
		case "GET /socket":
			request = s
		case "websocket receive comment.create":
			messages = append(messages, s)
		}
	}
	if request == nil || len(request.Events()) == 0 || request.Events()[0].Name != "websocket.upgrade" {
		t.Fatalf("the request span has no upgrade event: %v", request)
	}
	if got := request.Events()[0].Attributes[0].Value.AsString(); got != "video" {
		t.Errorf("upgrade channel = %q, want video", got)
	}
	if len(messages) != 2 {
		t.Fatalf("%d message spans, want 2 (spans: %d)", len(messages), len(spans))
	}
	for _, m := range messages {
		if m.SpanContext().TraceID() == request.SpanContext().TraceID() || m.Parent().IsValid() {
			t.Error("a message span is not a trace of its own")
		}
		if len(m.Links()) != 1 || m.Links()[0].SpanContext.SpanID() != request.SpanContext().SpanID() {
			t.Errorf("message span links %v; want the request span", m.Links())
		}
		attrs := map[string]string{}
		for _, kv := range m.Attributes() {
			attrs[string(kv.Key)] = kv.Value.Emit()
		}
		if attrs[ChannelAttr] != "video" || attrs[EventAttr] != "comment.create" {
			t.Errorf("message attributes %v", attrs)
		}
	}
}

func TestMessageSpansOffByDefault(t *testing.T) {
	for _, s := range tracedSocket(t, false, 2) {
		if strings.HasPrefix(s.Name(), "websocket receive") {
			t.Errorf("message span %q with TraceMessages off", s.Name())
		}
	}
}

// A connection's duration carries the span of the request that opened it
// as its exemplar, through Accept and OpenContext; Open records none.
func TestDurationExemplar(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	sink := metricsinktest.New()
	tracker := NewTracker(sink, nil)
	defer tracker.Close()

	ctx, span := tp.Tracer("test").Start(context.Background(), "GET /socket")
	tracker.OpenContext(ctx, "video:1").Close()
	tracker.Open("video:2").Close()
	span.End()

	spanCtx := make(chan trace.SpanContext, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, span := tp.Tracer("test").Start(r.Context(), "GET /socket")
		defer span.End()
		spanCtx <- span.SpanContext()
		wc, err := Accept(w, r.WithContext(ctx), nil, tracker, "video:3")
		if err != nil {
			t.Error(err)
			return
		}
		wc.CloseNow()
	}))
	defer srv.Close()
	dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(dctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	accepted := <-spanCtx
	deadline := time.Now().Add(10 * time.Second)
	for len(sink.Samples(MetricDuration)) < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	got := sink.Samples(MetricDuration)
	if len(got) != 3 {
		t.Fatalf("%d duration samples, want 3", len(got))
	}
	want := []trace.SpanContext{span.SpanContext(), {}, accepted}
	for i, s := range got {
		switch w := want[i]; {
		case !w.IsValid() && s.Exemplar != nil:
			t.Errorf("connection %d (Open): exemplar %v", i, s.Exemplar)
		case w.IsValid() && (s.Exemplar == nil || s.Exemplar.TraceID != w.TraceID() || s.Exemplar.SpanID != w.SpanID()):
			t.Errorf("connection %d: exemplar %v, want the opening request's span %v", i, s.Exemplar, w)
		}
	}
}
