package httpmetrics

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"reflect"
	"sync/atomic"
	"time"

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
// allocating. Any other writer gets one of sixteen views over the optional
// interfaces such writers most often have (see otherView).
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
// has w's method set, else the view of its most used optional interfaces.
func (r *recorder) wrap(w http.ResponseWriter) http.ResponseWriter {
	r.w = w
	set := cachedMethodSet(w)
	switch set {
	case setHTTP1:
		return http1View{r}
	case setHTTP2:
		return http2View{r}
	case setRecorder:
		return flushView{r}
	}
	return r.otherView(set)
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

// The views for any other writer (one already wrapped by another
// middleware, say): one per subset of the four optional interfaces such
// writers most often have and handlers most often assert, Flusher,
// Hijacker, ReaderFrom and StringWriter. Every view has Unwrap, so
// http.ResponseController reaches the rest (FlushError, the deadlines,
// EnableFullDuplex) on the writer itself. Pusher and the deprecated
// CloseNotifier are kept only by the views of net/http's own writers.
type (
	otherView                          struct{ r *recorder }
	otherFlushView                     struct{ r *recorder }
	otherHijackView                    struct{ r *recorder }
	otherFlushHijackView               struct{ r *recorder }
	otherReadFromView                  struct{ r *recorder }
	otherFlushReadFromView             struct{ r *recorder }
	otherHijackReadFromView            struct{ r *recorder }
	otherFlushHijackReadFromView       struct{ r *recorder }
	otherStringView                    struct{ r *recorder }
	otherFlushStringView               struct{ r *recorder }
	otherHijackStringView              struct{ r *recorder }
	otherFlushHijackStringView         struct{ r *recorder }
	otherReadFromStringView            struct{ r *recorder }
	otherFlushReadFromStringView       struct{ r *recorder }
	otherHijackReadFromStringView      struct{ r *recorder }
	otherFlushHijackReadFromStringView struct{ r *recorder }
)

func (v otherView) Header() http.Header         { return v.r.Header() }
func (v otherView) Write(b []byte) (int, error) { return v.r.Write(b) }
func (v otherView) WriteHeader(code int)        { v.r.WriteHeader(code) }
func (v otherView) Unwrap() http.ResponseWriter { return v.r.w }

func (v otherFlushView) Header() http.Header         { return v.r.Header() }
func (v otherFlushView) Write(b []byte) (int, error) { return v.r.Write(b) }
func (v otherFlushView) WriteHeader(code int)        { v.r.WriteHeader(code) }
func (v otherFlushView) Unwrap() http.ResponseWriter { return v.r.w }
func (v otherFlushView) Flush()                      { v.r.flush() }

func (v otherHijackView) Header() http.Header                          { return v.r.Header() }
func (v otherHijackView) Write(b []byte) (int, error)                  { return v.r.Write(b) }
func (v otherHijackView) WriteHeader(code int)                         { v.r.WriteHeader(code) }
func (v otherHijackView) Unwrap() http.ResponseWriter                  { return v.r.w }
func (v otherHijackView) Hijack() (net.Conn, *bufio.ReadWriter, error) { return v.r.hijack() }

func (v otherFlushHijackView) Header() http.Header                          { return v.r.Header() }
func (v otherFlushHijackView) Write(b []byte) (int, error)                  { return v.r.Write(b) }
func (v otherFlushHijackView) WriteHeader(code int)                         { v.r.WriteHeader(code) }
func (v otherFlushHijackView) Unwrap() http.ResponseWriter                  { return v.r.w }
func (v otherFlushHijackView) Flush()                                       { v.r.flush() }
func (v otherFlushHijackView) Hijack() (net.Conn, *bufio.ReadWriter, error) { return v.r.hijack() }

func (v otherReadFromView) Header() http.Header                   { return v.r.Header() }
func (v otherReadFromView) Write(b []byte) (int, error)           { return v.r.Write(b) }
func (v otherReadFromView) WriteHeader(code int)                  { v.r.WriteHeader(code) }
func (v otherReadFromView) Unwrap() http.ResponseWriter           { return v.r.w }
func (v otherReadFromView) ReadFrom(src io.Reader) (int64, error) { return v.r.readFrom(src) }

func (v otherFlushReadFromView) Header() http.Header                   { return v.r.Header() }
func (v otherFlushReadFromView) Write(b []byte) (int, error)           { return v.r.Write(b) }
func (v otherFlushReadFromView) WriteHeader(code int)                  { v.r.WriteHeader(code) }
func (v otherFlushReadFromView) Unwrap() http.ResponseWriter           { return v.r.w }
func (v otherFlushReadFromView) Flush()                                { v.r.flush() }
func (v otherFlushReadFromView) ReadFrom(src io.Reader) (int64, error) { return v.r.readFrom(src) }

func (v otherHijackReadFromView) Header() http.Header                          { return v.r.Header() }
func (v otherHijackReadFromView) Write(b []byte) (int, error)                  { return v.r.Write(b) }
func (v otherHijackReadFromView) WriteHeader(code int)                         { v.r.WriteHeader(code) }
func (v otherHijackReadFromView) Unwrap() http.ResponseWriter                  { return v.r.w }
func (v otherHijackReadFromView) Hijack() (net.Conn, *bufio.ReadWriter, error) { return v.r.hijack() }
func (v otherHijackReadFromView) ReadFrom(src io.Reader) (int64, error)        { return v.r.readFrom(src) }

func (v otherFlushHijackReadFromView) Header() http.Header         { return v.r.Header() }
func (v otherFlushHijackReadFromView) Write(b []byte) (int, error) { return v.r.Write(b) }
func (v otherFlushHijackReadFromView) WriteHeader(code int)        { v.r.WriteHeader(code) }
func (v otherFlushHijackReadFromView) Unwrap() http.ResponseWriter { return v.r.w }
func (v otherFlushHijackReadFromView) Flush()                      { v.r.flush() }
func (v otherFlushHijackReadFromView) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return v.r.hijack()
}
func (v otherFlushHijackReadFromView) ReadFrom(src io.Reader) (int64, error) {
	return v.r.readFrom(src)
}

func (v otherStringView) Header() http.Header               { return v.r.Header() }
func (v otherStringView) Write(b []byte) (int, error)       { return v.r.Write(b) }
func (v otherStringView) WriteHeader(code int)              { v.r.WriteHeader(code) }
func (v otherStringView) Unwrap() http.ResponseWriter       { return v.r.w }
func (v otherStringView) WriteString(s string) (int, error) { return v.r.WriteString(s) }

func (v otherFlushStringView) Header() http.Header               { return v.r.Header() }
func (v otherFlushStringView) Write(b []byte) (int, error)       { return v.r.Write(b) }
func (v otherFlushStringView) WriteHeader(code int)              { v.r.WriteHeader(code) }
func (v otherFlushStringView) Unwrap() http.ResponseWriter       { return v.r.w }
func (v otherFlushStringView) Flush()                            { v.r.flush() }
func (v otherFlushStringView) WriteString(s string) (int, error) { return v.r.WriteString(s) }

func (v otherHijackStringView) Header() http.Header                          { return v.r.Header() }
func (v otherHijackStringView) Write(b []byte) (int, error)                  { return v.r.Write(b) }
func (v otherHijackStringView) WriteHeader(code int)                         { v.r.WriteHeader(code) }
func (v otherHijackStringView) Unwrap() http.ResponseWriter                  { return v.r.w }
func (v otherHijackStringView) Hijack() (net.Conn, *bufio.ReadWriter, error) { return v.r.hijack() }
func (v otherHijackStringView) WriteString(s string) (int, error)            { return v.r.WriteString(s) }

func (v otherFlushHijackStringView) Header() http.Header         { return v.r.Header() }
func (v otherFlushHijackStringView) Write(b []byte) (int, error) { return v.r.Write(b) }
func (v otherFlushHijackStringView) WriteHeader(code int)        { v.r.WriteHeader(code) }
func (v otherFlushHijackStringView) Unwrap() http.ResponseWriter { return v.r.w }
func (v otherFlushHijackStringView) Flush()                      { v.r.flush() }
func (v otherFlushHijackStringView) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return v.r.hijack()
}
func (v otherFlushHijackStringView) WriteString(s string) (int, error) { return v.r.WriteString(s) }

func (v otherReadFromStringView) Header() http.Header                   { return v.r.Header() }
func (v otherReadFromStringView) Write(b []byte) (int, error)           { return v.r.Write(b) }
func (v otherReadFromStringView) WriteHeader(code int)                  { v.r.WriteHeader(code) }
func (v otherReadFromStringView) Unwrap() http.ResponseWriter           { return v.r.w }
func (v otherReadFromStringView) ReadFrom(src io.Reader) (int64, error) { return v.r.readFrom(src) }
func (v otherReadFromStringView) WriteString(s string) (int, error)     { return v.r.WriteString(s) }

func (v otherFlushReadFromStringView) Header() http.Header         { return v.r.Header() }
func (v otherFlushReadFromStringView) Write(b []byte) (int, error) { return v.r.Write(b) }
func (v otherFlushReadFromStringView) WriteHeader(code int)        { v.r.WriteHeader(code) }
func (v otherFlushReadFromStringView) Unwrap() http.ResponseWriter { return v.r.w }
func (v otherFlushReadFromStringView) Flush()                      { v.r.flush() }
func (v otherFlushReadFromStringView) ReadFrom(src io.Reader) (int64, error) {
	return v.r.readFrom(src)
}
func (v otherFlushReadFromStringView) WriteString(s string) (int, error) { return v.r.WriteString(s) }

func (v otherHijackReadFromStringView) Header() http.Header         { return v.r.Header() }
func (v otherHijackReadFromStringView) Write(b []byte) (int, error) { return v.r.Write(b) }
func (v otherHijackReadFromStringView) WriteHeader(code int)        { v.r.WriteHeader(code) }
func (v otherHijackReadFromStringView) Unwrap() http.ResponseWriter { return v.r.w }
func (v otherHijackReadFromStringView) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return v.r.hijack()
}
func (v otherHijackReadFromStringView) ReadFrom(src io.Reader) (int64, error) {
	return v.r.readFrom(src)
}
func (v otherHijackReadFromStringView) WriteString(s string) (int, error) { return v.r.WriteString(s) }

func (v otherFlushHijackReadFromStringView) Header() http.Header         { return v.r.Header() }
func (v otherFlushHijackReadFromStringView) Write(b []byte) (int, error) { return v.r.Write(b) }
func (v otherFlushHijackReadFromStringView) WriteHeader(code int)        { v.r.WriteHeader(code) }
func (v otherFlushHijackReadFromStringView) Unwrap() http.ResponseWriter { return v.r.w }
func (v otherFlushHijackReadFromStringView) Flush()                      { v.r.flush() }
func (v otherFlushHijackReadFromStringView) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return v.r.hijack()
}
func (v otherFlushHijackReadFromStringView) ReadFrom(src io.Reader) (int64, error) {
	return v.r.readFrom(src)
}
func (v otherFlushHijackReadFromStringView) WriteString(s string) (int, error) {
	return v.r.WriteString(s)
}

// otherView returns the view of r for a writer with method set set that
// no view of net/http's writers fits.
func (r *recorder) otherView(set int) http.ResponseWriter {
	var m int
	if set&hasFlush != 0 {
		m |= 1
	}
	if set&hasHijack != 0 {
		m |= 2
	}
	if set&hasReadFrom != 0 {
		m |= 4
	}
	if set&hasWriteString != 0 {
		m |= 8
	}
	switch m {
	case 0:
		return otherView{r}
	case 1:
		return otherFlushView{r}
	case 2:
		return otherHijackView{r}
	case 3:
		return otherFlushHijackView{r}
	case 4:
		return otherReadFromView{r}
	case 5:
		return otherFlushReadFromView{r}
	case 6:
		return otherHijackReadFromView{r}
	case 7:
		return otherFlushHijackReadFromView{r}
	case 8:
		return otherStringView{r}
	case 9:
		return otherFlushStringView{r}
	case 10:
		return otherHijackStringView{r}
	case 11:
		return otherFlushHijackStringView{r}
	case 12:
		return otherReadFromStringView{r}
	case 13:
		return otherFlushReadFromStringView{r}
	case 14:
		return otherHijackReadFromStringView{r}
	case 15:
		return otherFlushHijackReadFromStringView{r}
	}
	return otherView{r}
}
