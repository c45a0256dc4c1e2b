package httpmetrics

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/realtimeserver/observability/metricsink/metricsinktest"
)

// TestViewMethodSets holds each view to the method set it stands for: a
// view with a method too many or too few would make handlers' type
// assertions answer differently with the middleware than without.
func TestViewMethodSets(t *testing.T) {
	r := &recorder{}
	for _, tc := range []struct {
		name string
		view http.ResponseWriter
		want int
	}{
		{"flushView", flushView{r}, setRecorder},
		{"http1View", http1View{r}, setHTTP1},
		{"http2View", http2View{r}, setHTTP2},
	} {
		if got := methodSet(tc.view); got != tc.want {
			t.Errorf("%s: method set %09b, want %09b", tc.name, got, tc.want)
		}
		if _, ok := tc.view.(interface{ Unwrap() http.ResponseWriter }); !ok {
			t.Errorf("%s has no Unwrap", tc.name)
		}
	}
}

// minimalWriter has only the three methods of http.ResponseWriter.
type minimalWriter struct{ w http.ResponseWriter }

func (m minimalWriter) Header() http.Header         { return m.w.Header() }
func (m minimalWriter) Write(b []byte) (int, error) { return m.w.Write(b) }
func (m minimalWriter) WriteHeader(code int)        { m.w.WriteHeader(code) }

// hijackWriter adds Hijack alone: a set no view has.
type hijackWriter struct {
	minimalWriter
	h http.Hijacker
}

func (h hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) { return h.h.Hijack() }

// TestWrapKeepsMethodSet runs the middleware over the writers of real
// HTTP/1 and HTTP/2 servers, httptest's recorder, and writers with unusual
// method sets, and checks that the handler sees the original's method set,
// through a view of net/http's writers where one exists (no allocation)
// and through otherView's otherwise; and that status and bytes are
// recorded either way.
func TestWrapKeepsMethodSet(t *testing.T) {
	type seen struct {
		orig, wrapped int
		view          bool
	}
	var got seen
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.wrapped = methodSet(w)
		switch w.(type) {
		case flushView, http1View, http2View:
			got.view = true
		}
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, "hello")
	})
	sink := metricsinktest.New()
	mw := Middleware(sink, nil)(inner)
	// convert turns the server's writer into the writer under test.
	serve := func(convert func(http.ResponseWriter) http.ResponseWriter) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w = convert(w)
			got = seen{orig: methodSet(w)}
			mw.ServeHTTP(w, r)
		})
	}
	same := func(w http.ResponseWriter) http.ResponseWriter { return w }

	tests := []struct {
		name     string
		run      func(t *testing.T, h http.Handler)
		convert  func(http.ResponseWriter) http.ResponseWriter
		wantSet  int // 0: whatever the original has
		wantView bool
	}{
		{"HTTP/1 server", getHTTP1, same, setHTTP1, true},
		{"HTTP/2 server", getHTTP2, same, setHTTP2, true},
		{"httptest recorder", getRecorder, same, setRecorder, true},
		{"minimal writer", getRecorder, func(w http.ResponseWriter) http.ResponseWriter { return minimalWriter{w} }, 0, false},
		{"hijacker alone", getHTTP1, func(w http.ResponseWriter) http.ResponseWriter {
			return hijackWriter{minimalWriter{w}, w.(http.Hijacker)}
		}, hasHijack, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := sink.Count(CountMetric, "status", "202")
			tc.run(t, serve(tc.convert))
			if tc.wantSet != 0 && got.orig != tc.wantSet {
				t.Fatalf("the original writer's method set is %09b, want %09b: net/http changed, update the views", got.orig, tc.wantSet)
			}
			if got.wrapped != got.orig {
				t.Errorf("handler's writer has method set %09b, the original %09b", got.wrapped, got.orig)
			}
			if got.view != tc.wantView {
				t.Errorf("served through a view = %v, want %v", got.view, tc.wantView)
			}
			if n := sink.Count(CountMetric, "status", "202") - before; n != 1 {
				t.Errorf("%d requests recorded with status 202, want 1", n)
			}
			if n := sink.Count(DurationMetric, "status", "202"); n == 0 {
				t.Errorf("no duration recorded with status 202")
			}
		})
	}
}

func getHTTP1(t *testing.T, h http.Handler) {
	srv := quietServer(t, h)
	get(t, srv.Client(), srv.URL, "HTTP/1.1")
}

func getHTTP2(t *testing.T, h http.Handler) {
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	get(t, srv.Client(), srv.URL, "HTTP/2.0")
}

func get(t *testing.T, c *http.Client, url, proto string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.Proto != proto || resp.StatusCode != http.StatusAccepted || string(body) != "hello" {
		t.Fatalf("got %s %d %q, want %s 202 \"hello\"", resp.Proto, resp.StatusCode, body, proto)
	}
}

func getRecorder(t *testing.T, h http.Handler) {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Code != http.StatusAccepted || w.Body.String() != "hello" {
		t.Fatalf("got %d %q, want 202 \"hello\"", w.Code, w.Body.String())
	}
}

// unwrappingWriter is another middleware's writer: Flush and Unwrap.
type unwrappingWriter struct{ minimalWriter }

func (u unwrappingWriter) Flush()                      { u.w.(http.Flusher).Flush() }
func (u unwrappingWriter) Unwrap() http.ResponseWriter { return u.w }

// TestOtherWritersUnwrap: over a writer no view of net/http's fits, the
// handler keeps that writer's Flusher and reaches the server's deadlines
// through http.ResponseController, which unwraps both middlewares.
func TestOtherWritersUnwrap(t *testing.T) {
	var flushed bool
	var deadlineErr error = errors.New("not called")
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		deadlineErr = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Minute))
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, "hello") // what getHTTP1 expects
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
			flushed = true
		}
	})
	mw := Middleware(metricsinktest.New(), nil)(inner)
	getHTTP1(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mw.ServeHTTP(unwrappingWriter{minimalWriter{w}}, r)
	}))
	if !flushed {
		t.Error("the handler's writer lost the original's Flusher")
	}
	if deadlineErr != nil {
		t.Errorf("ResponseController.SetWriteDeadline through the middleware: %v", deadlineErr)
	}
}
