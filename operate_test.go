package observability

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/realtimeserver/observability/handler"
	"github.com/realtimeserver/observability/internal/testenv"
)

// recorded is one record a recordingHandler saw.
type recorded struct {
	time  time.Time
	level slog.Level
	msg   string
	attrs map[string]slog.Value
}

// recordingHandler keeps every record it is given, for Config.Handlers.
type recordingHandler struct {
	mu   *sync.Mutex
	recs *[]recorded
}

func newRecordingHandler() recordingHandler {
	return recordingHandler{mu: new(sync.Mutex), recs: new([]recorded)}
}

func (h recordingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h recordingHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h recordingHandler) WithGroup(string) slog.Handler            { return h }
func (h recordingHandler) Handle(_ context.Context, r slog.Record) error {
	rec := recorded{time: r.Time, level: r.Level, msg: r.Message, attrs: map[string]slog.Value{}}
	r.Attrs(func(a slog.Attr) bool { rec.attrs[a.Key] = a.Value; return true })
	h.mu.Lock()
	*h.recs = append(*h.recs, rec)
	h.mu.Unlock()
	return nil
}

func (h recordingHandler) all() []recorded {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(*h.recs)
}

func (h recordingHandler) count(msg string) int {
	n := 0
	for _, r := range h.all() {
		if r.msg == msg {
			n++
		}
	}
	return n
}

// TestSetupLogLevelOverHTTP: PUT debug for 2 s on the metrics listener;
// debug records reach the console and a Config.Handlers handler, and stop
// by themselves once the 2 s are over. A PUT without the token is refused
// and changes nothing.
func TestSetupLogLevelOverHTTP(t *testing.T) {
	const token = "level-token-7c1e"
	rec := newRecordingHandler()
	console := &syncBuffer{}
	tel, err := Setup(context.Background(), Config{
		LogOutput: console, PrometheusHost: "127.0.0.1", PrometheusPort: testenv.FreePort(t),
		DashboardToken: token, Handlers: []slog.Handler{rec},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown(t, tel)
	put := func(query string, auth bool) int {
		req, _ := http.NewRequest("PUT", "http://"+tel.MetricsAddr+"/loglevel?"+query, nil)
		if auth {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}

	if code := put("level=debug&for=2s", false); code != http.StatusUnauthorized {
		t.Errorf("PUT without the token: %d, want 401", code)
	}
	if l := tel.Level.Level(); l != slog.LevelInfo {
		t.Fatalf("a refused PUT changed the level to %v", l)
	}
	tel.Logger.Debug("before")

	set := time.Now()
	if code := put("level=debug&for=2s", true); code != http.StatusOK {
		t.Fatalf("PUT with the token: %d, want 200", code)
	}
	tel.Logger.Debug("during")
	if time.Since(set) < 2*time.Second {
		if rec.count("during") != 1 || !strings.Contains(console.String(), "during") {
			t.Errorf("a debug record while the level is debug did not reach both backends:\n%s", console.String())
		}
	}
	// The change itself is logged at WARN, with who made it.
	if !strings.Contains(console.String(), "WRN") || !strings.Contains(console.String(), "127.0.0.1") {
		t.Errorf("the level change was not logged at WARN with the caller's address:\n%s", console.String())
	}

	deadline := time.Now().Add(30 * time.Second)
	for tel.Level.Level() != slog.LevelInfo {
		if time.Now().After(deadline) {
			t.Fatalf("the level is still %v 30 s after a 2 s change", tel.Level.Level())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if waited := time.Since(set); waited < 2*time.Second {
		t.Errorf("the level reverted after %v, before the 2 s asked for", waited)
	}
	tel.Logger.Debug("after")
	if rec.count("before") != 0 || rec.count("after") != 0 || strings.Contains(console.String(), "after") {
		t.Errorf("debug records outside the 2 s reached a backend")
	}
}

// TestSetupStormControl: two call sites each log 1,000,000 identical
// ERROR records while a third logs one WARN. From each storming site at
// most N+1 records pass in any second (LOG_RATE_LIMIT=N:1), the WARN
// passes, the summaries' counts and the records passed add up to exactly
// what was logged, and log_records_suppressed_total agrees.
func TestSetupStormControl(t *testing.T) {
	n := 1_000_000
	if raceEnabled || testing.Short() {
		n = 100_000 // the same mechanism, in the time the race detector allows
	}
	const rate = 100
	cfg, err := ConfigFromLookup(lookupMap(map[string]string{"LOG_RATE_LIMIT": "100:1"}))
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecordingHandler()
	cfg.LogOutput, cfg.DisablePrometheusListener = io.Discard, true
	cfg.Handlers = []slog.Handler{rec}
	tel, err := Setup(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for range n {
			tel.Logger.Error("storm A", "code", 500)
		}
	})
	wg.Go(func() {
		for range n {
			tel.Logger.Error("storm B", "code", 503)
		}
	})
	time.Sleep(10 * time.Millisecond)
	tel.Logger.Warn("the one that explains it")
	wg.Wait()

	var metrics strings.Builder
	tel.Prometheus.WritePrometheus(&metrics)
	shutdown(t, tel) // writes the last summaries

	passed := map[string][]time.Time{}
	summed := map[string]uint64{}
	warn := 0
	for _, r := range rec.all() {
		switch r.msg {
		case "storm A", "storm B":
			passed[r.msg] = append(passed[r.msg], r.time)
		case handler.StormSummaryMessage:
			summed[r.attrs[handler.StormMessageKey].String()] += r.attrs[handler.StormSuppressedKey].Uint64()
		case "the one that explains it":
			warn++
		}
	}
	if warn != 1 {
		t.Errorf("the WARN from a third site passed %d times, want 1", warn)
	}
	var suppressed uint64
	for _, site := range []string{"storm A", "storm B"} {
		times := passed[site]
		if got := uint64(len(times)) + summed[site]; got != uint64(n) {
			t.Errorf("%s: %d passed + %d in summaries = %d, want exactly %d", site, len(times), summed[site], got, n)
		}
		suppressed += summed[site]
		slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
		for i, j := 0, 0; i < len(times); i++ {
			for times[i].Sub(times[j]) >= time.Second {
				j++
			}
			if i-j+1 > rate+1 {
				t.Errorf("%s: %d records passed within one second; at most %d may", site, i-j+1, rate+1)
				break
			}
		}
	}
	want := "log_records_suppressed_total{level=\"error\"} " + strconv.FormatUint(suppressed, 10)
	if !strings.Contains(metrics.String(), want+"\n") {
		t.Errorf("/metrics lacks %q:\n%s", want, grepLines(metrics.String(), "suppressed"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
