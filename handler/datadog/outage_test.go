package datadog

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/realtimeserver/observability/drop"
	"github.com/realtimeserver/observability/internal/testenv"
)

// newRealHandler is newTestHandler with the real retry timings (250 ms
// doubling to 30 s), for tests of what the intake sees over seconds.
func newRealHandler(t *testing.T, in *intake, o Options) (*Handler, *testenv.Buffer) {
	t.Helper()
	errOut := &testenv.Buffer{}
	o.APIKey, o.URL, o.ErrorOutput = testKey, in.url(), errOut
	o.Hostname, o.Service = "test-host", "test-service"
	h, err := newHandler(&o, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		h.Close(ctx)
		checkInvariant(t, h.Stats())
		checkNoKey(t, "ErrorOutput", errOut.String())
	})
	return h, errOut
}

// handleStall bounds one Handle call in the tests that check that Handle
// never waits on the intake. Handle takes no lock that is held across a
// request, a backoff or a full queue, so a slower call is a stall of the
// machine, not of the handler: the Go or OS scheduler, or a collection's
// stop-the-world waiting for a thread the OS has descheduled, which on a
// loaded 2-core machine under -race can pass 100 ms. The waits these tests
// guard against last as long as the intake makes them: a Retry-After of a
// minute, a request hanging until Timeout, an outage until the test ends
// it, so a bound of seconds still catches every one of them.
const handleStall = 2 * time.Second

// timeHandle logs one record through l and returns how long Handle took.
func timeHandle(l *slog.Logger, seq int) time.Duration {
	start := time.Now()
	l.Info("message", "seq", seq, "b", 2, "c", "three")
	return time.Since(start)
}

// produce logs rate records per second for d, checking the invariant of
// Stats as it goes, and returns how many it logged.
func produce(t *testing.T, h *Handler, rate int, d time.Duration) int {
	t.Helper()
	l := slog.New(h)
	const tick = 10 * time.Millisecond
	n := 0
	var slowest time.Duration
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	begin := time.Now()
	for end := begin.Add(d); time.Now().Before(end); <-ticker.C {
		// Catch up with the rate, should a tick come late.
		want := int(time.Since(begin) * time.Duration(rate) / time.Second)
		for ; n < want; n++ {
			el := timeHandle(l, n)
			slowest = max(slowest, el)
			if el > handleStall {
				t.Errorf("Handle took %v: it waited", el)
			}
		}
		checkInvariant(t, h.Stats())
	}
	t.Logf("slowest Handle: %v", slowest)
	return n
}

// checkSpacing fails when two requests, neither accepted, came less than
// 100 ms apart (less a margin for the intake's clock).
func checkSpacing(t *testing.T, reqs []request) {
	t.Helper()
	for i := 1; i < len(reqs); i++ {
		if gap := reqs[i].at.Sub(reqs[i-1].at); gap < 90*time.Millisecond {
			t.Errorf("requests %d and %d came %v apart after a failure, want at least 100ms", i-1, i, gap)
		}
	}
}

// TestCloseDeliversWhenTheIntakeComesBack: the intake answers 503 for 4 s,
// then 429 with Retry-After: 1, then 202. Close is called 2 s into the
// outage with a deadline after the recovery: every record arrives.
func TestCloseDeliversWhenTheIntakeComesBack(t *testing.T) {
	t.Parallel()
	in := newIntake(t)
	start := time.Now()
	var limited atomic.Bool
	in.setAnswer(func(int, []json.RawMessage) answer {
		switch {
		case time.Since(start) < 4*time.Second:
			return answer{status: 503}
		case limited.CompareAndSwap(false, true):
			return answer{status: 429, retryAfter: "1"}
		}
		return answer{status: 202}
	})
	h, errOut := newRealHandler(t, in, Options{})
	l := slog.New(h)
	for i := range 300 {
		l.Info("message", "seq", i)
		if i%100 == 99 {
			time.Sleep(500 * time.Millisecond)
		}
	}
	time.Sleep(time.Until(start.Add(2 * time.Second)))
	if s := h.Stats(); s.Sent != 0 || s.QueueLength != 300 || !s.LastDelivery.IsZero() {
		t.Errorf("Stats 2s into the outage = %+v, want 300 queued, none sent, no delivery", s)
	}
	if out := errOut.String(); strings.Count(out, "log delivery is failing") != 1 || !strings.Contains(out, "status=503") {
		t.Errorf("ErrorOutput 2s into the outage = %q, want one warning naming 503", out)
	}

	ctx, cancel := context.WithDeadline(context.Background(), start.Add(9*time.Second))
	defer cancel()
	if err := h.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if d := time.Since(start); d > 7*time.Second {
		t.Errorf("Close returned %v after the outage began, want soon after the intake recovered (5s)", d)
	}
	s := h.Stats()
	if s.Sent != 300 || s.Dropped.Total() != 0 || s.LastDelivery.Before(start.Add(5*time.Second)) {
		t.Errorf("Stats after Close = %+v, want all 300 sent, none dropped, a delivery after 5s", s)
	}
	_, raws := in.snapshot()
	got := map[int]bool{}
	for _, q := range seqs(t, raws) {
		got[q] = true
	}
	if len(got) != 300 || len(raws) != 300 {
		t.Errorf("intake got %d entries, %d distinct, want 300", len(raws), len(got))
	}
	// Retry-After was honoured: nothing between the 429 and a second later.
	reqs, _ := in.snapshot()
	for i, r := range reqs {
		if r.status == 429 && i+1 < len(reqs) {
			if gap := reqs[i+1].at.Sub(r.at); gap < 900*time.Millisecond {
				t.Errorf("request after the 429 came %v later, want Retry-After's 1s", gap)
			}
		}
	}
	// While Close waited, the failing batch was tried every 500 ms or less.
	for i := 1; i < len(reqs); i++ {
		if reqs[i].at.Before(start.Add(2*time.Second)) || reqs[i-1].status == 429 {
			continue
		}
		if gap := reqs[i].at.Sub(reqs[i-1].at); gap > time.Second { // 500 ms, and room for a loaded machine
			t.Errorf("requests %d and %d, during Close, %v apart; want at most 500ms", i-1, i, gap)
		}
	}
	out := errOut.String()
	if strings.Count(out, "log delivery is failing") != 1 || strings.Count(out, "log delivery recovered") != 1 ||
		!strings.Contains(out, "delivered=") || !strings.Contains(out, "down_for=") {
		t.Errorf("ErrorOutput = %q, want one warning and one recovery line", out)
	}
}

// TestRetryAfterPausesTheSender: an intake answering 429 with
// Retry-After: 999999 to everything, at 2,000 records/s for 10 s, receives
// at most 5 requests, and the queue bound protects the caller.
func TestRetryAfterPausesTheSender(t *testing.T) {
	t.Parallel()
	in := newIntake(t)
	in.setAnswer(func(int, []json.RawMessage) answer { return answer{status: 429, retryAfter: "999999"} })
	h, _ := newRealHandler(t, in, Options{QueueRecords: 5000})
	n := produce(t, h, 2000, 10*time.Second)
	reqs, _ := in.snapshot()
	t.Logf("%d records, %d requests in 10s", n, len(reqs))
	if len(reqs) > 5 {
		t.Errorf("intake got %d requests in 10s, want at most 5", len(reqs))
	}
	s := h.Stats()
	checkInvariant(t, s)
	if s.Enqueued != uint64(n) || s.Sent != 0 || s.Dropped.Get(drop.QueueFull) == 0 || s.QueueLength > 5000 {
		t.Errorf("Stats = %+v after %d records, want queue_full drops and at most 5000 queued", s, n)
	}
}

// TestTooLargeForEverythingIsNoStorm: an intake answering 413 to every
// request, at 2,000 records/s for 10 s, receives at most 200 requests.
func TestTooLargeForEverythingIsNoStorm(t *testing.T) {
	t.Parallel()
	in := newIntake(t)
	in.setAnswer(func(int, []json.RawMessage) answer { return answer{status: 413} })
	h, errOut := newRealHandler(t, in, Options{QueueRecords: 5000})
	n := produce(t, h, 2000, 10*time.Second)
	reqs, _ := in.snapshot()
	t.Logf("%d records, %d requests in 10s", n, len(reqs))
	if len(reqs) > 200 {
		t.Errorf("intake got %d requests in 10s, want at most 200", len(reqs))
	}
	checkSpacing(t, reqs)
	s := h.Stats()
	checkInvariant(t, s)
	if s.Enqueued != uint64(n) || s.Sent != 0 || s.Dropped.Get(drop.QueueFull) == 0 {
		t.Errorf("Stats = %+v after %d records, want queue_full drops", s, n)
	}
	if out := errOut.String(); strings.Count(out, "log delivery is failing") != 1 || !strings.Contains(out, "status=413") {
		t.Errorf("ErrorOutput = %q, want one warning naming 413", out)
	}
}

// TestFlushHonoursRetryAfterUpToItsDeadline: a Retry-After longer than a
// Flush's deadline allows is cut to end shortly before that deadline.
func TestFlushHonoursRetryAfterUpToItsDeadline(t *testing.T) {
	t.Parallel()
	in := newIntake(t)
	in.setAnswer(func(n int, _ []json.RawMessage) answer {
		if n == 0 {
			return answer{status: 429, retryAfter: "3600"}
		}
		return answer{status: 202}
	})
	h, _ := newRealHandler(t, in, Options{})
	logSeq(slog.New(h), 0, 10)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if reqs, _ := in.snapshot(); len(reqs) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no request within 5s")
		}
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := h.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	// Retried at the deadline less flushReserve (500 ms), not at once.
	if d := time.Since(start); d < 2*time.Second || d > 3*time.Second {
		t.Errorf("Flush took %v, want about 2.5s (Retry-After honoured up to the deadline)", d)
	}
	if s := h.Stats(); s.Sent != 10 || s.Retries != 1 {
		t.Errorf("Stats = %+v, want 10 sent after 1 retry", s)
	}
}

// TestFlushRetriesAtOnce: with the sender backing off for seconds after a
// failure, a Flush tries again at once.
func TestFlushRetriesAtOnce(t *testing.T) {
	t.Parallel()
	in := newIntake(t)
	var down atomic.Bool
	down.Store(true)
	in.setAnswer(func(int, []json.RawMessage) answer {
		if down.Load() {
			return answer{status: 503}
		}
		return answer{status: 202}
	})
	o := Options{APIKey: testKey, URL: in.url(), ErrorOutput: &testenv.Buffer{}, FlushInterval: 10 * time.Millisecond}
	h, err := newHandler(&o, func(c *core) { c.dopts.RetryBase = 8 * time.Second }) // a backoff of 4 to 8 s
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(context.Background())
	logSeq(slog.New(h), 0, 10)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if reqs, _ := in.snapshot(); len(reqs) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no request within 5s")
		}
	}
	time.Sleep(200 * time.Millisecond)
	down.Store(false)
	start := time.Now()
	flush(t, h)
	if d := time.Since(start); d > time.Second {
		t.Errorf("Flush took %v, want an attempt at once, not after the 4 to 8 s backoff", d)
	}
	if s := h.Stats(); s.Sent != 10 {
		t.Errorf("Stats = %+v, want 10 sent", s)
	}
}

// TestDiagnosticsAsJSON: with ErrorJSON, the warning and the recovery
// line are JSON objects with slog's keys.
func TestDiagnosticsAsJSON(t *testing.T) {
	t.Parallel()
	in := newIntake(t)
	in.setAnswer(func(n int, _ []json.RawMessage) answer {
		if n < 2 {
			return answer{status: 500}
		}
		return answer{status: 202}
	})
	h, errOut := newTestHandler(t, in, Options{ErrorJSON: true})
	logSeq(slog.New(h), 0, 5)
	flush(t, h)
	lines := strings.Split(strings.TrimSpace(errOut.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("ErrorOutput = %q, want 2 lines", errOut.String())
	}
	var warn, rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &warn); err != nil {
		t.Fatalf("warning %q: %v", lines[0], err)
	}
	if err := json.Unmarshal([]byte(lines[1]), &rec); err != nil {
		t.Fatalf("recovery line %q: %v", lines[1], err)
	}
	if warn["level"] != "WARN" || warn["status"] != float64(500) || warn["queued"] != float64(5) || warn["intake"] != in.srv.Listener.Addr().String() {
		t.Errorf("warning = %v, want level WARN, status 500, queued 5, the intake's host", warn)
	}
	if rec["level"] != "INFO" || rec["delivered"] != float64(5) || rec["dropped"] != float64(0) || rec["down_for"] == nil {
		t.Errorf("recovery = %v, want level INFO, 5 delivered, 0 dropped, down_for", rec)
	}
	if s := h.Stats(); s.LastDelivery.IsZero() || time.Since(s.LastDelivery) > 5*time.Second {
		t.Errorf("LastDelivery = %v, want just now", s.LastDelivery)
	}
}

// TestCloseRetriesPastAHangingIntake: the intake hangs every request that
// arrives in the first 3 s, then answers 202. Close(10 s), called while
// the first batch hangs, delivers all 5,000 records: each request during
// Close is bounded by a third of the time left, the one in flight
// included, so that a retry fits before the deadline.
func TestCloseRetriesPastAHangingIntake(t *testing.T) {
	t.Parallel()
	in := newIntake(t)
	start := time.Now()
	in.setAnswer(func(int, []json.RawMessage) answer {
		if time.Since(start) < 3*time.Second {
			return answer{hang: true}
		}
		return answer{status: 202}
	})
	h, _ := newRealHandler(t, in, Options{})
	logSeq(slog.New(h), 0, 5000)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if reqs, _ := in.snapshot(); len(reqs) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no request within 5s")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
	if s := h.Stats(); s.Sent != 5000 {
		t.Errorf("Stats = %+v, want 5000 sent", s)
	}
	_, raws := in.snapshot()
	got := map[int]bool{}
	for _, q := range seqs(t, raws) {
		got[q] = true
	}
	if len(got) != 5000 {
		t.Errorf("intake got %d distinct records of 5000", len(got))
	}
}

// TestEchoedKeyIsScrubbed: an intake that echoes the request's headers in
// its error body, with the key as it is, in another case, cut to a
// prefix, or base64 or URL encoded, gets no form of the key into
// Stats.LastError, ErrorOutput or Close's error.
func TestEchoedKeyIsScrubbed(t *testing.T) {
	t.Parallel()
	const key = "Ab+cD/eF0123456789ghIJ=="
	forms := []func(string) string{
		func(k string) string { return k },
		strings.ToLower,
		strings.ToUpper,
		func(k string) string { return k[:10] + "…" },
		func(k string) string { return base64.StdEncoding.EncodeToString([]byte(k)) },
		func(k string) string { return base64.StdEncoding.EncodeToString([]byte("api:" + k)) },
		url.QueryEscape,
	}
	statuses := []int{400, 503, 403}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		n := int(echoes.Add(1)) - 1
		k := r.Header.Get("DD-API-KEY")
		w.WriteHeader(statuses[n%len(statuses)])
		fmt.Fprintf(w, `{"error":"bad request","headers":{"DD-API-KEY":%q}}`, forms[n%len(forms)](k))
	}))
	defer srv.Close()
	errOut := &testenv.Buffer{}
	h, err := newHandler(&Options{APIKey: key, URL: srv.URL + "/api/v2/logs", ErrorOutput: errOut, MaxBatchRecords: 1}, fastRetry)
	if err != nil {
		t.Fatal(err)
	}
	l := slog.New(h)
	var lasts []string
	for i := range 3 * len(forms) {
		l.Info("m", "i", i)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		h.Flush(ctx)
		cancel()
		lasts = append(lasts, h.Stats().LastError)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	cerr := h.Close(ctx)
	texts := append(lasts, errOut.String(), fmt.Sprint(cerr))
	for _, text := range texts {
		for _, bad := range []string{key[:8], base64.StdEncoding.EncodeToString([]byte(key))[:8], url.QueryEscape(key)[:8]} {
			if strings.Contains(strings.ToLower(text), strings.ToLower(bad)) {
				t.Errorf("output holds a form of the key (%s): %q", bad, text)
			}
		}
		for pad := range 3 {
			enc := base64.StdEncoding.EncodeToString(append(make([]byte, pad), key...))
			if core := enc[(8*pad+5)/6:][:8]; strings.Contains(text, core) {
				t.Errorf("output holds base64 of the key at offset %d: %q", pad, text)
			}
		}
	}
	if echoes.Load() < int64(len(forms)) {
		t.Errorf("intake answered %d requests, want every form echoed", echoes.Load())
	}
}

var echoes atomic.Int64
