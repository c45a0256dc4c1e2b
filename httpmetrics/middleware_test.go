package httpmetrics

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/realtimeserver/observability/internal/testenv"

	"github.com/coder/websocket"

	"github.com/realtimeserver/observability/enrich"
	"github.com/realtimeserver/observability/metricsink/metricsinktest"
)

func TestRoutes(t *testing.T) {
	mux := http.NewServeMux()
	ok := func(w http.ResponseWriter, r *http.Request) {}
	mux.HandleFunc("GET /videos/{id}/comments", ok)
	mux.HandleFunc("POST /videos/{id}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) })
	mux.HandleFunc("/{$}", ok)
	mux.HandleFunc("/static/", ok)
	mux.HandleFunc("/files/{path...}", ok)
	mux.HandleFunc("example.com/hosted", ok)
	mux.HandleFunc("PUT\t /tabbed", ok)

	tests := []struct {
		name, method, target, host string
		want                       string
	}{
		{"method prefix dropped", "GET", "/videos/42/comments", "", tagsOf("/videos/{id}/comments", "GET", "200")},
		{"HEAD matches a GET pattern", "HEAD", "/videos/42/comments", "", tagsOf("/videos/{id}/comments", "HEAD", "200")},
		{"status written", "POST", "/videos/7", "", tagsOf("/videos/{id}", "POST", "201")},
		{"exact root", "GET", "/", "", tagsOf("/{$}", "GET", "200")},
		{"subtree", "GET", "/static/css/site.css", "", tagsOf("/static/", "GET", "200")},
		{"subtree redirect", "GET", "/static", "", tagsOf("/static/", "GET", "307")},
		{"rest wildcard", "DELETE", "/files/a/b/c", "", tagsOf("/files/{path...}", "DELETE", "200")},
		{"host pattern keeps the host", "GET", "/hosted", "example.com", tagsOf("example.com/hosted", "GET", "200")},
		{"tab after the method", "PUT", "/tabbed", "", tagsOf("/tabbed", "PUT", "200")},
		{"no pattern: 404", "GET", "/nope/123", "", tagsOf(Unmatched, "GET", "404")},
		{"wrong method: 405", "DELETE", "/videos/42/comments", "", tagsOf(Unmatched, "DELETE", "405")},
		{"unknown method", "PROPFIND", "/static/x", "", tagsOf("/static/", "other", "200")},
		{"lower-case method is not standard", "get", "/static/x", "", tagsOf("/static/", "other", "200")},
		{"unknown method, no pattern", "BREW", "/coffee", "", tagsOf(Unmatched, "other", "404")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := metricsinktest.New()
			h := Middleware(sink, nil)(mux)
			req := httptest.NewRequest(tt.method, tt.target, nil)
			if tt.host != "" {
				req.Host = tt.host
			}
			h.ServeHTTP(httptest.NewRecorder(), req)
			if got := requestTags(t, sink, false); got != tt.want {
				t.Errorf("tags = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestPatternRoute(t *testing.T) {
	tests := []struct{ pattern, want string }{
		{"", ""},
		{"/", "/"},
		{"GET /x/{id}", "/x/{id}"},
		{"GET  /x", "/x"},
		{"example.com/", "example.com/"},
		{"POST example.com/x", "example.com/x"},
	}
	for _, tt := range tests {
		if got := PatternRoute(tt.pattern); got != tt.want {
			t.Errorf("PatternRoute(%q) = %q, want %q", tt.pattern, got, tt.want)
		}
	}
}

func TestRouteFunc(t *testing.T) {
	// A router that keeps its route in the context, as chi does.
	type routeKey struct{}
	type routeBox struct{ pattern string }
	router := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/users/") {
			r.Context().Value(routeKey{}).(*routeBox).pattern = "/users/{userID}"
			return
		}
		http.NotFound(w, r)
	})
	withBox := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), routeKey{}, &routeBox{})))
		})
	}
	opts := &Options{RouteFunc: func(r *http.Request) string {
		if b, ok := r.Context().Value(routeKey{}).(*routeBox); ok {
			return b.pattern
		}
		return ""
	}}
	tests := []struct{ target, want string }{
		{"/users/7", tagsOf("/users/{userID}", "GET", "200")},
		{"/elsewhere", tagsOf(Unmatched, "GET", "404")},
	}
	for _, tt := range tests {
		sink := metricsinktest.New()
		// The box must be in the request the middleware passes on, so the
		// router's context middleware goes outside.
		h := withBox(Middleware(sink, opts)(router))
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", tt.target, nil))
		if got := requestTags(t, sink, false); got != tt.want {
			t.Errorf("%s: tags = %s, want %s", tt.target, got, tt.want)
		}
	}
}

// quietServer starts an httptest server whose error log (panics, superfluous
// WriteHeader calls) is discarded.
func quietServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

func TestStatus(t *testing.T) {
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		wantStatus string // recorded
		wantCode   int    // received by the client
		wantBytes  int
	}{
		{"nothing written", func(w http.ResponseWriter, r *http.Request) {}, "200", 200, 0},
		{"write only", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("hello")) }, "200", 200, 5},
		{"WriteString", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello!") }, "200", 200, 6},
		{"ReadFrom", func(w http.ResponseWriter, r *http.Request) {
			io.Copy(w, strings.NewReader(strings.Repeat("x", 10000)))
		}, "200", 200, 10000},
		{"explicit 204", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }, "204", 204, 0},
		{"double WriteHeader keeps the first", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusCreated)
			w.WriteHeader(http.StatusInternalServerError)
		}, "201", 201, 0},
		{"WriteHeader after a write is ignored", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("x"))
			w.WriteHeader(http.StatusInternalServerError)
		}, "200", 200, 1},
		{"flush first", func(w http.ResponseWriter, r *http.Request) {
			w.(http.Flusher).Flush()
			w.WriteHeader(http.StatusTeapot)
		}, "200", 200, 0},
		{"early hints then 200", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", "</style.css>; rel=preload; as=style")
			w.WriteHeader(http.StatusEarlyHints)
			w.Write([]byte("page"))
		}, "200", 200, 4},
		{"early hints then 500", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusInternalServerError)
		}, "500", 500, 0},
		{"http.Error", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "nope", http.StatusForbidden) }, "403", 403, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := metricsinktest.New()
			var logBuf bytes.Buffer
			logger := slog.New(slog.NewJSONHandler(&logBuf, nil))
			mux := http.NewServeMux()
			mux.Handle("/s", tt.handler)
			srv := quietServer(t, Middleware(sink, &Options{AccessLog: true, Logger: logger})(mux))
			var got1xx []int
			ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
				Got1xxResponse: func(code int, _ textproto.MIMEHeader) error { got1xx = append(got1xx, code); return nil },
			})
			req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/s", nil)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantCode || len(body) != tt.wantBytes {
				t.Errorf("client got %d with %d bytes, want %d with %d", resp.StatusCode, len(body), tt.wantCode, tt.wantBytes)
			}
			if strings.HasPrefix(tt.name, "early hints") && (len(got1xx) != 1 || got1xx[0] != 103) {
				t.Errorf("client saw 1xx %v, want [103]", got1xx)
			}
			if got, want := requestTags(t, sink, false), tagsOf("/s", "GET", tt.wantStatus); got != want {
				t.Errorf("tags = %s, want %s", got, want)
			}
			var line struct {
				Bytes int `json:"bytes"`
			}
			if err := json.Unmarshal(logBuf.Bytes(), &line); err != nil || line.Bytes != tt.wantBytes {
				t.Errorf("access log %q: bytes %d (err %v), want %d", logBuf.String(), line.Bytes, err, tt.wantBytes)
			}
		})
	}
}

func TestPanicPropagates(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name  string
		value any
		opts  *Options
	}{
		{"default", boom, nil},
		{"ErrAbortHandler with RecoverPanics", http.ErrAbortHandler, &Options{RecoverPanics: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := metricsinktest.New()
			var logBuf bytes.Buffer
			o := Options{Logger: slog.New(slog.NewTextHandler(&logBuf, nil))}
			if tt.opts != nil {
				o.RecoverPanics = tt.opts.RecoverPanics
			}
			mux := http.NewServeMux()
			mux.HandleFunc("GET /p/{id}", func(w http.ResponseWriter, r *http.Request) { panic(tt.value) })
			h := Middleware(sink, &o)(mux)
			got := func() (v any) {
				defer func() { v = recover() }()
				h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/p/1", nil))
				return nil
			}()
			if got != tt.value {
				t.Errorf("recovered %v, want the handler's own panic value %v", got, tt.value)
			}
			if got, want := requestTags(t, sink, false), tagsOf("/p/{id}", "GET", "500"); got != want {
				t.Errorf("tags = %s, want %s", got, want)
			}
			if logBuf.Len() != 0 {
				t.Errorf("logged %q, want nothing", logBuf.String())
			}
		})
	}
}

func TestRecoverPanics(t *testing.T) {
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		wantClient int // 0: the client sees the connection aborted
	}{
		{"before writing: 500 answer", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Half-Done", "1")
			panic("boom")
		}, 500},
		{"after writing: aborted", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("partial"))
			w.(http.Flusher).Flush()
			panic("boom")
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := metricsinktest.New()
			var logBuf testenv.Buffer
			logger := slog.New(slog.NewJSONHandler(&logBuf, nil))
			mux := http.NewServeMux()
			mux.Handle("/p", tt.handler)
			srv := quietServer(t, Middleware(sink, &Options{RecoverPanics: true, Logger: logger})(mux))
			resp, err := srv.Client().Get(srv.URL + "/p")
			if tt.wantClient == 0 {
				if err == nil {
					_, err = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				if err == nil {
					t.Errorf("client read the whole response, want an aborted connection")
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tt.wantClient || strings.TrimSpace(string(body)) != "Internal Server Error" {
					t.Errorf("client got %d %q, want %d Internal Server Error", resp.StatusCode, body, tt.wantClient)
				}
				if resp.Header.Get("X-Half-Done") != "" || resp.Header.Get("X-Request-Id") == "" {
					t.Errorf("headers %v: want the handler's dropped and the request id kept", resp.Header)
				}
			}
			if got, want := requestTags(t, sink, false), tagsOf("/p", "GET", "500"); got != want {
				t.Errorf("tags = %s, want %s", got, want)
			}
			lines := strings.Split(strings.TrimSpace(logBuf.String()), "\n")
			if len(lines) != 1 {
				t.Fatalf("logged %d lines, want 1:\n%s", len(lines), logBuf.String())
			}
			var rec map[string]any
			if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
				t.Fatal(err)
			}
			if rec["level"] != "ERROR" || rec["panic"] != "boom" || rec["path"] != "/p" || !strings.Contains(rec["stack"].(string), "httpmetrics") {
				t.Errorf("log record %v, want level ERROR, panic boom, path /p and a stack", rec)
			}
		})
	}
}

func TestHijack(t *testing.T) {
	sink := metricsinktest.New()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /raw", func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nraw")
		brw.Flush()
	})
	srv := quietServer(t, Middleware(sink, nil)(mux))
	resp, err := srv.Client().Get(srv.URL + "/raw")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "raw" {
		t.Errorf("body %q, want raw", body)
	}
	if got, want := requestTags(t, sink, true), tagsOf("/raw", "GET", "101"); got != want {
		t.Errorf("tags = %s, want %s", got, want)
	}
}

func TestWebSocket(t *testing.T) {
	sink := metricsinktest.New()
	var seenID string
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ws/{channel}", func(w http.ResponseWriter, r *http.Request) {
		seenID = enrich.RequestID(r.Context())
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			t.Error(err)
			return
		}
		defer c.CloseNow()
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, append([]byte("echo:"), msg...)); err != nil {
				return
			}
		}
	})
	srv := quietServer(t, Middleware(sink, nil)(mux))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws/video", &websocket.DialOptions{
		HTTPHeader: http.Header{"X-Request-Id": {"ws-client-1"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Header.Get("X-Request-Id"); got != "ws-client-1" {
		t.Errorf("upgrade response X-Request-Id = %q, want ws-client-1", got)
	}
	for _, m := range []string{"a", "bc"} {
		if err := c.Write(ctx, websocket.MessageText, []byte(m)); err != nil {
			t.Fatal(err)
		}
		_, got, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != "echo:"+m {
			t.Errorf("read %q, want echo:%s", got, m)
		}
	}
	c.Close(websocket.StatusNormalClosure, "")
	if got, want := requestTags(t, sink, true), tagsOf("/ws/{channel}", "GET", "101"); got != want {
		t.Errorf("tags = %s, want %s", got, want)
	}
	if seenID != "ws-client-1" {
		t.Errorf("handler's context request id = %q, want ws-client-1", seenID)
	}
}

func TestInterfacesKept(t *testing.T) {
	type ifaces struct{ flusher, hijacker, readerFrom, stringWriter bool }
	check := func(w http.ResponseWriter) ifaces {
		_, f := w.(http.Flusher)
		_, h := w.(http.Hijacker)
		_, rf := w.(io.ReaderFrom)
		_, sw := w.(io.StringWriter)
		return ifaces{f, h, rf, sw}
	}
	var got, want ifaces
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = check(w) })
	outer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		want = check(w)
		Middleware(nil, nil)(inner).ServeHTTP(w, r)
	})
	// net/http's own writer has them all; the recorder has Flush and WriteString only.
	srv := quietServer(t, outer)
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got != want || !want.hijacker {
		t.Errorf("server writer: wrapped %+v, original %+v", got, want)
	}
	outer.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if got != want || want.hijacker {
		t.Errorf("ResponseRecorder: wrapped %+v, original %+v", got, want)
	}
}

func TestResponseController(t *testing.T) {
	sink := metricsinktest.New()
	step := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stream", func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if err := rc.SetWriteDeadline(time.Now().Add(5 * time.Second)); err != nil {
			t.Errorf("SetWriteDeadline: %v", err)
		}
		if err := rc.EnableFullDuplex(); err != nil {
			t.Errorf("EnableFullDuplex: %v", err)
		}
		io.WriteString(w, "first\n")
		if err := rc.Flush(); err != nil {
			t.Errorf("Flush: %v", err)
		}
		<-step // the client has read the first line before the handler ends
		io.WriteString(w, "second\n")
	})
	srv := quietServer(t, Middleware(sink, nil)(mux))
	resp, err := srv.Client().Get(srv.URL + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	first, err := br.ReadString('\n')
	if err != nil || first != "first\n" {
		t.Fatalf("first line %q, %v; want it before the handler ends", first, err)
	}
	close(step)
	rest, _ := io.ReadAll(br)
	if string(rest) != "second\n" {
		t.Errorf("rest %q, want second", rest)
	}
	if got, want := requestTags(t, sink, false), tagsOf("/stream", "GET", "200"); got != want {
		t.Errorf("tags = %s, want %s", got, want)
	}
}

var generatedID = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestRequestID(t *testing.T) {
	long := strings.Repeat("a", MaxRequestIDLen)
	tests := []struct {
		name     string
		opts     *Options
		header   string // header name sent
		incoming []string
		kept     bool
	}{
		{"uuid kept", nil, "X-Request-ID", []string{"0f8fad5b-d9cb-469f-a165-70867728950e"}, true},
		{"base64 kept", nil, "X-Request-ID", []string{"aGVsbG8+d29ybGQ/Pz8="}, true},
		{"dotted and colons kept", nil, "x-request-id", []string{"web-1:req.42_a"}, true},
		{"longest kept", nil, "X-Request-ID", []string{long}, true},
		{"too long", nil, "X-Request-ID", []string{long + "a"}, false},
		{"empty", nil, "X-Request-ID", []string{""}, false},
		{"space", nil, "X-Request-ID", []string{"a b"}, false},
		{"quote", nil, "X-Request-ID", []string{`a"b`}, false},
		{"log forging", nil, "X-Request-ID", []string{"a\x1b[31mred"}, false},
		{"non-ASCII", nil, "X-Request-ID", []string{"réq"}, false},
		{"first of several", nil, "X-Request-ID", []string{"first", "second"}, true},
		{"absent", nil, "", nil, false},
		{"ignored by option", &Options{IgnoreIncomingRequestID: true}, "X-Request-ID", []string{"abc"}, false},
		{"custom header", &Options{RequestIDHeader: "x-correlation-id"}, "X-Correlation-Id", []string{"corr-1"}, true},
		{"custom header: default one not read", &Options{RequestIDHeader: "X-Correlation-ID"}, "X-Request-ID", []string{"abc"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ctxID string
			h := Middleware(nil, tt.opts)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				ctxID = enrich.RequestID(r.Context())
			}))
			req := httptest.NewRequest("GET", "/", nil)
			if tt.header != "" {
				req.Header[textproto.CanonicalMIMEHeaderKey(tt.header)] = tt.incoming
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			respHeader := DefaultRequestIDHeader
			if tt.opts != nil && tt.opts.RequestIDHeader != "" {
				respHeader = tt.opts.RequestIDHeader
			}
			got := rec.Header().Get(respHeader)
			if got != ctxID {
				t.Errorf("response %s = %q, context id = %q; want them equal", respHeader, got, ctxID)
			}
			if tt.kept {
				if got != tt.incoming[0] {
					t.Errorf("id = %q, want the incoming %q", got, tt.incoming[0])
				}
			} else if !generatedID.MatchString(got) {
				t.Errorf("id = %q, want a new one of 32 hex digits", got)
			}
		})
	}
}

func TestNewRequestIDUnique(t *testing.T) {
	seen := make(map[string]bool)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				id := new(idCell).generate()[0]
				mu.Lock()
				if seen[id] {
					t.Errorf("duplicate id %s", id)
				}
				seen[id] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != 4000 {
		t.Errorf("%d ids, want 4000", len(seen))
	}
}

func TestAccessLog(t *testing.T) {
	var buf testenv.Buffer
	logger := slog.New(enrich.New(slog.NewJSONHandler(&buf, nil), &enrich.Options{Service: "test"}))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /videos/{id}", func(w http.ResponseWriter, r *http.Request) {
		logger.InfoContext(r.Context(), "inside")
		io.WriteString(w, "video")
	})
	mux.HandleFunc("POST /fail", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "broken", http.StatusBadGateway)
	})
	h := Middleware(nil, &Options{AccessLog: true, Logger: logger})(mux)

	req := httptest.NewRequest("GET", "/videos/42?x=1", nil)
	req.Header.Set("X-Request-ID", "req-1")
	h.ServeHTTP(httptest.NewRecorder(), req)
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/fail", nil))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/missing", nil))

	type record struct {
		Level     string `json:"level"`
		Msg       string `json:"msg"`
		Method    string `json:"method"`
		Route     string `json:"route"`
		Path      string `json:"path"`
		Status    int    `json:"status"`
		Duration  *int64 `json:"duration"`
		Bytes     int64  `json:"bytes"`
		RequestID string `json:"request_id"`
	}
	var recs []record
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var r record
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		recs = append(recs, r)
	}
	if len(recs) != 4 {
		t.Fatalf("%d records, want 4 (one inside, three access lines):\n%s", len(recs), buf.String())
	}
	if recs[0].Msg != "inside" || recs[0].RequestID != "req-1" {
		t.Errorf("handler's record %+v: want request_id req-1", recs[0])
	}
	want := []record{
		{Level: "INFO", Msg: "http request", Method: "GET", Route: "/videos/{id}", Path: "/videos/42", Status: 200, Bytes: 5, RequestID: "req-1"},
		{Level: "ERROR", Msg: "http request", Method: "POST", Route: "/fail", Path: "/fail", Status: 502, Bytes: 7},
		{Level: "INFO", Msg: "http request", Method: "GET", Route: Unmatched, Path: "/missing", Status: 404, Bytes: 19},
	}
	for i, w := range want {
		got := recs[i+1]
		if got.Duration == nil || *got.Duration <= 0 {
			t.Errorf("access line %d: duration %v, want > 0", i, got.Duration)
		}
		if w.RequestID == "" {
			if !generatedID.MatchString(got.RequestID) {
				t.Errorf("access line %d: request_id %q, want a generated one", i, got.RequestID)
			}
			w.RequestID = got.RequestID
		}
		got.Duration = nil
		if got != w {
			t.Errorf("access line %d = %+v, want %+v", i, got, w)
		}
	}
}

func TestAccessLogLevelDisabled(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelError}))
	h := Middleware(nil, &Options{AccessLog: true, Logger: logger})(http.NotFoundHandler())
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if buf.Len() != 0 {
		t.Errorf("logged %q at a level the logger does not enable", buf.String())
	}
}

func TestInvalidOptions(t *testing.T) {
	for _, name := range []string{"X Request ID", "X-Request-ID:", "é"} {
		func() {
			defer func() {
				r := recover()
				if r == nil || !strings.Contains(r.(string), "Options.RequestIDHeader") {
					t.Errorf("RequestIDHeader %q: panic %v, want one naming the option", name, r)
				}
			}()
			Middleware(nil, &Options{RequestIDHeader: name})
		}()
	}
}

func TestStatusLabel(t *testing.T) {
	tests := []struct {
		code int
		want string
	}{{100, "100"}, {200, "200"}, {599, "599"}, {999, "999"}, {1000, "1000"}, {42, "42"}}
	for _, tt := range tests {
		if got := statusLabel(tt.code); got != tt.want {
			t.Errorf("statusLabel(%d) = %q, want %q", tt.code, got, tt.want)
		}
	}
}
