package deliver

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/realtimeserver/observability/drop"
	"github.com/realtimeserver/observability/internal/testenv"
)

// TestLinkDo: Do retries a retryable failure within the export, rejects a
// 404 at once, and honours a Retry-After across exports without a
// request; the outage and recovery lines come once each.
func TestLinkDo(t *testing.T) {
	out := &testenv.Buffer{}
	l := NewLink(fast(Options{Name: "otlp metrics", Activity: "export", Noun: "data points", Secrets: []string{"hdr-secret-value"}, ErrorOutput: out}))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var calls int
	answers := []Result{{Status: 503, Err: errors.New("echo hdr-secret-value")}, {}}
	err := l.Do(ctx, 3, func(context.Context) Result { calls++; return answers[calls-1] })
	if err != nil || calls != 2 {
		t.Fatalf("Do = %v after %d calls, want delivery on the second", err, calls)
	}

	calls = 0
	err = l.Do(ctx, 2, func(context.Context) Result { calls++; return Result{Status: 404} })
	if ReasonOf(err) != drop.Rejected || calls != 1 {
		t.Errorf("Do = %v (%v) after %d calls, want rejected after one", err, ReasonOf(err), calls)
	}

	calls = 0
	l.Do(ctx, 1, func(context.Context) Result { calls++; return Result{Status: 429, RetryAfter: time.Hour} })
	for range 5 {
		err = l.Do(ctx, 1, func(context.Context) Result { calls++; return Result{} })
	}
	if calls != 1 || ReasonOf(err) != drop.RetriesExhausted {
		t.Errorf("%d requests during a Retry-After of an hour, last Do = %v; want 1 and a pause", calls, err)
	}
	st := l.Stats()
	if st.Enqueued != 11 || st.Sent != 3 || st.Dropped.Get(drop.Rejected) != 2 || st.Dropped.Get(drop.RetriesExhausted) != 6 || st.Retries != 1 {
		t.Errorf("stats = %+v", st)
	}
	lines := out.String()
	if strings.Count(lines, "otlp metrics: export is failing") != 2 || strings.Count(lines, "otlp metrics: export recovered") != 1 {
		t.Errorf("ErrorOutput = %q, want two outages and one recovery", lines)
	}
	if strings.Contains(lines+st.LastError, "hdr-secret") {
		t.Errorf("a secret leaked: %q %q", lines, st.LastError)
	}
}

// TestLinkDoDeadline: an attempt is bounded by a third of the time left,
// so that one that hangs leaves room for a retry within the deadline.
func TestLinkDoDeadline(t *testing.T) {
	l := NewLink(fast(Options{Timeout: time.Minute}))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	calls := 0
	err := l.Do(ctx, 1, func(actx context.Context) Result {
		calls++
		if calls == 1 {
			<-actx.Done()
			return Result{Err: actx.Err()}
		}
		return Result{}
	})
	if err != nil || calls != 2 {
		t.Errorf("Do = %v after %d calls, want delivery by the retry", err, calls)
	}
}

// recordSink keeps the records handed to it; it is enabled at no level, as
// the handler of a program that logs at ERROR is at WARN, and panics on a
// record whose message contains "recovered" when panics is set.
type recordSink struct {
	mu      sync.Mutex
	recs    []slog.Record
	panics  bool
	enabled bool
}

func (h *recordSink) Enabled(context.Context, slog.Level) bool { return h.enabled }
func (h *recordSink) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *recordSink) WithGroup(string) slog.Handler            { return h }
func (h *recordSink) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.recs = append(h.recs, r.Clone())
	h.mu.Unlock()
	if h.panics && strings.Contains(r.Message, "recovered") {
		panic("the diagnostics handler panics")
	}
	return nil
}

// TestErrorHandler: with ErrorHandler set, the outage, hint and recovery
// lines are records handed to it whatever its level (a program logging at
// ERROR still learns of an outage), ErrorOutput stays empty, the secret is
// scrubbed from the attributes, and a handler that panics costs the line,
// not the process.
func TestErrorHandler(t *testing.T) {
	out := &testenv.Buffer{}
	h := &recordSink{panics: true}
	l := NewLink(fast(Options{Name: "otlp logs", Activity: "export", Secrets: []string{"hdr-secret-value"},
		AuthHint: "check the headers", ErrorOutput: out, ErrorHandler: h}))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	l.Do(ctx, 1, func(context.Context) Result { return Result{Status: 401, Err: errors.New("echo hdr-secret-value")} })
	if err := l.Do(ctx, 1, func(context.Context) Result { return Result{} }); err != nil {
		t.Fatalf("Do = %v, want delivered", err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var got []string
	for _, r := range h.recs {
		got = append(got, r.Level.String()+" "+r.Message)
		r.Attrs(func(a slog.Attr) bool {
			if strings.Contains(a.Value.String(), "hdr-secret") {
				t.Errorf("record %q: attribute %s holds the secret", r.Message, a)
			}
			return true
		})
	}
	want := []string{"WARN otlp logs: export is failing: the endpoint rejects items", "ERROR otlp logs: check the headers", "INFO otlp logs: export recovered"}
	if len(got) != len(want) {
		t.Fatalf("records %q, want %q", got, want)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("record %d = %q, want %q…", i, got[i], want[i])
		}
	}
	if out.Len() != 0 {
		t.Errorf("ErrorOutput = %q, want nothing: the handler took the lines", out)
	}
}
