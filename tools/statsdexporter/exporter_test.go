// Package statsdexporter sends the kit's DogStatsD stream, produced the way
// the demo produces it (Setup with METRICS_BACKENDS=prometheus,dogstatsd
// and the HTTP, WebSocket and database instrumentation), into
// prometheus/statsd_exporter built from its own source, and checks that
// every metric a Datadog dashboard in deploy/datadog queries arrives with
// the tags the dashboard filters and groups by, and that the exporter saw
// no tag or sample error.
package statsdexporter

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	_ "modernc.org/sqlite"

	"github.com/realtimeserver/observability"
	"github.com/realtimeserver/observability/dbmetrics"
	"github.com/realtimeserver/observability/httpmetrics"
	"github.com/realtimeserver/observability/wsmetrics"
)

// datadogDir is deploy/datadog of the main module.
const datadogDir = "../../deploy/datadog"

// agentTags are added by the Datadog Agent, not by the client: a DogStatsD
// stream never carries them.
var agentTags = []string{"host"}

func TestDatadogDashboardMetricsArriveThroughStatsdExporter(t *testing.T) {
	queries := dashboardQueries(t)
	if len(queries) < 10 {
		t.Fatalf("found %d metric queries in %s; the dashboards were not read", len(queries), datadogDir)
	}
	exporter := startExporter(t)
	t.Setenv("DD_DOGSTATSD_URL", "udp://"+exporter.statsd)

	// A Datadog intake that rejects the first batch, so that the log
	// pipeline's drop counter has a value, and accepts the others.
	var batches atomic.Int64
	intake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if batches.Add(1) == 1 {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer intake.Close()

	env := map[string]string{
		"METRICS_BACKENDS": "prometheus,dogstatsd",
		"PROMETHEUS_PORT":  "0",
		"ENABLE_DATADOG":   "true",
		"DATADOG_API_KEY":  "test-key",
		"DATADOG_LOGS_URL": intake.URL + "/api/v2/logs",
		"SERVICE_NAME":     "realtime-server",
		"ENVIRONMENT":      "ci",
		"SERVICE_VERSION":  "1.0.0",
		"LOG_FORMAT":       "json",
	}
	cfg, err := observability.ConfigFromLookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	cfg.LogOutput = io.Discard
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tel, err := observability.Setup(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	shutdown := sync.OnceValue(func() error { return tel.Shutdown(ctx) })
	defer shutdown()

	db := driveDatabase(t, ctx, tel)
	defer db.Close()
	driveHTTPAndSockets(t, ctx, tel)
	tel.Logger.Info("comment created", "user_id", 1)
	tel.Logger.Error("storing a comment failed", "error", "test")
	if err := tel.Datadog.Flush(ctx); err != nil { // rejected
		t.Fatal(err)
	}
	tel.Logger.Warn("slow query")
	if err := tel.Datadog.Flush(ctx); err != nil { // accepted
		t.Fatal(err)
	}
	// Shutdown closes the DogStatsD sink, which reads every GaugeFunc and
	// CounterFunc once more and flushes.
	if err := shutdown(); err != nil {
		t.Fatal(err)
	}

	var samples []sample
	deadline := time.Now().Add(15 * time.Second)
	for {
		samples = exporter.scrape(t)
		missing := check(queries, samples)
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			for _, m := range missing {
				t.Error(m)
			}
			t.Fatalf("exporter's metrics:\n%s", strings.Join(names(samples), "\n"))
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The exporter read every line and every tag without complaint.
	for _, s := range samples {
		switch s.name {
		case "statsd_exporter_tag_errors_total", "statsd_exporter_sample_errors_total",
			"statsd_exporter_events_conflict_total", "statsd_exporter_events_error_total":
			if s.value != 0 {
				t.Errorf("%s%v = %v, want 0", s.name, s.labels, s.value)
			}
		case "statsd_exporter_tags_total":
			if s.value == 0 {
				t.Errorf("statsd_exporter_tags_total = 0: the stream carried no tags")
			}
		}
	}
}

// driveDatabase runs the queries the demo runs, and makes the pool close
// connections for each of its three reasons, so that every pool counter
// has a value.
func driveDatabase(t *testing.T, ctx context.Context, tel *observability.Telemetry) interface{ Close() error } {
	db, err := dbmetrics.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "demo.db")+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)",
		&dbmetrics.Options{Sink: tel.Sink, Logger: tel.Logger, DBName: "comments"})
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(1)
	db.SetConnMaxIdleTime(150 * time.Millisecond)
	db.MustExecContext(ctx, `CREATE TABLE IF NOT EXISTS comments (id INTEGER PRIMARY KEY AUTOINCREMENT, video_id INTEGER NOT NULL, body TEXT NOT NULL)`)
	db.MustExecContext(ctx, `INSERT INTO comments (video_id, body) VALUES (?, ?)`, 1, "hello")
	// Eight at once on four connections: four wait (over a second in all,
	// as the wait counter is sent in whole seconds), and three of the four
	// connections are closed as surplus idle ones when they come back.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			tx, err := db.BeginTxx(ctx, nil)
			if err != nil {
				t.Error(err)
				return
			}
			var n int
			_ = tx.GetContext(ctx, &n, `SELECT count(*) FROM comments WHERE video_id = ?`, 1)
			time.Sleep(400 * time.Millisecond)
			_ = tx.Rollback()
		})
	}
	wg.Wait()
	var n int
	if err := db.GetContext(ctx, &n, `SELECT count(*) FROM missing_table`); err == nil {
		t.Fatal("a query on a missing table succeeded")
	}
	// Busy past a short lifetime: the pool finds its connection expired
	// when it hands it out again.
	db.SetConnMaxLifetime(100 * time.Millisecond)
	for end := time.Now().Add(400 * time.Millisecond); time.Now().Before(end); {
		db.MustExecContext(ctx, `UPDATE comments SET body = ? WHERE id = ?`, "edited", 1)
		time.Sleep(10 * time.Millisecond)
	}
	db.SetConnMaxLifetime(time.Minute)
	// Past the idle time, the pool's cleaner (every second) closes it.
	time.Sleep(1500 * time.Millisecond)
	return db
}

// driveHTTPAndSockets serves the demo's routes through httpmetrics and a
// socket through wsmetrics, and sends them traffic, a 5xx included.
func driveHTTPAndSockets(t *testing.T, ctx context.Context, tel *observability.Telemetry) {
	tracker := wsmetrics.NewTracker(tel.Sink, &wsmetrics.Options{Events: []string{"comment.create", "comment.created", "ack", "error"}})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/videos/{video_id}/comments", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"comments":[]}`)
	})
	mux.HandleFunc("POST /api/videos/{video_id}/comments", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "the comment could not be stored", http.StatusInternalServerError)
	})
	mux.HandleFunc("GET /socket", func(w http.ResponseWriter, r *http.Request) {
		c, err := wsmetrics.Accept(w, r, nil, tracker, r.URL.Query().Get("channel"))
		if err != nil {
			return
		}
		defer c.CloseNow()
		_, msg, err := c.Read(r.Context())
		if err != nil {
			return
		}
		_ = c.Write(r.Context(), websocket.MessageText, []byte(`{"event":"ack","ref":"1","payload":`+string(msg)+`}`))
		_, _, _ = c.Read(r.Context()) // until the client closes
	})
	srv := httptest.NewServer(httpmetrics.Middleware(tel.Sink, &httpmetrics.Options{Logger: tel.Logger})(mux))
	defer srv.Close()

	for _, req := range []struct{ method, path string }{
		{"GET", "/api/videos/1/comments"}, {"GET", "/api/videos/2/comments"},
		{"POST", "/api/videos/1/comments"}, {"GET", "/no/such/route"},
	} {
		r, _ := http.NewRequestWithContext(ctx, req.method, srv.URL+req.path, strings.NewReader(`{}`))
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/socket?channel=video:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.Write(ctx, websocket.MessageText, []byte(`{"event":"comment.create","ref":"1","payload":{"user_id":1,"body":"hi"}}`)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ws.Read(ctx); err != nil {
		t.Fatal(err)
	}
	ws.Close(websocket.StatusNormalClosure, "bye")
	// The server side ends when it sees the close; wait for the gauge.
	time.Sleep(100 * time.Millisecond)
}

// query is one metric query of a Datadog dashboard.
type query struct {
	file, text string
	metric     string   // as Datadog names it (http.request.duration)
	tags       []string // tag keys the query filters or groups by
}

// histogramAggregates are the suffixes the Agent gives the series it
// computes from one DogStatsD histogram or timing.
var histogramAggregates = []string{".95percentile", ".99percentile", ".median", ".avg", ".max", ".min", ".count", ".sum"}

// queryRE matches a metric query: a space aggregation (avg, sum, min, max,
// and for distributions count and percentiles such as p95), the metric,
// its filters and its "by" tags.
var queryRE = regexp.MustCompile(`\b(?:avg|sum|min|max|count|p[0-9]{1,2}(?:\.[0-9]{1,2})?):([A-Za-z0-9_.]+)\{([^}]*)\}(?:\s+by\s+\{([^}]*)\})?`)

// dashboardQueries reads every metric query of deploy/datadog/*.json, with
// the tag keys it needs: those of its filter (template variables resolved to
// their prefix) and of its "by" clause, less the Agent's own.
func dashboardQueries(t *testing.T) []query {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(datadogDir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Datadog dashboards in %s: %v", datadogDir, err)
	}
	var out []query
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var dash struct {
			TemplateVariables []struct{ Name, Prefix string } `json:"template_variables"`
		}
		var tree any
		if err := json.Unmarshal(raw, &dash); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		json.Unmarshal(raw, &tree)
		prefix := map[string]string{}
		for _, v := range dash.TemplateVariables {
			prefix["$"+v.Name] = v.Prefix
		}
		for _, text := range metricQueryTexts(tree) {
			for _, m := range queryRE.FindAllStringSubmatch(text, -1) {
				q := query{file: filepath.Base(f), text: text, metric: m[1]}
				for _, part := range append(strings.Split(m[2], ","), strings.Split(m[3], ",")...) {
					part = strings.TrimSpace(part)
					key, _, _ := strings.Cut(part, ":")
					if p, ok := prefix[part]; ok {
						key = p
					} else if strings.HasPrefix(part, "$") {
						t.Errorf("%s: query %q uses %s, which is not a template variable", f, text, part)
						continue
					}
					key = strings.TrimPrefix(key, "!")
					if key == "" || key == "*" || slices.Contains(agentTags, key) || slices.Contains(q.tags, key) {
						continue
					}
					q.tags = append(q.tags, key)
				}
				out = append(out, q)
			}
		}
	}
	return out
}

// metricQueryTexts returns the query strings of metric data sources (and
// the older "q" form) anywhere in a dashboard; log queries are left out.
func metricQueryTexts(v any) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		if ds, _ := v["data_source"].(string); ds == "metrics" {
			if q, ok := v["query"].(string); ok {
				out = append(out, q)
			}
		}
		if q, ok := v["q"].(string); ok {
			out = append(out, q)
		}
		for _, c := range v {
			out = append(out, metricQueryTexts(c)...)
		}
	case []any:
		for _, c := range v {
			out = append(out, metricQueryTexts(c)...)
		}
	}
	return out
}

// check returns a line for each query whose metric has not arrived, or has
// arrived without one of its tags.
func check(queries []query, samples []sample) []string {
	var missing []string
	for _, q := range queries {
		metric := q.metric
		for _, suffix := range histogramAggregates {
			metric = strings.TrimSuffix(metric, suffix)
		}
		base := strings.ReplaceAll(metric, ".", "_")
		var found []sample
		for _, s := range samples {
			for _, n := range []string{base, base + "_total", base + "_count", base + "_sum", base + "_bucket"} {
				if s.name == n {
					found = append(found, s)
				}
			}
		}
		if len(found) == 0 {
			missing = append(missing, fmt.Sprintf("%s: %q queries %s, which did not arrive as %s", q.file, q.text, q.metric, base))
			continue
		}
		for _, tag := range q.tags {
			label := strings.ReplaceAll(tag, ".", "_")
			if !slices.ContainsFunc(found, func(s sample) bool { _, ok := s.labels[label]; return ok }) {
				missing = append(missing, fmt.Sprintf("%s: %q needs tag %s, but %s arrived without it: %v", q.file, q.text, tag, base, found[0].labels))
			}
		}
	}
	return missing
}

// exporter is a running statsd_exporter.
type exporter struct {
	statsd, web string
}

// startExporter builds statsd_exporter from the module's own requirement
// and runs it on free loopback ports until the test ends.
func startExporter(t *testing.T) *exporter {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "statsd_exporter")
	build := exec.Command("go", "build", "-o", bin, "github.com/prometheus/statsd_exporter")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building statsd_exporter: %v\n%s", err, out)
	}
	e := &exporter{statsd: "127.0.0.1:" + strconv.Itoa(freePort(t, "udp")), web: "127.0.0.1:" + strconv.Itoa(freePort(t, "tcp"))}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--statsd.listen-udp="+e.statsd, "--statsd.listen-tcp=",
		"--web.listen-address="+e.web, "--log.level=warn")
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		if t.Failed() {
			t.Logf("statsd_exporter's output:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + e.web + "/metrics")
		if err == nil {
			resp.Body.Close()
			return e
		}
		if time.Now().After(deadline) {
			t.Fatalf("statsd_exporter did not serve /metrics: %v\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sample is one line of the exposition.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

var (
	sampleRE = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$`)
	labelRE  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)
)

func (e *exporter) scrape(t *testing.T) []sample {
	t.Helper()
	resp, err := http.Get("http://" + e.web + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out []sample
	for _, line := range strings.Split(string(body), "\n") {
		m := sampleRE.FindStringSubmatch(line)
		if m == nil || strings.HasPrefix(line, "#") {
			continue
		}
		s := sample{name: m[1], labels: map[string]string{}}
		s.value, _ = strconv.ParseFloat(m[3], 64)
		for _, l := range labelRE.FindAllStringSubmatch(m[2], -1) {
			s.labels[l[1]] = l[2]
		}
		out = append(out, s)
	}
	return out
}

func names(samples []sample) []string {
	var out []string
	for _, s := range samples {
		if !slices.Contains(out, s.name) {
			out = append(out, s.name)
		}
	}
	slices.Sort(out)
	return out
}

// freePort returns a loopback port free for network ("tcp" or "udp").
func freePort(t *testing.T, network string) int {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
