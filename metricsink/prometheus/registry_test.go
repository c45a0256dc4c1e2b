package prometheus_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/realtimeserver/observability/internal/testenv"

	"github.com/realtimeserver/observability/metricsink"
	"github.com/realtimeserver/observability/metricsink/prometheus"
)

// newProm returns a registry without runtime metrics whose warnings go to
// the returned buffer.
func newProm(t testing.TB, opts *prometheus.Options) (*prometheus.Registry, *testenv.Buffer) {
	t.Helper()
	logs := new(testenv.Buffer)
	var o prometheus.Options
	if opts != nil {
		o = *opts
	}
	o.DisableRuntimeMetrics = true
	o.Logger = slog.New(slog.NewTextHandler(logs, nil))
	p, err := prometheus.New(&o)
	if err != nil {
		t.Fatal(err)
	}
	return p, logs
}

func scrape(p *prometheus.Registry) string {
	var b bytes.Buffer
	p.WritePrometheus(&b)
	return b.String()
}

// samples returns the sample lines of the exposition that are not
// metricsink's own.
func samples(expo string) []string {
	var out []string
	for _, l := range strings.Split(expo, "\n") {
		if l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, "metricsink_") {
			continue
		}
		out = append(out, l)
	}
	return out
}

// dropped returns the value of metricsink_dropped_samples_total{reason}.
func dropped(t *testing.T, p *prometheus.Registry, reason string) string {
	t.Helper()
	re := regexp.MustCompile(`(?m)^metricsink_dropped_samples_total\{[^}]*reason="` + reason + `"[^}]*\} (\S+)$`)
	m := re.FindStringSubmatch(scrape(p))
	if m == nil {
		t.Fatalf("no metricsink_dropped_samples_total{reason=%q} in the exposition", reason)
	}
	return m[1]
}

func TestNameMapping(t *testing.T) {
	tests := []struct {
		name   string
		record func(s metricsink.Sink)
		want   string // the one sample line expected
	}{
		{"dotted counter", func(s metricsink.Sink) { s.Increment("comments.created", 1, metricsink.Tags{}) }, "comments_created_total 1"},
		{"counter already _total", func(s metricsink.Sink) { s.Increment("jobs_total", 2, metricsink.Tags{}) }, "jobs_total 2"},
		{"camelCase", func(s metricsink.Sink) { s.Increment("requestCount", 1, metricsink.Tags{}) }, "request_count_total 1"},
		{"dashes colons spaces", func(s metricsink.Sink) { s.Gauge("queue-length: now", 3, metricsink.Tags{}) }, "queue_length_now 3"},
		{"runs collapse", func(s metricsink.Sink) { s.Gauge("..ab..cd..", 1, metricsink.Tags{}) }, "ab_cd 1"},
		{"non-ASCII", func(s metricsink.Sink) { s.Gauge("température.room", 21.5, metricsink.Tags{}) }, "temp_rature_room 21.5"},
		{"gauge keeps name", func(s metricsink.Sink) { s.Gauge("websocket.connections", 7, metricsink.Tags{}) }, "websocket_connections 7"},
		{"duration gets _seconds", func(s metricsink.Sink) {
			s.Duration("db.query.duration", 1500*time.Millisecond, metricsink.Tags{})
		}, "db_query_duration_seconds_sum 1.5"},
		{"duration already _seconds", func(s metricsink.Sink) {
			s.Duration("wait_seconds", 2*time.Second, metricsink.Tags{})
		}, "wait_seconds_sum 2"},
		{"tag keys sanitised", func(s metricsink.Sink) {
			s.Increment("hits", 1, metricsink.KV("User.ID", "7", "httpMethod", "GET"))
		}, `hits_total{http_method="GET",user_id="7"} 1`},
		{"tags sorted whatever the order", func(s metricsink.Sink) {
			s.Increment("hits", 1, metricsink.KV("b", "2", "a", "1"))
			s.Increment("hits", 1, metricsink.KV("a", "1", "b", "2"))
		}, `hits_total{a="1",b="2"} 2`},
		{"values escaped", func(s metricsink.Sink) {
			s.Increment("hits", 1, metricsink.KV("path", "a\\b\"c\nd"))
		}, `hits_total{path="a\\b\"c\nd"} 1`},
		{"invalid UTF-8 value replaced", func(s metricsink.Sink) {
			s.Increment("hits", 1, metricsink.KV("v", "a\xffb"))
		}, "hits_total{v=\"a\uFFFDb\"} 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := newProm(t, nil)
			tt.record(p)
			got := samples(scrape(p))
			found := false
			for _, l := range got {
				found = found || l == tt.want
			}
			if !found {
				t.Errorf("sample lines = %q, want one to be %q", got, tt.want)
			}
		})
	}
}

func TestNamespaceAndConstLabels(t *testing.T) {
	p, _ := newProm(t, &prometheus.Options{Namespace: "app", ConstLabels: map[string]string{"env": "prod"}})
	p.Increment("comments.created", 1, metricsink.KV("region", "eu"))
	got := samples(scrape(p))
	want := `app_comments_created_total{env="prod",region="eu"} 1`
	if len(got) != 1 || got[0] != want {
		t.Errorf("samples = %q, want [%q]", got, want)
	}
	if !strings.Contains(scrape(p), `metricsink_dropped_samples_total{env="prod",reason="invalid_name"} 0`) {
		t.Errorf("self-metrics lack the const labels:\n%s", scrape(p))
	}
}

func TestRejected(t *testing.T) {
	tests := []struct {
		name   string
		record func(s metricsink.Sink)
		reason string
		log    string // a substring of the logged warning
	}{
		{"empty name", func(s metricsink.Sink) { s.Increment("", 1, metricsink.Tags{}) }, "invalid_name", "no letter or digit"},
		{"only punctuation", func(s metricsink.Sink) { s.Gauge("...", 1, metricsink.Tags{}) }, "invalid_name", "no letter or digit"},
		{"leading digit", func(s metricsink.Sink) { s.Gauge("5xx.rate", 1, metricsink.Tags{}) }, "invalid_name", "digit"},
		{"gauge ending _total", func(s metricsink.Sink) { s.Gauge("jobs_total", 1, metricsink.Tags{}) }, "invalid_name", "_total"},
		{"gauge ending _count", func(s metricsink.Sink) { s.Gauge("jobs.count", 1, metricsink.Tags{}) }, "invalid_name", "_count"},
		{"abbreviated unit", func(s metricsink.Sink) { s.Histogram("latency.ms", 1, metricsink.Tags{}) }, "invalid_name", "abbreviated"},
		{"non-base unit", func(s metricsink.Sink) { s.Histogram("latency.milliseconds", 1, metricsink.Tags{}) }, "invalid_name", "base unit"},
		{"type in name", func(s metricsink.Sink) { s.Gauge("queue.gauge", 1, metricsink.Tags{}) }, "invalid_name", "type"},
		{"self-metric name", func(s metricsink.Sink) { s.Increment("metricsink.dropped_samples", 1, metricsink.Tags{}) }, "invalid_name", "reserved"},
		{"odd KV", func(s metricsink.Sink) { s.Increment("hits", 1, metricsink.KV("a")) }, "invalid_tags", "odd number"},
		{"too many tags", func(s metricsink.Sink) {
			s.Increment("hits", 1, metricsink.KV("a", "1", "b", "2", "c", "3", "d", "4", "e", "5", "f", "6", "g", "7", "h", "8", "i", "9"))
		}, "invalid_tags", "MaxTags"},
		{"empty tag key", func(s metricsink.Sink) { s.Increment("hits", 1, metricsink.KV("..", "x")) }, "invalid_tags", "no letter"},
		{"keys that collide", func(s metricsink.Sink) { s.Increment("hits", 1, metricsink.KV("a.b", "1", "a_b", "2")) }, "invalid_tags", "two tags"},
		{"le", func(s metricsink.Sink) { s.Histogram("size_bytes", 1, metricsink.KV("le", "1")) }, "reserved_label", "reserved"},
		{"quantile", func(s metricsink.Sink) { s.Gauge("temp", 1, metricsink.KV("quantile", "1")) }, "reserved_label", "reserved"},
		{"dunder", func(s metricsink.Sink) { s.Gauge("temp", 1, metricsink.KV("__name__", "x")) }, "reserved_label", "reserved"},
		{"negative increment", func(s metricsink.Sink) { s.Increment("hits", -1, metricsink.Tags{}) }, "invalid_value", "negative"},
		{"NaN increment", func(s metricsink.Sink) { s.Increment("hits", math.NaN(), metricsink.Tags{}) }, "invalid_value", "finite"},
		{"+Inf increment", func(s metricsink.Sink) { s.Increment("hits", math.Inf(1), metricsink.Tags{}) }, "invalid_value", "finite"},
		{"NaN observation", func(s metricsink.Sink) { s.Histogram("size_bytes", math.NaN(), metricsink.Tags{}) }, "invalid_value", "finite"},
		{"-Inf observation", func(s metricsink.Sink) { s.Histogram("size_bytes", math.Inf(-1), metricsink.Tags{}) }, "invalid_value", "finite"},
		{"negative observation", func(s metricsink.Sink) { s.Histogram("size_bytes", -2, metricsink.Tags{}) }, "invalid_value", "negative"},
		{"negative duration", func(s metricsink.Sink) { s.Duration("wait", -time.Second, metricsink.Tags{}) }, "invalid_value", "negative"},
		{"counter then gauge", func(s metricsink.Sink) {
			s.Increment("jobs", 1, metricsink.Tags{})
			s.Gauge("jobs_total", 1, metricsink.Tags{})
		}, "invalid_name", "_total"},
		{"gauge then histogram", func(s metricsink.Sink) {
			s.Gauge("size_bytes", 1, metricsink.Tags{})
			s.Histogram("size_bytes", 1, metricsink.Tags{})
		}, "type_clash", "already a gauge"},
		{"histogram then gauge", func(s metricsink.Sink) {
			s.Histogram("size_bytes", 1, metricsink.Tags{})
			s.Gauge("size_bytes", 1, metricsink.Tags{})
		}, "type_clash", "already a histogram"},
		{"duration then gauge", func(s metricsink.Sink) {
			s.Duration("wait", time.Second, metricsink.Tags{})
			s.Gauge("wait.seconds", 1, metricsink.Tags{})
		}, "type_clash", "already a histogram"},
		{"histogram named like another's _sum", func(s metricsink.Sink) {
			s.Histogram("size_bytes", 1, metricsink.Tags{})
			s.Histogram("size_bytes_sum", 1, metricsink.Tags{})
		}, "type_clash", "already used by the histogram size_bytes"},
		{"histogram whose _sum is taken", func(s metricsink.Sink) {
			s.Histogram("size_bytes_sum", 1, metricsink.Tags{})
			s.Histogram("size_bytes", 1, metricsink.Tags{})
		}, "type_clash", "size_bytes_sum is already used"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, logs := newProm(t, nil)
			before := scrape(p)
			tt.record(p)
			tt.record(p) // a second time: counted again, logged once
			if got := dropped(t, p, tt.reason); got != "2" {
				t.Errorf("dropped{reason=%q} = %s, want 2\nbefore:\n%s\nafter:\n%s", tt.reason, got, before, scrape(p))
			}
			if got := strings.Count(logs.String(), "reason="+tt.reason); got != 1 {
				t.Errorf("warnings for %s logged %d times, want 1:\n%s", tt.reason, got, logs)
			}
			if !strings.Contains(logs.String(), tt.log) {
				t.Errorf("log %q does not mention %q", logs, tt.log)
			}
		})
	}
}

func TestGaugeSpecialValues(t *testing.T) {
	tests := []struct {
		v    float64
		want string
	}{
		{math.NaN(), "g NaN"},
		{math.Inf(1), "g +Inf"},
		{math.Inf(-1), "g -Inf"},
		{-3.5, "g -3.5"},
		{1e21, "g 1e+21"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			p, _ := newProm(t, nil)
			p.Gauge("g", tt.v, metricsink.Tags{})
			if got := samples(scrape(p)); len(got) != 1 || got[0] != tt.want {
				t.Errorf("Gauge(%v) exposed %q, want %q", tt.v, got, tt.want)
			}
		})
	}
}

func TestHistogramBuckets(t *testing.T) {
	p, _ := newProm(t, &prometheus.Options{Buckets: []float64{0.1, 0.5}})
	p.Duration("op", 50*time.Millisecond, metricsink.KV("kind", "read"))
	p.Duration("op", 300*time.Millisecond, metricsink.KV("kind", "read"))
	p.Duration("op", 2*time.Second, metricsink.KV("kind", "read"))
	got := strings.Join(samples(scrape(p)), "\n")
	want := strings.Join([]string{
		`op_seconds_bucket{kind="read",le="0.1"} 1`,
		`op_seconds_bucket{kind="read",le="0.5"} 2`,
		`op_seconds_bucket{kind="read",le="+Inf"} 3`,
		`op_seconds_sum{kind="read"} 2.35`,
		`op_seconds_count{kind="read"} 3`,
	}, "\n")
	if got != want {
		t.Errorf("exposition:\n%s\nwant:\n%s", got, want)
	}
	if !strings.Contains(scrape(p), "# TYPE op_seconds histogram\n") {
		t.Errorf("no histogram TYPE line:\n%s", scrape(p))
	}
}

func TestOverflow(t *testing.T) {
	p, logs := newProm(t, &prometheus.Options{MaxSeriesPerMetric: 3})
	for _, u := range []string{"a", "b", "c", "d", "e", "a"} {
		p.Increment("logins", 1, metricsink.KV("user", u, "method", "pw"))
	}
	p.Increment("other.metric", 1, metricsink.KV("user", "z"))
	expo := scrape(p)
	for _, want := range []string{
		`logins_total{method="pw",user="a"} 2`,
		`logins_total{method="pw",user="b"} 1`,
		`logins_total{method="pw",user="c"} 1`,
		`logins_total{method="other",user="other"} 2`,
		`other_metric_total{user="z"} 1`,
		`metricsink_overflow_series_total{metric="logins_total"} 2`,
	} {
		if !strings.Contains(expo, want+"\n") {
			t.Errorf("exposition lacks %q:\n%s", want, expo)
		}
	}
	if strings.Contains(expo, `user="d"`) || strings.Contains(expo, `user="e"`) {
		t.Errorf("series past the limit were created:\n%s", expo)
	}
	if got := strings.Count(logs.String(), "series limit"); got != 1 {
		t.Errorf("overflow warning logged %d times, want 1:\n%s", got, logs)
	}
}

func TestFuncs(t *testing.T) {
	p, _ := newProm(t, nil)
	n := 0.0
	unregG := p.GaugeFunc("db.pool.open_connections", metricsink.KV("db", "main"), func() float64 { return 4 })
	unregC := p.CounterFunc("db.pool.waits", metricsink.KV("db", "main"), func() float64 { n++; return n })
	expo := scrape(p)
	for _, want := range []string{
		"# TYPE db_pool_open_connections gauge\ndb_pool_open_connections{db=\"main\"} 4\n",
		"# TYPE db_pool_waits_total counter\ndb_pool_waits_total{db=\"main\"} 1\n",
	} {
		if !strings.Contains(expo, want) {
			t.Errorf("exposition lacks %q:\n%s", want, expo)
		}
	}
	dup := p.GaugeFunc("db.pool.open_connections", metricsink.KV("db", "main"), func() float64 { return 5 })
	dup()
	if got := dropped(t, p, "duplicate"); got != "1" {
		t.Errorf("dropped{duplicate} = %s, want 1", got)
	}
	p.Gauge("db.pool.open_connections", 9, metricsink.KV("db", "main"))
	if got := dropped(t, p, "type_clash"); got != "1" {
		t.Errorf("Gauge on a GaugeFunc series: dropped{type_clash} = %s, want 1", got)
	}
	unregG()
	unregG()
	unregC()
	expo = scrape(p)
	if strings.Contains(expo, "db_pool") {
		t.Errorf("unregistered series still exposed:\n%s", expo)
	}
	again := p.GaugeFunc("db.pool.open_connections", metricsink.KV("db", "main"), func() float64 { return 6 })
	defer again()
	if !strings.Contains(scrape(p), `db_pool_open_connections{db="main"} 6`) {
		t.Errorf("re-registration after unregister not exposed:\n%s", scrape(p))
	}

	boom := p.GaugeFunc("boom", metricsink.Tags{}, func() float64 { panic("callback failed") })
	defer boom()
	if expo := scrape(p); strings.Contains(expo, "boom") {
		t.Errorf("a panicking callback's family should be left out:\n%s", expo)
	}
	if got := dropped(t, p, "panic"); got == "0" {
		t.Errorf("dropped{panic} = %s, want > 0", got)
	}
}

func TestOptionsErrors(t *testing.T) {
	tests := []struct {
		name string
		opts prometheus.Options
		want string
	}{
		{"namespace not snake", prometheus.Options{Namespace: "My.App"}, "Namespace"},
		{"namespace unit", prometheus.Options{Namespace: "ms"}, "Namespace"},
		{"const label reserved", prometheus.Options{ConstLabels: map[string]string{"le": "1"}}, "ConstLabels"},
		{"const label camel", prometheus.Options{ConstLabels: map[string]string{"myEnv": "1"}}, "ConstLabels"},
		{"const label value", prometheus.Options{ConstLabels: map[string]string{"env": "\xff"}}, "ConstLabels"},
		{"buckets unsorted", prometheus.Options{Buckets: []float64{1, 0.5}}, "Buckets"},
		{"buckets inf", prometheus.Options{Buckets: []float64{1, math.Inf(1)}}, "Buckets"},
		{"max series negative", prometheus.Options{MaxSeriesPerMetric: -1}, "MaxSeriesPerMetric"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := prometheus.New(&tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewPrometheus() = %v, %v; want an error naming %s", p, err, tt.want)
			}
		})
	}
	if _, err := prometheus.New(nil); err != nil {
		t.Errorf("NewPrometheus(nil) = %v", err)
	}
}

func TestServeHTTP(t *testing.T) {
	p, _ := newProm(t, nil)
	p.Increment("hits", 1, metricsink.KV("path", "/"))
	srv := httptest.NewServer(p)
	defer srv.Close()
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	for _, enc := range []string{"", "gzip", "deflate, gzip;q=0.5", "gzip;q=0"} {
		t.Run("Accept-Encoding="+enc, func(t *testing.T) {
			req, _ := http.NewRequest("GET", srv.URL+"/metrics", nil)
			if enc != "" {
				req.Header.Set("Accept-Encoding", enc)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if ct := resp.Header.Get("Content-Type"); ct != prometheus.ContentType {
				t.Errorf("Content-Type = %q, want %q", ct, prometheus.ContentType)
			}
			wantGzip := enc == "gzip" || enc == "deflate, gzip;q=0.5"
			var body io.Reader = resp.Body
			if got := resp.Header.Get("Content-Encoding") == "gzip"; got != wantGzip {
				t.Fatalf("gzipped = %v, want %v", got, wantGzip)
			}
			if wantGzip {
				zr, err := gzip.NewReader(resp.Body)
				if err != nil {
					t.Fatal(err)
				}
				body = zr
			}
			b, err := io.ReadAll(body)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), `hits_total{path="/"} 1`) {
				t.Errorf("body lacks the counter:\n%s", b)
			}
		})
	}
}

func TestConcurrentWritersAndScrapes(t *testing.T) {
	p, _ := newProm(t, &prometheus.Options{MaxSeriesPerMetric: 50})
	var wg sync.WaitGroup
	const writers, perWriter = 4, 2000
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				v := string(rune('a' + i%80))
				p.Increment("events", 1, metricsink.KV("k", v))
				p.Gauge("level", float64(i), metricsink.KV("w", string(rune('0'+w))))
				p.Duration("op", time.Duration(i)*time.Microsecond, metricsink.Tags{})
				if i%500 == 0 {
					un := p.GaugeFunc("tmp", metricsink.KV("w", string(rune('0'+w)), "i", v), func() float64 { return 1 })
					un()
				}
			}
		})
	}
	done := make(chan struct{})
	var scrapes sync.WaitGroup
	scrapes.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
				p.WritePrometheus(io.Discard)
			}
		}
	})
	wg.Wait()
	close(done)
	scrapes.Wait()
	expo := scrape(p)
	// 80 distinct values, limit 50: 50 series plus one overflow series.
	var total float64
	re := regexp.MustCompile(`(?m)^events_total\{k="[^"]*"\} (\d+)$`)
	ms := re.FindAllStringSubmatch(expo, -1)
	for _, m := range ms {
		var v float64
		for _, c := range m[1] {
			v = v*10 + float64(c-'0')
		}
		total += v
	}
	if len(ms) != 51 || total != writers*perWriter {
		t.Errorf("events_total: %d series summing to %v, want 51 summing to %d", len(ms), total, writers*perWriter)
	}
	if !strings.Contains(expo, "op_seconds_count 8000\n") {
		t.Errorf("op_seconds_count is not 8000:\n%s", expo)
	}
}
