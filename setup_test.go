package observability

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/slogtest"
	"time"

	"github.com/realtimeserver/observability/internal/testenv"

	"go.uber.org/goleak"

	"github.com/realtimeserver/observability/drop"
	"github.com/realtimeserver/observability/enrich"
	"github.com/realtimeserver/observability/metricsink"
	"github.com/realtimeserver/observability/metricsink/metricsinktest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func shutdown(t *testing.T, tel *Telemetry) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tel.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s = %d %s", url, resp.StatusCode, b)
	}
	return string(b)
}

func TestSetupLogsEnrichedRedactedJSONAndServesMetrics(t *testing.T) {
	out := &testenv.Buffer{}
	cfg := Config{
		LogFormat:      FormatJSON,
		LogOutput:      out,
		LogLevel:       slog.LevelDebug,
		PrometheusPort: testenv.FreePort(t),
		PrometheusHost: "127.0.0.1",
		ServiceName:    "rts",
		Environment:    "test",
		ServiceVersion: "1.0.0",
	}
	tel, err := Setup(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := enrich.WithRequestID(context.Background(), "req-1")
	tel.Logger.InfoContext(ctx, "comment created", "user_id", 7, "password", "hunter2")
	tel.Logger.Debug("detail")
	tel.Logger.Warn("careful")
	tel.Sink.Increment("comments.created", 1, metricsink.KV("channel", "video"))

	var rec map[string]any
	first, _, _ := strings.Cut(out.String(), "\n")
	if err := json.Unmarshal([]byte(first), &rec); err != nil {
		t.Fatalf("first line %q is not JSON: %v", first, err)
	}
	for k, want := range map[string]any{
		"msg": "comment created", "service": "rts", "environment": "test", "version": "1.0.0",
		"request_id": "req-1", "user_id": float64(7), "password": "[REDACTED]",
	} {
		if rec[k] != want {
			t.Errorf("record[%q] = %v, want %v (record %v)", k, rec[k], want, rec)
		}
	}
	if rec["host"] == nil || rec["pid"] == nil {
		t.Errorf("record lacks host or pid: %v", rec)
	}
	if strings.Contains(out.String(), "hunter2") {
		t.Error("a password reached the log")
	}

	text := scrape(t, "http://"+tel.MetricsAddr+"/metrics")
	for _, want := range []string{
		`comments_created_total{channel="video"} 1`,
		`log_records_total{level="info"} 1`,
		`log_records_total{level="debug"} 1`,
		`log_records_total{level="warn"} 1`,
		`log_records_total{level="error"} 0`,
		"go_goroutines ",
		"process_resident_memory_bytes ",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	// Level changes at run time reach every backend.
	tel.Level.Set(slog.LevelError)
	tel.Logger.Info("hidden")
	if strings.Contains(out.String(), "hidden") {
		t.Error("an info record was written after the level was raised to error")
	}

	shutdown(t, tel)
	if _, err := http.Get("http://" + tel.MetricsAddr + "/metrics"); err == nil {
		t.Error("the metrics listener still answers after Shutdown")
	}
	if err := tel.Shutdown(context.Background()); err != nil {
		t.Errorf("second Shutdown = %v, want the first's nil", err)
	}
}

func TestSetupCustomBackends(t *testing.T) {
	var extra bytes.Buffer
	rec := metricsinktest.New()
	tel, err := Setup(context.Background(), Config{
		LogOutput:       io.Discard,
		MetricsBackends: []string{},
		Handlers:        []slog.Handler{slog.NewJSONHandler(&extra, nil)},
		Sinks:           []metricsink.Sink{rec},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown(t, tel)
	tel.Logger.Info("to the custom backend", "token", "abc")
	tel.Sink.Histogram("payload.size", 42, metricsink.KV("kind", "x"))
	if !strings.Contains(extra.String(), "to the custom backend") || strings.Contains(extra.String(), "abc") {
		t.Errorf("custom log backend got %q, want the record with the token redacted", extra.String())
	}
	if got := rec.Count("payload.size", "kind", "x"); got != 1 {
		t.Errorf("custom sink recorded %d samples of payload.size, want 1", got)
	}
	if tel.MetricsAddr != "" || tel.Prometheus != nil {
		t.Errorf("no Prometheus backend was asked for, got addr %q", tel.MetricsAddr)
	}
	w := httptest.NewRecorder()
	tel.Metrics.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	if w.Code != http.StatusNotFound {
		t.Errorf("Metrics without Prometheus answered %d, want 404", w.Code)
	}
}

func TestSetupListenerOffStillServesHandler(t *testing.T) {
	tel, err := Setup(context.Background(), Config{LogOutput: io.Discard, DisablePrometheusListener: true})
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown(t, tel)
	if tel.MetricsAddr != "" {
		t.Errorf("MetricsAddr = %q with the listener off", tel.MetricsAddr)
	}
	tel.Sink.Gauge("queue.depth", 3, metricsink.Tags{})
	w := httptest.NewRecorder()
	tel.Metrics.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(w.Body.String(), "queue_depth 3") {
		t.Errorf("Metrics handler output lacks queue_depth 3")
	}
}

func TestSetupRejectsInvalidConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"datadog without key", Config{EnableDatadog: true}, "DATADOG_API_KEY"},
		{"bad format", Config{LogFormat: "xml"}, "LOG_FORMAT"},
		{"bad site", Config{DatadogSite: "example.com"}, "DATADOG_SITE"},
		{"bad backend", Config{MetricsBackends: []string{"graphite"}}, "METRICS_BACKENDS"},
		{"bad port", Config{PrometheusPort: 70000}, "PROMETHEUS_PORT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tel, err := Setup(context.Background(), tt.cfg)
			if err == nil {
				shutdown(t, tel)
				t.Fatalf("Setup(%v) = nil error, want one naming %s", tt.cfg, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Setup error %q does not name %s", err, tt.want)
			}
		})
	}
}

func TestSetupPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	_, err = Setup(context.Background(), Config{LogOutput: io.Discard, PrometheusPort: port, PrometheusHost: "127.0.0.1"})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("PROMETHEUS_PORT=%d", port)) {
		t.Errorf("Setup on a busy port = %v, want an error naming PROMETHEUS_PORT=%d", err, port)
	}
}

// intake is a local server speaking Datadog's logs intake protocol. When
// hang is set it holds every request until release is closed.
type intake struct {
	mu      sync.Mutex
	entries []map[string]any
	hang    bool
	release chan struct{}
}

func (in *intake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if in.hang {
		select {
		case <-in.release:
		case <-r.Context().Done():
		}
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	}
	zr, err := gzip.NewReader(r.Body)
	if err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	var batch []map[string]any
	if err := json.NewDecoder(zr).Decode(&batch); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	in.mu.Lock()
	in.entries = append(in.entries, batch...)
	in.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

func TestSetupDatadogShutdownDeliversEverything(t *testing.T) {
	in := &intake{}
	srv := httptest.NewServer(in)
	defer srv.Close()
	tel, err := Setup(context.Background(), Config{
		LogOutput: io.Discard, DisablePrometheusListener: true,
		EnableDatadog: true, DatadogAPIKey: "k", DatadogLogsURL: srv.URL + "/api/v2/logs",
		ServiceName: "rts", DisableLogRateLimit: true, // 5000 records from one line
	})
	if err != nil {
		t.Fatal(err)
	}
	const n = 5000
	for i := range n {
		tel.Logger.Info("record", "seq", i)
	}
	shutdown(t, tel)
	in.mu.Lock()
	defer in.mu.Unlock()
	seen := make(map[float64]bool, n)
	for _, e := range in.entries {
		seen[e["seq"].(float64)] = true
	}
	if len(in.entries) != n || len(seen) != n {
		t.Errorf("intake got %d entries (%d distinct), want %d", len(in.entries), len(seen), n)
	}
	if e := in.entries[0]; e["service"] != "rts" {
		t.Errorf("entry service = %v, want rts", e["service"])
	}
	st := tel.Datadog.Stats()
	if st.Sent != n || st.Dropped.Total() != 0 {
		t.Errorf("stats = %+v, want %d sent and none dropped", st, n)
	}
}

func TestSetupDatadogShutdownReportsUndelivered(t *testing.T) {
	in := &intake{hang: true, release: make(chan struct{})}
	srv := httptest.NewServer(in)
	defer srv.Close()
	defer close(in.release)
	tel, err := Setup(context.Background(), Config{
		LogOutput: io.Discard, DisablePrometheusListener: true,
		EnableDatadog: true, DatadogAPIKey: "k", DatadogLogsURL: srv.URL + "/api/v2/logs",
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		tel.Logger.Info("record", "seq", i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = tel.Shutdown(ctx)
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Shutdown took %v with a 300ms deadline", took)
	}
	if err == nil || !strings.Contains(err.Error(), "100") {
		t.Errorf("Shutdown = %v, want an error reporting 100 undelivered records", err)
	}
	if st := tel.Datadog.Stats(); st.Dropped.Get(drop.Closed) != 100 {
		t.Errorf("dropped as closed = %d, want 100 (stats %+v)", st.Dropped.Get(drop.Closed), st)
	}
}

func TestSetupExportsDatadogHealth(t *testing.T) {
	in := &intake{}
	srv := httptest.NewServer(in)
	defer srv.Close()
	tel, err := Setup(context.Background(), Config{
		LogOutput: io.Discard, DisablePrometheusListener: true,
		EnableDatadog: true, DatadogAPIKey: "k", DatadogLogsURL: srv.URL + "/api/v2/logs",
	})
	if err != nil {
		t.Fatal(err)
	}
	tel.Logger.Info("one")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tel.Datadog.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	tel.Metrics.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{
		"datadog_logs_sent_total 1",
		`datadog_logs_dropped_total{reason="queue_full"} 0`,
		`datadog_logs_dropped_total{reason="retries_exhausted"} 0`,
		"datadog_logs_queue_length 0",
	} {
		if !strings.Contains(w.Body.String(), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	shutdown(t, tel)
}

func TestCountHandlerSlogtest(t *testing.T) {
	var buf bytes.Buffer
	var counts levelCounts
	h := &countHandler{next: slog.NewJSONHandler(&buf, nil), counts: &counts}
	err := slogtest.TestHandler(h, func() []map[string]any {
		var out []map[string]any
		for _, line := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
			var m map[string]any
			if err := json.Unmarshal(line, &m); err != nil {
				t.Fatalf("line %q: %v", line, err)
			}
			out = append(out, m)
		}
		return out
	})
	if err != nil {
		t.Error(err)
	}
	if counts.info.Load() == 0 {
		t.Error("countHandler counted no info records")
	}
}

func TestLevelCountsBuckets(t *testing.T) {
	tests := []struct {
		level slog.Level
		want  string
	}{
		{slog.LevelDebug - 4, "debug"}, {slog.LevelDebug, "debug"}, {slog.LevelInfo, "info"},
		{slog.LevelInfo + 2, "info"}, {slog.LevelWarn, "warn"}, {slog.LevelError, "error"}, {slog.LevelError + 8, "error"},
	}
	for _, tt := range tests {
		var c levelCounts
		c.counter(tt.level).Add(1)
		got := map[string]uint64{"debug": c.debug.Load(), "info": c.info.Load(), "warn": c.warn.Load(), "error": c.error.Load()}
		if got[tt.want] != 1 {
			t.Errorf("level %v counted as %v, want %s", tt.level, got, tt.want)
		}
	}
}

func TestSetupDogStatsDBackend(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	t.Setenv("DD_DOGSTATSD_URL", "udp://"+pc.LocalAddr().String())
	tel, err := Setup(context.Background(), Config{
		LogOutput: io.Discard, MetricsBackends: []string{BackendDogStatsD},
		ServiceName: "rts", Environment: "test", ServiceVersion: "2",
	})
	if err != nil {
		t.Fatal(err)
	}
	if tel.DogStatsD == nil || tel.Prometheus != nil {
		t.Fatalf("backends: dogstatsd %v, prometheus %v; want only dogstatsd", tel.DogStatsD, tel.Prometheus)
	}
	tel.Sink.Increment("comments.created", 1, metricsink.KV("channel", "video"))
	shutdown(t, tel) // flushes
	_ = pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 65536)
	var got strings.Builder
	for !strings.Contains(got.String(), "comments.created:") {
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("no comments.created datagram (got %q): %v", got.String(), err)
		}
		got.Write(buf[:n])
	}
	var line string
	for _, l := range strings.Split(got.String(), "\n") {
		if strings.HasPrefix(l, "comments.created:") {
			line = l
		}
	}
	for _, want := range []string{"comments.created:1|c", "channel:video", "service:rts", "env:test", "version:2"} {
		if !strings.Contains(line, want) {
			t.Errorf("datagram line %q lacks %q", line, want)
		}
	}
}

// closingHandler and closingSink record that Shutdown closed them.
type closingHandler struct {
	slog.Handler
	closed bool
}

func (c *closingHandler) Close(ctx context.Context) error { c.closed = true; return nil }

type closingSink struct {
	metricsink.Sink
	closed bool
}

func (c *closingSink) Close() error { c.closed = true; return errors.New("sink failed to flush") }

func TestShutdownClosesExtraBackends(t *testing.T) {
	h := &closingHandler{Handler: slog.DiscardHandler}
	s := &closingSink{Sink: metricsink.Discard}
	tel, err := Setup(context.Background(), Config{
		LogOutput: io.Discard, DisablePrometheusListener: true,
		Handlers: []slog.Handler{h}, Sinks: []metricsink.Sink{s},
	})
	if err != nil {
		t.Fatal(err)
	}
	err = tel.Shutdown(context.Background())
	if !h.closed || !s.closed {
		t.Errorf("closed: handler %v, sink %v; want both", h.closed, s.closed)
	}
	if err == nil || !strings.Contains(err.Error(), "Config.Sinks[0]: sink failed to flush") {
		t.Errorf("Shutdown = %v, want the sink's error named", err)
	}
}

func TestTelemetryConfigHasDefaults(t *testing.T) {
	tel, err := Setup(context.Background(), Config{LogOutput: io.Discard, DisablePrometheusListener: true})
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown(t, tel)
	if c := tel.Config; c.ServiceName == "" || c.Environment != "development" || c.ServiceVersion == "" {
		t.Errorf("Telemetry.Config names = %q %q %q, want the defaults filled", c.ServiceName, c.Environment, c.ServiceVersion)
	}
}

// TestSetupDatadogOutageWarningsInTheLocalFormat: while the intake fails,
// Setup's Datadog backend warns on the local output, in its format (every
// line valid JSON with LOG_FORMAT=json), and says when delivery recovers.
func TestSetupDatadogOutageWarningsInTheLocalFormat(t *testing.T) {
	srv, failing := failingIntake(t)
	out := &testenv.Buffer{}
	tel, err := Setup(context.Background(), Config{
		LogFormat: FormatJSON, LogOutput: out, DisablePrometheusListener: true,
		EnableDatadog: true, DatadogAPIKey: "k", DatadogLogsURL: srv.URL + "/api/v2/logs",
	})
	if err != nil {
		t.Fatal(err)
	}
	tel.Logger.Info("record during the outage")
	waitForOutput(t, out, "log delivery is failing")
	failing.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tel.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown = %v, want every record delivered once the intake recovered", err)
	}
	waitForOutput(t, out, "log delivery recovered")
	for i, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("line %d of the JSON output is not JSON: %s", i+1, line)
		}
	}
}

// TestSetupDatadogOutageWarningsOnTheConsole: on the console, the outage
// and recovery lines are console lines (a WRN line, not another format),
// and they come even when the level hides warnings, so that a program
// logging at ERROR still learns that Datadog is failing.
func TestSetupDatadogOutageWarningsOnTheConsole(t *testing.T) {
	srv, failing := failingIntake(t)
	out := &testenv.Buffer{}
	tel, err := Setup(context.Background(), Config{
		LogFormat: FormatConsole, LogOutput: out, LogLevel: slog.LevelError, DisablePrometheusListener: true,
		EnableDatadog: true, DatadogAPIKey: "k", DatadogLogsURL: srv.URL + "/api/v2/logs",
	})
	if err != nil {
		t.Fatal(err)
	}
	tel.Logger.Error("record during the outage")
	waitForOutput(t, out, " WRN datadog: log delivery is failing")
	failing.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tel.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown = %v, want every record delivered once the intake recovered", err)
	}
	waitForOutput(t, out, " INF datadog: log delivery recovered")
	if strings.Contains(out.String(), "level=") {
		t.Errorf("a line in slog's text form on the console:\n%s", out)
	}
}

// failingIntake is a Datadog intake that answers 503 until its flag is
// cleared, then 202.
func failingIntake(t *testing.T) (*httptest.Server, *atomic.Bool) {
	failing := new(atomic.Bool)
	failing.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if failing.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	return srv, failing
}

// waitForOutput waits up to 10 s for what to appear in out.
func waitForOutput(t *testing.T, out *testenv.Buffer, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), what) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q on the local output after 10 s:\n%s", what, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
