package observability

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/realtimeserver/observability/enrich"
	"github.com/realtimeserver/observability/handler"
	"github.com/realtimeserver/observability/internal/hostile"
	"github.com/realtimeserver/observability/metricsink"
)

// quietConfig is a Config that starts no listener and no metrics backend.
func quietConfig(format string, out io.Writer) Config {
	return Config{
		LogFormat: format, LogOutput: out,
		MetricsBackends: []string{}, DisablePrometheusListener: true,
		ServiceName: "rts", Environment: "test", ServiceVersion: "1.0.0",
	}
}

func setupLogger(t *testing.T, cfg Config) *Telemetry {
	t.Helper()
	tel, err := Setup(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shutdown(t, tel) })
	return tel
}

func TestSetupHostileJSON(t *testing.T) {
	hostile.Check(t, hostile.Options{
		New: func(w io.Writer) slog.Handler {
			return setupLogger(t, quietConfig(FormatJSON, w)).Logger.Handler()
		},
		JSON:    true,
		Redacts: true,
	})
}

func TestSetupHostileConsole(t *testing.T) {
	hostile.Check(t, hostile.Options{
		New: func(w io.Writer) slog.Handler {
			return setupLogger(t, quietConfig(FormatConsole, w)).Logger.Handler()
		},
		Redacts: true,
	})
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestSetupIdentityPerBackend(t *testing.T) {
	host := enrich.Options{}.WithDefaults().Host
	identity := []string{"service", "environment", "version", "host", "pid"}

	t.Run("json: on every line, once", func(t *testing.T) {
		out := &syncBuffer{}
		tel := setupLogger(t, quietConfig(FormatJSON, out))
		tel.Logger.Info("one", "a", 1)
		tel.Logger.With("b", 2).WithGroup("g").Info("two", "c", 3)
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if len(lines) != 2 {
			t.Fatalf("want 2 lines, got %q", out.String())
		}
		for _, line := range lines {
			for _, k := range identity {
				if n := strings.Count(line, `"`+k+`":`); n != 1 {
					t.Errorf("%q appears %d times in %s", k, n, line)
				}
			}
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatal(err)
			}
			if rec["service"] != "rts" || rec["environment"] != "test" || rec["version"] != "1.0.0" || rec["host"] != host || rec["pid"] != float64(os.Getpid()) {
				t.Errorf("identity wrong: %v", rec)
			}
		}
	})

	t.Run("console: once at start", func(t *testing.T) {
		out := &syncBuffer{}
		tel := setupLogger(t, quietConfig(FormatConsole, out))
		tel.Logger.Info("one", "a", 1)
		tel.Logger.With("b", 2).Info("two")
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if len(lines) != 3 {
			t.Fatalf("want a startup line and 2 records, got %q", out.String())
		}
		for _, want := range []string{"starting", "service=rts", "environment=test", "version=1.0.0", "host=" + host, "pid="} {
			if !strings.Contains(lines[0], want) {
				t.Errorf("startup line %q lacks %q", lines[0], want)
			}
		}
		for _, line := range lines[1:] {
			for _, k := range identity {
				if strings.Contains(line, " "+k+"=") {
					t.Errorf("record line repeats %s: %q", k, line)
				}
			}
		}
	})

	t.Run("datadog: reserved fields, pid once", func(t *testing.T) {
		in := &intake{}
		srv := httptest.NewServer(in)
		defer srv.Close()
		cfg := quietConfig(FormatJSON, io.Discard)
		cfg.EnableDatadog, cfg.DatadogAPIKey, cfg.DatadogLogsURL = true, "k", srv.URL+"/api/v2/logs"
		tel, err := Setup(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		tel.Logger.Info("one", "a", 1)
		shutdown(t, tel)
		in.mu.Lock()
		defer in.mu.Unlock()
		if len(in.entries) != 1 {
			t.Fatalf("intake got %d entries, want 1", len(in.entries))
		}
		e := in.entries[0]
		tags, _ := e["ddtags"].(string)
		if e["service"] != "rts" || e["hostname"] != host || !strings.Contains(tags, "env:test") || !strings.Contains(tags, "version:1.0.0") {
			t.Errorf("entry lacks the identity in Datadog's reserved fields: %v", e)
		}
		if e["pid"] != float64(os.Getpid()) {
			t.Errorf("entry pid = %v, want %d: %v", e["pid"], os.Getpid(), e)
		}
		raw, _ := json.Marshal(e)
		for _, k := range []string{`"environment"`, `"host"`, `"attr.`} {
			if strings.Contains(string(raw), k) {
				t.Errorf("entry repeats the identity as %s: %s", k, raw)
			}
		}
	})
}

// TestSetupLevelGovernsHandlers: LOG_LEVEL is one level for every backend,
// Config.Handlers included; a backend's own level only narrows it.
func TestSetupLevelGovernsHandlers(t *testing.T) {
	var debugH, warnH syncBuffer
	cfg := quietConfig(FormatJSON, io.Discard)
	cfg.LogLevel = slog.LevelInfo
	cfg.Handlers = []slog.Handler{
		slog.NewJSONHandler(&debugH, &slog.HandlerOptions{Level: slog.LevelDebug}),
		handler.MinLevel(slog.NewJSONHandler(&warnH, &slog.HandlerOptions{Level: slog.LevelDebug}), slog.LevelWarn),
	}
	tel := setupLogger(t, cfg)
	tel.Logger.Debug("debug-record")
	tel.Logger.Info("info-record")
	tel.Logger.Warn("warn-record")
	if s := debugH.String(); strings.Contains(s, "debug-record") || !strings.Contains(s, "info-record") {
		t.Errorf("a Debug handler under LOG_LEVEL=info got %q, want info and warn only", s)
	}
	if s := warnH.String(); strings.Contains(s, "info-record") || !strings.Contains(s, "warn-record") {
		t.Errorf("a handler narrowed to warn got %q, want warn only", s)
	}
	// Lowering the level at run time reaches the extra handlers too.
	tel.Level.Set(slog.LevelDebug)
	tel.Logger.Debug("debug-later")
	if !strings.Contains(debugH.String(), "debug-later") {
		t.Error("Level.Set(Debug) did not reach Config.Handlers")
	}
	if strings.Contains(warnH.String(), "debug-later") {
		t.Error("MinLevel(warn) let a debug record through")
	}
}

// metricHandler is a Config.Handlers entry that records a metric for every
// record it sees, in two kinds, so that the registry's once-per-metric
// warnings fire (and are logged through the same pipeline, back into this
// handler).
type metricHandler struct {
	sink    func() metricsink.Sink
	records atomic.Int64
}

func (h *metricHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *metricHandler) Handle(_ context.Context, r slog.Record) error {
	n := h.records.Add(1)
	if s := h.sink(); s != nil {
		s.Increment("records.seen", 1, metricsink.Tags{})
		s.Gauge("records.seen", float64(n), metricsink.Tags{}) // a second kind: refused, warned once
		s.Increment(fmt.Sprintf("bad name %d!", n%50), 1, metricsink.Tags{})
	}
	return nil
}
func (h *metricHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *metricHandler) WithGroup(string) slog.Handler      { return h }

// TestSetupHandlerRecordingMetricsDoesNotDeadlock: no lock is held while
// the pipeline calls a handler, and the registry logs its warnings without
// holding its own, so a handler that records metrics for every record
// (whose warnings come back through it) neither deadlocks nor races.
func TestSetupHandlerRecordingMetricsDoesNotDeadlock(t *testing.T) {
	var tel *Telemetry
	var ready atomic.Bool
	mh := &metricHandler{sink: func() metricsink.Sink {
		if !ready.Load() {
			return nil
		}
		return tel.Sink
	}}
	out := &syncBuffer{}
	cfg := quietConfig(FormatJSON, out)
	cfg.MetricsBackends = []string{BackendPrometheus}
	cfg.Handlers = []slog.Handler{mh}
	cfg.DisableLogRateLimit = true // 800 records from one line
	tel = setupLogger(t, cfg)
	ready.Store(true)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				for i := range 200 {
					tel.Logger.Info("record", "g", g, "i", i)
				}
			})
		}
		wg.Wait()
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		buf := make([]byte, 1<<20)
		t.Fatalf("deadlock: 800 records not logged in 20 s\n%s", buf[:runtime.Stack(buf, true)])
	}
	if mh.records.Load() < 800 {
		t.Errorf("the handler saw %d records, want at least 800", mh.records.Load())
	}
	if !strings.Contains(out.String(), `"level":"WARN"`) {
		t.Error("no warning fired: the test exercised nothing")
	}
}
