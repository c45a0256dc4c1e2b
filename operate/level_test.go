package operate

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/realtimeserver/observability/handler"
)

const testToken = "t0ken"

// records is a slog.Handler that keeps every record, for concurrent use.
type records struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *records) Enabled(context.Context, slog.Level) bool { return true }
func (h *records) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r.Clone())
	return nil
}
func (h *records) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *records) WithGroup(string) slog.Handler      { return h }

func (h *records) all() []slog.Record {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]slog.Record(nil), h.recs...)
}

// attrs returns r's attributes as strings by key.
func attrs(r slog.Record) map[string]string {
	m := map[string]string{}
	r.Attrs(func(a slog.Attr) bool {
		m[a.Key] = a.Value.String()
		return true
	})
	return m
}

// newLevelServer returns a Level over a LevelVar at info, served by a test
// server, and the records it logs.
func newLevelServer(t *testing.T, opts LevelOptions) (*slog.LevelVar, *Level, *httptest.Server, *records) {
	t.Helper()
	lv := new(slog.LevelVar)
	log := &records{}
	opts.Logger = slog.New(log)
	l, err := NewLevel(lv, &opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(l)
	t.Cleanup(srv.Close)
	return lv, l, srv, log
}

func do(t *testing.T, method, url, token, contentType, body string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestLevelTemporaryDebug is the operator's case: PUT debug for 2 s; debug
// records pass at once, and stop by themselves after 2 s.
func TestLevelTemporaryDebug(t *testing.T) {
	lv, _, srv, log := newLevelServer(t, LevelOptions{Token: testToken})
	out := &records{}
	app := slog.New(handler.MinLevel(out, lv))

	before := time.Now()
	code, body := do(t, "PUT", srv.URL+"?level=debug&for=2s", testToken, "", "", "Accept", "application/json")
	putDone := time.Now()
	if code != http.StatusOK {
		t.Fatalf("PUT: %d %s", code, body)
	}
	var st struct {
		Level    string    `json:"level"`
		RevertTo string    `json:"revert_to"`
		RevertAt time.Time `json:"revert_at"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("%q: %v", body, err)
	}
	if st.Level != "debug" || st.RevertTo != "info" || st.RevertAt.Before(before.Add(2*time.Second).Truncate(time.Millisecond)) || st.RevertAt.After(putDone.Add(2*time.Second)) {
		t.Errorf("PUT answered %+v, want revert_to info at 2 s from the PUT", st)
	}
	app.Debug("during")
	if time.Since(putDone) < time.Second { // the revert cannot have run yet
		if lv.Level() != slog.LevelDebug {
			t.Fatalf("level %v right after the PUT, want DEBUG", lv.Level())
		}
		if n := len(out.all()); n != 1 {
			t.Errorf("%d debug records passed during the 2 s, want 1", n)
		}
	}

	deadline := time.Now().Add(12 * time.Second) // 2 s, and a loaded machine
	for lv.Level() != slog.LevelInfo {
		if time.Now().After(deadline) {
			t.Fatalf("level still %v 12 s after a PUT for 2 s", lv.Level())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if since := time.Since(before); since < 2*time.Second {
		t.Errorf("reverted after %v, before the 2 s asked for", since)
	}
	n := len(out.all())
	app.Debug("after")
	if got := len(out.all()); got != n {
		t.Errorf("a debug record passed after the revert")
	}

	// Two WARN records: the change and the revert, with old, new, for and
	// the caller's address.
	var recs []slog.Record
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if recs = log.all(); len(recs) >= 2 || time.Now().After(deadline) {
			break
		}
	}
	if len(recs) != 2 {
		t.Fatalf("logged %d records, want 2 (change, revert)", len(recs))
	}
	for i, want := range []map[string]string{
		{"old": "info", "new": "debug", "for": "2s", "revert_to": "info"},
		{"old": "debug", "new": "info", "for": "2s"},
	} {
		r := recs[i]
		if r.Level != slog.LevelWarn {
			t.Errorf("record %d at %v, want WARN", i, r.Level)
		}
		got := attrs(r)
		for k, v := range want {
			if got[k] != v {
				t.Errorf("record %d %q: %s=%q, want %q", i, r.Message, k, got[k], v)
			}
		}
		if !strings.HasPrefix(got["remote"], "127.0.0.1:") {
			t.Errorf("record %d: remote=%q, want the client's address", i, got["remote"])
		}
	}
}

func TestLevelRefusedWithoutToken(t *testing.T) {
	lv, _, srv, log := newLevelServer(t, LevelOptions{Token: testToken})
	for _, c := range []struct{ name, token string }{{"no token", ""}, {"wrong token", "t0ke"}} {
		t.Run(c.name, func(t *testing.T) {
			code, _ := do(t, "PUT", srv.URL+"?level=debug", c.token, "", "")
			if code != http.StatusUnauthorized {
				t.Errorf("PUT: %d, want 401", code)
			}
			code, body := do(t, "GET", srv.URL, c.token, "", "")
			if code != http.StatusUnauthorized || strings.Contains(body, "info") {
				t.Errorf("GET: %d %q, want 401 without the level", code, body)
			}
		})
	}
	if lv.Level() != slog.LevelInfo {
		t.Errorf("level %v after refused PUTs, want INFO", lv.Level())
	}
	if n := len(log.all()); n != 0 {
		t.Errorf("%d records logged for refused PUTs", n)
	}
}

func TestLevelPublicRead(t *testing.T) {
	_, _, srv, _ := newLevelServer(t, LevelOptions{Token: testToken, PublicRead: true})
	if code, body := do(t, "GET", srv.URL, "", "", ""); code != 200 || body != "info\n" {
		t.Errorf("GET: %d %q, want 200 \"info\\n\"", code, body)
	}
	if code, _ := do(t, "PUT", srv.URL+"?level=debug", "", "", ""); code != http.StatusUnauthorized {
		t.Errorf("PUT without the token: %d, want 401", code)
	}
}

func TestLevelCookie(t *testing.T) {
	lv, _, srv, _ := newLevelServer(t, LevelOptions{Token: testToken, Cookie: "livedash_token"})
	req, _ := http.NewRequest("PUT", srv.URL+"?level=error", nil)
	req.AddCookie(&http.Cookie{Name: "livedash_token", Value: testToken})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || lv.Level() != slog.LevelError {
		t.Errorf("PUT with the cookie: %d, level %v; want 200, ERROR", resp.StatusCode, lv.Level())
	}
}

func TestLevelRequests(t *testing.T) {
	cases := []struct {
		name, url, ctype, body string
		code                   int
		want                   slog.Level
		temporary              bool
	}{
		{name: "query", url: "?level=warn", code: 200, want: slog.LevelWarn},
		{name: "query warning upper case", url: "?level=WARNING", code: 200, want: slog.LevelWarn},
		{name: "plain body", body: " debug\n", code: 200, want: slog.LevelDebug},
		{name: "plain body and query for", url: "?for=1h", body: "error", code: 200, want: slog.LevelError, temporary: true},
		{name: "json", ctype: "application/json", body: `{"level":"error"}`, code: 200, want: slog.LevelError},
		{name: "json for", ctype: "application/json; charset=utf-8", body: `{"level":"debug","for":"1h"}`, code: 200, want: slog.LevelDebug, temporary: true},
		{name: "form", ctype: "application/x-www-form-urlencoded", body: "level=debug&for=90m", code: 200, want: slog.LevelDebug, temporary: true},
		{name: "unknown word", url: "?level=verbose", code: 400, want: slog.LevelInfo},
		{name: "numeric", body: "-4", code: 400, want: slog.LevelInfo},
		{name: "empty body", code: 400, want: slog.LevelInfo},
		{name: "json without level", ctype: "application/json", body: `{"for":"1s"}`, code: 400, want: slog.LevelInfo},
		{name: "bad json", ctype: "application/json", body: `{"level":`, code: 400, want: slog.LevelInfo},
		{name: "bad for", url: "?level=debug&for=soon", code: 400, want: slog.LevelInfo},
		{name: "zero for", url: "?level=debug&for=0s", code: 400, want: slog.LevelInfo},
		{name: "negative for", url: "?level=debug&for=-1s", code: 400, want: slog.LevelInfo},
		{name: "body too large", body: "debug" + strings.Repeat(" ", 2000), code: 400, want: slog.LevelInfo},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lv, l, srv, log := newLevelServer(t, LevelOptions{})
			code, body := do(t, "PUT", srv.URL+c.url, "", c.ctype, c.body)
			if code != c.code {
				t.Errorf("PUT: %d %q, want %d", code, body, c.code)
			}
			if lv.Level() != c.want {
				t.Errorf("level %v, want %v", lv.Level(), c.want)
			}
			_, _, at := l.State()
			if !at.IsZero() != c.temporary {
				t.Errorf("revert pending: %v, want %v", !at.IsZero(), c.temporary)
			}
			if code == 200 {
				if !strings.HasPrefix(body, strings.ToLower(c.want.String())+"\n") {
					t.Errorf("answer %q, want the new level first", body)
				}
				if c.temporary && !strings.Contains(body, "reverts to info at ") {
					t.Errorf("answer %q, want the pending revert", body)
				}
				if n := len(log.all()); n != 1 {
					t.Errorf("%d records logged, want 1", n)
				}
			} else if n := len(log.all()); n != 0 {
				t.Errorf("%d records logged for a refused PUT", n)
			}
			l.Set(slog.LevelInfo, 0, "test") // cancel the revert
		})
	}
}

func TestLevelGet(t *testing.T) {
	lv, _, srv, _ := newLevelServer(t, LevelOptions{})
	lv.Set(slog.LevelWarn)
	for _, c := range []struct{ accept, want string }{
		{"", "warn\n"},
		{"text/plain", "warn\n"},
		{"application/json", `{"level":"warn"}` + "\n"},
		{"text/html, application/json", "warn\n"},
		{"application/json;q=0.9, */*", `{"level":"warn"}` + "\n"},
	} {
		code, body := do(t, "GET", srv.URL, "", "", "", "Accept", c.accept)
		if code != 200 || body != c.want {
			t.Errorf("Accept %q: %d %q, want 200 %q", c.accept, code, body, c.want)
		}
	}
	if code, _ := do(t, "POST", srv.URL, "", "", "debug"); code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d, want 405", code)
	}
	if lv.Level() != slog.LevelWarn {
		t.Errorf("level changed to %v by a GET or a POST", lv.Level())
	}
}

// TestLevelNewPutCancelsRevert: a later PUT cancels the pending revert; a
// run of temporary changes reverts to the level before the first.
func TestLevelNewPutCancelsRevert(t *testing.T) {
	lv, l, srv, _ := newLevelServer(t, LevelOptions{})
	do(t, "PUT", srv.URL+"?level=debug&for=100ms", "", "", "")
	do(t, "PUT", srv.URL+"?level=error", "", "", "")
	time.Sleep(400 * time.Millisecond)
	if lv.Level() != slog.LevelError {
		t.Fatalf("level %v, want ERROR: a permanent PUT must cancel the revert", lv.Level())
	}

	do(t, "PUT", srv.URL+"?level=debug&for=1h", "", "", "")
	do(t, "PUT", srv.URL+"?level=warn&for=100ms", "", "", "")
	if _, to, _ := l.State(); to != slog.LevelError {
		t.Errorf("revert_to %v, want ERROR (the level before the first temporary change)", to)
	}
	deadline := time.Now().Add(10 * time.Second)
	for lv.Level() != slog.LevelError {
		if time.Now().After(deadline) {
			t.Fatalf("level %v 10 s after a PUT for 100 ms, want ERROR", lv.Level())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, _, at := l.State(); !at.IsZero() {
		t.Errorf("a revert is still pending after it ran")
	}
}

func TestLevelConcurrent(t *testing.T) {
	lv, l, srv, _ := newLevelServer(t, LevelOptions{})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 20 {
				word := []string{"debug", "info", "warn", "error"}[(i+j)%4]
				url := srv.URL + "?level=" + word
				if j%3 == 0 {
					url += "&for=1ms"
				}
				if code, body := do(t, "PUT", url, "", "", ""); code != 200 {
					t.Errorf("PUT: %d %s", code, body)
				}
				do(t, "GET", srv.URL, "", "", "")
			}
		})
	}
	wg.Wait()
	l.Set(slog.LevelInfo, 0, "test")
	time.Sleep(20 * time.Millisecond) // any stale revert has run by now, or will find its PUT superseded
	if lv.Level() != slog.LevelInfo {
		t.Errorf("level %v after a final permanent Set, want INFO", lv.Level())
	}
}

func TestNewLevelNil(t *testing.T) {
	if _, err := NewLevel(nil, nil); err == nil {
		t.Error("NewLevel(nil) returned no error")
	}
	var buf bytes.Buffer
	lv := new(slog.LevelVar)
	l, err := NewLevel(lv, nil) // nil options: slog.Default at the time of the change
	if err != nil {
		t.Fatal(err)
	}
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	defer slog.SetDefault(old)
	l.Set(slog.LevelError, 0, "cli")
	if !strings.Contains(buf.String(), "level=WARN") || !strings.Contains(buf.String(), "new=error") || !strings.Contains(buf.String(), "remote=cli") {
		t.Errorf("default logger got %q", buf.String())
	}
}
