package httpmetrics

import (
	"context"
	"net"
	"net/http"
	"strconv"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the spans Middleware makes.
const ScopeName = "github.com/realtimeserver/observability/httpmetrics"

// RequestIDAttr is the span attribute that carries the request id.
const RequestIDAttr = "request_id"

// defaultProvider is the global provider as the process starts: a
// delegate that makes no spans until a program installs a provider.
var defaultProvider = otel.GetTracerProvider()

// tracer returns the tracer of the request's server span, or nil when no
// provider is set: the only cost then is this check.
func (c *config) tracer() trace.Tracer {
	tp := c.tp
	if tp == nil {
		tp = otel.GetTracerProvider()
		if tp == defaultProvider {
			return nil
		}
	}
	if ct := c.cached.Load(); ct != nil && ct.tp == tp {
		return ct.tr
	}
	tr := tp.Tracer(ScopeName)
	c.cached.Store(&cachedTracer{tp: tp, tr: tr})
	return tr
}

// cachedTracer is the tracer of the provider last used, so that a request
// does not look it up in the provider.
type cachedTracer struct {
	tp trace.TracerProvider
	tr trace.Tracer
}

func (c *config) propagator() propagation.TextMapPropagator {
	if c.prop != nil {
		return c.prop
	}
	return otel.GetTextMapPropagator()
}

// startSpan starts the request's server span, a child of the trace
// context of the request's headers, and returns r with the span in its
// context. The span's name and route are set when the request ends.
func (h *handler) startSpan(ctx context.Context, r *http.Request, tr trace.Tracer, requestID string) (context.Context, trace.Span) {
	ctx = h.propagator().Extract(ctx, propagation.HeaderCarrier(r.Header))
	method := methodLabel(r.Method)
	if method == "other" {
		method = "_OTHER"
	}
	attrs := make([]attribute.KeyValue, 0, 10)
	attrs = append(attrs,
		semconv.HTTPRequestMethodKey.String(method),
		semconv.URLPath(r.URL.Path),
		semconv.URLScheme(scheme(r)),
		attribute.String(RequestIDAttr, requestID),
	)
	if host, port, err := net.SplitHostPort(r.Host); err == nil {
		attrs = append(attrs, semconv.ServerAddress(host))
		if p, err := strconv.Atoi(port); err == nil {
			attrs = append(attrs, semconv.ServerPort(p))
		}
	} else if r.Host != "" {
		attrs = append(attrs, semconv.ServerAddress(r.Host))
	}
	if ip := clientIP(r.RemoteAddr); ip != "" {
		attrs = append(attrs, semconv.ClientAddress(ip), semconv.NetworkPeerAddress(ip))
	}
	if ua := userAgent(r); ua != "" {
		attrs = append(attrs, semconv.UserAgentOriginal(ua))
	}
	if r.ProtoMajor == 2 {
		attrs = append(attrs, semconv.NetworkProtocolVersion("2"))
	} else if r.ProtoMajor == 1 {
		attrs = append(attrs, semconv.NetworkProtocolVersion("1."+strconv.Itoa(r.ProtoMinor)))
	}
	return tr.Start(ctx, method, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))
}

// endSpan names the span by method and route, sets the status and ends
// it. A 5xx, or a panic, is an error.
func (h *handler) endSpan(span trace.Span, r *http.Request, route string, status int, panicked bool) {
	method := methodLabel(r.Method)
	if method == "other" {
		method = "HTTP"
	}
	var buf [3]attribute.KeyValue
	attrs := append(buf[:0], semconv.HTTPResponseStatusCode(status))
	if route != Unmatched {
		span.SetName(method + " " + route)
		attrs = append(attrs, semconv.HTTPRoute(route))
	}
	switch {
	case panicked:
		attrs = append(attrs, semconv.ErrorTypeKey.String("panic"))
		span.SetStatus(codes.Error, "panic")
	case status >= 500:
		attrs = append(attrs, semconv.ErrorTypeKey.String(strconv.Itoa(status)))
		span.SetStatus(codes.Error, "")
	}
	span.SetAttributes(attrs...)
	span.End()
}

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}
