package enrich

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
)

// ctxKey is the context key under which ctxData is stored.
type ctxKey struct{}

// ctxData is what a context carries for the handler: the request id, kept
// apart so that RequestID is a field read, and any other attributes.
// A ctxData is never changed once made; WithAttrs and WithRequestID make a
// new one.
//
// It is itself the derived context (its parent embedded, Value answering
// ctxKey), so that adding a request id costs one allocation instead of two
// (the data and a context.WithValue node). Done, Err and Deadline are the
// parent's, so cancellation propagates exactly as through WithValue.
type ctxData struct {
	context.Context
	requestID string
	attrs     []slog.Attr // clipped: appending to it copies
}

// Value returns d for ctxKey and asks the parent for every other key.
func (d *ctxData) Value(key any) any {
	if _, ok := key.(ctxKey); ok {
		return d
	}
	return d.Context.Value(key)
}

// String describes the context as context.WithValue's contexts do.
func (d *ctxData) String() string { return "enrich context" }

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
	d.Context = cmp.Or(ctx, context.Background())
	d.attrs = slices.Clip(append(slices.Clip(d.attrs), attrs...))
	return d
}

// WithRequestID returns a copy of ctx that carries id as the request id,
// logged as the attribute request_id. An empty id returns ctx itself.
func WithRequestID(ctx context.Context, id string) context.Context {
	if id == "" {
		return ctx
	}
	return new(Scope).WithRequestID(ctx, id)
}

// Scope is the storage of one derived context, for middleware that keeps
// its per-request state in one allocation: embed a Scope in that state and
// derive the request's context with its WithRequestID. The zero Scope is
// ready. A Scope holds one context: use it once, and never copy it after
// use.
type Scope struct {
	d ctxData
}

// WithRequestID is the package's WithRequestID with s as the storage of
// the returned context. It must be called at most once on s.
func (s *Scope) WithRequestID(ctx context.Context, id string) context.Context {
	if id == "" {
		return ctx
	}
	if old := fromContext(ctx); old != nil {
		s.d = *old
	}
	s.d.Context = cmp.Or(ctx, context.Background())
	s.d.requestID = id
	return &s.d
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
