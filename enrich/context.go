package enrich

import (
	"context"
	"log/slog"
	"slices"
)

// ctxKey is the context key under which ctxData is stored.
type ctxKey struct{}

// ctxData is what a context carries for the handler: the request id, kept
// apart so that RequestID is a field read, and any other attributes.
// A ctxData is never changed once stored; WithAttrs and WithRequestID store
// a new one.
type ctxData struct {
	requestID string
	attrs     []slog.Attr // clipped: appending to it copies
}

func fromContext(ctx context.Context) *ctxData {
	if ctx == nil {
		return nil
	}
	d, _ := ctx.Value(ctxKey{}).(*ctxData)
	return d
}

// WithAttrs returns a copy of ctx that carries attrs, after any attributes
// it already carried. A handler built by New adds them to every record
// logged with that context (InfoContext and the like). Empty attrs return
// ctx itself.
func WithAttrs(ctx context.Context, attrs ...slog.Attr) context.Context {
	if len(attrs) == 0 {
		return ctx
	}
	d := &ctxData{}
	if old := fromContext(ctx); old != nil {
		*d = *old
	}
	d.attrs = slices.Clip(append(slices.Clip(d.attrs), attrs...))
	return context.WithValue(ctx, ctxKey{}, d)
}

// WithRequestID returns a copy of ctx that carries id as the request id,
// logged as the attribute request_id. An empty id returns ctx itself.
func WithRequestID(ctx context.Context, id string) context.Context {
	if id == "" {
		return ctx
	}
	d := &ctxData{}
	if old := fromContext(ctx); old != nil {
		*d = *old
	}
	d.requestID = id
	return context.WithValue(ctx, ctxKey{}, d)
}

// RequestID returns the request id carried by ctx, or "" when there is none.
func RequestID(ctx context.Context) string {
	if d := fromContext(ctx); d != nil {
		return d.requestID
	}
	return ""
}

// ContextAttrs returns the attributes ctx carries for logging: request_id
// first when set, then those added by WithAttrs. It allocates; handlers use
// the internal fast path instead.
func ContextAttrs(ctx context.Context) []slog.Attr {
	d := fromContext(ctx)
	if d == nil {
		return nil
	}
	out := make([]slog.Attr, 0, len(d.attrs)+1)
	if d.requestID != "" {
		out = append(out, slog.String(RequestIDKey, d.requestID))
	}
	return append(out, d.attrs...)
}

// RequestIDKey is the attribute key under which the request id is logged.
const RequestIDKey = "request_id"
