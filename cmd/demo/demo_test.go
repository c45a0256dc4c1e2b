package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/realtimeserver/observability/internal/testenv"

	"github.com/coder/websocket"
)

// waitFor polls s until re matches, and returns the first submatch.
func waitFor(t *testing.T, what string, s fmt.Stringer, re *regexp.Regexp) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(s.String()); m != nil {
			return m[len(m)-1]
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s; output so far:\n%s", what, s)
	return ""
}

var (
	apiRE     = regexp.MustCompile(`API +(http://\S+)/api/videos/1/comments`)
	metricsRE = regexp.MustCompile(`Metrics +(http://\S+/metrics)`)
)

// demo is one running instance, in-process.
type demo struct {
	base, metrics  string
	stdout, stderr *testenv.Buffer
	stop           func() error
}

func startDemo(t *testing.T, env map[string]string, args ...string) *demo {
	t.Helper()
	base := map[string]string{
		"PORT":            "0",
		"PROMETHEUS_PORT": strconv.Itoa(testenv.FreePort(t)),
		"DATABASE_URL":    "sqlite://" + filepath.Join(t.TempDir(), "demo.db"),
		"LOG_FORMAT":      "json",
		"LOG_LEVEL":       "debug",
	}
	for k, v := range env {
		base[k] = v
	}
	lookup := func(k string) (string, bool) { v, ok := base[k]; return v, ok }
	d := &demo{stdout: &testenv.Buffer{}, stderr: &testenv.Buffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, lookup, d.stdout, d.stderr) }()
	var once sync.Once
	var runErr error
	d.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(30 * time.Second):
				runErr = fmt.Errorf("demo did not stop within 30s")
			}
		})
		return runErr
	}
	t.Cleanup(func() {
		if err := d.stop(); err != nil {
			t.Errorf("demo run returned %v\nstderr:\n%s", err, d.stderr)
		}
	})
	d.base = waitFor(t, "the API URL", d.stdout, apiRE)
	if base["PROMETHEUS_PORT"] != "0" && !slices.Contains(args, "-telemetry=false") {
		d.metrics = waitFor(t, "the metrics URL", d.stdout, metricsRE)
	}
	return d
}

func postJSON(t *testing.T, url, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestCommentsOverHTTPAndWebSocket(t *testing.T) {
	d := startDemo(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(d.base, "http")+"/socket?channel=video:7", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	// The subscription is in place once the join is logged.
	waitFor(t, "the socket join", d.stderr, regexp.MustCompile(`"msg":"socket joined"`))

	status, body := postJSON(t, d.base+"/api/videos/7/comments", `{"user_id": 3, "body": "first!"}`)
	if status != http.StatusCreated {
		t.Fatalf("POST status = %d (%v), want 201", status, body)
	}
	if body["body"] != "first!" || body["user_id"] != float64(3) || body["video_id"] != float64(7) {
		t.Errorf("POST body = %v", body)
	}

	_, msg, err := ws.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ev struct {
		Event   string  `json:"event"`
		Payload Comment `json:"payload"`
	}
	if err := json.Unmarshal(msg, &ev); err != nil || ev.Event != "comment.created" || ev.Payload.Body != "first!" {
		t.Errorf("broadcast = %s (err %v), want comment.created with body first!", msg, err)
	}

	// A comment over the socket is acknowledged with its stored id.
	if err := ws.Write(ctx, websocket.MessageText, []byte(`{"event":"comment.create","ref":"r1","payload":{"user_id":4,"body":"live"}}`)); err != nil {
		t.Fatal(err)
	}
	var sawAck, sawBroadcast bool
	for !(sawAck && sawBroadcast) {
		_, msg, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("reading ack: %v", err)
		}
		var e struct {
			Event, Ref string
			Payload    Comment
		}
		_ = json.Unmarshal(msg, &e)
		switch {
		case e.Event == "ack" && e.Ref == "r1" && e.Payload.ID > 0:
			sawAck = true
		case e.Event == "comment.created" && e.Payload.Body == "live":
			sawBroadcast = true
		default:
			t.Fatalf("unexpected message %s", msg)
		}
	}

	// Bad socket input gets error events, and the socket stays open.
	for _, tc := range []struct {
		typ    websocket.MessageType
		msg    string
		reason string
	}{
		{websocket.MessageBinary, "\x00\x01", "binary_frame"},
		{websocket.MessageText, "{not json", "malformed_json"},
		{websocket.MessageText, `{"event":"comment.delete","ref":"x"}`, "unknown_event"},
		{websocket.MessageText, `{"event":"comment.create","ref":"y","payload":{"user_id":1}}`, "missing_field"},
	} {
		if err := ws.Write(ctx, tc.typ, []byte(tc.msg)); err != nil {
			t.Fatal(err)
		}
		_, reply, err := ws.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(reply), `"event":"error"`) || !strings.Contains(string(reply), tc.reason) {
			t.Errorf("reply to %q = %s, want an error event with reason %s", tc.msg, reply, tc.reason)
		}
	}

	// Listing: newest first, with paging.
	for i := range 5 {
		if s, b := postJSON(t, d.base+"/api/videos/7/comments", fmt.Sprintf(`{"user_id": 1, "body": "c%d"}`, i)); s != 201 {
			t.Fatalf("POST %d = %d %v", i, s, b)
		}
	}
	status, page := get(t, d.base+"/api/videos/7/comments?limit=3")
	var list struct{ Comments []Comment }
	if err := json.Unmarshal([]byte(page), &list); err != nil || status != 200 {
		t.Fatalf("GET = %d %s", status, page)
	}
	if len(list.Comments) != 3 || list.Comments[0].Body != "c4" || list.Comments[2].Body != "c2" {
		t.Fatalf("first page = %+v, want c4, c3, c2", list.Comments)
	}
	_, page = get(t, fmt.Sprintf("%s/api/videos/7/comments?limit=3&before=%d", d.base, list.Comments[2].ID))
	list.Comments = nil
	_ = json.Unmarshal([]byte(page), &list)
	if len(list.Comments) != 3 || list.Comments[0].Body != "c1" || list.Comments[2].Body != "live" {
		t.Fatalf("second page = %+v, want c1, c0, live", list.Comments)
	}
}

func TestBadHTTPInput(t *testing.T) {
	d := startDemo(t, nil)
	url := d.base + "/api/videos/1/comments"
	tests := []struct {
		name   string
		url    string
		body   string
		status int
		reason string
	}{
		{"malformed JSON", url, `{"user_id": 1,`, 400, "malformed_json"},
		{"not an object", url, `[1,2]`, 400, "malformed_json"},
		{"trailing data", url, `{"user_id": 1, "body": "x"} {}`, 400, "malformed_json"},
		{"missing user_id", url, `{"body": "x"}`, 400, "missing_field"},
		{"negative user_id", url, `{"user_id": -2, "body": "x"}`, 400, "invalid_field"},
		{"blank body", url, `{"user_id": 1, "body": "   "}`, 400, "missing_field"},
		{"oversized body field", url, `{"user_id": 1, "body": "` + strings.Repeat("é", maxCommentRunes+1) + `"}`, 400, "oversized_field"},
		{"request over 64 KiB", url, `{"user_id": 1, "body": "` + strings.Repeat("a", 70<<10) + `"}`, 413, "body_too_large"},
		{"video id not a number", d.base + "/api/videos/abc/comments", `{"user_id": 1, "body": "x"}`, 400, "invalid_video_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := postJSON(t, tt.url, tt.body)
			if status != tt.status || body["reason"] != tt.reason || body["request_id"] == "" {
				t.Errorf("POST %s = %d %v, want %d with reason %s and a request_id", tt.name, status, body, tt.status, tt.reason)
			}
		})
	}
	for _, q := range []string{"limit=0", "limit=201", "limit=x", "before=-1"} {
		if status, body := get(t, url+"?"+q); status != 400 {
			t.Errorf("GET ?%s = %d %s, want 400", q, status, body)
		}
	}
	if status, body := get(t, d.base+"/socket?channel=room:1"); status != 400 || !strings.Contains(body, "unknown_channel") {
		t.Errorf("socket with an unknown channel = %d %s, want 400 unknown_channel", status, body)
	}
	// Nothing was stored by any of that, and the server still works.
	if status, body := get(t, url); status != 200 || !strings.Contains(body, `"comments":[]`) {
		t.Errorf("GET after bad input = %d %s, want 200 and no comments", status, body)
	}
	_, metrics := get(t, d.metrics)
	if !regexp.MustCompile(`requests_rejected_total\{[^}]*reason="malformed_json"[^}]*\} 3`).MatchString(metrics) {
		t.Errorf("metrics do not count 3 malformed_json rejections:\n%s", grepLines(metrics, "requests_rejected_total"))
	}
}

func TestSocketFloodIsRefusedThenClosed(t *testing.T) {
	d := startDemo(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(d.base, "http")+"/socket?channel=video:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	go func() {
		for i := 0; i < 200; i++ {
			if ws.Write(ctx, websocket.MessageText, []byte(`{"event":"noop"}`)) != nil {
				return
			}
		}
	}()
	var rateLimited int
	for {
		_, msg, err := ws.Read(ctx)
		if err != nil {
			if websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
				t.Fatalf("socket ended with %v, want a policy-violation close", err)
			}
			break
		}
		if strings.Contains(string(msg), "rate_limited") {
			rateLimited++
		}
	}
	if rateLimited < maxFloodRefusals-1 {
		t.Errorf("saw %d rate_limited errors before the close, want about %d", rateLimited, maxFloodRefusals)
	}
	if status, _ := get(t, d.base+"/healthz"); status != 200 {
		t.Errorf("healthz after a flood = %d", status)
	}
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// buildDir holds the demo binary built by buildDemo; TestMain removes it.
var buildDir string

// buildDemo builds the demo binary once per test run.
var buildDemo = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "demo-bin")
	if err != nil {
		return "", err
	}
	buildDir = dir
	bin := filepath.Join(dir, "demo")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

func TestShutdownSaysGoingAwayAndKeepsComments(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "demo.db")
	d := startDemo(t, map[string]string{"DATABASE_URL": "sqlite://" + dbPath})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(d.base, "http")+"/socket?channel=video:9", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	waitFor(t, "the socket join", d.stderr, regexp.MustCompile(`"msg":"socket joined"`))
	for i := range 10 {
		if s, b := postJSON(t, d.base+"/api/videos/9/comments", fmt.Sprintf(`{"user_id": 1, "body": "c%d"}`, i)); s != 201 {
			t.Fatalf("POST = %d %v", s, b)
		}
	}
	// A client reads all the time, so it answers the close handshake.
	type result struct {
		got int
		err error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		for {
			if _, _, r.err = ws.Read(ctx); r.err != nil {
				done <- r
				return
			}
			r.got++
		}
	}()
	start := time.Now()
	if err := d.stop(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("shutdown with a reading client took %v", took)
	}
	// The socket got the ten broadcasts, then a going-away close.
	r := <-done
	if s := websocket.CloseStatus(r.err); s != websocket.StatusGoingAway {
		t.Fatalf("socket ended with %v (status %v), want going away", r.err, s)
	}
	got := r.got
	if got != 10 {
		t.Errorf("socket received %d broadcasts before closing, want 10", got)
	}
	// Every committed comment is still there for the next start.
	d2 := startDemo(t, map[string]string{"DATABASE_URL": "sqlite://" + dbPath})
	_, page := get(t, d2.base+"/api/videos/9/comments")
	var list struct{ Comments []Comment }
	if err := json.Unmarshal([]byte(page), &list); err != nil || len(list.Comments) != 10 {
		t.Errorf("after a restart GET = %s, want the 10 comments", page)
	}
}

func TestSocketEdgeCases(t *testing.T) {
	d := startDemo(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	wsBase := "ws" + strings.TrimPrefix(d.base, "http")

	// "video:01" is video 1: it receives what is posted to video 1.
	ws, _, err := websocket.Dial(ctx, wsBase+"/socket?channel=video:01", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	waitFor(t, "the socket join", d.stderr, regexp.MustCompile(`"msg":"socket joined"`))
	if s, b := postJSON(t, d.base+"/api/videos/1/comments", `{"user_id": 1, "body": "to video 1"}`); s != 201 {
		t.Fatalf("POST = %d %v", s, b)
	}
	if _, msg, err := ws.Read(ctx); err != nil || !strings.Contains(string(msg), "to video 1") {
		t.Fatalf("socket on video:01 got %s, %v; want the comment posted to video 1", msg, err)
	}

	// A message over the read limit closes the socket and is counted.
	if err := ws.Write(ctx, websocket.MessageText, []byte(strings.Repeat("x", maxMessageBytes+1))); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ws.Read(ctx); websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
		t.Errorf("oversized message ended the socket with %v, want status 1009", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, text := get(t, d.metrics)
		if strings.Contains(text, `requests_rejected_total{reason="message_too_large",transport="ws"} 1`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("message_too_large not counted:\n%s", grepLines(text, "requests_rejected_total"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestOptionsAndURLs(t *testing.T) {
	for _, args := range [][]string{{"-simulate-every", "0"}, {"-simulate-every", "-1s"}, {"-shutdown-timeout", "0"}, {"-simulate", "-2"}} {
		if _, err := parseOptions(args, func(string) (string, bool) { return "", false }, io.Discard); err == nil {
			t.Errorf("parseOptions(%q) accepted it", args)
		}
	}
	tests := []struct{ in, want string }{
		{"postgres://app:s3cret@db:5432/x", "postgres://app:xxxxx@db:5432/x"},
		{"postgres://db/x?user=app&password=s3cret", "postgres://db/x?password=xxxxx&user=app"},
		{"sqlite://realtime-demo.db", "sqlite://realtime-demo.db"},
	}
	for _, tt := range tests {
		if got := redactURL(tt.in); got != tt.want {
			t.Errorf("redactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	// Passwords that net/url cuts where it misreads them: no part of 4
	// characters or more is shown.
	for _, pw := range []string{"Lima@127.0.0.1:5/Mike9", "p@ss/word?x#y", "a b@c:d/e"} {
		got := redactURL("postgres://app:" + pw + "@db:5432/x")
		for i := 0; i+4 <= len(pw); i++ {
			if part := pw[i : i+4]; strings.Contains(got, part) {
				t.Errorf("redactURL with the password %q = %q: shows %q", pw, got, part)
				break
			}
		}
	}
	_, _, err := database("pgx://app:s3cret@db/x")
	if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Errorf("database() error = %v, want one naming DATABASE_URL without the password", err)
	}
}
