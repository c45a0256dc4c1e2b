package otlp

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/realtimeserver/observability"
)

// TestShutdownFlushesOTLPWhileDatadogHangs: the buffering backends close
// side by side, so an intake that hangs through the whole of Shutdown's
// deadline does not take the time another backend needs to deliver.
func TestShutdownFlushesOTLPWhileDatadogHangs(t *testing.T) {
	rc := &otlpReceiver{}
	otlpSrv := httptest.NewServer(rc)
	defer otlpSrv.Close()
	hang := make(chan struct{})
	intake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	defer intake.Close()
	defer close(hang)

	cfg := otelTestConfig(otlpSrv.URL)
	cfg.OTel.TracesExporter, cfg.OTel.MetricsExporter = observability.ExporterNone, observability.ExporterNone
	cfg.OTel.LogBatch.Delay = time.Hour // only Shutdown sends them
	cfg.EnableDatadog, cfg.DatadogAPIKey, cfg.DatadogLogsURL = true, "k", intake.URL+"/api/v2/logs"
	tel, err := observability.Setup(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		tel.Logger.Info("to both")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := tel.Shutdown(ctx); err == nil {
		t.Error("Shutdown with a hanging intake reported nothing undelivered")
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	n := 0
	for _, req := range rc.logs {
		for _, rl := range req.GetResourceLogs() {
			for _, sl := range rl.GetScopeLogs() {
				n += len(sl.GetLogRecords())
			}
		}
	}
	if n != 10 {
		t.Errorf("the OTLP receiver got %d of 10 log records while Datadog's intake hung", n)
	}
}
