package opentelemetry

import (
	"net/http"
	"os"
	"strconv"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// wantIdentity checks that a resource names the demo as every other
// backend does.
func wantIdentity(t *testing.T, what string, res map[string]string, pid int) {
	t.Helper()
	for k, want := range map[string]string{
		"service.name":                "realtime-otel-test",
		"service.version":             "9.9.9",
		"deployment.environment.name": "ci",
		"process.pid":                 strconv.Itoa(pid),
	} {
		if res[k] != want {
			t.Errorf("%s resource %s = %q, want %q (resource %v)", what, k, res[k], want, res)
		}
	}
	if h, _ := os.Hostname(); res["host.name"] != h {
		t.Errorf("%s resource host.name = %q, want %q", what, res["host.name"], h)
	}
}

// TestDemoLogsAndMetricsReachCollector: the demo, pointed at the
// Collector's OTLP receiver by OTEL_EXPORTER_OTLP_ENDPOINT alone, sends
// the log records of a POST and its HTTP metrics, each with the service's
// resource; stopping it delivers what was queued. The request duration
// arrives as an exponential histogram whose POST data point carries an
// exemplar naming a span of a trace the receiver got.
func TestDemoLogsAndMetricsReachCollector(t *testing.T) {
	col := startCollector(t)
	d := startDemo(t,
		"OTEL_EXPORTER_OTLP_ENDPOINT="+col.Endpoint,
		"OTEL_METRIC_EXPORT_INTERVAL=60000", // only the final export on shutdown
		"SERVICE_NAME=realtime-otel-test", "SERVICE_VERSION=9.9.9", "ENVIRONMENT=ci",
	)
	if st := d.postComment(t, 42, "hello collector"); st != http.StatusCreated {
		t.Fatalf("POST answered %d, want 201", st)
	}
	pid := d.cmd.Process.Pid
	d.stop(t)

	// Logs: the access-log record of the POST, with the resource.
	var sawAccess bool
	logs := col.Logs.AllLogs()
	if len(logs) == 0 {
		t.Fatal("the collector received no logs")
	}
	for _, ld := range logs {
		for i := range ld.ResourceLogs().Len() {
			rl := ld.ResourceLogs().At(i)
			wantIdentity(t, "logs", attrMap(rl.Resource().Attributes()), pid)
			eachLog(rl, func(lr plog.LogRecord) {
				a := attrMap(lr.Attributes())
				if a["method"] == "POST" && a["status"] == "201" {
					sawAccess = true
				}
			})
		}
	}
	if !sawAccess {
		t.Error("no log record of the POST (method=POST, status=201) reached the collector")
	}

	// Metrics: the HTTP request metrics, with the same resource.
	names := map[string]bool{}
	metrics := col.Metrics.AllMetrics()
	if len(metrics) == 0 {
		t.Fatal("the collector received no metrics")
	}
	for _, md := range metrics {
		for i := range md.ResourceMetrics().Len() {
			rm := md.ResourceMetrics().At(i)
			wantIdentity(t, "metrics", attrMap(rm.Resource().Attributes()), pid)
			for j := range rm.ScopeMetrics().Len() {
				ms := rm.ScopeMetrics().At(j).Metrics()
				for k := range ms.Len() {
					m := ms.At(k)
					names[m.Name()] = true
					if m.Name() == "http.request.duration" {
						checkDuration(t, m, spansOf(col))
					}
				}
			}
		}
	}
	for _, want := range []string{"http.request.duration", "http.requests"} {
		if !names[want] {
			t.Errorf("metric %s did not reach the collector; got %v", want, names)
		}
	}
}

func eachLog(rl plog.ResourceLogs, f func(plog.LogRecord)) {
	for i := range rl.ScopeLogs().Len() {
		lrs := rl.ScopeLogs().At(i).LogRecords()
		for j := range lrs.Len() {
			f(lrs.At(j))
		}
	}
}

// spansOf returns the span ids the collector received, by trace id.
func spansOf(col *collector) map[pcommon.TraceID]map[pcommon.SpanID]bool {
	out := map[pcommon.TraceID]map[pcommon.SpanID]bool{}
	for _, td := range col.Traces.AllTraces() {
		for i := range td.ResourceSpans().Len() {
			ss := td.ResourceSpans().At(i).ScopeSpans()
			for j := range ss.Len() {
				spans := ss.At(j).Spans()
				for k := range spans.Len() {
					sp := spans.At(k)
					if out[sp.TraceID()] == nil {
						out[sp.TraceID()] = map[pcommon.SpanID]bool{}
					}
					out[sp.TraceID()][sp.SpanID()] = true
				}
			}
		}
	}
	return out
}

func checkDuration(t *testing.T, m pmetric.Metric, spans map[pcommon.TraceID]map[pcommon.SpanID]bool) {
	t.Helper()
	if m.Type() != pmetric.MetricTypeExponentialHistogram || m.Unit() != "s" {
		t.Errorf("http.request.duration is a %v in %q, want an exponential histogram in s", m.Type(), m.Unit())
		return
	}
	var posts uint64
	var linked bool
	dps := m.ExponentialHistogram().DataPoints()
	for i := range dps.Len() {
		p := dps.At(i)
		if a := attrMap(p.Attributes()); a["method"] != "POST" {
			continue
		}
		posts += p.Count()
		n := p.ZeroCount()
		for _, c := range p.Positive().BucketCounts().AsRaw() {
			n += c
		}
		if n != p.Count() || p.Scale() > 20 || p.Positive().BucketCounts().Len() > 160 {
			t.Errorf("POST data point: count %d, in its buckets %d, scale %d, %d buckets", p.Count(), n, p.Scale(), p.Positive().BucketCounts().Len())
		}
		for j := range p.Exemplars().Len() {
			e := p.Exemplars().At(j)
			linked = linked || spans[e.TraceID()][e.SpanID()]
		}
	}
	if posts != 1 {
		t.Errorf("http.request.duration holds %d POSTs, want 1", posts)
	}
	if !linked {
		t.Errorf("no exemplar of the POST names a span the collector received (%d traces)", len(spans))
	}
}
