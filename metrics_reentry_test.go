package observability

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/realtimeserver/observability/metricsink"
)

// countingHandler is a Config.Handlers entry that records a metric for
// every record it is given, into the very sink Setup built.
type countingHandler struct {
	sink *atomic.Pointer[metricsink.Sink]
}

func (h countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h countingHandler) Handle(_ context.Context, r slog.Record) error {
	if s := h.sink.Load(); s != nil {
		(*s).Increment("log.handled", 1, metricsink.KV("level", r.Level.String()))
	}
	return nil
}
func (h countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countingHandler) WithGroup(string) slog.Handler      { return h }

// loggingSink is a Config.Sinks entry that logs every sample through the
// logger Setup built.
type loggingSink struct{ logger *atomic.Pointer[slog.Logger] }

func (s loggingSink) log(name string) {
	if l := s.logger.Load(); l != nil {
		l.Debug("sample", "name", name)
	}
}
func (s loggingSink) Increment(n string, _ float64, _ metricsink.Tags)      { s.log(n) }
func (s loggingSink) Gauge(n string, _ float64, _ metricsink.Tags)          { s.log(n) }
func (s loggingSink) Histogram(n string, _ float64, _ metricsink.Tags)      { s.log(n) }
func (s loggingSink) Duration(n string, _ time.Duration, _ metricsink.Tags) { s.log(n) }

// reenter runs the kit's warnings (invalid names, type clashes, invalid
// values) from several goroutines, with logging in between, and fails the
// test if that does not finish in time: a deadlock.
func reenter(t *testing.T, tel *Telemetry) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				for i := range 100 {
					tel.Sink.Increment("", 1, metricsink.Tags{})             // invalid name: warned
					tel.Sink.Gauge("clash", float64(i), metricsink.Tags{})   // then a type clash:
					tel.Sink.Increment("clash", 1, metricsink.KV("g", "x"))  // warned
					tel.Sink.Histogram("sizes", -1, metricsink.KV("g", "x")) // invalid value: warned
					tel.Logger.Info("working", "g", g, "i", i)
				}
			})
		}
		wg.Wait()
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("deadlock: metrics and logs re-entering each other did not finish in 20s")
	}
}

// A Config.Handlers entry that records a metric on every record, while the
// registry's warnings fire: nothing deadlocks, because no sink or registry
// logs while holding a lock.
func TestHandlerRecordingMetricsDoesNotDeadlock(t *testing.T) {
	var sinkPtr atomic.Pointer[metricsink.Sink]
	tel, err := Setup(context.Background(), Config{
		LogOutput:                 io.Discard,
		DisablePrometheusListener: true,
		Handlers:                  []slog.Handler{countingHandler{&sinkPtr}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	sinkPtr.Store(&tel.Sink)
	reenter(t, tel)
	var b strings.Builder
	tel.Prometheus.WritePrometheus(&b)
	if !strings.Contains(b.String(), `log_handled_total{level="WARN"}`) {
		t.Errorf("the registry's warnings did not reach the handler:\n%s", b.String())
	}
}

// A Config.Sinks entry that logs every sample through Setup's logger,
// while the registry's warnings fire: nothing deadlocks.
func TestSinkLoggingSamplesDoesNotDeadlock(t *testing.T) {
	var loggerPtr atomic.Pointer[slog.Logger]
	var logs strings.Builder
	var mu sync.Mutex
	tel, err := Setup(context.Background(), Config{
		LogOutput:                 lockedWriter{&mu, &logs},
		LogFormat:                 FormatJSON,
		LogLevel:                  slog.LevelDebug,
		DisablePrometheusListener: true,
		DisableLogRateLimit:       true, // the sink logs every sample from one line
		Sinks:                     []metricsink.Sink{loggingSink{&loggerPtr}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	loggerPtr.Store(tel.Logger)
	reenter(t, tel)
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), ": sample dropped") || !strings.Contains(logs.String(), `"name":"clash"`) {
		t.Errorf("want both the registry's warnings and the sink's records in the log:\n%.3000s", logs.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
