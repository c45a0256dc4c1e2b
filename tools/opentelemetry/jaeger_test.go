package opentelemetry

import (
	"context"
	"io"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	observability "github.com/realtimeserver/observability"
	_ "github.com/realtimeserver/observability/otlp" // Setup exports over OTLP
)

// TestSetupTracesInJaeger: spans made through the TracerProvider that
// Setup builds from OTEL_* settings arrive in Jaeger, parent and children
// linked, under the service's name and resource.
func TestSetupTracesInJaeger(t *testing.T) {
	j := startJaeger(t)
	cfg, err := observability.ConfigFromLookup(func(k string) (string, bool) {
		v, ok := map[string]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT": j.OTLP,
			"OTEL_SERVICE_NAME":           "jaeger-setup-test",
			"OTEL_TRACES_SAMPLER":         "always_on",
			"OTEL_LOGS_EXPORTER":          "none",
			"OTEL_METRICS_EXPORTER":       "none",
			"ENVIRONMENT":                 "ci",
			"PROMETHEUS_PORT":             "0",
		}[k]
		return v, ok
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg.LogOutput = io.Discard
	cfg.OTel.SetGlobal = false // this test owns no global
	tel, err := observability.Setup(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	tr := tel.TracerProvider.Tracer("tools-test")
	ctx, root := tr.Start(context.Background(), "POST /api/videos/{video_id}/comments", trace.WithSpanKind(trace.SpanKindServer))
	_, child := tr.Start(ctx, "INSERT comments", trace.WithSpanKind(trace.SpanKindClient))
	time.Sleep(time.Millisecond)
	child.End()
	_, child2 := tr.Start(ctx, "broadcast")
	child2.End()
	root.End()

	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tel.Shutdown(sctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}

	got := j.trace(t, root.SpanContext().TraceID().String(), 3)
	byName := map[string]jaegerSpan{}
	for _, s := range got.Spans {
		byName[s.OperationName] = s
	}
	r, ok := byName["POST /api/videos/{video_id}/comments"]
	if !ok {
		t.Fatalf("no server span in %+v", got.Spans)
	}
	if r.parent() != "" {
		t.Errorf("the server span has a parent %s", r.parent())
	}
	for _, name := range []string{"INSERT comments", "broadcast"} {
		if p := byName[name].parent(); p != r.SpanID {
			t.Errorf("%s has parent %q, want the server span %s", name, p, r.SpanID)
		}
	}
	if k := r.tag("span.kind"); k != "server" {
		t.Errorf("server span kind = %q", k)
	}
	proc := got.Processes[r.ProcessID]
	if proc.ServiceName != "jaeger-setup-test" {
		t.Errorf("service = %q, want jaeger-setup-test", proc.ServiceName)
	}
	tags := map[string]any{}
	for _, tg := range proc.Tags {
		tags[tg.Key] = tg.Value
	}
	if tags["deployment.environment.name"] != "ci" || tags["host.name"] == nil || tags["process.pid"] == nil {
		t.Errorf("process tags = %v; want the service's resource", tags)
	}
}
