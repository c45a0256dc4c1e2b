package httpmetrics

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"reflect"
	"sync/atomic"
	"time"

	"github.com/felixge/httpsnoop"

	"github.com/realtimeserver/observability/enrich"
)

// recorder watches one response: the first final status, the body bytes,
// and whether the connection was hijacked. It is made per request and also
// holds the request id and the context that carries it, so that the
// middleware's bookkeeping is one allocation.
//
// The handler sees the recorder through a view: a one-pointer struct whose
// method set is exactly the set of optional interfaces (http.Flusher,
// http.Hijacker, io.ReaderFrom, ...) that the wrapped writer has, so that a
// handler's type assertions answer as they would without the middleware.
// Views exist for the writers of net/http's HTTP/1 and HTTP/2 servers and
// for httptest.ResponseRecorder; a view is stored in an interface without
// allocating. Any other writer is wrapped by httpsnoop, which covers every
// combination at the price of a few allocations.
type recorder struct {
	w        http.ResponseWriter
	status   int // first final status written; 0 while none
	bytes    int64
	hijacked bool
	id       idCell
	scope    enrich.Scope
}

// Optional interfaces of a ResponseWriter, as bits of a method set.
const (
	hasFlush = 1 << iota
	hasFlushError
	hasCloseNotify
	hasHijack
	hasReadFrom
	hasDeadlines
	hasFullDuplex
	hasPush
	hasWriteString
)

// The method sets that views exist for.
const (
	// setRecorder is httptest.ResponseRecorder's.
	setRecorder = hasFlush | hasWriteString
	// setHTTP1 is the writer of net/http's HTTP/1 server.
	setHTTP1 = hasFlush | hasFlushError | hasCloseNotify | hasHijack | hasReadFrom | hasDeadlines | hasFullDuplex | hasWriteString
	// setHTTP2 is the writer of net/http's HTTP/2 server.
	setHTTP2 = hasFlush | hasFlushError | hasCloseNotify | hasDeadlines | hasFullDuplex | hasPush | hasWriteString
)

// The optional interfaces without an exported name in net/http.
type (
	flushErrorer interface{ FlushError() error }
	// closeNotifier is http.CloseNotifier, deprecated but still asserted
	// by old handlers.
	closeNotifier interface{ CloseNotify() <-chan bool }
	deadliner     interface {
		SetReadDeadline(time.Time) error
		SetWriteDeadline(time.Time) error
	}
	fullDuplexEnabler interface{ EnableFullDuplex() error }
)

// methodSet returns the optional interfaces w has.
func methodSet(w http.ResponseWriter) int {
	var s int
	if _, ok := w.(http.Flusher); ok {
		s |= hasFlush
	}
	if _, ok := w.(flushErrorer); ok {
		s |= hasFlushError
	}
	if _, ok := w.(closeNotifier); ok {
		s |= hasCloseNotify
	}
	if _, ok := w.(http.Hijacker); ok {
		s |= hasHijack
	}
	if _, ok := w.(io.ReaderFrom); ok {
		s |= hasReadFrom
	}
	if _, ok := w.(deadliner); ok {
		s |= hasDeadlines
	}
	if _, ok := w.(fullDuplexEnabler); ok {
		s |= hasFullDuplex
	}
	if _, ok := w.(http.Pusher); ok {
		s |= hasPush
	}
	if _, ok := w.(io.StringWriter); ok {
		s |= hasWriteString
	}
	return s
}

// typeSet is the method set of one writer type.
type typeSet struct {
	t   reflect.Type
	set int
}

// typeSets remembers the method sets of the first writer types seen (a
// server has one or two), filled once each and never replaced, so that a
// request costs one type comparison instead of nine interface checks.
var typeSets [4]atomic.Pointer[typeSet]

// cachedMethodSet is methodSet(w), from typeSets when w's type is there.
func cachedMethodSet(w http.ResponseWriter) int {
	t := reflect.TypeOf(w)
	for i := range typeSets {
		ts := typeSets[i].Load()
		if ts == nil {
			s := methodSet(w)
			typeSets[i].CompareAndSwap(nil, &typeSet{t: t, set: s})
			return s
		}
		if ts.t == t {
			return ts.set
		}
	}
	return methodSet(w)
}

// wrap returns the writer the handler gets: a view of r over w when one
// has w's method set, else httpsnoop's wrapper with r's hooks.
func (r *recorder) wrap(w http.ResponseWriter) http.ResponseWriter {
	r.w = w
	switch cachedMethodSet(w) {
	case setHTTP1:
		return http1View{r}
	case setHTTP2:
		return http2View{r}
	case setRecorder:
		return flushView{r}
	}
	return httpsnoop.Wrap(w, r.hooks())
}

// statusOr200 is the status to record for a handler that returned: what it
// wrote, or 200 as net/http sends when nothing was written.
func (r *recorder) statusOr200() int {
	if r.status == 0 {
		return 200
	}
	return r.status
}

// noteHeader records code when it is the first final status. 1xx answers
// other than 101 are informational (103 Early Hints): the final status
// comes later. net/http ignores a second final status.
func (r *recorder) noteHeader(code int) {
	if r.status == 0 && (code < 100 || code > 199 || code == 101) {
		r.status = code
	}
}

// noteBody records the implicit 200 of a body written (or flushed) before
// any status.
func (r *recorder) noteBody() {
	if r.status == 0 {
		r.status = 200
	}
}

// The methods every view has. They are the recorder's, promoted through
// the view's embedded pointer.

func (r *recorder) Header() http.Header { return r.w.Header() }

// Unwrap lets http.ResponseController reach the wrapped writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.w }

func (r *recorder) WriteHeader(code int) {
	r.noteHeader(code)
	r.w.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.noteBody()
	n, err := r.w.Write(b)
	r.bytes += int64(n)
	return n, err
}

// WriteString is on every view: each view's writer has it.
func (r *recorder) WriteString(s string) (int, error) {
	r.noteBody()
	n, err := r.w.(io.StringWriter).WriteString(s)
	r.bytes += int64(n)
	return n, err
}

// The optional methods, each on the views whose writer has it. The
// assertions cannot fail: the view was chosen by the writer's method set.

func (r *recorder) flush() {
	r.noteBody()
	r.w.(http.Flusher).Flush()
}

func (r *recorder) flushError() error {
	r.noteBody()
	return r.w.(flushErrorer).FlushError()
}

func (r *recorder) closeNotify() <-chan bool { return r.w.(closeNotifier).CloseNotify() }

func (r *recorder) hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := r.w.(http.Hijacker).Hijack()
	if err == nil {
		r.hijacked = true
	}
	return c, rw, err
}

func (r *recorder) readFrom(src io.Reader) (int64, error) {
	r.noteBody()
	n, err := r.w.(io.ReaderFrom).ReadFrom(src)
	r.bytes += n
	return n, err
}

func (r *recorder) setReadDeadline(t time.Time) error {
	return r.w.(deadliner).SetReadDeadline(t)
}

func (r *recorder) setWriteDeadline(t time.Time) error {
	return r.w.(deadliner).SetWriteDeadline(t)
}

func (r *recorder) enableFullDuplex() error { return r.w.(fullDuplexEnabler).EnableFullDuplex() }

func (r *recorder) push(target string, opts *http.PushOptions) error {
	return r.w.(http.Pusher).Push(target, opts)
}

// flushView is the view for setRecorder.
type flushView struct{ *recorder }

func (v flushView) Flush() { v.flush() }

// http1View is the view for setHTTP1.
type http1View struct{ *recorder }

func (v http1View) Flush()                                       { v.flush() }
func (v http1View) FlushError() error                            { return v.flushError() }
func (v http1View) CloseNotify() <-chan bool                     { return v.closeNotify() }
func (v http1View) Hijack() (net.Conn, *bufio.ReadWriter, error) { return v.hijack() }
func (v http1View) ReadFrom(src io.Reader) (int64, error)        { return v.readFrom(src) }
func (v http1View) SetReadDeadline(t time.Time) error            { return v.setReadDeadline(t) }
func (v http1View) SetWriteDeadline(t time.Time) error           { return v.setWriteDeadline(t) }
func (v http1View) EnableFullDuplex() error                      { return v.enableFullDuplex() }

// http2View is the view for setHTTP2.
type http2View struct{ *recorder }

func (v http2View) Flush()                                           { v.flush() }
func (v http2View) FlushError() error                                { return v.flushError() }
func (v http2View) CloseNotify() <-chan bool                         { return v.closeNotify() }
func (v http2View) SetReadDeadline(t time.Time) error                { return v.setReadDeadline(t) }
func (v http2View) SetWriteDeadline(t time.Time) error               { return v.setWriteDeadline(t) }
func (v http2View) EnableFullDuplex() error                          { return v.enableFullDuplex() }
func (v http2View) Push(target string, opts *http.PushOptions) error { return v.push(target, opts) }

// hooks returns httpsnoop hooks that record into r, for writers no view
// fits. httpsnoop calls each hook once, with the wrapped writer's method.
func (r *recorder) hooks() httpsnoop.Hooks {
	return httpsnoop.Hooks{
		WriteHeader: func(next httpsnoop.WriteHeaderFunc) httpsnoop.WriteHeaderFunc {
			return func(code int) {
				r.noteHeader(code)
				next(code)
			}
		},
		Write: func(next httpsnoop.WriteFunc) httpsnoop.WriteFunc {
			return func(b []byte) (int, error) {
				r.noteBody()
				n, err := next(b)
				r.bytes += int64(n)
				return n, err
			}
		},
		WriteString: func(next httpsnoop.WriteStringFunc) httpsnoop.WriteStringFunc {
			return func(s string) (int, error) {
				r.noteBody()
				n, err := next(s)
				r.bytes += int64(n)
				return n, err
			}
		},
		ReadFrom: func(next httpsnoop.ReadFromFunc) httpsnoop.ReadFromFunc {
			return func(src io.Reader) (int64, error) {
				r.noteBody()
				n, err := next(src)
				r.bytes += n
				return n, err
			}
		},
		Flush: func(next httpsnoop.FlushFunc) httpsnoop.FlushFunc {
			return func() {
				r.noteBody()
				next()
			}
		},
		FlushError: func(next httpsnoop.FlushErrorFunc) httpsnoop.FlushErrorFunc {
			return func() error {
				r.noteBody()
				return next()
			}
		},
		Hijack: func(next httpsnoop.HijackFunc) httpsnoop.HijackFunc {
			return func() (net.Conn, *bufio.ReadWriter, error) {
				c, rw, err := next()
				if err == nil {
					r.hijacked = true
				}
				return c, rw, err
			}
		},
	}
}
