package httpmetrics

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/textproto"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/realtimeserver/observability/metricsink"
)

// Metric names recorded for every request, in the sink's dotted style.
const (
	// DurationMetric is recorded with Sink.Duration: the time from the
	// middleware's start to the handler's return.
	DurationMetric = "http.request.duration"
	// CountMetric is recorded with Sink.Increment, by 1.
	CountMetric = "http.requests"
)

// descs are the declarations of the request metrics, made on the sink by
// Middleware.
var descs = []metricsink.Desc{
	{Name: DurationMetric, Kind: metricsink.Histogram, Unit: "seconds",
		Help: "Time from the start of an HTTP request to the return of its handler, by route, method and status (hijacked connections excluded)."},
	{Name: CountMetric, Kind: metricsink.Counter,
		Help: "HTTP requests served, by route, method and status (101 for hijacked connections)."},
}

// Descs returns, as a new slice, the declarations of the request metrics
// that the middleware makes on its sink: for dashboards, alert rules and
// tests that check the names.
func Descs() []metricsink.Desc { return slices.Clone(descs) }

// Unmatched is the route of requests no pattern matched.
const Unmatched = "unmatched"

// DefaultRequestIDHeader is the default of Options.RequestIDHeader.
const DefaultRequestIDHeader = "X-Request-ID"

// Options configures Middleware. A nil *Options, or a zero Options, means
// every default. The middleware copies it; later changes have no effect.
type Options struct {
	// RouteFunc returns the route of a request for routers other than
	// net/http's ServeMux. It is called after the handler returns, with the
	// request the handler received. Its result must have few distinct
	// values; "" is recorded as "unmatched". Default: r.Pattern without its
	// method prefix.
	RouteFunc func(r *http.Request) string

	// RequestIDHeader is the header the request id is read from and written
	// to. Default: DefaultRequestIDHeader. It must be a valid header name.
	RequestIDHeader string

	// IgnoreIncomingRequestID makes every request get a new id, even when
	// the client sent a sane one. Default: false (sane incoming ids are kept).
	IgnoreIncomingRequestID bool

	// RecoverPanics recovers a panicking handler's panic, logs it and
	// answers 500 (see the package documentation). Default: false (the
	// panic goes on to net/http, after it has been recorded as 500).
	RecoverPanics bool

	// AccessLog writes one record per request to Logger. Default: false.
	AccessLog bool

	// Logger receives the access log and recovered panics. Default:
	// slog.Default(), looked up at each request.
	Logger *slog.Logger

	// TracerProvider makes a server span per request (see the package
	// documentation). Default: the global provider, otel.GetTracerProvider,
	// looked up at each request; while no program has installed one, no
	// span is made and the only cost is that look-up.
	TracerProvider trace.TracerProvider

	// Propagator reads the caller's trace context (W3C traceparent) from
	// the request headers. Default: otel.GetTextMapPropagator, looked up at
	// each traced request.
	Propagator propagation.TextMapPropagator
}

// Middleware returns a function that wraps a handler so that every request
// is measured into sink (a nil sink means metricsink.Discard), gets a request
// id, and is logged when opts asks for it. The returned handlers are safe
// for concurrent use.
//
// Middleware panics when opts.RequestIDHeader is not a valid header name:
// that is a programming error, found when the server is built.
func Middleware(sink metricsink.Sink, opts *Options) func(http.Handler) http.Handler {
	var o Options
	if opts != nil {
		o = *opts
	}
	if sink == nil {
		sink = metricsink.Discard
	}
	for _, d := range descs {
		_ = metricsink.Declare(sink, d) // fixed, valid declarations
	}
	if o.RequestIDHeader == "" {
		o.RequestIDHeader = DefaultRequestIDHeader
	}
	if !validHeaderName(o.RequestIDHeader) {
		panic(fmt.Sprintf("httpmetrics: Options.RequestIDHeader %q is not a valid header name; want a token such as %q", o.RequestIDHeader, DefaultRequestIDHeader))
	}
	cfg := &config{
		table:   newSeriesTable(),
		sink:    sink,
		routeFn: o.RouteFunc,
		header:  textproto.CanonicalMIMEHeaderKey(o.RequestIDHeader),
		trustID: !o.IgnoreIncomingRequestID,
		recover: o.RecoverPanics,
		access:  o.AccessLog,
		logger:  o.Logger,
		tp:      o.TracerProvider,
		prop:    o.Propagator,
	}
	return func(next http.Handler) http.Handler {
		if next == nil {
			panic("httpmetrics: Middleware given a nil handler")
		}
		return &handler{config: cfg, next: next}
	}
}

type config struct {
	sink    metricsink.Sink
	routeFn func(*http.Request) string
	header  string // canonical form
	trustID bool
	recover bool
	access  bool
	logger  *slog.Logger
	tp      trace.TracerProvider
	prop    propagation.TextMapPropagator
	cached  atomic.Pointer[cachedTracer]
	table   *metricsink.Lookup[*seriesEntry] // see series
}

type handler struct {
	*config
	next http.Handler
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := sinceEpoch()
	rec := new(recorder)

	var hdr []string // the response header's value: the id
	if h.trustID {
		if v := r.Header[h.header]; len(v) > 0 && SaneRequestID(v[0]) {
			hdr = rec.id.keep(v[0])
		}
	}
	if hdr == nil {
		hdr = rec.id.generate()
	}
	w.Header()[h.header] = hdr
	ctx := rec.scope.WithRequestID(r.Context(), hdr[0])
	var span trace.Span // nil: not traced
	if tr := h.tracer(); tr != nil {
		ctx, span = h.startSpan(ctx, r, tr, hdr[0])
	}
	r = r.WithContext(ctx)
	ww := rec.wrap(w)

	finished := false
	defer func() {
		if finished {
			return
		}
		// The handler panicked or called runtime.Goexit.
		if !h.recover {
			h.record(r, rec, start, http.StatusInternalServerError, true, span)
			return // the panic goes on
		}
		h.recovered(w, r, rec, start, recover(), span)
	}()
	h.next.ServeHTTP(ww, r)
	finished = true

	h.record(r, rec, start, rec.statusOr200(), false, span)
}

// recovered handles a panic recovered from the handler (v == nil when it
// called runtime.Goexit instead) when Options.RecoverPanics is set.
func (h *handler) recovered(w http.ResponseWriter, r *http.Request, rec *recorder, start time.Duration, v any, span trace.Span) {
	h.record(r, rec, start, http.StatusInternalServerError, true, span)
	if v == nil {
		return // runtime.Goexit goes on
	}
	if v == http.ErrAbortHandler {
		panic(v)
	}
	h.log().LogAttrs(r.Context(), slog.LevelError, "http: panic serving request",
		slog.Any("panic", v),
		slog.String("method", r.Method),
		slog.String("route", h.route(r)),
		slog.String("path", r.URL.Path),
		slog.String("stack", string(debug.Stack())),
	)
	if rec.status != 0 || rec.hijacked {
		// The client has a status already; abort so that it cannot take a
		// truncated body for a whole one.
		panic(http.ErrAbortHandler)
	}
	hdr := w.Header()
	for k := range hdr {
		if k != h.header {
			delete(hdr, k)
		}
	}
	http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
}

// epoch is a time with a monotonic clock reading, so that sinceEpoch reads
// the monotonic clock alone: a request's start and end cost one clock read
// each, where time.Now reads the wall clock as well.
var epoch = time.Now()

// sinceEpoch returns the monotonic time elapsed since epoch.
func sinceEpoch() time.Duration { return time.Since(epoch) }

func (h *handler) log() *slog.Logger {
	if h.logger != nil {
		return h.logger
	}
	return slog.Default()
}

// record sends the request's metrics and its access log line, and ends
// its span (nil when the request is not traced).
func (h *handler) record(r *http.Request, rec *recorder, start time.Duration, status int, panicked bool, span trace.Span) {
	d := sinceEpoch() - start
	route := h.route(r)
	method := methodLabel(r.Method)
	if rec.hijacked && !panicked {
		status = http.StatusSwitchingProtocols
	}
	// The duration's exemplar is the request's span when it is sampled
	// (the zero Exemplar, none, otherwise).
	var ex metricsink.Exemplar
	if span != nil {
		ex, _ = metricsink.ExemplarFromSpanContext(span.SpanContext())
	}
	if e := h.series(route, method, statusLabel(status)); e != nil {
		if !rec.hijacked {
			e.duration.ObserveWith(d, ex)
		}
		e.count.Inc()
	} else {
		tags := metricsink.KV("route", route, "method", method, "status", statusLabel(status))
		if !rec.hijacked {
			metricsink.DurationWith(h.sink, DurationMetric, d, tags, ex)
		}
		h.sink.Increment(CountMetric, 1, tags)
	}
	if h.access {
		h.accessLog(r.Context(), r, route, status, d, rec.bytes)
	}
	if span != nil {
		h.endSpan(span, r, route, status, panicked)
	}
}

func (h *handler) accessLog(ctx context.Context, r *http.Request, route string, status int, d time.Duration, bytes int64) {
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	l := h.log()
	if !l.Enabled(ctx, level) {
		return
	}
	l.LogAttrs(ctx, level, "http request",
		slog.String("method", r.Method),
		slog.String("route", route),
		slog.String("path", r.URL.Path),
		slog.Int("status", status),
		slog.Duration("duration", d),
		slog.Int64("bytes", bytes),
		slog.String("user_agent", userAgent(r)),
		slog.String("client_ip", clientIP(r.RemoteAddr)),
	)
}

// maxUserAgent bounds the user agent an access log record carries.
const maxUserAgent = 512

// userAgent returns r's User-Agent header, cut to maxUserAgent bytes.
func userAgent(r *http.Request) string {
	ua := r.Header.Get("User-Agent")
	if len(ua) > maxUserAgent {
		ua = ua[:maxUserAgent]
	}
	return ua
}

// clientIP returns the host part of a RemoteAddr ("203.0.113.7:52110",
// "[2001:db8::1]:443"): the peer's address, never a header the client
// could forge.
func clientIP(remoteAddr string) string {
	host := remoteAddr
	if i := strings.LastIndexByte(host, ':'); i >= 0 && strings.IndexByte(host[i:], ']') < 0 {
		host = host[:i]
	}
	return strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
}

// route returns the route label of r, read after the handler returned.
func (h *handler) route(r *http.Request) string {
	var route string
	if h.routeFn != nil {
		route = h.routeFn(r)
	} else {
		route = PatternRoute(r.Pattern)
	}
	if route == "" {
		return Unmatched
	}
	return route
}

// PatternRoute returns the route of a ServeMux pattern: the pattern without
// its method prefix ("GET /videos/{id}" gives "/videos/{id}"), or "" for
// the empty pattern.
func PatternRoute(pattern string) string {
	for i := 0; i < len(pattern); i++ {
		if c := pattern[i]; c == ' ' || c == '\t' {
			return strings.TrimLeft(pattern[i+1:], " \t")
		}
	}
	return pattern
}

// methodLabel returns method when it is a standard method, else "other",
// so that a client cannot create series at will.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet:
		return http.MethodGet
	case http.MethodHead:
		return http.MethodHead
	case http.MethodPost:
		return http.MethodPost
	case http.MethodPut:
		return http.MethodPut
	case http.MethodPatch:
		return http.MethodPatch
	case http.MethodDelete:
		return http.MethodDelete
	case http.MethodConnect:
		return http.MethodConnect
	case http.MethodOptions:
		return http.MethodOptions
	case http.MethodTrace:
		return http.MethodTrace
	}
	return "other"
}

// statusLabels holds the label of every status net/http lets a handler
// write (100 to 999), so that labelling allocates nothing.
var statusLabels = func() (s [1000]string) {
	for i := 100; i < len(s); i++ {
		s[i] = strconv.Itoa(i)
	}
	return s
}()

func statusLabel(code int) string {
	if code >= 100 && code < len(statusLabels) {
		return statusLabels[code]
	}
	return strconv.Itoa(code)
}

// validHeaderName reports whether s is an HTTP token (RFC 9110, 5.6.2).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
