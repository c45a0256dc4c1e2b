package httpmetrics

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/realtimeserver/observability/metricsink"
	"github.com/realtimeserver/observability/metricsink/metricsinktest"
)

func tracedServer(t *testing.T, opts Options) (*tracetest.SpanRecorder, http.Handler) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { tp.Shutdown(t.Context()) })
	opts.TracerProvider = tp
	opts.Propagator = propagation.TraceContext{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /videos/{id}/comments", func(w http.ResponseWriter, r *http.Request) {
		if !trace.SpanFromContext(r.Context()).SpanContext().IsValid() {
			t.Error("the handler's context holds no span")
		}
		w.WriteHeader(http.StatusCreated)
	})
	mux.HandleFunc("GET /fail", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) })
	mux.HandleFunc("GET /panic", func(w http.ResponseWriter, r *http.Request) { panic("boom") })
	return rec, Middleware(metricsink.Discard, &opts)(mux)
}

func spanAttrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

func TestServerSpan(t *testing.T) {
	rec, h := tracedServer(t, Options{})
	r := httptest.NewRequest("POST", "http://example.com:8080/videos/42/comments", nil)
	r.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	r.Header.Set("User-Agent", "test-agent")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)

	spans := rec.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1", len(spans))
	}
	s := spans[0]
	if s.Name() != "POST /videos/{id}/comments" || s.SpanKind() != trace.SpanKindServer {
		t.Errorf("span %q kind %v", s.Name(), s.SpanKind())
	}
	if got := s.Parent().TraceID().String(); got != "4bf92f3577b34da6a3ce929d0e0e4736" || s.Parent().SpanID().String() != "00f067aa0ba902b7" {
		t.Errorf("parent = %v; want the incoming traceparent", s.Parent())
	}
	a := spanAttrs(s)
	for k, want := range map[attribute.Key]string{
		"http.request.method": "POST", "http.route": "/videos/{id}/comments", "url.path": "/videos/42/comments",
		"url.scheme": "http", "server.address": "example.com", "user_agent.original": "test-agent",
		RequestIDAttr: w.Header().Get(DefaultRequestIDHeader),
	} {
		if got := a[k].Emit(); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if a["http.response.status_code"].AsInt64() != 201 || a["server.port"].AsInt64() != 8080 {
		t.Errorf("status %v port %v", a["http.response.status_code"], a["server.port"])
	}
	if s.Status().Code == codes.Error {
		t.Error("a 201 is an error")
	}
}

func TestServerSpanErrors(t *testing.T) {
	rec, h := tracedServer(t, Options{RecoverPanics: true, Logger: slog.New(slog.DiscardHandler)})
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/fail", nil))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/panic", nil))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/nowhere", nil))
	spans := rec.Ended()
	if len(spans) != 3 {
		t.Fatalf("%d spans, want 3", len(spans))
	}
	if s := spans[0]; s.Status().Code != codes.Error || spanAttrs(s)["error.type"].Emit() != "502" {
		t.Errorf("a 502: status %v, error.type %v", s.Status(), spanAttrs(s)["error.type"])
	}
	if s := spans[1]; s.Status().Code != codes.Error || spanAttrs(s)["error.type"].Emit() != "panic" || spanAttrs(s)["http.response.status_code"].AsInt64() != 500 {
		t.Errorf("a panic: status %v, attrs %v", s.Status(), spanAttrs(s))
	}
	if s := spans[2]; s.Name() != "GET" || s.Status().Code == codes.Error {
		t.Errorf("an unmatched 404: name %q status %v; want GET, not an error", s.Name(), s.Status())
	}
}

// TestNoProviderNoSpan: with no provider given and none installed
// globally, a request gets no span.
func TestNoProviderNoSpan(t *testing.T) {
	var saw bool
	h := Middleware(metricsink.Discard, nil)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		saw = trace.SpanFromContext(r.Context()).SpanContext().IsValid()
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if saw {
		t.Error("a span was made with no TracerProvider")
	}
}

// A request's duration carries its sampled span as the exemplar, and an
// unsampled request's carries none.
func TestDurationExemplar(t *testing.T) {
	for _, sampled := range []bool{true, false} {
		rec := tracetest.NewSpanRecorder()
		sampler := sdktrace.AlwaysSample()
		if !sampled {
			sampler = sdktrace.NeverSample()
		}
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithSampler(sampler))
		sink := metricsinktest.New()
		mux := http.NewServeMux()
		mux.HandleFunc("GET /videos/{id}", func(w http.ResponseWriter, r *http.Request) {})
		h := Middleware(sink, &Options{TracerProvider: tp})(mux)
		for range 2 { // the second request goes through the series cache
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/videos/1", nil))
		}
		_ = tp.Shutdown(t.Context())
		got := sink.Samples(DurationMetric)
		if len(got) != 2 {
			t.Fatalf("%d duration samples, want 2", len(got))
		}
		spans := rec.Ended()
		for i, s := range got {
			switch {
			case !sampled && s.Exemplar != nil:
				t.Errorf("unsampled request %d: exemplar %v", i, s.Exemplar)
			case sampled && s.Exemplar == nil:
				t.Errorf("sampled request %d: no exemplar", i)
			case sampled && (len(spans) != 2 || s.Exemplar.TraceID != spans[i].SpanContext().TraceID() || s.Exemplar.SpanID != spans[i].SpanContext().SpanID()):
				t.Errorf("request %d: exemplar %v is not its server span", i, s.Exemplar)
			}
		}
	}
}
