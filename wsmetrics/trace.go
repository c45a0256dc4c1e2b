package wsmetrics

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the message spans.
const ScopeName = "github.com/realtimeserver/observability/wsmetrics"

// Attributes of the upgrade event and the message spans.
const (
	ChannelAttr = "websocket.channel"
	EventAttr   = "websocket.event"
	SizeAttr    = "websocket.message.size"
)

// defaultProvider is the global provider as the process starts: a
// delegate that makes no spans until a program installs a provider.
var defaultProvider = otel.GetTracerProvider()

func (t *Tracker) tracer() trace.Tracer {
	tp := t.tp
	if tp == nil {
		tp = otel.GetTracerProvider()
		if tp == defaultProvider {
			return nil
		}
	}
	return tp.Tracer(ScopeName)
}

// upgraded records the upgrade as an event of the request's span and
// keeps a link to it for the message spans.
func (w *WrappedConn) upgraded(r *http.Request) {
	span := trace.SpanFromContext(r.Context())
	sc := span.SpanContext()
	if !sc.IsValid() {
		return
	}
	span.AddEvent("websocket.upgrade", trace.WithAttributes(attribute.String(ChannelAttr, w.h.Channel())))
	w.link = trace.Link{SpanContext: sc}
}

// traceReceived makes the span of one received message: a new trace (a
// socket outlives the request that opened it), linked to that request.
func (w *WrappedConn) traceReceived(ctx context.Context, ev string, n int) {
	tr := w.h.s.t.tracer()
	if tr == nil {
		return
	}
	opts := []trace.SpanStartOption{
		trace.WithNewRoot(),
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			attribute.String(ChannelAttr, w.h.Channel()),
			attribute.String(EventAttr, ev),
			attribute.Int(SizeAttr, n),
		),
	}
	if w.link.SpanContext.IsValid() {
		opts = append(opts, trace.WithLinks(w.link))
	}
	_, span := tr.Start(ctx, "websocket receive "+ev, opts...)
	span.End()
}
