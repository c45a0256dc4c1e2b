package enrich

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"

	"go.opentelemetry.io/otel/trace"
)

// Keys of the attributes that New adds to every record.
const (
	ServiceKey     = "service"
	EnvironmentKey = "environment"
	VersionKey     = "version"
	HostKey        = "host"
	PIDKey         = "pid"
)

// Options are the service-wide attributes that New adds to every record.
// A zero field is filled from the process, as each field says; New never
// writes to the caller's Options.
type Options struct {
	// Service names the program. Default: the base name of os.Args[0].
	Service string

	// Environment is where it runs: production, staging, ...
	// Default: "development".
	Environment string

	// Version of the program. Default: the main module's version from
	// runtime/debug.ReadBuildInfo, or "dev" when there is none (a binary
	// built inside its own module reports "(devel)").
	Version string

	// Host the process runs on. Default: os.Hostname, or "unknown" when
	// that fails.
	Host string

	// PID of the process. Default: os.Getpid().
	PID int

	// Extractors find attributes in the context of each record (a user
	// id, a tenant), after request_id, the trace ids and the attributes of
	// WithAttrs. Default: none.
	Extractors []Extractor

	// ContextOnly makes New add only what the context of each record
	// carries (request_id, trace_id and span_id, WithAttrs, Extractors),
	// not the five service attributes: for a pipeline whose backends each
	// show the service's identity their own way (the console once at
	// start, Datadog in its reserved fields). Default: false.
	ContextOnly bool
}

// Extractor returns the attributes that ctx carries for logging, or nil
// when it carries none. It is called once per record handled with that
// context, from any goroutine, so it should be cheap and must not log.
// The handler only reads the returned slice, and not after the Extractor
// returns, so an Extractor may return a slice it keeps in ctx rather than
// build a new one each time; returning nil costs nothing.
//
// The shape is chosen so that a context that carries nothing costs no
// allocation: a callback such as func(ctx, add func(slog.Attr)) would force
// the record onto the heap on every call.
type Extractor func(ctx context.Context) []slog.Attr

// New returns a handler that adds, to every record, the attributes
// service, environment, version, host and pid from opts (defaults filled
// from the process; none with opts.ContextOnly), then the attributes that
// the record's context carries: request_id ([WithRequestID]); trace_id and
// span_id when the context holds a valid OpenTelemetry span
// (trace.SpanContextFromContext), as W3C lower-case hex; those of
// [WithAttrs]; then those of opts.Extractors; in that order, after the
// record's own attributes.
//
// The trace ids cost no allocation for a span that logged recently: their
// hex forms are kept in a small table of recent spans, so a span's first
// record allocates its entry once. A context without a span costs one
// context lookup.
//
// The five service attributes are rendered once, through next.WithAttrs,
// so they cost next's pre-formatted bytes per record and no work here.
// A record whose context carries nothing is passed to next as it is;
// otherwise next receives a copy with the attributes added, which
// allocates only when the total exceeds five attributes. The caller's
// record is never changed.
//
// After WithGroup, context attributes land inside the group like any other
// record attribute. A nil opts means Options{}, every default; New never
// writes to it. New panics if next is nil.
func New(next slog.Handler, o *Options) slog.Handler {
	if next == nil {
		panic("enrich.New: nil next handler")
	}
	var opts Options
	if o != nil {
		opts = *o
	}
	opts = opts.WithDefaults()
	var ex []Extractor
	for _, e := range opts.Extractors {
		if e != nil {
			ex = append(ex, e)
		}
	}
	if !opts.ContextOnly {
		next = next.WithAttrs(opts.Attrs())
	}
	return &handler{next: next, extractors: ex}
}

// Attrs returns the five service attributes that New adds, from o as it
// is (call WithDefaults first to fill zero fields): service, environment,
// version, host and pid.
func (o Options) Attrs() []slog.Attr {
	return []slog.Attr{
		slog.String(ServiceKey, o.Service),
		slog.String(EnvironmentKey, o.Environment),
		slog.String(VersionKey, o.Version),
		slog.String(HostKey, o.Host),
		slog.Int(PIDKey, o.PID),
	}
}

// WithDefaults returns a copy of o with every zero field filled from the
// process as the field's comment says, so that other backends (a Datadog
// handler, DogStatsD tags) can name the service exactly as New does.
func (o Options) WithDefaults() Options {
	if o.Service == "" {
		o.Service = filepath.Base(os.Args[0])
	}
	if o.Environment == "" {
		o.Environment = "development"
	}
	if o.Version == "" {
		o.Version = buildVersion()
	}
	if o.Host == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "unknown"
		}
		o.Host = h
	}
	if o.PID == 0 {
		o.PID = os.Getpid()
	}
	return o
}

// buildVersion returns the main module's version, or "dev".
func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			return v
		}
	}
	return "dev"
}

type handler struct {
	next       slog.Handler
	extractors []Extractor // never changed after New
}

var _ slog.Handler = (*handler)(nil)

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	d := fromContext(ctx)
	var sc trace.SpanContext
	if ctx != nil {
		sc = trace.SpanContextFromContext(ctx)
	}
	if d == nil && !sc.IsValid() && len(h.extractors) == 0 {
		return h.next.Handle(ctx, r)
	}
	// Clone does not allocate: it clips the shared overflow slice so that
	// AddAttrs copies it instead of writing into the caller's array, and
	// the first five attributes live in the copied Record value itself.
	r = r.Clone()
	if d != nil && d.requestID != "" {
		r.AddAttrs(slog.String(RequestIDKey, d.requestID))
	}
	if sc.IsValid() {
		tid, sid := traceIDs(sc)
		r.AddAttrs(slog.String(TraceIDKey, tid), slog.String(SpanIDKey, sid))
	}
	if d != nil {
		r.AddAttrs(d.attrs...)
	}
	for _, e := range h.extractors {
		if as := e(ctx); len(as) > 0 {
			r.AddAttrs(as...)
		}
	}
	return h.next.Handle(ctx, r)
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	return &handler{next: h.next.WithAttrs(attrs), extractors: h.extractors}
}

func (h *handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &handler{next: h.next.WithGroup(name), extractors: h.extractors}
}
