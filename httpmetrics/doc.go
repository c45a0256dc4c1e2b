// Package httpmetrics is net/http middleware that measures every request
// (its duration and count by route, method and status), gives it a request
// id that every log line of the request carries, and optionally writes an
// access log.
//
// Usage:
//
//	mux := http.NewServeMux()
//	mux.HandleFunc("GET /videos/{id}/comments", listComments)
//	handler := httpmetrics.Middleware(sink, nil)(mux)
//
// # Metrics
//
// Each request records, through the metricsink.Sink:
//
//	Duration("http.request.duration", d, route, method, status)
//	Increment("http.requests", 1, route, method, status)
//
// which the Prometheus sink exposes as http_request_duration_seconds and
// http_requests_total.
//
//   - route is the pattern that matched, never the raw path, so the number of
//     series stays bounded. By default it is r.Pattern, which net/http's
//     ServeMux sets on the request the middleware passed it; the middleware
//     reads it after the handler returns, so wrap the whole mux. A method
//     prefix is dropped because method is its own label: the pattern
//     "GET /videos/{id}" gives the route "/videos/{id}". A host prefix is kept.
//     Requests no pattern matched (ServeMux's 404 and 405 answers) get
//     "unmatched". A ServeMux reached through http.StripPrefix, or any
//     handler that copies the request, sets the pattern on its copy, which
//     the middleware cannot see: wrap the inner mux too, or use RouteFunc.
//   - method is the request method when it is one of the nine standard ones
//     (GET, HEAD, POST, PUT, PATCH, DELETE, CONNECT, OPTIONS, TRACE), else
//     "other".
//   - status is the first non-1xx status written: 103 Early Hints and other
//     informational answers are skipped, a second WriteHeader is ignored (as
//     net/http ignores it), and a handler that wrote nothing is 200. A handler
//     that panics is recorded as 500. A hijacked connection (a WebSocket
//     upgrade) is recorded as 101 and left out of the duration histogram,
//     since its duration is the connection's life, not a request's.
//
// Other routers set their route elsewhere; give Options.RouteFunc, which is
// called after the handler returns. For chi:
//
//	RouteFunc: func(r *http.Request) string {
//		return chi.RouteContext(r.Context()).RoutePattern()
//	}
//
// For gorilla/mux:
//
//	RouteFunc: func(r *http.Request) string {
//		if route := mux.CurrentRoute(r); route != nil {
//			tmpl, _ := route.GetPathTemplate()
//			return tmpl
//		}
//		return ""
//	}
//
// An empty result is recorded as "unmatched".
//
// # Request id
//
// The incoming X-Request-ID header is kept when it is a sane token: 1 to
// 128 characters, each an ASCII letter or digit or one of - _ . : + / =
// (UUIDs, hex and base64 ids pass; spaces, quotes and control characters do
// not). Otherwise, or when Options.IgnoreIncomingRequestID is set, a new id
// is made: 32 hex digits, a random per-process prefix and a counter, unique
// without a system call per request. The id is set on the response header
// and in the request's context with enrich.WithRequestID, so every record
// logged with that context through a handler built by enrich.New carries
// request_id.
//
// # Panics
//
// By default a panic goes on up to net/http untouched, after it has been
// recorded. With Options.RecoverPanics it is logged once at error, with the
// request's context and the stack, and the client gets a 500 response; when
// the response had already started, the connection is aborted instead
// (panic(http.ErrAbortHandler)) so that the client cannot mistake a
// truncated body for a whole one. http.ErrAbortHandler itself is always
// re-panicked untouched and not logged.
//
// # ResponseWriter
//
// The handler gets a ResponseWriter with Unwrap for
// http.ResponseController and the optional interfaces of the original, so
// that its type assertions answer as without the middleware. Over the
// writers of net/http's HTTP/1 and HTTP/2 servers and
// httptest.ResponseRecorder it keeps exactly their method sets
// (http.Flusher, http.Hijacker, io.ReaderFrom, http.Pusher,
// io.StringWriter, the deadline methods), at no allocation. Over any other
// writer (one already wrapped by another middleware, say) it keeps exactly
// which of http.Flusher, http.Hijacker, io.ReaderFrom and io.StringWriter
// the writer has; FlushError, the deadlines and EnableFullDuplex are
// reached through http.ResponseController, which unwraps. (A generic
// wrapper of every combination of net/http's optional interfaces, such as
// github.com/felixge/httpsnoop's, weighs a quarter of a megabyte in every
// binary.) As net/http requires, the handler must not use the writer after
// it returns.
//
// # Access log
//
// With Options.AccessLog each request ends with one record, message
// "http request", at info (error for 5xx), logged with the request's
// context: method, route, path, status, duration, bytes (body bytes
// written), user_agent (at most 512 bytes), client_ip (the peer's address,
// from RemoteAddr) and, through an enrich.New handler, request_id.
//
// # Tracing
//
// When a TracerProvider is set (Options.TracerProvider, or the global one
// that a program, or observability.Setup, installs) every request runs in
// a server span, through the OpenTelemetry API only:
//
//   - its parent is the caller's trace context, read by the propagator
//     (W3C traceparent by default) from the request headers;
//   - it is named by method and route ("POST /videos/{id}/comments"), or
//     by method alone when no pattern matched;
//   - it carries the stable HTTP semantic conventions: http.request.method,
//     http.route, http.response.status_code, url.path, url.scheme,
//     server.address, server.port, client.address, network.peer.address,
//     network.protocol.version, user_agent.original, and request_id;
//   - a 5xx answer sets its status to Error with error.type the status
//     code, a panic with error.type "panic".
//
// The handler's context holds the span, so its own spans are children and
// its log records carry the trace and span ids (through enrich.New). With
// no provider set no span is made: the cost is one look-up of the global
// provider per request.
package httpmetrics
