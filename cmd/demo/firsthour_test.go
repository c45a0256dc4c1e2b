package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/realtimeserver/observability/internal/testenv"
)

// The tracker's event label holds the demo's own events; anything a
// client makes up is "other".
func TestSocketEventsAreAllowlisted(t *testing.T) {
	d := startDemo(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(d.base, "http")+"/socket?channel=video:3", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	for i := range 5 {
		msg := fmt.Sprintf(`{"event":"made.up.%d","ref":"%d"}`, i, i)
		if err := ws.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := ws.Read(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := ws.Write(ctx, websocket.MessageText, []byte(`{"event":"comment.create","ref":"c","payload":{"user_id":1,"body":"x"}}`)); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the ack and the broadcast
		if _, _, err := ws.Read(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// A message is counted once its write returns, which may be after the
	// client has read it: poll until every event the demo sent is counted.
	want := []string{"other", "comment.create", "ack", "error", "comment.created"}
	events := map[string]bool{}
	all := func() bool { return !slices.ContainsFunc(want, func(e string) bool { return !events[e] }) }
	for deadline := time.Now().Add(5 * time.Second); !all() && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		_, text := get(t, d.metrics)
		for _, s := range parseExposition(text) {
			if s.name == "websocket_messages_total" {
				events[s.labels["event"]] = true
			}
		}
	}
	for e := range events {
		if strings.HasPrefix(e, "made.up") {
			t.Errorf("a client-made event %q became a label value; events: %v", e, events)
		}
	}
	for _, e := range want {
		if !events[e] {
			t.Errorf("no websocket_messages_total{event=%q}; events: %v", e, events)
		}
	}
}

// Every error event answers with the ref of the message it refuses,
// rate_limited included.
func TestRateLimitedErrorsCarryTheRef(t *testing.T) {
	d := startDemo(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(d.base, "http")+"/socket?channel=video:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	go func() {
		for i := 0; i < 60; i++ {
			if ws.Write(ctx, websocket.MessageText, []byte(fmt.Sprintf(`{"event":"noop","ref":"m%d"}`, i))) != nil {
				return
			}
		}
	}()
	limited := 0
	for {
		_, msg, err := ws.Read(ctx)
		if err != nil {
			break
		}
		var e struct {
			Event, Ref string
			Payload    struct{ Reason string }
		}
		if err := json.Unmarshal(msg, &e); err != nil {
			t.Fatalf("reply %s: %v", msg, err)
		}
		if e.Payload.Reason != "rate_limited" {
			continue
		}
		limited++
		if !regexp.MustCompile(`^m[0-9]+$`).MatchString(e.Ref) {
			t.Errorf("rate_limited error %s has ref %q, want the ref of the refused message", msg, e.Ref)
		}
		if limited == 10 {
			break
		}
	}
	if limited < 10 {
		t.Fatalf("saw %d rate_limited errors, want 10", limited)
	}
}

// GET …/comments returns next_before until the last page; following it
// visits every comment once, newest first.
func TestListingPagesThroughWithNextBefore(t *testing.T) {
	d := startDemo(t, nil)
	url := d.base + "/api/videos/5/comments"
	var ids []int64
	for i := range 7 {
		s, b := postJSON(t, url, fmt.Sprintf(`{"user_id": 1, "body": "c%d"}`, i))
		if s != 201 {
			t.Fatalf("POST = %d %v", s, b)
		}
		ids = append(ids, int64(b["id"].(float64)))
	}
	var got []int64
	var pages []int
	next := url + "?limit=3"
	for next != "" {
		status, body := get(t, next)
		if status != 200 {
			t.Fatalf("GET %s = %d %s", next, status, body)
		}
		var page struct {
			Comments   []Comment
			NextBefore *int64 `json:"next_before"`
		}
		if err := json.Unmarshal([]byte(body), &page); err != nil {
			t.Fatal(err)
		}
		pages = append(pages, len(page.Comments))
		for _, c := range page.Comments {
			got = append(got, c.ID)
		}
		next = ""
		if page.NextBefore != nil {
			if want := page.Comments[len(page.Comments)-1].ID; *page.NextBefore != want {
				t.Errorf("next_before = %d, want the last id of the page, %d", *page.NextBefore, want)
			}
			next = fmt.Sprintf("%s?limit=3&before=%d", url, *page.NextBefore)
		}
		if len(pages) > 5 {
			t.Fatalf("paging does not end: pages %v", pages)
		}
	}
	if fmt.Sprint(pages) != "[3 3 1]" {
		t.Errorf("page sizes = %v, want [3 3 1] (no empty last page)", pages)
	}
	for i, id := range got {
		if want := ids[len(ids)-1-i]; id != want {
			t.Fatalf("ids in page order = %v, want %v reversed", got, ids)
		}
	}
	// A page that holds exactly the rest has no cursor.
	_, body := get(t, fmt.Sprintf("%s?limit=3&before=%d", url, ids[3]))
	if strings.Contains(body, "next_before") {
		t.Errorf("the last page (exactly 3 left) has a cursor: %s", body)
	}
}

// A comment body with invalid UTF-8, raw or as an unpaired surrogate
// escape, is refused with 400 and counted, over HTTP and over a socket.
func TestInvalidUTF8IsRefusedAndCounted(t *testing.T) {
	d := startDemo(t, nil)
	url := d.base + "/api/videos/4/comments"
	for _, body := range []string{
		"{\"user_id\": 1, \"body\": \"caf\xe9\"}",
		`{"user_id": 1, "body": "lone \udc00 low"}`,
		`{"user_id": 1, "body": "lone \ud800 high"}`,
		`{"user_id": 1, "body": "\ud800\u0041 high then not low"}`,
	} {
		status, got := postJSON(t, url, body)
		if status != 400 || got["reason"] != "invalid_utf8" {
			t.Errorf("POST %q = %d %v, want 400 invalid_utf8", body, status, got)
		}
	}
	// Valid text, escaped surrogate pairs and U+FFFD itself are accepted.
	for _, body := range []string{`{"user_id": 1, "body": "caf\u00e9 \ud83d\ude00 \ufffd é"}`, `{"user_id": 1, "body": "a \\udc00 b"}`} {
		if status, got := postJSON(t, url, body); status != 201 {
			t.Errorf("POST %q = %d %v, want 201", body, status, got)
		}
	}
	if s, b := postJSON(t, url, `{"user_id": 1, "body": "nul \u0000 inside"}`); s != 400 || b["reason"] != "invalid_field" {
		t.Errorf("POST with a NUL = %d %v, want 400 invalid_field", s, b)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(d.base, "http")+"/socket?channel=video:4", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if err := ws.Write(ctx, websocket.MessageText, []byte("{\"event\":\"comment.create\",\"ref\":\"u\",\"payload\":{\"user_id\":1,\"body\":\"\xff\"}}")); err != nil {
		t.Fatal(err)
	}
	_, reply, err := ws.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(reply), `"reason":"invalid_utf8"`) || !strings.Contains(string(reply), `"ref":"u"`) {
		t.Errorf("socket reply = %s, want an invalid_utf8 error with ref u", reply)
	}

	_, page := get(t, url)
	if strings.ContainsRune(page, utf8.RuneError) && strings.Count(page, "\ufffd") != 1 {
		t.Errorf("a replacement character was stored beyond the one sent on purpose: %s", page)
	}
	_, text := get(t, d.metrics)
	for _, want := range []string{
		`requests_rejected_total{reason="invalid_utf8",transport="http"} 4`,
		`requests_rejected_total{reason="invalid_utf8",transport="ws"} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s:\n%s", want, grepLines(text, "requests_rejected_total"))
		}
	}
}

func FuzzValidText(f *testing.F) {
	for _, s := range []string{`"a"`, `"\ud83d\ude00"`, `"\ud800"`, `"\udc00"`, `"\\udc00"`, "\"\xff\"", `"\ud800\\u"`, `"\ufffd"`, `"\uD800\uDC00"`, "\"\uFFFD\""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var body string
		if json.Unmarshal([]byte(s), &body) != nil {
			validText([]byte(s)) // must not panic
			return
		}
		// encoding/json yields U+FFFD where the text is invalid, and where
		// the client sent one on purpose: validText must tell them apart.
		lossless := strings.Count(body, "\ufffd") == sentReplacements(s)
		if got := validText([]byte(s)); got != lossless {
			t.Fatalf("validText(%q) = %v, but decoding gives %q", s, got, body)
		}
	})
}

// sentReplacements counts the U+FFFD a JSON string spells out: the valid
// character itself, or the escape \ufffd.
func sentReplacements(s string) int {
	n := 0
	for i := 0; i < len(s); {
		if s[i] == '\\' && i+1 < len(s) {
			if s[i+1] == 'u' && i+6 <= len(s) && strings.EqualFold(s[i+2:i+6], "fffd") {
				n++
				i += 6
				continue
			}
			i += 2
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 3 {
			n++
		}
		i += size
	}
	return n
}

// A socket that stops half-way through a frame, or goes silent without
// answering pings, is closed after the idle timeout; one that answers
// pings stays open.
func TestIdleSocketsArePingedThenClosed(t *testing.T) {
	const idle = 300 * time.Millisecond
	d := startDemo(t, nil, "-socket-idle-timeout", idle.String())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	wsURL := "ws" + strings.TrimPrefix(d.base, "http") + "/socket?channel=video:6"

	// Half a frame: a raw client announces 100 bytes and sends 10.
	conn := rawUpgrade(t, d.base, "/socket?channel=video:6")
	header := []byte{0x81, 0x80 | 100, 1, 2, 3, 4} // text, FIN, masked, 100 bytes
	if _, err := conn.Write(append(header, make([]byte, 10)...)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, err := io.Copy(io.Discard, conn) // the ping, then EOF when the server closes
	if err != nil {
		t.Fatalf("half-frame socket: %v, want the server to close it", err)
	}
	if took := time.Since(start); took > 10*idle {
		t.Errorf("half-frame socket closed after %v, want about %v", took, 2*idle)
	}

	// Silent: a client that never reads cannot answer the ping.
	silent, _, err := websocket.Dial(ctx, wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.CloseNow()
	// Answering: a client that reads answers every ping.
	alive, _, err := websocket.Dial(ctx, wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer alive.CloseNow()
	aliveErr := make(chan error, 1)
	go func() {
		_, _, err := alive.Read(ctx)
		aliveErr <- err
	}()

	deadline := time.Now().Add(15 * time.Second)
	for {
		_, text := get(t, d.metrics)
		if strings.Contains(text, `sockets_idle_closed_total{region="local"} 2`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the two unanswering sockets were not closed as idle:\n%s\n%s",
				grepLines(text, "sockets_idle"), grepLines(text, "websocket_connections"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(5 * idle) // long enough for several more pings
	select {
	case err := <-aliveErr:
		t.Fatalf("a socket that answers pings was closed: %v", err)
	default:
	}
	if _, text := get(t, d.metrics); !strings.Contains(text, `websocket_connections{channel="video"} 1`) {
		t.Errorf("want one open socket left:\n%s", grepLines(text, "websocket_connections"))
	}
	if status, _ := get(t, d.base+"/healthz"); status != 200 {
		t.Errorf("healthz = %d", status)
	}
}

// rawUpgrade opens a WebSocket by hand, so that the test can send what no
// well-behaved client would.
func rawUpgrade(t *testing.T, base, path string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	var nonce [16]byte
	rand.Read(nonce[:])
	key := base64.StdEncoding.EncodeToString(nonce[:])
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", path, key)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Accept") != base64.StdEncoding.EncodeToString(h[:]) {
		t.Fatalf("upgrade answered %s %v", resp.Status, resp.Header)
	}
	if br.Buffered() > 0 {
		t.Fatalf("unexpected bytes after the upgrade")
	}
	return conn
}

// A DATABASE_URL password holding '@' appears in no output of the demo,
// whole or in part, when the database cannot be reached.
func TestDatabasePasswordWithAtNeverShown(t *testing.T) {
	bin, err := buildDemo()
	if err != nil {
		t.Fatal(err)
	}
	const password = "Wq7kLmz@Rt5vXpq@Hy3nBc"
	port := testenv.FreePort(t) // nothing listens there
	for _, env := range []string{"LOG_FORMAT=json", "LOG_FORMAT=console"} {
		t.Run(env, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin)
			cmd.Env = append(cmd.Environ(),
				"DATABASE_URL=postgres://app:"+password+"@127.0.0.1:"+strconv.Itoa(port)+"/realtime?sslmode=disable&connect_timeout=5",
				"PORT=0", "PROMETHEUS_PORT=0", "LOG_LEVEL=debug", env)
			var out testenv.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			if err == nil {
				t.Fatalf("the demo started without its database:\n%s", out.String())
			}
			text := out.String()
			if !strings.Contains(text, "connect") {
				t.Errorf("the output does not say the database could not be reached:\n%s", text)
			}
			for _, frag := range fragments(password, 4) {
				if strings.Contains(text, frag) {
					t.Errorf("output holds %q, part of the password:\n%s", frag, text)
				}
			}
		})
	}
}

// fragments returns every substring of s of n bytes or more that contains
// no '@'.
func fragments(s string, n int) []string {
	var out []string
	for _, part := range strings.Split(s, "@") {
		for i := 0; i+n <= len(part); i++ {
			out = append(out, part[i:i+n])
		}
	}
	return out
}

// The banner prints the metrics address actually bound, as PROMETHEUS_HOST
// asked, and says when that is every interface.
func TestBannerPrintsTheMetricsAddressBound(t *testing.T) {
	port := strconv.Itoa(testenv.FreePort(t))
	d := startDemo(t, map[string]string{"PROMETHEUS_HOST": "127.0.0.1", "PROMETHEUS_PORT": port})
	if want := "http://127.0.0.1:" + port + "/metrics"; d.metrics != want {
		t.Errorf("banner's metrics URL = %q, want %q\n%s", d.metrics, want, d.stdout)
	}
	if strings.Contains(d.stdout.String(), "every interface") {
		t.Errorf("banner says every interface for 127.0.0.1:\n%s", d.stdout)
	}
	if status, _ := get(t, d.metrics); status != 200 {
		t.Errorf("GET %s = %d", d.metrics, status)
	}

	all := startDemo(t, nil)
	if !strings.Contains(all.stdout.String(), "/metrics (every interface") || strings.Contains(all.metrics, "localhost") {
		t.Errorf("banner for the default host does not say every interface:\n%s", all.stdout)
	}
}
