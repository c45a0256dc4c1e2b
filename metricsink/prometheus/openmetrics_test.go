package prometheus_test

import (
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/realtimeserver/observability/metricsink"
	"github.com/realtimeserver/observability/metricsink/prometheus"
)

// A scrape that asks for OpenMetrics gets it: counters named without
// _total in their metadata, a classic bucket's exemplar on its line, # EOF
// at the end; a scrape that asks for nothing gets the text format, without
// exemplars.
func TestOpenMetricsNegotiated(t *testing.T) {
	p, _ := newProm(t, nil)
	ex := metricsink.Exemplar{
		TraceID: trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:  trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
	}
	p.Increment("hits", 2, metricsink.KV("route", `a"b\c`))
	p.DurationExemplar("req", 3*time.Millisecond, metricsink.KV("route", "/x"), ex)
	p.Duration("req", 40*time.Millisecond, metricsink.KV("route", "/x"))

	scrape := func(accept string) (string, string) {
		r := httptest.NewRequest("GET", "/metrics", nil)
		if accept != "" {
			r.Header.Set("Accept", accept)
		}
		w := httptest.NewRecorder()
		p.ServeHTTP(w, r)
		return w.Header().Get("Content-Type"), w.Body.String()
	}

	ct, body := scrape("application/openmetrics-text;version=1.0.0;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
	if ct != prometheus.ContentTypeOpenMetrics {
		t.Errorf("Content-Type %q, want %q", ct, prometheus.ContentTypeOpenMetrics)
	}
	for _, want := range []string{
		"# TYPE hits counter\n",
		`hits_total{route="a\"b\\c"} 2` + "\n",
		"# TYPE req_seconds histogram\n",
		"# UNIT req_seconds seconds\n",
		`req_seconds_count{route="/x"} 2` + "\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("OpenMetrics exposition lacks %q:\n%s", want, body)
		}
	}
	if !strings.HasSuffix(body, "# EOF\n") {
		t.Errorf("OpenMetrics exposition does not end with # EOF:\n…%s", body[max(0, len(body)-200):])
	}
	exLine := regexp.MustCompile(`(?m)^req_seconds_bucket\{route="/x",le="([^"]+)"\} 1 # \{trace_id="4bf92f3577b34da6a3ce929d0e0e4736",span_id="00f067aa0ba902b7"\} 0\.003 \d+(\.\d{1,3})?$`)
	if m := exLine.FindStringSubmatch(body); m == nil {
		t.Errorf("no bucket line with the exemplar:\n%s", body)
	}
	if n := strings.Count(body, " # {"); n != 1 {
		t.Errorf("%d exemplars written, want 1 (one observation had one)", n)
	}

	ct, body = scrape("")
	if ct != prometheus.ContentType {
		t.Errorf("without Accept: Content-Type %q, want %q", ct, prometheus.ContentType)
	}
	if strings.Contains(body, "# EOF") || strings.Contains(body, "trace_id") || !strings.Contains(body, "# TYPE hits_total counter") {
		t.Errorf("text exposition is not the text format:\n%s", body)
	}
}
