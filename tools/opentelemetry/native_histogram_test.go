package opentelemetry

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/realtimeserver/observability/internal/testenv"
)

// TestNativeHistogramsInPrometheus: a real Prometheus with native
// histograms and exemplar storage on scrapes the demo, which sends its
// traces to Jaeger. The test sends requests of its own, each with a sampled
// traceparent it chose, and checks that Prometheus stores
// http_request_duration_seconds as a native histogram (no _bucket series),
// that histogram_quantile(0.99, …) over it is within 5% of the exact p99 of
// those requests (their durations as the demo's access log gives them, the
// very values the histogram observed), and that the exemplars Prometheus
// returns name traces the test sent and Jaeger holds.
func TestNativeHistogramsInPrometheus(t *testing.T) {
	promBin := testenv.Binary(t, "prometheus", "apt-get install prometheus (2.42 or later)")
	j := startJaeger(t)
	metricsPort := testenv.FreePort(t)
	d := startDemo(t,
		"OTEL_EXPORTER_OTLP_ENDPOINT="+j.OTLP,
		"OTEL_LOGS_EXPORTER=none", "OTEL_METRICS_EXPORTER=none", // Jaeger takes traces only
		"OTEL_BSP_SCHEDULE_DELAY=100",
		"SERVICE_NAME=realtime-native-test",
		"PROMETHEUS_PORT="+strconv.Itoa(metricsPort),
		"LOG_LEVEL=info",
		"LOG_RATE_LIMIT=off", // every access log line: they are the exact durations
	)
	prom := startNativePrometheus(t, promBin, "127.0.0.1:"+strconv.Itoa(metricsPort))

	// The requests: GETs of one route, each its own sampled trace.
	const n = 6000
	const route = "/api/videos/{video_id}/comments"
	sent := make(map[string]bool, n)
	client := &http.Client{Timeout: 10 * time.Second}
	for i := range n {
		traceID := randomHex(16)
		sent[traceID] = true
		req, _ := http.NewRequest("GET", d.URL+"/api/videos/"+strconv.Itoa(1+i%7)+"/comments", nil)
		req.Header.Set("traceparent", "00-"+traceID+"-"+randomHex(8)+"-01")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET answered %d", resp.StatusCode)
		}
	}

	// The exact durations, from the access log: one line per request.
	durations := accessLogDurations(t, d, "GET", route, n)
	exact := exactQuantile(durations, 0.99)

	selector := fmt.Sprintf(`http_request_duration_seconds{method="GET",route=%q}`, route)
	// Wait until Prometheus has scraped every request.
	deadline := time.Now().Add(60 * time.Second)
	for {
		v, ok := prom.scalar(t, "histogram_count("+selector+")")
		if ok && v == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60s Prometheus counts %v requests in the native histogram (found %v), want %d; "+
				"is it scraping the protobuf exposition (the demo must link metricsink/prometheus/promproto)?", v, ok, n)
		}
		time.Sleep(500 * time.Millisecond)
	}

	// Stored as a native histogram: the series has a histogram value, and
	// no classic bucket series were stored.
	if got := prom.query(t, selector); len(got) != 1 || got[0].Histogram == nil {
		t.Errorf("query %s: %d results, want one native histogram: %+v", selector, len(got), got)
	}
	if got := prom.query(t, `http_request_duration_seconds_bucket`); len(got) != 0 {
		t.Errorf("Prometheus stored %d classic bucket series beside the native histogram", len(got))
	}

	q := fmt.Sprintf(`histogram_quantile(0.99, sum(%s))`, selector)
	p99, ok := prom.scalar(t, q)
	if !ok {
		t.Fatalf("%s gave no value", q)
	}
	// What Prometheus answers is what its interpolation gives over the
	// demo's native buckets (schema 3, at most 160 of them) of the very
	// durations the test sent: the stored histogram holds every
	// observation in its bucket.
	if model := linearNativeQuantile(durations, 0.99, 3, 160); math.Abs(p99-model) > 1e-9*model {
		t.Errorf("%s = %.9g s; interpolating in the native buckets of the access log's durations gives %.9g s", q, p99, model)
	}
	if rel := math.Abs(p99-exact) / exact; rel > 0.05 {
		t.Errorf("%s = %.6g s; the exact p99 of the %d requests is %.6g s (relative error %.1f%%, bound 5%%)", q, p99, n, exact, 100*rel)
	} else {
		t.Logf("p99: Prometheus %.6g s, exact %.6g s (relative error %.2f%%)", p99, exact, 100*rel)
	}

	// Exemplars name traces the test sent, and Jaeger holds them.
	ids := prom.exemplarTraceIDs(t, selector)
	if len(ids) == 0 {
		t.Fatalf("query_exemplars %s returned no trace_id", selector)
	}
	checked := 0
	for _, id := range ids {
		if !sent[id] {
			t.Errorf("exemplar trace_id %s is not one of the requests the test sent", id)
			continue
		}
		if checked < 3 {
			tr := j.trace(t, id, 1)
			var server bool
			for _, s := range tr.Spans {
				server = server || s.OperationName == "GET "+route
			}
			if !server {
				t.Errorf("Jaeger's trace %s has no span GET %s: %v", id, route, names(tr.Spans))
			}
			checked++
		}
	}
	t.Logf("%d exemplars, %d traces checked in Jaeger", len(ids), checked)
}

// accessLogDurations returns the durations (seconds) of the access log
// lines of method and route in the demo's JSON log, waiting until there
// are n of them.
func accessLogDurations(t *testing.T, d *demo, method, route string, n int) []float64 {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var out []float64
		sc := bufio.NewScanner(strings.NewReader(d.stderr.String()))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var rec struct {
				Method   string `json:"method"`
				Route    string `json:"route"`
				Duration *int64 `json:"duration"`
			}
			if json.Unmarshal(sc.Bytes(), &rec) != nil || rec.Duration == nil {
				continue
			}
			if rec.Method == method && rec.Route == route {
				out = append(out, time.Duration(*rec.Duration).Seconds())
			}
		}
		if len(out) >= n {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("the access log holds %d lines of %s %s, want %d", len(out), method, route, n)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// linearNativeQuantile is the q-quantile Prometheus 2.42's
// histogram_quantile gives for a native histogram of xs (all positive)
// that starts at schema and, as the registry does, lowers it while its
// buckets span more than maxBuckets: the bucket
// (2^((k-1)/2^schema), 2^(k/2^schema)] in which the rank q·len(xs) falls,
// and a linear interpolation inside it.
func linearNativeQuantile(xs []float64, q float64, schema, maxBuckets int) float64 {
	log2 := func(x float64) float64 {
		frac, exp := math.Frexp(x) // x = frac·2^exp, frac in [0.5, 1)
		if frac == 0.5 {
			return float64(exp - 1) // exact: a power of two is the upper bound of its bucket
		}
		return float64(exp) + math.Log2(frac)
	}
	var counts map[int]float64
	var scale float64
	for ; ; schema-- {
		counts, scale = map[int]float64{}, math.Exp2(float64(schema))
		for _, x := range xs {
			counts[int(math.Ceil(log2(x)*scale))]++
		}
		keys := slices.Sorted(maps.Keys(counts))
		if keys[len(keys)-1]-keys[0]+1 <= maxBuckets || schema == -4 {
			break
		}
	}
	rank, below := q*float64(len(xs)), 0.0
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		if below+counts[k] >= rank {
			lower, upper := math.Exp2(float64(k-1)/scale), math.Exp2(float64(k)/scale)
			return lower + (upper-lower)*(rank-below)/counts[k]
		}
		below += counts[k]
	}
	return math.NaN()
}

// exactQuantile is the q-quantile of xs: the smallest value with at least
// q of the values at or below it.
func exactQuantile(xs []float64, q float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(i, 0)]
}

// nativeProm is a Prometheus with native histograms and exemplar storage.
type nativeProm struct{ URL string }

// startNativePrometheus starts Prometheus scraping target every second
// with native histograms and exemplar storage on.
func startNativePrometheus(t *testing.T, bin, target string) *nativeProm {
	t.Helper()
	dir := t.TempDir()
	config := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: realtime-server
    static_configs:
      - targets: [%q]
`, target)
	path := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	startProcess(t, "prometheus", exec.Command(bin,
		"--config.file="+path,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--enable-feature=native-histograms,exemplar-storage",
	))
	waitTCP(t, addr)
	return &nativeProm{URL: "http://" + addr}
}

// promResult is one element of a query's vector result.
type promResult struct {
	Metric    map[string]string `json:"metric"`
	Value     []any             `json:"value"`
	Histogram []any             `json:"histogram"`
}

func (p *nativeProm) get(t *testing.T, path string, params url.Values, into any) {
	t.Helper()
	resp, err := http.Get(p.URL + path + "?" + params.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var env struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil || env.Status != "success" {
		t.Fatalf("GET %s %v: %s %s (%v)", path, params, env.Status, env.Error, err)
	}
	if err := json.Unmarshal(env.Data, into); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, env.Data)
	}
}

func (p *nativeProm) query(t *testing.T, expr string) []promResult {
	t.Helper()
	var data struct {
		Result []promResult `json:"result"`
	}
	p.get(t, "/api/v1/query", url.Values{"query": {expr}}, &data)
	return data.Result
}

// scalar returns the value of a query whose result is one sample.
func (p *nativeProm) scalar(t *testing.T, expr string) (float64, bool) {
	t.Helper()
	r := p.query(t, expr)
	if len(r) != 1 || len(r[0].Value) != 2 {
		return 0, false
	}
	s, _ := r[0].Value[1].(string)
	v, err := strconv.ParseFloat(s, 64)
	return v, err == nil && !math.IsNaN(v)
}

// exemplarTraceIDs returns the trace_id labels of the exemplars of the
// last ten minutes on the series of selector.
func (p *nativeProm) exemplarTraceIDs(t *testing.T, selector string) []string {
	t.Helper()
	now := time.Now()
	var data []struct {
		Exemplars []struct {
			Labels map[string]string `json:"labels"`
		} `json:"exemplars"`
	}
	p.get(t, "/api/v1/query_exemplars", url.Values{
		"query": {selector},
		"start": {strconv.FormatInt(now.Add(-10*time.Minute).Unix(), 10)},
		"end":   {strconv.FormatInt(now.Add(time.Minute).Unix(), 10)},
	}, &data)
	var ids []string
	for _, s := range data {
		for _, e := range s.Exemplars {
			if id := e.Labels["trace_id"]; id != "" {
				ids = append(ids, id)
			}
		}
	}
	return ids
}

// The model of Prometheus's interpolation: a power of two is the upper
// bound of its bucket, the rank is interpolated linearly, and a span
// wider than the bucket bound lowers the schema.
func TestLinearNativeQuantile(t *testing.T) {
	lower := math.Exp2(-1.0 / 8)
	if got, want := linearNativeQuantile([]float64{1, 1, 1, 1}, 0.5, 3, 160), lower+(1-lower)*0.5; got != want {
		t.Errorf("four observations of 1: p50 = %v, want %v, half way in (2^-1/8, 1]", got, want)
	}
	// 2^-20 and 2^10 span 30 octaves: 241 buckets at schema 3, 121 at 2.
	xs := []float64{math.Exp2(-20), math.Exp2(10)}
	if got, want := linearNativeQuantile(xs, 1, 3, 160), math.Exp2(10); got != want {
		t.Errorf("p100 = %v, want %v, the upper bound of 2^10's bucket", got, want)
	}
	if got, want := linearNativeQuantile(xs, 0.25, 3, 160), math.Exp2(-20.25)+(math.Exp2(-20)-math.Exp2(-20.25))*0.5; math.Abs(got-want) > 1e-15 {
		t.Errorf("p25 = %v, want %v, half way in 2^-20's schema-2 bucket", got, want)
	}
}
