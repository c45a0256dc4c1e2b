package otlp

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/proto"

	"github.com/realtimeserver/observability"
	"github.com/realtimeserver/observability/drop"
	"github.com/realtimeserver/observability/enrich"
	"github.com/realtimeserver/observability/internal/hostile"
	"github.com/realtimeserver/observability/internal/testenv"
	"github.com/realtimeserver/observability/metricsink"
)

// otlpReceiver is an OTLP/HTTP endpoint for the three signals that
// decodes each request with the protocol's own generated types.
type otlpReceiver struct {
	mu      sync.Mutex
	traces  []*coltracepb.ExportTraceServiceRequest
	logs    []*collogspb.ExportLogsServiceRequest
	metrics []*colmetricpb.ExportMetricsServiceRequest
	headers []http.Header
	raw     [][]byte
}

func (rc *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var req, resp proto.Message
	switch r.URL.Path {
	case "/v1/traces":
		req, resp = new(coltracepb.ExportTraceServiceRequest), new(coltracepb.ExportTraceServiceResponse)
	case "/v1/logs":
		req, resp = new(collogspb.ExportLogsServiceRequest), new(collogspb.ExportLogsServiceResponse)
	case "/v1/metrics":
		req, resp = new(colmetricpb.ExportMetricsServiceRequest), new(colmetricpb.ExportMetricsServiceResponse)
	default:
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if err := proto.Unmarshal(body, req); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	rc.headers = append(rc.headers, r.Header.Clone())
	rc.raw = append(rc.raw, body)
	switch m := req.(type) {
	case *coltracepb.ExportTraceServiceRequest:
		rc.traces = append(rc.traces, m)
	case *collogspb.ExportLogsServiceRequest:
		rc.logs = append(rc.logs, m)
	case *colmetricpb.ExportMetricsServiceRequest:
		rc.metrics = append(rc.metrics, m)
	}
	rc.mu.Unlock()
	b, _ := proto.Marshal(resp)
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(b)
}

func resourceAttrs(r *resourcepb.Resource) map[string]string {
	return kvs(r.GetAttributes())
}

func kvs(list []*commonpb.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range list {
		switch v := kv.Value.Value.(type) {
		case *commonpb.AnyValue_StringValue:
			m[kv.Key] = v.StringValue
		case *commonpb.AnyValue_IntValue:
			m[kv.Key] = strconv.FormatInt(v.IntValue, 10)
		default:
			m[kv.Key] = kv.Value.String()
		}
	}
	return m
}

func otelTestConfig(endpoint string) observability.Config {
	return observability.Config{
		LogOutput:                 io.Discard,
		DisablePrometheusListener: true,
		ServiceName:               "otel-test",
		Environment:               "test",
		ServiceVersion:            "1.2.3",
		OTel: observability.OTelConfig{
			Endpoint:           endpoint,
			Headers:            map[string]string{"x-api-key": "k1"},
			ResourceAttributes: map[string]string{"team": "obs", "service.name": "overridden"},
			Sampler:            observability.SamplerAlwaysOn,
		},
	}
}

// TestSetupOTel: a span, a log record in its context and a metric reach
// the receiver, described by one resource, with the log record carrying
// the span's ids; Shutdown delivers them all.
func TestSetupOTel(t *testing.T) {
	rc := &otlpReceiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()

	tel, err := observability.Setup(context.Background(), otelTestConfig(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	if tel.OTLP == nil {
		t.Fatal("Setup built no OTel pipeline with an endpoint set")
	}
	ctx, span := tel.TracerProvider.Tracer("test").Start(context.Background(), "store comment")
	tel.Logger.InfoContext(ctx, "comment stored", "video", 42)
	tel.Logger.DebugContext(ctx, "below the level") // not exported
	span.End()
	tel.Sink.Increment("comments.created", 1, metricsink.KV("channel", "video"))
	sc := span.SpanContext()

	// The pipeline's own counts are metrics beside the others.
	rec := httptest.NewRecorder()
	tel.Metrics.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{`otel_spans_dropped_total{reason="queue_full"} 0`, "otel_log_records_exported_total",
		"otel_spans_exported_total", `otel_metric_samples_dropped_total{reason="type_clash"} 0`} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("/metrics lacks %s:\n%s", want, rec.Body.String())
		}
	}

	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tel.Shutdown(sctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}

	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.traces) == 0 || len(rc.logs) == 0 || len(rc.metrics) == 0 {
		t.Fatalf("received %d trace, %d log, %d metric requests; want each", len(rc.traces), len(rc.logs), len(rc.metrics))
	}
	for _, h := range rc.headers {
		if h.Get("X-Api-Key") != "k1" {
			t.Errorf("request without the configured header: %v", h)
		}
	}
	wantRes := map[string]string{
		"service.name": "otel-test", "service.version": "1.2.3", "deployment.environment.name": "test",
		"team": "obs", "host.name": enrich.Options{}.WithDefaults().Host, "process.pid": strconv.Itoa(os.Getpid()),
	}
	resources := map[string]*resourcepb.Resource{
		"traces":  rc.traces[0].ResourceSpans[0].Resource,
		"logs":    rc.logs[0].ResourceLogs[0].Resource,
		"metrics": rc.metrics[0].ResourceMetrics[0].Resource,
	}
	for signal, r := range resources {
		got := resourceAttrs(r)
		for k, v := range wantRes {
			if got[k] != v {
				t.Errorf("%s resource %s = %q, want %q", signal, k, got[k], v)
			}
		}
	}

	var spanNames []string
	for _, ss := range rc.traces[0].ResourceSpans[0].ScopeSpans {
		for _, s := range ss.Spans {
			spanNames = append(spanNames, s.Name)
			if s.Name == "store comment" && hex.EncodeToString(s.TraceId) != sc.TraceID().String() {
				t.Errorf("span trace id %x, want %s", s.TraceId, sc.TraceID())
			}
		}
	}
	if len(spanNames) != 1 || spanNames[0] != "store comment" {
		t.Errorf("spans = %v, want [store comment]", spanNames)
	}

	var found bool
	for _, req := range rc.logs {
		for _, rl := range req.ResourceLogs {
			for _, sl := range rl.ScopeLogs {
				for _, lr := range sl.LogRecords {
					body := lr.Body.GetStringValue()
					if body == "below the level" {
						t.Error("a debug record passed an info level")
					}
					if body != "comment stored" {
						continue
					}
					found = true
					if got := hex.EncodeToString(lr.TraceId); got != sc.TraceID().String() {
						t.Errorf("log trace id %s, want %s", got, sc.TraceID())
					}
					if got := hex.EncodeToString(lr.SpanId); got != sc.SpanID().String() {
						t.Errorf("log span id %s, want %s", got, sc.SpanID())
					}
					a := kvs(lr.Attributes)
					if a["video"] != "42" {
						t.Errorf("log attributes = %v, want video=42", a)
					}
					// The ids travel in the record's own fields, once.
					if _, dup := a[enrich.TraceIDKey]; dup {
						t.Errorf("log attributes repeat the trace id: %v", a)
					}
					if _, dup := a[enrich.SpanIDKey]; dup {
						t.Errorf("log attributes repeat the span id: %v", a)
					}
				}
			}
		}
	}
	if !found {
		t.Error("the log record did not arrive")
	}

	var metricNames []string
	for _, req := range rc.metrics {
		for _, sm := range req.ResourceMetrics[0].ScopeMetrics {
			for _, m := range sm.Metrics {
				metricNames = append(metricNames, m.Name)
			}
		}
	}
	if !strings.Contains(strings.Join(metricNames, ","), "comments.created") {
		t.Errorf("metrics = %v, want comments.created among them", metricNames)
	}
	st := From(tel).Stats()
	if st.Spans.Exported != 1 || st.Spans.Dropped.Total() != 0 || st.Logs.Dropped.Total() != 0 {
		t.Errorf("stats = %+v", st)
	}
}

// TestSetupOTelReceiverDown: with nothing listening, spans and records
// are counted as not delivered and Shutdown ends by its deadline saying
// so.
func TestSetupOTelReceiverDown(t *testing.T) {
	cfg := otelTestConfig("http://127.0.0.1:" + strconv.Itoa(testenv.FreePort(t)))
	tel, err := observability.Setup(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	tr := tel.TracerProvider.Tracer("test")
	for range 10 {
		ctx, span := tr.Start(context.Background(), "op")
		tel.Logger.InfoContext(ctx, "record")
		span.End()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = tel.Shutdown(ctx)
	if took := time.Since(start); took > 4*time.Second {
		t.Errorf("Shutdown took %v past a 1.5s deadline", took)
	}
	if err == nil || !strings.Contains(err.Error(), "otlp traces") || !strings.Contains(err.Error(), "undelivered") {
		t.Errorf("Shutdown = %v; want the undelivered spans reported", err)
	}
	st := From(tel).Stats()
	if st.Spans.Exported != 0 || st.Spans.Dropped.Total() != 10 {
		t.Errorf("span stats = %+v; want all 10 counted as dropped", st.Spans)
	}
	if st.Logs.Dropped.Total() < 10 {
		t.Errorf("log stats = %+v; want at least the 10 records counted", st.Logs)
	}
}

// TestSetupOTelQueueBound: spans past the queue's bound are dropped and
// counted, and ending a span never waits.
func TestSetupOTelQueueBound(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(block)
	cfg := otelTestConfig(srv.URL)
	cfg.OTel.LogsExporter, cfg.OTel.MetricsExporter = observability.ExporterNone, observability.ExporterNone
	cfg.OTel.SpanBatch = observability.OTelBatchConfig{MaxQueue: 16, MaxBatch: 4, Delay: time.Millisecond}
	tel, err := observability.Setup(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	tr := tel.TracerProvider.Tracer("test")
	start := time.Now()
	for range 2000 {
		_, span := tr.Start(context.Background(), "op")
		span.End()
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("2000 spans took %v with a stuck receiver", took)
	}
	if n := From(tel).Stats().Spans.Dropped.Get(drop.QueueFull); n < 2000-16-4 {
		t.Errorf("queue_full = %d; want the spans past the bound counted", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if err := tel.Shutdown(ctx); err == nil {
		t.Error("Shutdown reported nothing undelivered")
	}
}

func TestSetupOTelGlobal(t *testing.T) {
	rc := &otlpReceiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	before := otel.GetTracerProvider()
	tel, err := observability.Setup(context.Background(), otelTestConfig(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	if otel.GetTracerProvider() != before {
		t.Error("a hand-built Config without SetGlobal changed the global provider")
	}
	tel.Shutdown(context.Background())

	cfg := otelTestConfig(srv.URL)
	cfg.OTel.SetGlobal = true
	tel, err = observability.Setup(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if otel.GetTracerProvider() != tel.TracerProvider {
		t.Error("SetGlobal did not install the provider")
	}
	defer func() {
		tel.Shutdown(context.Background())
		if otel.GetTracerProvider() != before {
			t.Error("Shutdown left its provider, shut down, as the global one")
		}
		_, span := otel.Tracer("t").Start(context.Background(), "after shutdown")
		if span.SpanContext().IsValid() {
			t.Error("the global tracer makes spans after Shutdown")
		}
	}()
	carrier := propagation.MapCarrier{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
	ctx := otel.GetTextMapPropagator().Extract(context.Background(), carrier)
	_, span := otel.Tracer("t").Start(ctx, "child")
	if got := span.SpanContext().TraceID().String(); got != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("child of an incoming traceparent has trace id %s", got)
	}
	span.End()
}

func TestSetupOTelOff(t *testing.T) {
	tel, err := observability.Setup(context.Background(), observability.Config{LogOutput: io.Discard, DisablePrometheusListener: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	if tel.OTLP != nil || From(tel) != nil {
		t.Errorf("OTLP = %v without an endpoint", tel.OTLP)
	}
	// A nil *Pipeline is usable, and the provider makes no recording span.
	_, span := tel.TracerProvider.Tracer("t").Start(context.Background(), "x")
	span.End()
	var p *Pipeline
	if span.SpanContext().IsValid() || p.Resource() != nil || p.MetricsSink() != nil || p.LogHandler() != nil {
		t.Error("a nil Pipeline made a recording span or has parts")
	}
	if st := From(tel).Stats(); st.Spans.Exported != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestSetupOTelInvalid(t *testing.T) {
	cfg := otelTestConfig("http://127.0.0.1:1")
	cfg.OTel.Protocol = "grpc"
	_, err := observability.Setup(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "OTEL_EXPORTER_OTLP_PROTOCOL") {
		t.Errorf("Setup = %v; want an error naming OTEL_EXPORTER_OTLP_PROTOCOL", err)
	}
	if errors.Is(err, context.Canceled) {
		t.Error("unexpected cancellation")
	}
}

// TestSetupOTelHostile: every hostile value of the shared corpus, logged
// through the pipeline Setup builds with the OTLP log backend, neither
// panics nor hangs, and no secret reaches the OTLP receiver.
func TestSetupOTelHostile(t *testing.T) {
	rc := &otlpReceiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	cfg := otelTestConfig(srv.URL)
	cfg.OTel.TracesExporter, cfg.OTel.MetricsExporter = observability.ExporterNone, observability.ExporterNone
	cfg.OTel.LogBatch.MaxQueue = 100000
	tel, err := observability.Setup(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := tel.Logger.Handler()
	cases := hostile.Cases()
	for _, c := range cases {
		if err := c.Log(context.Background(), h); err != nil {
			t.Errorf("%s: %v", c.Name, err)
		}
		if err := c.LogWith(context.Background(), h); err != nil {
			t.Errorf("%s (WithAttrs): %v", c.Name, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := tel.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var records int
	for _, req := range rc.logs {
		for _, rl := range req.ResourceLogs {
			for _, sl := range rl.ScopeLogs {
				records += len(sl.LogRecords)
			}
		}
	}
	if records != 2*len(cases) {
		t.Errorf("the receiver got %d records, want %d (each case twice)", records, 2*len(cases))
	}
	for _, b := range rc.raw {
		if bytes.Contains(b, []byte(hostile.Secret)) {
			t.Errorf("the secret reached the OTLP receiver")
			break
		}
	}
}

// TestSetupOTelInvalidUTF8: a span and a record holding invalid UTF-8
// (which protobuf refuses) are delivered with U+FFFD, and do not take the
// valid ones of their batch down with them.
func TestSetupOTelInvalidUTF8(t *testing.T) {
	rc := &otlpReceiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	cfg := otelTestConfig(srv.URL)
	cfg.OTel.MetricsExporter = observability.ExporterNone
	tel, err := observability.Setup(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	tr := tel.TracerProvider.Tracer("test")
	_, good := tr.Start(context.Background(), "good")
	good.End()
	ctx, bad := tr.Start(context.Background(), "bad\xff",
		trace.WithAttributes(attribute.String("k\xfe", "v\xff"), attribute.StringSlice("s", []string{"ok", "\xff"})))
	bad.AddEvent("ev\xff", trace.WithAttributes(attribute.String("e", "\xff")))
	bad.SetStatus(codes.Error, "broken \xff")
	bad.End()
	tel.Logger.InfoContext(ctx, "msg \xff", "key", "val\xff", slog.Group("g", "in\xffner", "x\xff"))
	tel.Logger.Info("fine")
	if err := tel.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	names := map[string]bool{}
	for _, req := range rc.traces {
		for _, ss := range req.ResourceSpans[0].ScopeSpans {
			for _, s := range ss.Spans {
				names[s.Name] = true
				if s.Name == "bad\uFFFD" {
					if a := kvs(s.Attributes); a["k\uFFFD"] != "v\uFFFD" {
						t.Errorf("span attributes = %v", a)
					}
					if s.Status.Message != "broken \uFFFD" || s.Events[0].Name != "ev\uFFFD" {
						t.Errorf("status %q, event %q", s.Status.Message, s.Events[0].Name)
					}
				}
			}
		}
	}
	if !names["good"] || !names["bad\uFFFD"] {
		t.Errorf("spans received: %v; want good and bad\\uFFFD", names)
	}
	bodies := map[string]bool{}
	for _, req := range rc.logs {
		for _, sl := range req.ResourceLogs[0].ScopeLogs {
			for _, lr := range sl.LogRecords {
				bodies[lr.Body.GetStringValue()] = true
			}
		}
	}
	if !bodies["fine"] || !bodies["msg \uFFFD"] {
		t.Errorf("records received: %v", bodies)
	}
	if st := From(tel).Stats(); st.Spans.Dropped.Total()+st.Logs.Dropped.Total() != 0 {
		t.Errorf("dropped: %+v", st)
	}
}

func TestCleanValueDepth(t *testing.T) {
	v := attribute.StringValue("\xff")
	for range 40 {
		v = attribute.SliceValue(v)
	}
	got, changed := cleanValue(v, maxCleanDepth)
	if !changed {
		t.Fatal("a deep invalid string was not cleaned")
	}
	depth := 0
	for got.Type() == attribute.SLICE {
		got = got.AsSlice()[0]
		depth++
	}
	if depth > maxCleanDepth || got.AsString() != "…" {
		t.Errorf("cut at depth %d with %q; want at most %d and …", depth, got.AsString(), maxCleanDepth)
	}
	ok := attribute.MapValue(attribute.String("a", "b"))
	if _, changed := cleanValue(ok, maxCleanDepth); changed {
		t.Error("a valid value was changed")
	}
}

// echoReceiver answers every OTLP request with status (and Retry-After
// when set), echoing the request's headers in its body in several forms,
// and counts the requests by signal.
type echoReceiver struct {
	status     func(path string) int
	retryAfter string
	mu         sync.Mutex
	count      map[string]int
}

func (rc *echoReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	rc.mu.Lock()
	if rc.count == nil {
		rc.count = map[string]int{}
	}
	rc.count[r.URL.Path]++
	rc.mu.Unlock()
	var echo strings.Builder
	for k, vs := range r.Header {
		for _, v := range vs {
			fmt.Fprintf(&echo, "%s=%s %s %s %s %s; ", k, v, strings.ToUpper(v), strings.ToLower(v),
				base64.StdEncoding.EncodeToString([]byte(v)), url.QueryEscape(v))
		}
	}
	if rc.retryAfter != "" {
		w.Header().Set("Retry-After", rc.retryAfter)
	}
	w.WriteHeader(rc.status(r.URL.Path))
	io.WriteString(w, "you sent: "+echo.String())
}

func (rc *echoReceiver) requests() map[string]int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return maps.Clone(rc.count)
}

// newTestPipeline builds the pipeline cfg describes with its diagnostics
// written to the returned buffer.
func newTestPipeline(t *testing.T, cfg observability.OTelConfig) (*Pipeline, *testenv.Buffer) {
	t.Helper()
	out := &testenv.Buffer{}
	p, err := newPipeline(context.Background(), &cfg, enrich.Options{Service: "otel-test"}.WithDefaults(), &Options{ErrorOutput: out})
	if err != nil {
		t.Fatal(err)
	}
	return p, out
}

// produce makes a span, a log record and a metric sample every 10 ms
// until d has passed.
func produce(p *Pipeline, d time.Duration) {
	tr := p.TracerProvider().Tracer("test")
	l := slog.New(p.LogHandler())
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		_, span := tr.Start(context.Background(), "op")
		span.End()
		l.Info("record")
		p.Metrics().Increment("hits", 1, metricsink.Tags{})
	}
}

func fastExportConfig(endpoint string) observability.OTelConfig {
	fast := observability.OTelBatchConfig{Delay: 20 * time.Millisecond}
	return observability.OTelConfig{
		Endpoint:             endpoint,
		Sampler:              observability.SamplerAlwaysOn,
		SpanBatch:            fast,
		LogBatch:             fast,
		MetricExportInterval: 50 * time.Millisecond,
	}
}

// TestRetryAfterPausesEverySignal: a receiver answering 429 with
// Retry-After: 999999 gets at most 5 requests per signal in 10 s, and the
// first failure of each signal writes one outage line naming the 429.
func TestRetryAfterPausesEverySignal(t *testing.T) {
	t.Parallel()
	rc := &echoReceiver{status: func(string) int { return http.StatusTooManyRequests }, retryAfter: "999999"}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	p, out := newTestPipeline(t, fastExportConfig(srv.URL))
	produce(p, 10*time.Second)
	got := rc.requests()
	t.Logf("requests in 10s: %v", got)
	for _, path := range []string{"/v1/traces", "/v1/logs", "/v1/metrics"} {
		if n := got[path]; n == 0 || n > 5 {
			t.Errorf("%s: %d requests in 10s, want 1 to 5", path, n)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	p.Close(ctx)
	lines := out.String()
	for _, sig := range []string{"traces", "logs", "metrics"} {
		if n := strings.Count(lines, "otlp "+sig+": export is failing"); n != 1 {
			t.Errorf("%d outage lines for %s, want 1:\n%s", n, sig, lines)
		}
	}
	if n := strings.Count(lines, `reason="429 Too Many Requests"`); n != 3 {
		t.Errorf("outage lines name the 429 %d times, want 3:\n%s", n, lines)
	}
}

// TestOutageLineAtOnce: the first failed export writes its outage line at
// once, naming what happened; a 404 is rejected, never
// retries_exhausted.
func TestOutageLineAtOnce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int // 0: nothing listens
		reason string
	}{
		{"404", http.StatusNotFound, `reason="404 Not Found"`},
		{"503", http.StatusServiceUnavailable, `reason="503 Service Unavailable"`},
		{"connection refused", 0, `reason="connection refused"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			endpoint := "http://127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
			if tt.status != 0 {
				srv := httptest.NewServer(&echoReceiver{status: func(string) int { return tt.status }})
				defer srv.Close()
				endpoint = srv.URL
			}
			cfg := fastExportConfig(endpoint)
			cfg.LogsExporter, cfg.MetricsExporter = observability.ExporterNone, observability.ExporterNone
			p, out := newTestPipeline(t, cfg)
			_, span := p.TracerProvider().Tracer("t").Start(context.Background(), "op")
			span.End()
			start := time.Now()
			for !strings.Contains(out.String(), "otlp traces: export is failing") && time.Since(start) < 5*time.Second {
				time.Sleep(5 * time.Millisecond)
			}
			took := time.Since(start)
			t.Logf("outage line after %v: %s", took, out)
			if took > 2*time.Second {
				t.Errorf("no outage line within %v of the first export", took)
			}
			if !strings.Contains(out.String(), tt.reason) {
				t.Errorf("outage line %q lacks %s", out, tt.reason)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			err := p.Close(ctx)
			st := p.Stats()
			if tt.status == http.StatusNotFound {
				if st.Spans.Dropped.Get(drop.Rejected) != 1 || st.Spans.Dropped.Get(drop.RetriesExhausted) != 0 {
					t.Errorf("span stats = %+v, want one rejected", st.Spans)
				}
				if err != nil {
					t.Errorf("Close = %v; the span was rejected before Close", err)
				}
			} else if err == nil || st.Spans.Dropped.Get(drop.Closed) != 1 {
				t.Errorf("Close = %v, span stats %+v; want the span undelivered, closed", err, st.Spans)
			}
		})
	}
}

// TestEchoedHeadersScrubbed: a receiver that echoes the request's headers
// (OTEL_EXPORTER_OTLP_HEADERS) in its error body, as they are, upper- and
// lower-cased, base64 and URL encoded, gets none of their values into an
// error, an outage line or Stats.
func TestEchoedHeadersScrubbed(t *testing.T) {
	t.Parallel()
	const key, token = "Key/0123456789+abcdef", "Tok3n-ZYXWVUTSRQ=="
	statuses := map[string]int{"/v1/traces": 400, "/v1/logs": 503, "/v1/metrics": 401}
	srv := httptest.NewServer(&echoReceiver{status: func(p string) int { return statuses[p] }})
	defer srv.Close()
	cfg := fastExportConfig(srv.URL)
	cfg.Headers = map[string]string{"x-api-key": key}
	cfg.Logs.Headers = map[string]string{"authorization": "Bearer " + token}
	p, out := newTestPipeline(t, cfg)
	produce(p, time.Second)
	fctx, fcancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	fstart := time.Now()
	ferr := p.Flush(fctx)
	fcancel()
	t.Logf("Flush took %v: %v", time.Since(fstart), ferr)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	cstart := time.Now()
	cerr := p.Close(ctx)
	t.Logf("Close took %v: %v; stats %+v", time.Since(cstart), cerr, p.Stats())
	st := p.Stats()
	texts := map[string]string{
		"ErrorOutput": out.String(), "Flush": fmt.Sprint(ferr), "Close": fmt.Sprint(cerr),
		"Stats": fmt.Sprintf("%+v", st), "Metrics.LastError": fmt.Sprint(st.Metrics.LastError),
	}
	if st.Spans.LastError == "" || st.Logs.LastError == "" || st.Metrics.LastError == nil {
		t.Errorf("stats = %+v; want a last error for each signal", st)
	}
	if !strings.Contains(out.String(), "otlp metrics: the endpoint refused the credentials: check OTEL_EXPORTER_OTLP_HEADERS") {
		t.Errorf("ErrorOutput = %q, want a hint about the headers after the 401", out)
	}
	for what, text := range texts {
		for _, secret := range []string{key, token} {
			for _, form := range []string{secret[:8], base64.StdEncoding.EncodeToString([]byte(secret))[:8],
				base64.StdEncoding.EncodeToString([]byte("Bearer " + secret))[8:16], url.QueryEscape(secret)[:8]} {
				if strings.Contains(strings.ToLower(text), strings.ToLower(form)) {
					t.Errorf("%s holds %q, a form of a header value: %s", what, form, text)
				}
			}
		}
	}
}

// OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION chooses the
// metrics sink's histograms: exponential unless it says explicit buckets.
func TestHistogramAggregationFromConfig(t *testing.T) {
	for agg, explicit := range map[string]bool{"": false, "base2_exponential_bucket_histogram": false, "explicit_bucket_histogram": true} {
		p, err := New(context.Background(), &observability.OTelConfig{
			Endpoint:                    "http://127.0.0.1:1",
			TracesExporter:              "none",
			LogsExporter:                "none",
			MetricsHistogramAggregation: agg,
		}, enrich.Options{}, nil)
		if err != nil {
			t.Fatalf("%q: %v", agg, err)
		}
		if p.Metrics() == nil || p.Metrics().explicit != explicit {
			t.Errorf("%q: explicit buckets %v, want %v", agg, p.Metrics() != nil && p.Metrics().explicit, explicit)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = p.Close(ctx)
		cancel()
	}
}
