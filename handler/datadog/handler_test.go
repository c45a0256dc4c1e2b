package datadog

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/slogtest"
	"time"

	"go.uber.org/goleak"

	"github.com/realtimeserver/observability/drop"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestNewRejectsInvalidOptions(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want []string // substrings of the error
	}{
		{"no API key", Options{}, []string{"DATADOG_API_KEY", "APIKey"}},
		{"blank API key", Options{APIKey: "  "}, []string{"DATADOG_API_KEY"}},
		{"unknown site", Options{APIKey: testKey, Site: "datadoghq.org"}, []string{"Site", `"datadoghq.org"`, "datadoghq.eu", "ddog-gov.com", "us5.datadoghq.com"}},
		{"relative URL", Options{APIKey: testKey, URL: "/api/v2/logs"}, []string{"URL", "http"}},
		{"URL holding the key", Options{APIKey: testKey, URL: "ftp://x/?dd-api-key=" + testKey}, []string{"URL", "[REDACTED]"}},
		{"too many batch records", Options{APIKey: testKey, MaxBatchRecords: 1001}, []string{"MaxBatchRecords", "1001", "1 to 1000"}},
		{"negative batch bytes", Options{APIKey: testKey, MaxBatchBytes: -1}, []string{"MaxBatchBytes", "-1"}},
		{"record larger than batch", Options{APIKey: testKey, MaxBatchBytes: 4096, MaxRecordBytes: 8192}, []string{"MaxRecordBytes", "8192"}},
		{"queue smaller than a record", Options{APIKey: testKey, QueueBytes: 1000, MaxRecordBytes: 2000}, []string{"QueueBytes", "1000"}},
		{"negative interval", Options{APIKey: testKey, FlushInterval: -time.Second}, []string{"FlushInterval", "-1s"}},
		{"tag with comma", Options{APIKey: testKey, Tags: []string{"a:b,c"}}, []string{"Tags", "a:b,c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := New(&tt.opts)
			if err == nil {
				h.Close(context.Background())
				t.Fatalf("New = nil error, want one")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			checkNoKey(t, "error", err.Error())
		})
	}
}

func TestNewAcceptsEverySite(t *testing.T) {
	for _, site := range ValidSites() {
		t.Run(site, func(t *testing.T) {
			cfg, err := newConfig(&Options{APIKey: testKey, Site: site})
			if err != nil {
				t.Fatal(err)
			}
			if want := "https://http-intake.logs." + site + "/api/v2/logs"; cfg.url != want {
				t.Errorf("url = %q, want %q", cfg.url, want)
			}
		})
	}
}

func TestNewDoesNotWriteOptions(t *testing.T) {
	in := newIntake(t)
	o := Options{Tags: []string{"team:web"}, Env: "prod"}
	before := o
	before.Tags = append([]string(nil), o.Tags...)
	h, _ := newTestHandler(t, in, o)
	_ = h
	if !reflect.DeepEqual(o, before) {
		t.Errorf("Options changed: got %+v, want %+v", o, before)
	}
}

func TestEntryShape(t *testing.T) {
	in := newIntake(t)
	h, _ := newTestHandler(t, in, Options{Env: "prod", Version: "1.2.3", Tags: []string{"team:web"}, Level: slog.LevelDebug})
	l := slog.New(h)
	ts := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)
	r := slog.NewRecord(ts, slog.LevelWarn, "disk \"almost\" full\n", 0)
	r.AddAttrs(
		slog.Int("free_mb", 12),
		slog.Group("req", slog.String("route", "/v/{id}"), slog.Group("empty")),
		slog.Any("err", errors.New("boom")),
		slog.Uint64("dd.trace_id", 1234567890123456789),
		slog.String("span_id", "42"),
		slog.Duration("took", 1500*time.Millisecond),
		slog.Float64("ratio", 0.5),
		slog.Bool("ok", false),
	)
	if err := l.Handler().Handle(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	l.With("user", "ann").WithGroup("g").Debug("in a group", "trace_id", "not-root", "n", 1)
	l.Log(context.Background(), slog.LevelWarn-1, "between levels")
	flush(t, h)

	_, raws := in.snapshot()
	if len(raws) != 3 {
		t.Fatalf("got %d entries, want 3", len(raws))
	}
	want := []string{
		`{"status":"warn","timestamp":1767323045123,"message":"disk \"almost\" full\n","service":"test-service","hostname":"test-host","ddsource":"go","ddtags":"env:prod,version:1.2.3,team:web","free_mb":12,"req":{"route":"/v/{id}"},"took":1500000000,"ratio":0.5,"ok":false,"error":{"kind":"*errors.errorString","message":"boom"},"dd":{"trace_id":"1234567890123456789","span_id":"42"}}`,
	}
	if got := string(raws[0]); got != want[0] {
		t.Errorf("entry:\n got %s\nwant %s", got, want[0])
	}
	m := in.decoded()
	g, ok := m[1]["g"].(map[string]any)
	if !ok || g["trace_id"] != "not-root" || m[1]["user"] != "ann" || m[1]["status"] != "debug" || m[1]["dd"] != nil {
		t.Errorf("grouped entry = %v, want user at the root, trace_id inside g, status debug, no dd", m[1])
	}
	if got := m[2]["status"]; got != "info" {
		t.Errorf("status of LevelWarn-1 = %v, want info", got)
	}
}

func TestEnabledReadsLevelEachCall(t *testing.T) {
	in := newIntake(t)
	var lv slog.LevelVar
	h, _ := newTestHandler(t, in, Options{Level: &lv})
	ctx := context.Background()
	tests := []struct {
		set, ask slog.Level
		want     bool
	}{
		{slog.LevelInfo, slog.LevelDebug, false},
		{slog.LevelInfo, slog.LevelInfo, true},
		{slog.LevelDebug, slog.LevelDebug, true},
		{slog.LevelError, slog.LevelWarn, false},
	}
	for _, tt := range tests {
		lv.Set(tt.set)
		if got := h.Enabled(ctx, tt.ask); got != tt.want {
			t.Errorf("level %v: Enabled(%v) = %v, want %v", tt.set, tt.ask, got, tt.want)
		}
	}
}

func TestSlogtest(t *testing.T) {
	var (
		mu       sync.Mutex
		handlers = map[*testing.T]*Handler{}
		intakes  = map[*testing.T]*intake{}
	)
	slogtest.Run(t, func(t *testing.T) slog.Handler {
		in := newIntake(t)
		h, _ := newTestHandler(t, in, Options{})
		mu.Lock()
		handlers[t], intakes[t] = h, in
		mu.Unlock()
		return h
	}, func(t *testing.T) map[string]any {
		mu.Lock()
		h, in := handlers[t], intakes[t]
		mu.Unlock()
		flush(t, h)
		entries := in.decoded()
		if len(entries) != 1 {
			t.Fatalf("intake got %d entries, want 1", len(entries))
		}
		m := entries[0]
		// Datadog's names for the built-in fields, back to slog's.
		for dd, key := range map[string]string{"message": slog.MessageKey, "status": slog.LevelKey, "timestamp": slog.TimeKey} {
			if v, ok := m[dd]; ok {
				m[key] = v
				delete(m, dd)
			}
		}
		return numbersToInt(m)
	})
}

// numbersToInt turns json.Numbers that are integers into int64 (slogtest
// compares attribute values with the ones logged).
func numbersToInt(m map[string]any) map[string]any {
	for k, v := range m {
		switch v := v.(type) {
		case json.Number:
			if i, err := v.Int64(); err == nil {
				m[k] = i
			} else if f, err := v.Float64(); err == nil {
				m[k] = f
			}
		case map[string]any:
			numbersToInt(v)
		}
	}
	return m
}

func TestDeliversEveryRecordOnce(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		records int
	}{
		{"defaults", Options{}, 100_000},
		{"small batches", Options{MaxBatchRecords: 97, MaxBatchBytes: 9_000, MaxRecordBytes: 1024}, 20_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := newIntake(t)
			tt.opts.QueueRecords = tt.records // nothing may be dropped
			tt.opts.QueueBytes = tt.records * 400
			h, _ := newTestHandler(t, in, tt.opts)
			l := slog.New(h)
			const writers = 4
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() { logSeq(l, w*tt.records/writers, tt.records/writers) })
			}
			wg.Wait()
			flush(t, h)

			reqs, raws := in.snapshot()
			seen := make([]int, tt.records)
			for _, s := range seqs(t, raws) {
				seen[s]++
			}
			for s, n := range seen {
				if n != 1 {
					t.Fatalf("record seq=%d arrived %d times, want once", s, n)
				}
			}
			maxRecs, maxBytes := tt.opts.MaxBatchRecords, tt.opts.MaxBatchBytes
			if maxRecs == 0 {
				maxRecs, maxBytes = MaxIntakeBatchRecords, MaxIntakeBatchBytes
			}
			for i, r := range reqs {
				if r.entries > maxRecs || r.bytes > maxBytes {
					t.Errorf("request %d: %d entries, %d bytes; want at most %d and %d", i, r.entries, r.bytes, maxRecs, maxBytes)
				}
			}
			if min := tt.records / maxRecs; len(reqs) < min {
				t.Errorf("got %d requests, want at least %d", len(reqs), min)
			}
			s := h.Stats()
			if s.Sent != uint64(tt.records) || s.Enqueued != uint64(tt.records) || s.QueueLength != 0 || s.QueueBytes != 0 {
				t.Errorf("Stats = %+v, want Sent = Enqueued = %d and an empty queue", s, tt.records)
			}
		})
	}
}

func TestByteLimitPerRequest(t *testing.T) {
	in := newIntake(t)
	h, _ := newTestHandler(t, in, Options{MaxBatchBytes: 4096, MaxRecordBytes: 2048})
	l := slog.New(h)
	pad := strings.Repeat("x", 300)
	for i := range 200 {
		l.Info("message", "seq", i, "pad", pad)
	}
	flush(t, h)
	reqs, raws := in.snapshot()
	if len(raws) != 200 {
		t.Fatalf("got %d entries, want 200", len(raws))
	}
	for i, r := range reqs {
		if r.bytes > 4096 {
			t.Errorf("request %d has %d bytes, want at most 4096", i, r.bytes)
		}
		if r.bytes < 4096-2*400 && i < len(reqs)-1 {
			t.Errorf("request %d has only %d bytes: batches are not filled", i, r.bytes)
		}
	}
}

func TestFlushIntervalSendsPartialBatches(t *testing.T) {
	in := newIntake(t)
	h, _ := newTestHandler(t, in, Options{FlushInterval: 50 * time.Millisecond})
	slog.New(h).Info("alone")
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, raws := in.snapshot(); len(raws) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a lone record was not sent within 5 s with FlushInterval 50ms")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name     string
		first    answer        // the answer to the first two requests
		minDelay time.Duration // between the first and the last request
	}{
		{"500", answer{status: 500}, 0},
		{"502", answer{status: 502}, 0},
		{"503", answer{status: 503}, 0},
		{"408", answer{status: 408}, 0},
		{"429", answer{status: 429}, 0},
		{"network error", answer{drop: true}, 0},
		{"Retry-After seconds", answer{status: 429, retryAfter: "1"}, 2 * time.Second},
		{"Retry-After date", answer{status: 503, retryAfter: "date"}, 1500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := newIntake(t)
			in.setAnswer(func(n int, _ []json.RawMessage) answer {
				if n < 2 {
					a := tt.first
					if a.retryAfter == "date" {
						// HTTP dates have whole seconds: two seconds ahead is at least one.
						a.retryAfter = time.Now().Add(2 * time.Second).UTC().Format(http.TimeFormat)
					}
					return a
				}
				return answer{status: 202}
			})
			h, _ := newTestHandler(t, in, Options{})
			logSeq(slog.New(h), 0, 10)
			flush(t, h)
			reqs, raws := in.snapshot()
			if got := seqs(t, raws); len(got) != 10 {
				t.Errorf("got %d entries, want 10", len(got))
			}
			if len(reqs) != 3 {
				t.Fatalf("got %d requests, want 3", len(reqs))
			}
			if d := reqs[2].at.Sub(reqs[0].at); d < tt.minDelay {
				t.Errorf("retried after %v, want at least %v (Retry-After)", d, tt.minDelay)
			}
			s := h.Stats()
			if s.Retries != 2 || s.Sent != 10 || s.Dropped.Total() != 0 {
				t.Errorf("Stats = %+v, want Retries 2, Sent 10, nothing dropped", s)
			}
			if s.LastError == "" {
				t.Errorf("LastError is empty after failed requests")
			}
		})
	}
}

func TestRetriesGiveUpAfterMaxRetryElapsed(t *testing.T) {
	in := newIntake(t)
	in.setAnswer(func(int, []json.RawMessage) answer { return answer{status: 503} })
	h, _ := newTestHandler(t, in, Options{MaxRetryElapsed: 500 * time.Millisecond})
	logSeq(slog.New(h), 0, 5)
	start := time.Now()
	flush(t, h)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Flush took %v, want about MaxRetryElapsed (500ms)", d)
	}
	s := h.Stats()
	if s.Dropped.Get(drop.RetriesExhausted) != 5 || s.Sent != 0 || s.Retries == 0 {
		t.Errorf("Stats = %+v, want 5 dropped as retries_exhausted after some retries", s)
	}
	if !strings.Contains(s.LastError, "503") {
		t.Errorf("LastError = %q, want it to name the 503", s.LastError)
	}
	// A Retry-After beyond the budget gives up at once.
	in.setAnswer(func(int, []json.RawMessage) answer { return answer{status: 429, retryAfter: "3600"} })
	logSeq(slog.New(h), 5, 1)
	start = time.Now()
	flush(t, h)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Flush took %v with Retry-After 3600 > MaxRetryElapsed, want an early give-up", d)
	}
	if got := h.Stats().Dropped.Get(drop.RetriesExhausted); got != 6 {
		t.Errorf("Dropped.RetriesExhausted = %d, want 6", got)
	}
}

func TestTooLargeSplits(t *testing.T) {
	in := newIntake(t)
	// The intake takes at most 3 entries per request, and never seq 7.
	in.setAnswer(func(_ int, entries []json.RawMessage) answer {
		if len(entries) > 3 {
			return answer{status: 413}
		}
		for _, e := range entries {
			if strings.Contains(string(e), `"seq":7,`) {
				return answer{status: 413}
			}
		}
		return answer{status: 202}
	})
	h, _ := newTestHandler(t, in, Options{})
	logSeq(slog.New(h), 0, 20)
	flush(t, h)
	_, raws := in.snapshot()
	got := map[int]int{}
	for _, s := range seqs(t, raws) {
		got[s]++
	}
	for i := range 20 {
		want := 1
		if i == 7 {
			want = 0
		}
		if got[i] != want {
			t.Errorf("seq %d arrived %d times, want %d", i, got[i], want)
		}
	}
	s := h.Stats()
	if s.Sent != 19 || s.Dropped.Get(drop.TooLarge) != 1 {
		t.Errorf("Stats = %+v, want Sent 19 and one too_large", s)
	}
}

func TestRejected(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		wantWarn bool
	}{
		{"400", 400, false},
		{"404", 404, false},
		{"redirect, never followed", 307, false},
		{"401", 401, true},
		{"403", 403, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := newIntake(t)
			in.setAnswer(func(int, []json.RawMessage) answer { return answer{status: tt.status} })
			h, errOut := newTestHandler(t, in, Options{MaxBatchRecords: 2})
			logSeq(slog.New(h), 0, 6)
			flush(t, h)
			if reqs, _ := in.snapshot(); len(reqs) != 3 {
				t.Errorf("intake got %d requests, want 3 (one per batch, nothing repeated)", len(reqs))
			}
			s := h.Stats()
			if s.Dropped.Get(drop.Rejected) != 6 || s.Retries != 0 {
				t.Errorf("Stats = %+v, want 6 rejected, no retries", s)
			}
			if !strings.Contains(s.LastError, fmt.Sprint(tt.status)) {
				t.Errorf("LastError = %q, want the status %d", s.LastError, tt.status)
			}
			// One warning that delivery is failing, naming the status,
			// and for 401 and 403 one hint about the API key.
			out := errOut.String()
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			if !strings.Contains(lines[0], "log delivery is failing") || !strings.Contains(lines[0], fmt.Sprintf("status=%d", tt.status)) {
				t.Errorf("ErrorOutput = %q, want a warning naming status %d first", out, tt.status)
			}
			if tt.wantWarn {
				if len(lines) != 2 || !strings.Contains(lines[1], "API key") || !strings.Contains(lines[1], "DATADOG_API_KEY") {
					t.Errorf("ErrorOutput = %q, want the warning and one line with a hint about the API key", out)
				}
			} else if len(lines) != 1 {
				t.Errorf("ErrorOutput = %q, want the warning alone", out)
			}
			checkNoKey(t, "ErrorOutput", out)
			checkNoKey(t, "LastError", s.LastError)
		})
	}
}

func TestOutageThenRecovery(t *testing.T) {
	in := newIntake(t)
	var down atomic.Bool
	down.Store(true)
	in.setAnswer(func(int, []json.RawMessage) answer {
		if down.Load() {
			return answer{status: 503}
		}
		return answer{status: 202}
	})
	const queueRecords, queueBytes = 3000, 256 << 10
	h, _ := newTestHandler(t, in, Options{QueueRecords: queueRecords, QueueBytes: queueBytes, MaxBatchRecords: 500, FlushInterval: 10 * time.Millisecond})
	l := slog.New(h)

	var slowest time.Duration
	for i := range 20_000 {
		slowest = max(slowest, timeHandle(l, i))
		if i%500 == 0 {
			s := h.Stats()
			checkInvariant(t, s)
			if s.QueueBytes > queueBytes || s.QueueLength > queueRecords {
				t.Fatalf("queue holds %d records, %d bytes; bounds are %d, %d", s.QueueLength, s.QueueBytes, queueRecords, queueBytes)
			}
		}
	}
	t.Logf("slowest Handle: %v", slowest)
	if slowest > handleStall {
		t.Errorf("slowest Handle during the outage took %v, want it never to wait on the intake", slowest)
	}
	// Let the sender meet the outage a few times.
	for deadline := time.Now().Add(10 * time.Second); h.Stats().Retries < 3 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	during := h.Stats()
	if during.Sent != 0 || during.Dropped.Get(drop.QueueFull) == 0 || during.Retries == 0 {
		t.Errorf("Stats during the outage = %+v, want nothing sent, queue_full drops, retries", during)
	}
	down.Store(false)
	flush(t, h)

	after := h.Stats()
	queued := during.Enqueued - during.Dropped.Get(drop.QueueFull)
	if after.Sent != queued || after.Dropped.Total() != during.Dropped.Get(drop.QueueFull) {
		t.Errorf("Stats after = %+v, want the %d records queued during the outage sent", after, queued)
	}
	_, raws := in.snapshot()
	seen := map[int]bool{}
	for _, s := range seqs(t, raws) {
		if seen[s] {
			t.Fatalf("seq %d arrived twice", s)
		}
		seen[s] = true
	}
	if uint64(len(seen)) != queued {
		t.Errorf("intake got %d distinct records, want %d", len(seen), queued)
	}
	// The first records are the ones queued: drops happen to newer records.
	for i := range int(queued) {
		if !seen[i] {
			t.Fatalf("seq %d (queued before the queue filled) never arrived", i)
		}
	}
}

func TestHangingIntake(t *testing.T) {
	in := newIntake(t)
	in.setAnswer(func(int, []json.RawMessage) answer { return answer{hang: true} })
	const queueBytes = 128 << 10
	h, _ := newTestHandler(t, in, Options{QueueBytes: queueBytes, MaxBatchRecords: 100, Timeout: time.Minute})
	l := slog.New(h)

	var slowest time.Duration
	for i := range 5000 {
		slowest = max(slowest, timeHandle(l, i))
	}
	t.Logf("slowest Handle: %v", slowest)
	if slowest > handleStall {
		t.Errorf("slowest Handle while the intake hangs took %v, want it never to wait", slowest)
	}
	s := h.Stats()
	if s.QueueBytes > queueBytes || s.Dropped.Get(drop.QueueFull) == 0 {
		t.Errorf("Stats = %+v, want queue bytes within %d and queue_full drops", s, queueBytes)
	}

	fctx, fcancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer fcancel()
	err := h.Flush(fctx)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), fmt.Sprintf("%d records undelivered", s.QueueLength)) {
		t.Errorf("Flush = %v, want %d records undelivered and the deadline", err, s.QueueLength)
	}

	queued := h.Stats().QueueLength
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = h.Close(ctx)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v with a 200ms deadline", d)
	}
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("close: %d records undelivered", queued)) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close = %v, want %d records undelivered and the deadline", err, queued)
	}
	after := h.Stats()
	checkInvariant(t, after)
	if after.QueueLength != 0 || after.Dropped.Get(drop.Closed) != uint64(queued) {
		t.Errorf("Stats after Close = %+v, want an empty queue and %d dropped as closed", after, queued)
	}
}

func TestCloseThenHandle(t *testing.T) {
	in := newIntake(t)
	h, _ := newTestHandler(t, in, Options{})
	l := slog.New(h)
	logSeq(l, 0, 3)
	if err := h.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := h.Close(context.Background()); err != nil {
		t.Errorf("second Close: %v", err)
	}
	logSeq(l, 3, 2)
	if err := h.Flush(context.Background()); err != nil {
		t.Errorf("Flush after Close: %v", err)
	}
	s := h.Stats()
	if s.Sent != 3 || s.Dropped.Get(drop.Closed) != 2 || s.Enqueued != 5 {
		t.Errorf("Stats = %+v, want 3 sent before Close, 2 dropped as closed", s)
	}
	if _, raws := in.snapshot(); len(raws) != 3 {
		t.Errorf("intake got %d entries, want 3", len(raws))
	}
}

func TestStatsInvariantUnderConcurrency(t *testing.T) {
	in := newIntake(t)
	in.setAnswer(func(n int, _ []json.RawMessage) answer {
		switch n % 5 {
		case 0:
			return answer{status: 503}
		case 1:
			return answer{status: 400}
		case 2:
			return answer{status: 413}
		}
		return answer{status: 202}
	})
	h, _ := newTestHandler(t, in, Options{QueueRecords: 500, MaxBatchRecords: 50, FlushInterval: time.Millisecond})
	l := slog.New(h)
	stop := make(chan struct{})
	var checker sync.WaitGroup
	checker.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			checkInvariant(t, h.Stats())
		}
	})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() { logSeq(l.With("writer", w), w*5000, 5000) })
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	h.Close(ctx)
	close(stop)
	checker.Wait()
	s := h.Stats()
	checkInvariant(t, s)
	if s.Enqueued != 20_000 || s.QueueLength != 0 {
		t.Errorf("Stats = %+v, want Enqueued 20000 and an empty queue after Close", s)
	}
}

func TestTruncatesLargeRecords(t *testing.T) {
	in := newIntake(t)
	const limit = 2048
	h, _ := newTestHandler(t, in, Options{MaxRecordBytes: limit})
	l := slog.New(h)
	// Many attributes, none long: cutting long strings is not enough, so
	// the attributes go and the message is cut to fit.
	long := strings.Repeat("é\"\n", 5000)
	var args []any
	for i := range 20 {
		args = append(args, fmt.Sprintf("big%d", i), strings.Repeat("y", 200))
	}
	l.Info(long, append(args, "trace_id", "t1")...)
	l.Info("small", "n", 1)
	flush(t, h)
	_, raws := in.snapshot()
	if len(raws) != 2 {
		t.Fatalf("got %d entries, want 2", len(raws))
	}
	if len(raws[0]) > limit {
		t.Errorf("truncated entry has %d bytes, want at most %d", len(raws[0]), limit)
	}
	m := in.decoded()
	msg, _ := m[0]["message"].(string)
	if m[0]["truncated"] != true || !strings.HasPrefix(long, msg) || len(msg) < limit/4 || m[0]["big0"] != nil {
		t.Errorf("truncated entry = %.300s, want truncated:true, a prefix of the message, no attributes", raws[0])
	}
	if dd, _ := m[0]["dd"].(map[string]any); dd["trace_id"] != "t1" {
		t.Errorf("truncated entry lost the trace id: %.300s", raws[0])
	}
	if m[1]["truncated"] != nil {
		t.Errorf("small entry marked truncated: %s", raws[1])
	}
}

func TestShortensLongAttributes(t *testing.T) {
	in := newIntake(t)
	const limit = 4096
	h, _ := newTestHandler(t, in, Options{MaxRecordBytes: limit})
	l := slog.New(h).With("request_id", "r-1")
	body := strings.Repeat("ü", 5000)
	l.Info("upload", "n", 3, slog.Group("req", "body", body, "method", "POST"), "blob", []int{1, 2, 3})
	flush(t, h)
	_, raws := in.snapshot()
	if len(raws) != 1 {
		t.Fatalf("got %d entries, want 1", len(raws))
	}
	if len(raws[0]) > limit {
		t.Errorf("entry has %d bytes, want at most %d", len(raws[0]), limit)
	}
	m := in.decoded()[0]
	req, _ := m["req"].(map[string]any)
	got, _ := req["body"].(string)
	if m["truncated"] != true || m["request_id"] != "r-1" || m["message"] != "upload" || req["method"] != "POST" ||
		!strings.HasPrefix(body, got) || len(got) == 0 || len(got) > limit/8 {
		t.Errorf("entry = %.400s\nwant truncated:true, the short attributes kept, req.body a prefix of at most %d bytes", raws[0], limit/8)
	}
}

func TestRecordTooLargeEvenTruncated(t *testing.T) {
	in := newIntake(t)
	// Tags alone exceed MaxRecordBytes: no entry can fit.
	h, _ := newTestHandler(t, in, Options{MaxRecordBytes: 256, Tags: []string{strings.Repeat("t", 300)}})
	slog.New(h).Info("hello")
	flush(t, h)
	if s := h.Stats(); s.Dropped.Get(drop.TooLarge) != 1 || s.Enqueued != 1 {
		t.Errorf("Stats = %+v, want one too_large", s)
	}
}

// TestDropReasons checks the label values datadog_logs_dropped_total has
// always had, and that DropReasons returns a slice of the caller's own.
func TestDropReasons(t *testing.T) {
	var got []string
	for _, r := range DropReasons() {
		got = append(got, r.String())
	}
	want := []string{"queue_full", "rejected", "too_large", "retries_exhausted", "closed"}
	if !slices.Equal(got, want) {
		t.Errorf("DropReasons() = %q, want %q", got, want)
	}
	DropReasons()[0] = drop.Panic
	if r := DropReasons()[0]; r != drop.QueueFull {
		t.Errorf("DropReasons()[0] = %v after a caller changed its copy, want queue_full", r)
	}
}

// TestQueueMemoryBoundedDuringOutage checks the memory the queue really
// holds, not only the bytes it counts: after a burst of large records has
// made the queue use batch-sized buffers, an outage filled with small
// records must not keep a batch-sized buffer per small batch.
func TestQueueMemoryBoundedDuringOutage(t *testing.T) {
	tests := []struct {
		name         string
		queueRecords int
	}{
		{"default QueueRecords", 0},
		{"QueueRecords 100k", 100_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := newIntake(t)
			var down atomic.Bool
			in.setAnswer(func(int, []json.RawMessage) answer {
				if down.Load() {
					// The sender then waits, rather than being caught
					// mid-request by Close.
					return answer{status: http.StatusServiceUnavailable, retryAfter: "1800"}
				}
				return answer{status: http.StatusAccepted}
			})
			h, _ := newTestHandler(t, in, Options{QueueRecords: tt.queueRecords, MaxRetryElapsed: time.Hour})
			l := slog.New(h)
			big := strings.Repeat("x", 900_000)
			for range 12 { // more than MaxBatchBytes: a batch is sealed for its size
				l.Info(big)
			}
			flush(t, h)
			in.mu.Lock()
			in.entries = nil // the intake's own copy is not the handler's memory
			in.mu.Unlock()
			down.Store(true)

			var m0, m1 runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&m0)
			n := max(tt.queueRecords, DefaultQueueRecords)
			for i := range n {
				l.Info("message", "seq", i)
			}
			runtime.GC()
			runtime.ReadMemStats(&m1)
			s := h.Stats()
			growth := int64(m1.HeapInuse) - int64(m0.HeapInuse)
			// The queue's bound, the gzip buffer of the batch being
			// retried and the intake's transient buffers.
			limit := int64(DefaultQueueBytes+DefaultQueueBytes/2) + 4<<20
			t.Logf("queue: %d records, %d bytes; memory accounted %d; HeapInuse grew %d bytes", s.QueueLength, s.QueueBytes, h.c.memoryBytes(), growth)
			if growth > limit {
				t.Errorf("HeapInuse grew by %d MB during the outage, want at most %d MB (QueueBytes %d MB)", growth>>20, limit>>20, DefaultQueueBytes>>20)
			}
			if got, max := h.c.memoryBytes(), DefaultQueueBytes+DefaultQueueBytes/2; got > max {
				t.Errorf("chunk buffers hold %d bytes, want at most QueueBytes*3/2 = %d", got, max)
			}
			if s.QueueLength < n/2 {
				t.Errorf("QueueLength = %d, want at least %d: the bound must not come from dropping records", s.QueueLength, n/2)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			h.Close(ctx)
		})
	}
}

// TestCookieJarDoesNotGrowHeaders uses a client with a cookie jar and an
// intake that sets a cookie: every request must carry the cookie once, not
// the cookies of every request before it.
func TestCookieJarDoesNotGrowHeaders(t *testing.T) {
	var mu sync.Mutex
	var lens []int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		lens = append(lens, len(r.Header.Get("Cookie")))
		mu.Unlock()
		http.SetCookie(w, &http.Cookie{Name: "AWSALB", Value: "abcdef0123456789", Path: "/"})
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Jar: jar, Transport: &http.Transport{}}
	defer client.Transport.(*http.Transport).CloseIdleConnections()
	h, err := New(&Options{APIKey: testKey, URL: srv.URL + "/api/v2/logs", HTTPClient: client})
	if err != nil {
		t.Fatal(err)
	}
	l := slog.New(h)
	for i := range 5 {
		l.Info("m", "i", i)
		flush(t, h)
	}
	if err := h.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := len("AWSALB=abcdef0123456789")
	if len(lens) != 5 {
		t.Fatalf("intake got %d requests, want 5", len(lens))
	}
	for i, n := range lens[1:] {
		if n != want {
			t.Errorf("request %d: Cookie header is %d bytes, want %d (all: %v)", i+1, n, want, lens)
		}
	}
	if c := h.c.header.Get("Cookie"); c != "" {
		t.Errorf("the Handler's header template gained Cookie %q", c)
	}
}

// lateBodyTransport answers 202 at once and reads and closes the request
// body only later, in another goroutine, as net/http's transport may (its
// writeLoop can still be sending the body when RoundTrip returns).
type lateBodyTransport struct {
	delay time.Duration
	wg    sync.WaitGroup
	mu    sync.Mutex
	seqs  []int
	bad   []string
}

func (tr *lateBodyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	tr.wg.Add(1)
	go func() {
		defer tr.wg.Done()
		time.Sleep(tr.delay)
		raw, err := io.ReadAll(req.Body)
		req.Body.Close()
		var entries []struct{ Seq int }
		if err == nil {
			var zr *gzip.Reader
			if zr, err = gzip.NewReader(bytes.NewReader(raw)); err == nil {
				var js []byte
				if js, err = io.ReadAll(zr); err == nil {
					err = json.Unmarshal(js, &entries)
				}
			}
		}
		tr.mu.Lock()
		defer tr.mu.Unlock()
		if err != nil {
			tr.bad = append(tr.bad, err.Error())
			return
		}
		for _, e := range entries {
			tr.seqs = append(tr.seqs, e.Seq)
		}
	}()
	return &http.Response{StatusCode: http.StatusAccepted, Status: "202 Accepted", Header: http.Header{}, Body: http.NoBody, Request: req}, nil
}

// TestBodyNotReusedWhileTransportReads checks that the sender does not
// write the next batch into the buffer a request body still reads from:
// it waits for the transport to close the body, or, when that takes longer
// than it waits, leaves the buffer to the transport and takes a new one.
func TestBodyNotReusedWhileTransportReads(t *testing.T) {
	tests := []struct {
		name     string
		delay    time.Duration // before the transport reads the body
		bodyWait time.Duration // the sender's patience
	}{
		{"closed within the wait", 20 * time.Millisecond, 5 * time.Second},
		{"closed after the wait", 60 * time.Millisecond, 10 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := &lateBodyTransport{delay: tt.delay}
			h, err := newHandler(&Options{APIKey: testKey, URL: "http://intake.invalid/api/v2/logs", MaxBatchRecords: 10,
				HTTPClient: &http.Client{Transport: tr}}, func(c *core) { c.bodyWait = tt.bodyWait })
			if err != nil {
				t.Fatal(err)
			}
			const n = 60
			logSeq(slog.New(h), 0, n)
			if err := h.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			tr.wg.Wait()
			if len(tr.bad) > 0 {
				t.Errorf("%d bodies were corrupt when read: %v", len(tr.bad), tr.bad)
			}
			count := map[int]int{}
			for _, s := range tr.seqs {
				count[s]++
			}
			for i := range n {
				if count[i] != 1 {
					t.Errorf("seq %d arrived %d times, want once", i, count[i])
				}
			}
		})
	}
}
