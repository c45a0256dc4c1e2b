package otlp

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/realtimeserver/observability"
	"github.com/realtimeserver/observability/enrich"
	"github.com/realtimeserver/observability/internal/testenv"
	"github.com/realtimeserver/observability/livedash"
)

func newSpans(t testing.TB, o *livedash.SpansOptions) *livedash.Spans {
	t.Helper()
	s, err := livedash.NewSpans(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// traceSpan is a span as the Traces page's query answers it.
type traceSpan struct {
	Trace, Span, Parent, Name, Kind, Status, Message, Service string
	Start, End                                                int64
	Attrs                                                     [][2]string
	Events                                                    []struct {
		T     int64
		Name  string
		Attrs [][2]string
	}
}

// dashboardOf serves spans as the dashboard does, and returns the
// function that reads one trace from it.
func dashboardOf(t *testing.T, spans *livedash.Spans) func(trace.TraceID) []traceSpan {
	t.Helper()
	d, err := livedash.New(&livedash.Options{Spans: spans})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d)
	t.Cleanup(func() {
		srv.Close()
		d.Close(context.Background())
	})
	return func(id trace.TraceID) []traceSpan {
		t.Helper()
		resp, err := http.Get(srv.URL + livedash.DefaultPath + "/api/trace?id=" + id.String())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var got struct{ Spans []traceSpan }
		if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
			t.Fatal(err)
		}
		return got.Spans
	}
}

func spanAttrsOf(as [][2]string) map[string]string {
	m := map[string]string{}
	for _, a := range as {
		m[a[0]] = a[1]
	}
	return m
}

// The processor converts what the SDK recorded: ids, parent, kind, times,
// status, attributes of every type, events and the service's name.
func TestDashboardProcessorConverts(t *testing.T) {
	spans := newSpans(t, &livedash.SpansOptions{KeepAllWhenIdle: true})
	res := resource.NewSchemaless(attribute.String("service.name", "comments"))
	tp := sdktrace.NewTracerProvider(sdktrace.WithResource(res), sdktrace.WithSpanProcessor(DashboardProcessor(spans)))
	defer tp.Shutdown(context.Background())
	tr := tp.Tracer("test")

	ctx, root := tr.Start(context.Background(), "POST /api/videos/{id}/comments", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("http.route", "/api/videos/{id}/comments"), attribute.Int("http.response.status_code", 201),
			attribute.Bool("ok", true), attribute.Float64("ratio", 0.5), attribute.StringSlice("tags", []string{"a", "b"}),
			attribute.Int64("big", -1234567890123)))
	_, child := tr.Start(ctx, "INSERT comments", trace.WithSpanKind(trace.SpanKindClient))
	child.AddEvent("retry", trace.WithAttributes(attribute.Int("attempt", 2), attribute.String("why", "database is locked")))
	child.RecordError(io.ErrUnexpectedEOF)
	child.SetStatus(codes.Error, "database is locked")
	child.End()
	root.End()

	got := dashboardOf(t, spans)(root.SpanContext().TraceID())
	if len(got) != 2 {
		t.Fatalf("kept %d spans of the trace, want 2: %+v", len(got), got)
	}
	c, r := got[0], got[1]
	if r.Name != "POST /api/videos/{id}/comments" || r.Kind != "server" || r.Parent != "" || r.Service != "comments" ||
		r.Span != root.SpanContext().SpanID().String() || r.End <= r.Start {
		t.Errorf("root = %+v", r)
	}
	want := map[string]string{"http.route": "/api/videos/{id}/comments", "http.response.status_code": "201", "ok": "true",
		"ratio": "0.5", "tags": `["a","b"]`, "big": "-1234567890123"}
	if a := spanAttrsOf(r.Attrs); len(a) != len(want) {
		t.Errorf("root attributes %v, want %v", a, want)
	} else {
		for k, v := range want {
			if a[k] != v {
				t.Errorf("root attribute %s = %q, want %q", k, a[k], v)
			}
		}
	}
	if c.Parent != r.Span || c.Kind != "client" || c.Status != "error" || c.Message != "database is locked" || len(c.Events) != 2 {
		t.Fatalf("child = %+v", c)
	}
	if e := c.Events[0]; e.Name != "retry" || spanAttrsOf(e.Attrs)["attempt"] != "2" || spanAttrsOf(e.Attrs)["why"] != "database is locked" {
		t.Errorf("event = %+v", e)
	}
	if e := c.Events[1]; e.Name != "exception" || !strings.Contains(spanAttrsOf(e.Attrs)["exception.message"], "unexpected EOF") {
		t.Errorf("the error's event = %+v", e)
	}
}

// Only what the sampler kept, and, while nobody watches, errors alone,
// with nothing converted for the rest.
func TestDashboardProcessorSamplesAndIdles(t *testing.T) {
	spans := newSpans(t, nil) // nobody watches
	ratio := sdktrace.ParentBased(sdktrace.TraceIDRatioBased(0))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(ratio), sdktrace.WithSpanProcessor(DashboardProcessor(spans)))
	defer tp.Shutdown(context.Background())
	tr := tp.Tracer("test")
	_, s := tr.Start(context.Background(), "not sampled")
	s.SetStatus(codes.Error, "x")
	s.End()
	// A sampled remote parent: its children are sampled.
	carrier := propagation.MapCarrier{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
	ctx := propagation.TraceContext{}.Extract(context.Background(), carrier)
	_, ok := tr.Start(ctx, "sampled, fine")
	ok.End()
	_, bad := tr.Start(ctx, "sampled, failed")
	bad.SetStatus(codes.Error, "x")
	bad.End()
	if st := spans.Stats(); st.Added != 1 || st.Spans != 1 {
		t.Errorf("Stats = %+v, want the sampled error alone", st)
	}

	// While nobody watches, a span that is not an error costs the check
	// alone: no allocation.
	var ended sdktrace.ReadOnlySpan
	rec := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(&lastSpan{s: &ended}))
	defer rec.Shutdown(context.Background())
	_, sp := rec.Tracer("t").Start(context.Background(), "fine", trace.WithAttributes(attribute.Int("n", 1)))
	sp.AddEvent("e")
	sp.End()
	p := DashboardProcessor(spans)
	if n := testing.AllocsPerRun(100, func() { p.OnEnd(ended) }); n != 0 {
		t.Errorf("an unwanted span: %v allocations, want 0", n)
	}
	kept := DashboardProcessor(newSpans(t, &livedash.SpansOptions{KeepAllWhenIdle: true}))
	n := testing.AllocsPerRun(100, func() { kept.OnEnd(ended) })
	t.Logf("a wanted span of one attribute and one event: %v allocations", n)
	if n > 12 { // 3 without the race detector, which empties sync.Pools at random
		t.Errorf("a wanted span: %v allocations, want the kept copy's few", n)
	}
}

// lastSpan keeps the last span that ended.
type lastSpan struct{ s *sdktrace.ReadOnlySpan }

func (l *lastSpan) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (l *lastSpan) OnEnd(s sdktrace.ReadOnlySpan)                   { *l.s = s }
func (l *lastSpan) ForceFlush(context.Context) error                { return nil }
func (l *lastSpan) Shutdown(context.Context) error                  { return nil }

// 100,000 spans of the SDK through the processor: the ring holds its
// bounds, in its counts and in the heap.
func TestDashboardProcessorHoldsTheBound(t *testing.T) {
	spans := newSpans(t, &livedash.SpansOptions{KeepAllWhenIdle: true})
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(DashboardProcessor(spans)))
	defer tp.Shutdown(context.Background())
	tr := tp.Tracer("test")
	attrs := trace.WithAttributes(attribute.String("http.route", "/api/videos/{id}/comments"), attribute.Int("http.response.status_code", 201),
		attribute.String("url.path", "/api/videos/42/comments"), attribute.String("request_id", "0123456789abcdef"))
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const n = 100_000
	for i := range n {
		ctx, root := tr.Start(context.Background(), "POST /api/videos/{id}/comments", attrs)
		_, child := tr.Start(ctx, "INSERT comments", trace.WithAttributes(attribute.Int("i", i)))
		child.AddEvent("stored")
		child.End()
		root.End()
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	st := spans.Stats()
	table := livedash.DefaultMaxSpans * 200 // bytes an entry, at most, as documented
	grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d spans ended, %d kept, %d bytes of their text counted; the heap grew by %d bytes", 2*n, st.Spans, st.Bytes, grew)
	if st.Added != 2*n || st.Spans > livedash.DefaultMaxSpans || st.Bytes > livedash.DefaultSpansBytes || st.Evicted != uint64(2*n-st.Spans) {
		t.Errorf("Stats = %+v", st)
	}
	if limit := int64(table + livedash.DefaultSpansBytes + 1<<20); grew > limit {
		t.Errorf("the heap grew by %d bytes, want at most the table, MaxBytes and 1 MiB (%d)", grew, limit)
	}
	runtime.KeepAlive(spans)
}

// With the dashboard on and no OTLP endpoint, Setup builds a provider
// whose only processor is the dashboard's: its spans reach the Traces
// page, sampled as configured, and the provider is the global one when
// the configuration says so. With an endpoint too, spans go to both.
func TestSetupDashboardSpans(t *testing.T) {
	before := otel.GetTracerProvider()
	cfg := observability.Config{LogOutput: io.Discard, PrometheusPort: testenv.FreePort(t), PrometheusHost: "127.0.0.1",
		Dashboard: true, DashboardToken: "t", OTel: observability.OTelConfig{SetGlobal: true}}
	tel, err := observability.Setup(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if tel.Spans == nil || From(tel) == nil || otel.GetTracerProvider() != before {
		t.Fatalf("Spans %v, pipeline %v, global provider installed while nobody watches %v", tel.Spans, From(tel), otel.GetTracerProvider() != before)
	}
	get := func(path string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+tel.MetricsAddr+"/dashboard"+path, nil)
		req.Header.Set("Authorization", "Bearer t")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	// Nobody watching, nothing exported: no span is made, errors
	// included, and a child keeps its parent's context, as with no
	// provider.
	carrier := propagation.MapCarrier{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
	remote := propagation.TraceContext{}.Extract(context.Background(), carrier)
	_, idle := tel.TracerProvider.Tracer("t").Start(remote, "POST /failed")
	idle.SetStatus(codes.Error, "no")
	idle.End()
	if st := tel.Spans.Stats(); st.Added != 0 || idle.IsRecording() || idle.SpanContext().SpanID().String() != "00f067aa0ba902b7" {
		t.Errorf("nobody watching: kept %d spans; the span records %v, has the context %v", st.Added, idle.IsRecording(), idle.SpanContext())
	}
	// A page open: the provider is the global one, and every span is
	// made and kept.
	stream := get("/api/stream?page=traces")
	defer stream.Body.Close()
	waitGlobal(t, tel.TracerProvider)
	ctx, root := otel.Tracer("t").Start(context.Background(), "GET /fine")
	_, child := otel.Tracer("t").Start(ctx, "SELECT")
	recording := root.IsRecording()
	child.End()
	root.End()
	if st := tel.Spans.Stats(); st.Spans != 2 || !recording {
		t.Errorf("a page open: kept %d spans, want 2; recording %v", st.Spans, recording)
	}
	// The page says nothing of turning traces on: they are on.
	resp := get("/traces")
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), `data-traces="1"`) || strings.Contains(string(page), "data-traces-off") {
		t.Errorf("GET /dashboard/traces = %d:\n%s", resp.StatusCode, page)
	}
	stream.Body.Close()
	if st := From(tel).Stats(); st.Spans.Exported != 0 || st.Dropped.Total() != 0 {
		t.Errorf("exported nothing, yet Stats = %+v", st)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tel.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	if otel.GetTracerProvider() != before {
		t.Error("Shutdown left the dashboard's provider as the global one")
	}

	// Sampling as configured: always_off keeps nothing, even watched.
	cfg.PrometheusPort, cfg.OTel = testenv.FreePort(t), observability.OTelConfig{Sampler: observability.SamplerAlwaysOff}
	tel, err = observability.Setup(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	stream = get("/api/stream?page=traces")
	_, bad := tel.TracerProvider.Tracer("t").Start(context.Background(), "POST /failed")
	bad.SetStatus(codes.Error, "no")
	bad.End()
	stream.Body.Close()
	if st := tel.Spans.Stats(); st.Added != 0 {
		t.Errorf("always_off: kept %d spans", st.Added)
	}
	tel.Shutdown(sctx)

	// With an endpoint, nobody watching: every span exported, errors
	// kept.
	rc := &otlpReceiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	cfg = otelTestConfig(srv.URL)
	cfg.DisablePrometheusListener, cfg.PrometheusPort, cfg.Dashboard, cfg.DashboardToken = false, testenv.FreePort(t), true, "t"
	cfg.PrometheusHost = "127.0.0.1"
	tel, err = observability.Setup(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	tr := tel.TracerProvider.Tracer("t")
	_, bad = tr.Start(context.Background(), "POST /failed")
	bad.SetStatus(codes.Error, "no")
	bad.End()
	_, fine := tr.Start(context.Background(), "GET /fine")
	fine.End()
	if err := tel.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	if st := tel.Spans.Stats(); st.Spans != 1 {
		t.Errorf("with an endpoint: kept %d spans, want the error", st.Spans)
	}
	if st := From(tel).Stats(); st.Spans.Exported != 2 {
		t.Errorf("with the dashboard: exported %d spans, want 2", st.Spans.Exported)
	}
}

// BenchmarkDashboardProcessor: a request's two spans (a server span of
// three attributes, a child of one with an event), started and ended
// through: a no-op provider (noop: no dashboard, no endpoint, the
// baseline of a program without traces); the SDK always sampling with no
// processor (sdk: what making spans costs); the pipeline with the
// dashboard alone, nobody watching (dashboard-idle, against noop) and a
// page open (dashboard-watched, against sdk); the SDK with an exporting
// processor that discards (export), and with the dashboard's processor
// beside it, nobody watching (export-dashboard-idle, against export).
//
//	go test -run '^$' -bench DashboardProcessor -benchmem -count 5 ./otlp
func BenchmarkDashboardProcessor(b *testing.B) {
	run := func(b *testing.B, tp trace.TracerProvider) {
		tr := tp.Tracer("bench")
		attrs := trace.WithAttributes(attribute.String("http.route", "/api/videos/{id}/comments"),
			attribute.Int("http.response.status_code", 201), attribute.String("request_id", "0123456789abcdef"))
		child := trace.WithAttributes(attribute.String("db.operation.name", "INSERT"))
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			cctx, root := tr.Start(ctx, "POST /api/videos/{id}/comments", attrs)
			_, c := tr.Start(cctx, "INSERT comments", child)
			c.AddEvent("stored")
			c.End()
			root.End()
		}
	}
	sdk := func(b *testing.B, opts ...sdktrace.TracerProviderOption) trace.TracerProvider {
		tp := sdktrace.NewTracerProvider(append(opts, sdktrace.WithSampler(sdktrace.AlwaysSample()))...)
		b.Cleanup(func() { tp.Shutdown(context.Background()) })
		return tp
	}
	// The pipeline Setup builds for the dashboard alone, no endpoint.
	dashboardOnly := func(b *testing.B, o *livedash.SpansOptions) trace.TracerProvider {
		p, err := New(context.Background(), &observability.OTelConfig{Sampler: observability.SamplerAlwaysOn}, enrich.Options{},
			&Options{Spans: newSpans(b, o)})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { p.Close(context.Background()) })
		return p.TracerProvider()
	}
	export := sdktrace.WithSpanProcessor(sdktrace.NewSimpleSpanProcessor(discardSpans{}))
	b.Run("noop", func(b *testing.B) { run(b, noop.NewTracerProvider()) })
	b.Run("sdk", func(b *testing.B) { run(b, sdk(b)) })
	b.Run("dashboard-idle", func(b *testing.B) { run(b, dashboardOnly(b, &livedash.SpansOptions{NothingWhenIdle: true})) })
	b.Run("dashboard-watched", func(b *testing.B) { run(b, dashboardOnly(b, &livedash.SpansOptions{KeepAllWhenIdle: true})) })
	b.Run("export", func(b *testing.B) { run(b, sdk(b, export)) })
	b.Run("export-dashboard-idle", func(b *testing.B) {
		run(b, sdk(b, export, sdktrace.WithSpanProcessor(DashboardProcessor(newSpans(b, nil)))))
	})
}

type discardSpans struct{}

func (discardSpans) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardSpans) Shutdown(context.Context) error                             { return nil }

// waitGlobal waits until tp is the global provider.
func waitGlobal(t *testing.T, tp trace.TracerProvider) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); otel.GetTracerProvider() != tp; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the global provider is %T %p, not %p, after 10 s", otel.GetTracerProvider(), otel.GetTracerProvider(), tp)
		}
	}
}

// With SetGlobal and the dashboard alone taking spans, the provider is
// the global one while a page is open (and IdleAfter past it), and the
// one found before at other times, so that the instrumentation takes its
// cheapest path; Close leaves the one found.
func TestDashboardProviderGlobalWhileWatched(t *testing.T) {
	before := otel.GetTracerProvider()
	spans := newSpans(t, &livedash.SpansOptions{NothingWhenIdle: true, IdleAfter: 50 * time.Millisecond})
	p, err := New(context.Background(), &observability.OTelConfig{SetGlobal: true}, enrich.Options{}, &Options{Spans: spans})
	if err != nil {
		t.Fatal(err)
	}
	if otel.GetTracerProvider() != before {
		t.Error("installed while nobody watches")
	}
	d, err := livedash.New(&livedash.Options{Spans: spans})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d)
	defer func() {
		srv.Close()
		d.Close(context.Background())
	}()
	resp, err := http.Get(srv.URL + livedash.DefaultPath + "/api/stream?page=traces")
	if err != nil {
		t.Fatal(err)
	}
	waitGlobal(t, p.TracerProvider())
	_, s := otel.Tracer("t").Start(context.Background(), "watched")
	s.End()
	resp.Body.Close()
	waitGlobal(t, before)
	_, s = otel.Tracer("t").Start(context.Background(), "idle")
	s.End()
	if st := spans.Stats(); st.Added != 1 {
		t.Errorf("kept %d spans, want the one made while watched", st.Added)
	}
	// A provider the program installs meanwhile is left alone.
	mine := sdktrace.NewTracerProvider()
	defer mine.Shutdown(context.Background())
	otel.SetTracerProvider(mine)
	resp, err = http.Get(srv.URL + livedash.DefaultPath + "/api/stream?page=traces")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * followEvery)
	resp.Body.Close()
	if otel.GetTracerProvider() != mine {
		t.Error("the program's own provider was replaced")
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if otel.GetTracerProvider() != mine {
		t.Error("Close replaced the program's own provider")
	}
	otel.SetTracerProvider(before)
}
