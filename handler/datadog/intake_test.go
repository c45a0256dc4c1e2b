package datadog

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/realtimeserver/observability/internal/testenv"
)

const testKey = "0123456789abcdef0123456789abcdef" // a fake Datadog API key

// answer is what the intake replies to one request.
type answer struct {
	status     int
	retryAfter string
	hang       bool // wait until the client gives up or the intake is released
	drop       bool // close the connection without an answer
}

// request describes one request the intake received.
type request struct {
	at      time.Time
	entries int
	bytes   int // uncompressed body size
	status  int
}

// intake is a local Datadog HTTP logs intake. It checks each request as
// Datadog would (method, path, headers, gzip, a JSON array of objects),
// answers as answer says, and keeps the entries of requests it accepted.
type intake struct {
	t   testing.TB
	srv *httptest.Server

	mu       sync.Mutex
	answer   func(n int, entries []json.RawMessage) answer // n counts requests from 0
	requests []request
	entries  []json.RawMessage
	release  chan struct{}
}

func newIntake(t testing.TB) *intake {
	in := &intake{t: t, release: make(chan struct{})}
	in.srv = httptest.NewServer(http.HandlerFunc(in.serve))
	t.Cleanup(func() {
		in.unhang()
		in.srv.CloseClientConnections()
		in.srv.Close()
	})
	return in
}

// teardown reports whether err, reading r's body, comes from the test's
// end closing the connection under a request in flight (the cleanup's
// CloseClientConnections) rather than from what the handler sent.
func teardown(r *http.Request, err error) bool {
	return r.Context().Err() != nil || errors.Is(err, net.ErrClosed)
}

func (in *intake) url() string { return in.srv.URL + "/api/v2/logs" }

// unhang releases requests held by a hang answer, once.
func (in *intake) unhang() {
	in.mu.Lock()
	defer in.mu.Unlock()
	select {
	case <-in.release:
	default:
		close(in.release)
	}
}

func (in *intake) setAnswer(f func(n int, entries []json.RawMessage) answer) {
	in.mu.Lock()
	in.answer = f
	in.mu.Unlock()
}

func (in *intake) serve(w http.ResponseWriter, r *http.Request) {
	t := in.t
	if r.Method != http.MethodPost || r.URL.Path != "/api/v2/logs" {
		t.Errorf("intake: got %s %s, want POST /api/v2/logs", r.Method, r.URL.Path)
	}
	for k, want := range map[string]string{"DD-API-KEY": testKey, "Content-Type": "application/json", "Content-Encoding": "gzip"} {
		if got := r.Header.Get(k); got != want {
			t.Errorf("intake: header %s = %q, want %q", k, got, want)
		}
	}
	zr, err := gzip.NewReader(r.Body)
	if err != nil {
		if !teardown(r, err) {
			t.Errorf("intake: body is not gzip: %v", err)
		}
		http.Error(w, "bad gzip", http.StatusBadRequest)
		return
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		if !teardown(r, err) {
			t.Errorf("intake: reading gzip body: %v", err)
		}
		return
	}
	var entries []json.RawMessage
	if err := json.Unmarshal(raw, &entries); err != nil {
		t.Errorf("intake: body is not a JSON array: %v\n%.300s", err, raw)
		http.Error(w, "bad json", http.StatusBadRequest)
		return
	}
	for _, e := range entries {
		if len(e) == 0 || e[0] != '{' {
			t.Errorf("intake: entry is not an object: %.200s", e)
		}
	}

	in.mu.Lock()
	n := len(in.requests)
	a := answer{status: http.StatusAccepted}
	if in.answer != nil {
		a = in.answer(n, entries)
	}
	in.requests = append(in.requests, request{at: time.Now(), entries: len(entries), bytes: len(raw), status: a.status})
	if a.status >= 200 && a.status < 300 && !a.hang && !a.drop {
		in.entries = append(in.entries, entries...)
	}
	release := in.release
	in.mu.Unlock()

	switch {
	case a.hang:
		select {
		case <-r.Context().Done():
		case <-release:
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	case a.drop:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		t.Errorf("intake: cannot hijack the connection")
		return
	}
	if a.status >= 300 && a.status < 400 {
		w.Header().Set("Location", in.url()) // back here: a client following it would loop
	}
	if a.retryAfter != "" {
		w.Header().Set("Retry-After", a.retryAfter)
	}
	w.WriteHeader(a.status)
	io.WriteString(w, `{}`)
}

// snapshot returns copies of what the intake has received so far.
func (in *intake) snapshot() ([]request, []json.RawMessage) {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]request(nil), in.requests...), append([]json.RawMessage(nil), in.entries...)
}

// decoded returns the accepted entries as maps.
func (in *intake) decoded() []map[string]any {
	_, raws := in.snapshot()
	out := make([]map[string]any, 0, len(raws))
	for _, r := range raws {
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(r))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			in.t.Fatalf("entry %.200s: %v", r, err)
		}
		out = append(out, m)
	}
	return out
}

// fastRetry shortens the retry backoff so tests run in milliseconds.
func fastRetry(c *core) { c.dopts.RetryBase, c.dopts.RetryMax = time.Millisecond, 10*time.Millisecond }

// newTestHandler returns a Handler shipping to in, with o's other options,
// closed when the test ends. Its ErrorOutput goes to the returned buffer.
func newTestHandler(t testing.TB, in *intake, o Options) (*Handler, *testenv.Buffer) {
	t.Helper()
	errOut := &testenv.Buffer{}
	o.APIKey = testKey
	o.URL = in.url()
	if o.ErrorOutput == nil {
		o.ErrorOutput = errOut
	}
	if o.Hostname == "" {
		o.Hostname = "test-host"
	}
	if o.Service == "" {
		o.Service = "test-service"
	}
	h, err := newHandler(&o, fastRetry)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		h.Close(ctx)
		checkInvariant(t, h.Stats())
		checkNoKey(t, "Stats().LastError", h.Stats().LastError)
		checkNoKey(t, "ErrorOutput", errOut.String())
	})
	return h, errOut
}

// checkInvariant fails unless Sent + Dropped + QueueLength == Enqueued.
func checkInvariant(t testing.TB, s Stats) {
	t.Helper()
	if got := s.Sent + s.Dropped.Total() + uint64(s.QueueLength); got != s.Enqueued {
		t.Errorf("Sent %d + Dropped %d + QueueLength %d = %d, want Enqueued %d (%+v)",
			s.Sent, s.Dropped.Total(), s.QueueLength, got, s.Enqueued, s)
	}
}

func checkNoKey(t testing.TB, what, text string) {
	t.Helper()
	if strings.Contains(text, testKey) {
		t.Errorf("%s contains the API key: %q", what, text)
	}
}

// flush calls h.Flush with a generous deadline and fails the test on error.
func flush(t testing.TB, h *Handler) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := h.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

// seqs returns the "seq" attribute of each raw entry.
func seqs(t testing.TB, raws []json.RawMessage) []int {
	t.Helper()
	out := make([]int, len(raws))
	for i, r := range raws {
		var e struct {
			Seq *int `json:"seq"`
		}
		if err := json.Unmarshal(r, &e); err != nil || e.Seq == nil {
			t.Fatalf("entry %.200s: no seq (%v)", r, err)
		}
		out[i] = *e.Seq
	}
	return out
}

// logSeq logs n records with seq attributes from..from+n-1.
func logSeq(l *slog.Logger, from, n int) {
	for i := from; i < from+n; i++ {
		l.Info("message", "seq", i, "b", 2, "c", "three")
	}
}
