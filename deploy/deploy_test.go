package deploy_test

import (
	"context"
	"database/sql"
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
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/DataDog/datadog-go/v5/statsd"
	"github.com/coder/websocket"
	"github.com/jmoiron/sqlx"
	"go.uber.org/goleak"
	_ "modernc.org/sqlite" // SQLite, driver "sqlite"

	"github.com/realtimeserver/observability/dbmetrics"
	"github.com/realtimeserver/observability/httpmetrics"
	"github.com/realtimeserver/observability/internal/testenv"
	"github.com/realtimeserver/observability/metricsink"
	"github.com/realtimeserver/observability/metricsink/dogstatsd"
	"github.com/realtimeserver/observability/wsmetrics"
)

// TestMain checks that the DogStatsD sink and the UDP listener the tests
// start leave no goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// metric is one row of the module's metric table: the dotted name every
// package gives the Sink, the Sink method that records it, and its tags.
type metric struct {
	name   string
	method string // Increment, Duration, Histogram, Gauge, GaugeFunc, CounterFunc
	tags   []string
}

// metrics is the module's metric table, the one place the tests take names
// from. Prometheus names are derived from it by the sink's rules (see
// promName); dogstatsdEmitted checks that real traffic through the packages
// sends every row, with its tags, through the real DogStatsD sink.
var metrics = []metric{
	{"http.request.duration", "Duration", []string{"route", "method", "status"}},
	{"http.requests", "Increment", []string{"route", "method", "status"}},
	{"db.query.duration", "Duration", []string{"source", "operation"}},
	{"db.queries", "Increment", []string{"source", "operation"}},
	{"db.query.errors", "Increment", []string{"source", "operation"}},
	{"db.pool.max_open_connections", "GaugeFunc", []string{"db"}},
	{"db.pool.open_connections", "GaugeFunc", []string{"db"}},
	{"db.pool.in_use_connections", "GaugeFunc", []string{"db"}},
	{"db.pool.idle_connections", "GaugeFunc", []string{"db"}},
	{"db.pool.waits", "CounterFunc", []string{"db"}},
	{"db.pool.wait_seconds", "CounterFunc", []string{"db"}},
	{"db.pool.closed_max_idle", "CounterFunc", []string{"db"}},
	{"db.pool.closed_max_idle_time", "CounterFunc", []string{"db"}},
	{"db.pool.closed_max_lifetime", "CounterFunc", []string{"db"}},
	{"websocket.connections", "GaugeFunc", []string{"channel"}},
	{"websocket.connection.duration", "Duration", []string{"channel"}},
	{"websocket.messages", "Increment", []string{"channel", "event", "direction"}},
	{"websocket.message.bytes", "Increment", []string{"channel", "direction"}},
	{"log.records", "CounterFunc", []string{"level"}},
	{"datadog.logs.sent", "CounterFunc", nil},
	{"datadog.logs.dropped", "CounterFunc", []string{"reason"}},
	{"datadog.logs.queue_length", "GaugeFunc", nil},
	{"datadog.logs.retries", "CounterFunc", nil},
	{"datadog.logs.last_delivery_timestamp_seconds", "GaugeFunc", nil},
}

// prometheusOnly are names exposed on /metrics that no Sink call makes: the
// metrics sink's own health, and what VictoriaMetrics/metrics v1.44
// WriteProcessMetrics writes on Linux (go_metrics.go, process_metrics_linux.go).
var prometheusOnly = []string{
	"metricsink_dropped_samples_total", "metricsink_overflow_series_total",

	"go_sched_latencies_seconds_bucket", "go_mutex_wait_seconds_total", "go_gc_mark_assist_cpu_seconds_total",
	"go_gc_cpu_seconds_total", "go_gc_pauses_seconds_bucket", "go_scavenge_cpu_seconds_total", "go_memlimit_bytes",
	"go_memstats_alloc_bytes", "go_memstats_alloc_bytes_total", "go_memstats_buck_hash_sys_bytes",
	"go_memstats_frees_total", "go_memstats_gc_cpu_fraction", "go_memstats_gc_sys_bytes",
	"go_memstats_heap_alloc_bytes", "go_memstats_heap_idle_bytes", "go_memstats_heap_inuse_bytes",
	"go_memstats_heap_objects", "go_memstats_heap_released_bytes", "go_memstats_heap_sys_bytes",
	"go_memstats_last_gc_time_seconds", "go_memstats_lookups_total", "go_memstats_mallocs_total",
	"go_memstats_mcache_inuse_bytes", "go_memstats_mcache_sys_bytes", "go_memstats_mspan_inuse_bytes",
	"go_memstats_mspan_sys_bytes", "go_memstats_next_gc_bytes", "go_memstats_other_sys_bytes",
	"go_memstats_stack_inuse_bytes", "go_memstats_stack_sys_bytes", "go_memstats_sys_bytes",
	"go_cgo_calls_count", "go_cpu_count", "go_gc_duration_seconds", "go_gc_duration_seconds_sum",
	"go_gc_duration_seconds_count", "go_gc_forced_count", "go_gomaxprocs", "go_goroutines", "go_threads",
	"go_info", "go_info_ext",

	"process_cpu_seconds_system_total", "process_cpu_seconds_total", "process_cpu_seconds_user_total",
	"process_major_pagefaults_total", "process_minor_pagefaults_total", "process_num_threads",
	"process_resident_memory_bytes", "process_start_time_seconds", "process_virtual_memory_bytes",
	"process_virtual_memory_peak_bytes", "process_resident_memory_peak_bytes",
	"process_resident_memory_anon_bytes", "process_resident_memory_file_bytes",
	"process_resident_memory_shared_bytes", "process_io_read_bytes_total", "process_io_written_bytes_total",
	"process_io_read_syscalls_total", "process_io_write_syscalls_total",
	"process_io_storage_read_bytes_total", "process_io_storage_written_bytes_total",
	"process_max_fds", "process_open_fds",
	"process_pressure_cpu_waiting_seconds_total", "process_pressure_cpu_stalled_seconds_total",
	"process_pressure_io_waiting_seconds_total", "process_pressure_io_stalled_seconds_total",
	"process_pressure_memory_waiting_seconds_total", "process_pressure_memory_stalled_seconds_total",
}

// promName maps a dotted name as the Prometheus sink does: illegal
// characters become '_', counters end in _total, durations in _seconds.
func promName(m metric) []string {
	n := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == ':' {
			return r
		}
		return '_'
	}, m.name)
	switch m.method {
	case "Increment", "CounterFunc":
		if !strings.HasSuffix(n, "_total") {
			n += "_total"
		}
		return []string{n}
	case "Duration":
		if !strings.HasSuffix(n, "_seconds") {
			n += "_seconds"
		}
		// A histogram is the native histogram n where Prometheus scrapes
		// native histograms, its classic series otherwise.
		return []string{n, n + "_bucket", n + "_sum", n + "_count"}
	case "Histogram":
		return []string{n, n + "_bucket", n + "_sum", n + "_count"}
	}
	return []string{n}
}

// prometheusNames is the set of names PromQL in deploy/ may use.
func prometheusNames() map[string]bool {
	set := make(map[string]bool)
	for _, m := range metrics {
		for _, n := range promName(m) {
			set[n] = true
		}
	}
	for _, n := range prometheusOnly {
		set[n] = true
	}
	return set
}

func TestPromName(t *testing.T) {
	tests := []struct {
		in   metric
		want []string
	}{
		{metric{name: "http.requests", method: "Increment"}, []string{"http_requests_total"}},
		{metric{name: "db.pool.waits", method: "CounterFunc"}, []string{"db_pool_waits_total"}},
		{metric{name: "http.request.duration", method: "Duration"}, []string{"http_request_duration_seconds", "http_request_duration_seconds_bucket", "http_request_duration_seconds_sum", "http_request_duration_seconds_count"}},
		{metric{name: "websocket.connections", method: "GaugeFunc"}, []string{"websocket_connections"}},
		{metric{name: "comments-created.total", method: "Increment"}, []string{"comments_created_total"}},
	}
	for _, tt := range tests {
		if got := promName(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("promName(%s %s) = %q, want %q", tt.in.method, tt.in.name, got, tt.want)
		}
	}
}

// promtool runs promtool with args in this folder and fails t with its
// output when it exits non-zero.
func promtool(t *testing.T, args ...string) {
	t.Helper()
	bin := testenv.Binary(t, "promtool", "apt-get install prometheus")
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("promtool %s:\n%s", strings.Join(args, " "), out)
}

func TestPromtoolCheckConfig(t *testing.T) {
	promtool(t, "check", "config", filepath.Join("prometheus", "prometheus.yml"))
}

func TestPromtoolCheckRules(t *testing.T) {
	promtool(t, "check", "rules", filepath.Join("prometheus", "alerts.yml"))
}

func TestPromtoolTestRules(t *testing.T) {
	promtool(t, "test", "rules", filepath.Join("prometheus", "alerts_test.yml"))
}

// promqlNoise are the parts of a PromQL expression that hold no metric name:
// strings, label matchers, ranges and subqueries, grouping label lists.
var promqlNoise = []*regexp.Regexp{
	regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`"),
	regexp.MustCompile(`\{[^}]*\}`),
	regexp.MustCompile(`\[[^\]]*\]`),
	regexp.MustCompile(`(?i)\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`),
}

// promqlToken matches numbers (with duration units) and identifiers.
var promqlToken = regexp.MustCompile(`(?i)0x[0-9a-f]+|[0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?(?:ms|[smhdwy])*|[a-z_:][a-z0-9_:]*`)

// promqlKeywords are identifiers that are not metric names when no '('
// follows them.
var promqlKeywords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	"bool": true, "offset": true, "and": true, "or": true, "unless": true, "inf": true, "nan": true, "atan2": true,
	"sum": true, "avg": true, "min": true, "max": true, "count": true, "stddev": true, "stdvar": true,
	"topk": true, "bottomk": true, "quantile": true, "count_values": true, "group": true,
}

// grafanaVar matches Grafana's template variables: $name, ${name}, [[name]].
var grafanaVar = regexp.MustCompile(`\$__rate_interval|\$__interval|\$__range|\$\{[^}]+\}|\$[A-Za-z_][A-Za-z0-9_]*|\[\[[^\]]+\]\]`)

// labelValues matches Grafana's label_values(selector, label) variable query.
var labelValues = regexp.MustCompile(`^\s*label_values\(\s*(.*),\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*$`)

// metricNames returns the metric names a PromQL expression (or a Grafana
// label_values query) selects, in order of appearance. Grafana variables are
// replaced first: ranges by 5m, others by a placeholder inside matchers.
func metricNames(expr string) []string {
	if m := labelValues.FindStringSubmatch(expr); m != nil {
		expr = m[1]
	}
	expr = grafanaVar.ReplaceAllStringFunc(expr, func(v string) string {
		if strings.HasPrefix(v, "$__") {
			return "5m"
		}
		return "x"
	})
	for _, re := range promqlNoise {
		expr = re.ReplaceAllString(expr, " ")
	}
	var names []string
	for _, loc := range promqlToken.FindAllStringIndex(expr, -1) {
		tok := expr[loc[0]:loc[1]]
		c := tok[0]
		if c >= '0' && c <= '9' || c == '.' {
			continue
		}
		if strings.HasPrefix(strings.TrimLeft(expr[loc[1]:], " \t\n"), "(") {
			continue // a function or an aggregation with parameters
		}
		if promqlKeywords[strings.ToLower(tok)] {
			continue
		}
		names = append(names, tok)
	}
	return names
}

func TestMetricNames(t *testing.T) {
	tests := []struct {
		name, expr string
		want       []string
	}{
		{"selector", `go_goroutines`, []string{"go_goroutines"}},
		{"matchers and range", `rate(http_requests_total{status=~"5..", route="a{b}"}[5m])`, []string{"http_requests_total"}},
		{"aggregation and quantile", `histogram_quantile(0.95, sum by (route, le) (rate(http_request_duration_seconds_bucket{job=~"$job"}[$__rate_interval])))`, []string{"http_request_duration_seconds_bucket"}},
		{"binary with grouping", `a_total / on (instance) group_left (db) b_total > 0.9`, []string{"a_total", "b_total"}},
		{"numbers and keywords", `x_bytes < 9e18 and y_bytes > 1073741824 or z unless bool_thing offset 5m`, []string{"x_bytes", "y_bytes", "z", "bool_thing"}},
		{"aggregation before its argument", `sum(rate(m_total[1m])) without (le)`, []string{"m_total"}},
		{"label_values", `label_values(http_requests_total{job=~"$job"}, route)`, []string{"http_requests_total"}},
		{"label_values plain", `label_values(go_goroutines, job)`, []string{"go_goroutines"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := metricNames(tt.expr); !slices.Equal(got, tt.want) {
				t.Errorf("metricNames(%q) = %q, want %q", tt.expr, got, tt.want)
			}
		})
	}
}

// alertRule is one rule of alerts.yml, as far as these tests read it.
type alertRule struct {
	alert, expr, forDur, severity, summary, description, runbook string
}

// readAlertRules reads prometheus/alerts.yml with a line scanner: the file
// keeps to the plain block style it has (one key per line, block scalars for
// long text), so no YAML library is needed.
func readAlertRules(t *testing.T) []alertRule {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("prometheus", "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	var rules []alertRule
	indent := func(s string) int { return len(s) - len(strings.TrimLeft(s, " ")) }
	for i := 0; i < len(lines); i++ {
		trimmed := strings.TrimSpace(lines[i])
		if strings.HasPrefix(trimmed, "- alert:") {
			rules = append(rules, alertRule{alert: strings.TrimSpace(strings.TrimPrefix(trimmed, "- alert:"))})
			continue
		}
		key, value, ok := strings.Cut(trimmed, ":")
		if !ok || len(rules) == 0 || strings.HasPrefix(trimmed, "#") {
			continue
		}
		value = strings.TrimSpace(value)
		if value == "|" || value == ">-" || value == ">" {
			var block []string
			base := indent(lines[i])
			for j := i + 1; j < len(lines) && (strings.TrimSpace(lines[j]) == "" || indent(lines[j]) > base); j++ {
				block = append(block, strings.TrimSpace(lines[j]))
				i = j
			}
			value = strings.TrimSpace(strings.Join(block, " "))
		}
		value = strings.Trim(value, `"`)
		r := &rules[len(rules)-1]
		switch key {
		case "expr":
			r.expr = value
		case "for":
			r.forDur = value
		case "severity":
			r.severity = value
		case "summary":
			r.summary = value
		case "description":
			r.description = value
		case "runbook_url":
			r.runbook = value
		}
	}
	return rules
}

func TestAlertRules(t *testing.T) {
	rules := readAlertRules(t)
	allowed := prometheusNames()
	want := []string{"HighErrorRate", "SlowDatabaseQueries", "HighMemoryUsage", "ConnectionPoolSaturation", "HighLatency", "DatadogLogsDropping", "DatadogLogsDelayed"}
	var got []string
	for _, r := range rules {
		if !slices.Contains(got, r.alert) {
			got = append(got, r.alert)
		}
		t.Run(r.alert, func(t *testing.T) {
			if r.expr == "" {
				t.Fatalf("no expr")
			}
			for _, n := range metricNames(r.expr) {
				if !allowed[n] {
					t.Errorf("expr uses %s, which this module does not expose; expr: %s", n, r.expr)
				}
			}
			if _, err := time.ParseDuration(r.forDur); err != nil || r.forDur == "0s" {
				t.Errorf("for: %q, want a duration such as 5m", r.forDur)
			}
			if r.severity != "warning" && r.severity != "critical" {
				t.Errorf("severity label %q, want warning or critical", r.severity)
			}
			if !strings.Contains(r.summary, "$labels") && !strings.Contains(r.summary, "$value") {
				t.Errorf("summary %q names neither $labels nor $value", r.summary)
			}
			if !strings.Contains(r.description, "$value") {
				t.Errorf("description %q does not give $value", r.description)
			}
			if anchor := "#runbook-" + strings.ToLower(r.alert); !strings.HasSuffix(r.runbook, anchor) {
				t.Errorf("runbook_url %q, want one ending in the README anchor %s", r.runbook, anchor)
			}
		})
	}
	if !slices.Equal(got, want) {
		t.Errorf("alerts.yml defines %q, want %q", got, want)
	}
}

// jsonFiles decodes every *.json file of dir into a map.
func jsonFiles(t *testing.T, dir string) map[string]map[string]any {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	files := make(map[string]map[string]any)
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		if err := json.Unmarshal(data, &v); err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		files[p] = v
	}
	return files
}

// grafanaDatasource is the only datasource a Grafana panel, target or query
// variable may name: the dashboard's own variable.
var grafanaDatasource = map[string]any{"type": "prometheus", "uid": "${datasource}"}

// grafanaPanels returns every panel, rows' nested panels included.
func grafanaPanels(panels []any) []map[string]any {
	var out []map[string]any
	for _, p := range panels {
		pm, _ := p.(map[string]any)
		if pm == nil {
			continue
		}
		out = append(out, pm)
		nested, _ := pm["panels"].([]any)
		out = append(out, grafanaPanels(nested)...)
	}
	return out
}

// findDatasources reports the path of every "datasource" value in v that is
// not the datasource variable, except Grafana's built-in annotation source.
func findDatasources(path string, v any, bad *[]string) {
	switch v := v.(type) {
	case map[string]any:
		for k, child := range v {
			p := path + "." + k
			if k == "datasource" {
				builtin, _ := child.(map[string]any)
				if fmt.Sprint(child) == fmt.Sprint(grafanaDatasource) ||
					strings.HasPrefix(path, ".annotations") && builtin["uid"] == "-- Grafana --" {
					continue
				}
				*bad = append(*bad, fmt.Sprintf("%s = %v", p, child))
				continue
			}
			findDatasources(p, child, bad)
		}
	case []any:
		for i, child := range v {
			findDatasources(fmt.Sprintf("%s[%d]", path, i), child, bad)
		}
	}
}

func TestGrafanaDashboards(t *testing.T) {
	files := jsonFiles(t, filepath.Join("grafana", "dashboards"))
	allowed := prometheusNames()
	// Each dashboard and the metrics it must show.
	want := map[string][]string{
		"rts-overview": {"process_resident_memory_bytes", "go_memstats_heap_inuse_bytes", "go_goroutines",
			"go_gc_duration_seconds_count", "process_cpu_seconds_total", "log_records_total",
			"datadog_logs_last_delivery_timestamp_seconds", "datadog_logs_retries_total"},
		"rts-http": {"http_requests_total", "http_request_duration_seconds_bucket"},
		"rts-database": {"db_queries_total", "db_query_duration_seconds_bucket", "db_query_errors_total",
			"db_pool_in_use_connections", "db_pool_max_open_connections", "db_pool_waits_total"},
		"rts-websocket": {"websocket_connections", "websocket_messages_total", "websocket_message_bytes_total"},
	}
	seen := make(map[string]string)
	for path, d := range files {
		uid, _ := d["uid"].(string)
		t.Run(filepath.Base(path), func(t *testing.T) {
			if _, ok := want[uid]; !ok {
				t.Fatalf("uid %q, want one of the stable uids %v", uid, slices.Sorted(func(yield func(string) bool) {
					for k := range want {
						if !yield(k) {
							return
						}
					}
				}))
			}
			if other, dup := seen[uid]; dup {
				t.Errorf("uid %q is also used by %s", uid, other)
			}
			seen[uid] = path
			if title, _ := d["title"].(string); title == "" {
				t.Errorf("no title")
			}
			if id, ok := d["id"]; ok && id != nil {
				t.Errorf("id %v: exported ids belong to one Grafana's database; leave it out", id)
			}

			// The datasource variable, and nothing hard-coded.
			templating, _ := d["templating"].(map[string]any)
			vars, _ := templating["list"].([]any)
			hasDSVar := false
			var exprs []string
			for _, v := range vars {
				vm, _ := v.(map[string]any)
				if vm["type"] == "datasource" && vm["name"] == "datasource" && vm["query"] == "prometheus" {
					hasDSVar = true
				}
				if vm["type"] == "query" {
					q, _ := vm["query"].(map[string]any)
					s, _ := q["query"].(string)
					exprs = append(exprs, s)
				}
			}
			if !hasDSVar {
				t.Errorf("no templating variable {name: datasource, type: datasource, query: prometheus}")
			}
			var bad []string
			findDatasources("", d, &bad)
			for _, b := range bad {
				t.Errorf("hard-coded datasource %s; want %v", b, grafanaDatasource)
			}

			// Every query panel has targets on the variable.
			panels := grafanaPanels(d["panels"].([]any))
			ids := make(map[float64]bool)
			queryPanels := 0
			for _, p := range panels {
				id, _ := p["id"].(float64)
				if ids[id] {
					t.Errorf("panel id %v used twice", id)
				}
				ids[id] = true
				if p["type"] == "row" {
					continue
				}
				queryPanels++
				targets, _ := p["targets"].([]any)
				if len(targets) == 0 {
					t.Errorf("panel %q has no targets", p["title"])
				}
				for _, tg := range targets {
					tm, _ := tg.(map[string]any)
					if fmt.Sprint(tm["datasource"]) != fmt.Sprint(grafanaDatasource) {
						t.Errorf("panel %q target %v: datasource %v, want %v", p["title"], tm["refId"], tm["datasource"], grafanaDatasource)
					}
					expr, _ := tm["expr"].(string)
					if expr == "" {
						t.Errorf("panel %q target %v has no expr", p["title"], tm["refId"])
					}
					exprs = append(exprs, expr)
				}
			}
			if queryPanels < 4 {
				t.Errorf("%d panels with queries, want at least 4", queryPanels)
			}

			// Only the module's metric names, and the ones this dashboard is for.
			used := make(map[string]bool)
			for _, e := range exprs {
				names := metricNames(e)
				if len(names) == 0 {
					t.Errorf("expression %q selects no metric", e)
				}
				for _, n := range names {
					used[n] = true
					if !allowed[n] {
						t.Errorf("expression uses %s, which this module does not expose: %s", n, e)
					}
				}
			}
			for _, n := range want[uid] {
				if !used[n] {
					t.Errorf("no panel shows %s", n)
				}
			}
		})
	}
	if len(seen) != len(want) {
		t.Errorf("found dashboards %v, want one for each of %d uids", seen, len(want))
	}
}

func TestGrafanaProvisioning(t *testing.T) {
	ds, err := os.ReadFile(filepath.Join("grafana", "provisioning", "datasources", "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"type: prometheus", "uid: prometheus", "url: http://localhost:9090", "isDefault: true"} {
		if !strings.Contains(string(ds), w) {
			t.Errorf("datasource provisioning lacks %q", w)
		}
	}
	prov, err := os.ReadFile(filepath.Join("grafana", "provisioning", "dashboards", "dashboards.yml"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s+path:\s*(\S+)\s*$`).FindSubmatch(prov)
	if m == nil {
		t.Fatal("dashboard provider has no options.path")
	}
	// The provider's path is relative to Grafana's working directory, which
	// the documented command makes the repository root, one level up.
	if _, err := os.Stat(filepath.Join("..", string(m[1]), "overview.json")); err != nil {
		t.Errorf("provider path %s does not reach the dashboards from the repository root: %v", m[1], err)
	}
}

// ddQuery matches a Datadog metric query: aggregation:metric{filters} by {tags}.
var ddQuery = regexp.MustCompile(`^\s*(\w+):([A-Za-z][A-Za-z0-9_.]*)\{([^}]*)\}(?:\s*by\s*\{([^}]*)\})?`)

// ddMetricQuery is a metric query of a Datadog dashboard, and the
// aggregator that reduces it to one value in a scalar widget ("" in a
// timeseries and in the older "q" form).
type ddMetricQuery struct {
	query, aggregator string
}

// ddQueries returns every metric query of a Datadog dashboard, in nested
// group widgets too, and counts the log queries and log streams.
func ddQueries(widgets []any) (metricQueries []ddMetricQuery, logWidgets int) {
	for _, w := range widgets {
		wm, _ := w.(map[string]any)
		def, _ := wm["definition"].(map[string]any)
		if nested, ok := def["widgets"].([]any); ok {
			mq, lw := ddQueries(nested)
			metricQueries = append(metricQueries, mq...)
			logWidgets += lw
		}
		if def["type"] == "log_stream" {
			logWidgets++
		}
		reqs, _ := def["requests"].([]any)
		for _, r := range reqs {
			rm, _ := r.(map[string]any)
			if q, ok := rm["q"].(string); ok {
				metricQueries = append(metricQueries, ddMetricQuery{query: q})
			}
			qs, _ := rm["queries"].([]any)
			for _, q := range qs {
				qm, _ := q.(map[string]any)
				switch qm["data_source"] {
				case "metrics":
					s, _ := qm["query"].(string)
					a, _ := qm["aggregator"].(string)
					metricQueries = append(metricQueries, ddMetricQuery{query: s, aggregator: a})
				case "logs":
					logWidgets++
				}
			}
		}
	}
	return metricQueries, logWidgets
}

// timingSuffixes are the series the Datadog Agent makes of a DogStatsD timing
// or histogram with its default histogram_aggregates and percentiles. The
// sink sends those only with Options.AgentHistograms.
var timingSuffixes = []string{".avg", ".median", ".max", ".count", ".95percentile"}

// ddAggregations are the space aggregations a Datadog metric query may
// start with: avg, sum, min and max for every metric; count and the
// percentiles (p50 to p99.99) for distributions only, which Datadog keeps
// as sketches.
var (
	ddSpaceAggregations = []string{"avg", "sum", "min", "max"}
	ddPercentile        = regexp.MustCompile(`^p(?:[1-9]?[0-9])(?:\.[0-9]{1,2})?$`)
)

// ddMetric is what the DogStatsD sink sent under a name Datadog stores: the
// tag keys it carried, and whether it is a distribution.
type ddMetric struct {
	tags         []string
	distribution bool
}

// agentTags are the tags every DogStatsD sample carries in Datadog besides its
// own: host from the Agent, env, service and version from DD_ENV, DD_SERVICE,
// DD_VERSION (the Datadog client adds them) or the Agent's configuration.
var agentTags = []string{"host", "env", "service", "version"}

func TestDatadogDashboards(t *testing.T) {
	emitted := dogstatsdEmitted(t)
	files := jsonFiles(t, "datadog")
	if len(files) != 3 {
		t.Errorf("%d Datadog dashboards, want 3", len(files))
	}
	titles := make(map[string]string)
	for path, d := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			title, _ := d["title"].(string)
			if title == "" {
				t.Fatalf("no title; uploads find the dashboard to update by title")
			}
			if other, dup := titles[title]; dup {
				t.Errorf("title %q is also used by %s", title, other)
			}
			titles[title] = path
			if d["layout_type"] != "ordered" {
				t.Errorf("layout_type %v, want ordered", d["layout_type"])
			}
			widgets, _ := d["widgets"].([]any)
			queries, logWidgets := ddQueries(widgets)
			if len(queries)+logWidgets == 0 {
				t.Fatalf("no metric or log queries")
			}
			tvars := make(map[string]string) // "$name" -> tag key
			tv, _ := d["template_variables"].([]any)
			for _, v := range tv {
				vm, _ := v.(map[string]any)
				name, _ := vm["name"].(string)
				prefix, _ := vm["prefix"].(string)
				tvars["$"+name] = prefix
				// Values offered and defaults are what Datadog stores.
				values, _ := vm["available_values"].([]any)
				if def, _ := vm["default"].(string); def != "*" {
					values = append(values, def)
				}
				for _, x := range values {
					val, _ := x.(string)
					if n, ok := dogstatsd.NormalizeTag(prefix, val); !ok || n != prefix+":"+val {
						t.Errorf("template variable %s offers %q, which Datadog stores as %q", name, val, n)
					}
					if prefix == "route" && !lastSentRoutes[val] && val != "unmatched" && val != "/healthz" {
						t.Errorf("template variable %s offers route %q, which the sink never sent (sent: %v)", name, val, lastSentRoutes)
					}
				}
			}
			for _, mq := range queries {
				q := mq.query
				m := ddQuery.FindStringSubmatch(q)
				if m == nil {
					t.Errorf("metric query %q is not aggregation:metric{filters}[ by {tags}]", q)
					continue
				}
				agg, name, filters, by := m[1], m[2], m[3], m[4]
				sent, ok := emitted[name]
				if !ok {
					t.Errorf("query %q uses %s, which the DogStatsD sink does not send under that name", q, name)
					continue
				}
				tags := sent.tags
				// The aggregation exists for what the sink sends: a
				// percentile of a distribution, not of a gauge, count or
				// Agent histogram series; and a scalar widget reduces a
				// percentile with the percentile aggregator (another
				// shows no data).
				percentile := ddPercentile.MatchString(agg)
				switch {
				case (percentile || agg == "count") && !sent.distribution:
					t.Errorf("query %q takes %s of %s, which the sink does not send as a distribution", q, agg, name)
				case !percentile && agg != "count" && !slices.Contains(ddSpaceAggregations, agg):
					t.Errorf("query %q: %s is no Datadog aggregation", q, agg)
				}
				if a := mq.aggregator; a != "" && (a == "percentile") != percentile {
					t.Errorf("query %q has aggregator %q; a percentile query takes \"percentile\", others not", q, a)
				}
				var keys []string
				for f := range strings.SplitSeq(filters, ",") {
					f = strings.TrimSpace(f)
					switch {
					case f == "*" || f == "":
					case strings.HasPrefix(f, "$"):
						k, ok := tvars[f]
						if !ok {
							t.Errorf("query %q uses %s, which is no template variable", q, f)
						}
						keys = append(keys, k)
					default:
						k, v, _ := strings.Cut(strings.TrimPrefix(f, "!"), ":")
						keys = append(keys, k)
						// A filter matches what Datadog stores (a
						// trailing * is a wildcard).
						if val := strings.TrimSuffix(v, "*"); val != "" {
							if n, ok := dogstatsd.NormalizeTag(k, val); !ok || n != k+":"+val {
								t.Errorf("query %q filters on %q, which Datadog stores as %q", q, f, n)
							}
						}
					}
				}
				for k := range strings.SplitSeq(by, ",") {
					if k = strings.TrimSpace(k); k != "" {
						keys = append(keys, k)
					}
				}
				for _, k := range keys {
					if !slices.Contains(tags, k) && !slices.Contains(agentTags, k) {
						t.Errorf("query %q filters or groups by %q; %s carries only %v (and %v)", q, k, name, tags, agentTags)
					}
				}
			}
		})
	}
}

// lastSentRoutes are the route tag values dogstatsdEmitted last saw sent.
var lastSentRoutes map[string]bool

// rootMetrics are the rows of the metric table that only the root package
// registers (exportHealth in setup.go), from its log counters and the
// Datadog log handler's Stats: dogstatsdEmitted sends these from the table.
// Every other row must be emitted by real traffic through the package that
// owns it.
var rootMetrics = []string{"log.records", "datadog.logs.sent", "datadog.logs.dropped", "datadog.logs.queue_length",
	"datadog.logs.retries", "datadog.logs.last_delivery_timestamp_seconds"}

// dogstatsdEmitted runs real traffic through the instrumentation packages
// into the real DogStatsD sink, which sends to a UDP listener: HTTP requests
// through httpmetrics.Middleware to a ServeMux with pattern routes, queries
// (one failing) on a SQLite database opened with dbmetrics.Open, with its
// pool gauges, and a coder/websocket connection tracked by wsmetrics. Only
// the rows of rootMetrics are sent from the table. It checks that every row
// of the table arrived with at least the table's tags, and returns the
// names a Datadog query can use, with the tag keys each carries. A
// distribution keeps its name (p95:name); a timing or histogram of the
// Agent would become its aggregate series (name.avg, name.95percentile,
// ...). Durations must be distributions, as the sink sends them by default.
func dogstatsdEmitted(t *testing.T) map[string]ddMetric {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var (
		mu    sync.Mutex
		lines []string
		done  = make(chan struct{})
	)
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		for {
			n, _, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			mu.Lock()
			lines = append(lines, strings.Split(strings.TrimSpace(string(buf[:n])), "\n")...)
			mu.Unlock()
		}
	}()

	sink, err := dogstatsd.New(&dogstatsd.Options{
		Addr:          conn.LocalAddr().String(),
		PollInterval:  time.Hour, // functions are read once, by Close
		ClientOptions: []statsd.Option{statsd.WithoutTelemetry()},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close(context.Background()) // on an early failure; the normal path closes it below
	sendTraffic(t, sink)

	for _, m := range metrics {
		if !slices.Contains(rootMetrics, m.name) {
			continue
		}
		var kv []string
		for _, k := range m.tags {
			kv = append(kv, k, "v")
		}
		tags := metricsink.KV(kv...)
		switch m.method {
		case "GaugeFunc":
			sink.GaugeFunc(m.name, tags, func() float64 { return 3 })
		case "CounterFunc":
			sink.CounterFunc(m.name, tags, func() float64 { return 5 })
		default:
			t.Fatalf("metric %s: the root package registers functions, not %s", m.name, m.method)
		}
	}
	// Close reads every function (the pool gauges and the WebSocket gauge
	// too, so the database and the tracker are closed after it) and flushes.
	if err := sink.Close(context.Background()); err != nil {
		t.Fatalf("closing the sink: %v", err)
	}

	// Wait until every metric has arrived, or give up after a while.
	deadline := time.Now().Add(5 * time.Second)
	emitted := make(map[string]ddMetric)
	sentRoutes := make(map[string]bool)
	for {
		mu.Lock()
		got := slices.Clone(lines)
		mu.Unlock()
		clear(emitted)
		clear(sentRoutes)
		for _, l := range got {
			if l == "" {
				continue
			}
			fields := strings.Split(l, "|")
			name, _, ok := strings.Cut(fields[0], ":")
			if !ok || len(fields) < 2 {
				t.Fatalf("malformed DogStatsD line %q", l)
			}
			var keys []string
			for _, f := range fields[2:] {
				if tags, ok := strings.CutPrefix(f, "#"); ok {
					for tag := range strings.SplitSeq(tags, ",") {
						k, v, _ := strings.Cut(tag, ":")
						keys = append(keys, k)
						// What is sent is what Datadog stores and shows.
						if n, ok := dogstatsd.NormalizeTag(k, v); !ok || n != tag {
							t.Errorf("line %q: tag %q is stored by Datadog as %q (accepted %v)", l, tag, n, ok)
						}
						if k == "route" {
							sentRoutes[v] = true
						}
					}
				}
			}
			switch fields[1] {
			case "ms", "h":
				for _, s := range timingSuffixes {
					emitted[name+s] = ddMetric{tags: keys}
				}
			case "d":
				emitted[name] = ddMetric{tags: keys, distribution: true}
			default:
				emitted[name] = ddMetric{tags: keys}
			}
		}
		missing := 0
		for _, m := range metrics {
			if _, ok := emitted[m.name]; !ok {
				if _, ok := emitted[m.name+".avg"]; !ok {
					missing++
				}
			}
		}
		// Every route of the traffic, too: the line that carries one may
		// come in a later datagram than the names.
		for _, r := range []string{"/api/videos/_video_id_/comments", "/socket", "unmatched"} {
			if !sentRoutes[r] {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			var names []string
			for _, m := range metrics {
				_, plain := emitted[m.name]
				_, timing := emitted[m.name+".avg"]
				if !plain && !timing {
					names = append(names, m.name)
				}
			}
			t.Fatalf("after 5s the UDP listener lacks %q (routes seen: %v); it has %q", names, sentRoutes, got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	conn.Close()
	<-done

	// The pattern route with a wildcard arrives as Datadog shows it.
	if want := "/api/videos/_video_id_/comments"; !sentRoutes[want] {
		t.Errorf("route %q was not sent; routes sent: %v", want, sentRoutes)
	}
	lastSentRoutes = sentRoutes

	// The table's tags are the ones the packages really send, and its
	// durations go out as distributions.
	for _, m := range metrics {
		sent, ok := emitted[m.name]
		if !ok {
			sent = emitted[m.name+".avg"]
		}
		if m.method == "Duration" && !sent.distribution {
			t.Errorf("%s is sent as a timing or histogram, not as a distribution", m.name)
		}
		keys := sent.tags
		for _, k := range m.tags {
			if !slices.Contains(keys, k) {
				t.Errorf("%s arrived with tags %q, without the table's %q", m.name, keys, k)
			}
		}
	}
	return emitted
}

// sendTraffic records into sink what a running service records: requests
// through httpmetrics.Middleware, with a WebSocket session tracked by
// wsmetrics on one of its routes, and database queries through dbmetrics,
// one of them failing. It returns once every request and connection has
// ended, leaving the database and the tracker open (their gauges are
// functions the sink reads when it is closed) until t's cleanup.
func sendTraffic(t *testing.T, sink *dogstatsd.Sink) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	db, err := dbmetrics.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "comments.db"),
		&dbmetrics.Options{Sink: sink, DBName: "comments"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.ExecContext(ctx, `CREATE TABLE comments (id INTEGER PRIMARY KEY, video_id INTEGER NOT NULL, body TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO comments (video_id, body) VALUES (?, ?)`, 1, "first"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `SELECT * FROM no_such_table`); err == nil {
		t.Fatal("a query on a missing table succeeded")
	}
	poolEvents(ctx, t, db)

	tracker := wsmetrics.NewTracker(sink, nil)
	t.Cleanup(tracker.Close)
	var sockets sync.WaitGroup
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/videos/{video_id}/comments", func(w http.ResponseWriter, r *http.Request) {
		var bodies []string
		if err := db.SelectContext(r.Context(), &bodies, `SELECT body FROM comments WHERE video_id = ?`, r.PathValue("video_id")); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_ = json.NewEncoder(w).Encode(bodies)
	})
	mux.HandleFunc("GET /socket", func(w http.ResponseWriter, r *http.Request) {
		wc, err := wsmetrics.Accept(w, r, nil, tracker, r.URL.Query().Get("channel"))
		if err != nil {
			return
		}
		defer wc.CloseNow()
		for {
			typ, msg, err := wc.Read(r.Context())
			if err != nil {
				return
			}
			if err := wc.Write(r.Context(), typ, msg); err != nil {
				return
			}
		}
	})
	// The middleware records a request after the handler returns, and
	// srv.Close does not wait for a hijacked (WebSocket) connection: count
	// requests outside the middleware so that sendTraffic returns only once
	// every sample of the traffic has reached the sink.
	instrumented := httpmetrics.Middleware(sink, nil)(mux)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sockets.Add(1)
		defer sockets.Done()
		instrumented.ServeHTTP(w, r)
	}))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()

	for _, path := range []string{"/api/videos/1/comments", "/no/such/route"} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}

	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/socket?channel=video:1",
		&websocket.DialOptions{HTTPClient: client})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if err := ws.Write(ctx, websocket.MessageText, []byte(`{"event":"comment.create","payload":{"body":"hi"}}`)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ws.Read(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ws.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Fatal(err)
	}
	sockets.Wait() // the connection's duration and its request are recorded when it ends
}

// poolEvents makes db's pool do each thing its counters count (the
// DogStatsD sink sends a counter function only once it has moved): close a
// connection for its idle time, one for its lifetime, one for the idle
// limit, and make a caller wait for a connection. It leaves db with one idle
// connection and its limits as they were (none).
func poolEvents(ctx context.Context, t *testing.T, db *sqlx.DB) {
	t.Helper()
	waitFor := func(what string, ok func(sql.DBStats) bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !ok(db.Stats()) {
			if time.Now().After(deadline) {
				t.Fatalf("after 5s the pool has not %s: %+v", what, db.Stats())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	ping := func() {
		t.Helper()
		if err := db.PingContext(ctx); err != nil {
			t.Fatal(err)
		}
	}

	// The pool's cleaner starts with a lifetime limit; shortening the idle
	// time wakes it, and it closes the connection idle since the last query.
	ping()
	db.SetConnMaxLifetime(time.Hour)
	time.Sleep(5 * time.Millisecond)
	db.SetConnMaxIdleTime(time.Millisecond)
	waitFor("closed a connection for its idle time", func(s sql.DBStats) bool { return s.MaxIdleTimeClosed > 0 })
	db.SetConnMaxIdleTime(0)

	// A connection older than the lifetime is closed when it is next taken.
	ping()
	time.Sleep(5 * time.Millisecond)
	db.SetConnMaxLifetime(time.Millisecond)
	ping()
	waitFor("closed a connection for its lifetime", func(s sql.DBStats) bool { return s.MaxLifetimeClosed > 0 })
	db.SetConnMaxLifetime(0)

	// Lowering the idle limit closes the idle connections above it.
	ping()
	db.SetMaxIdleConns(0)
	waitFor("closed a connection for the idle limit", func(s sql.DBStats) bool { return s.MaxIdleClosed > 0 })
	db.SetMaxIdleConns(2)

	// With one connection allowed and held, queries wait for it. The sink
	// sends a counter function's whole units only, so the waits must add up
	// to a second before db.pool.wait_seconds is sent: ten callers wait
	// more than 100 ms each.
	const waiters = 10
	db.SetMaxOpenConns(1)
	held, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, waiters)
	for range waiters {
		go func() {
			var one int
			waited <- db.QueryRowContext(ctx, `SELECT 1`).Scan(&one)
		}()
	}
	waitFor("made every caller wait", func(s sql.DBStats) bool { return s.WaitCount >= waiters })
	time.Sleep(110 * time.Millisecond)
	held.Close()
	for range waiters {
		if err := <-waited; err != nil {
			t.Fatal(err)
		}
	}
	if s := db.Stats(); s.WaitDuration < time.Second {
		t.Fatalf("callers waited %v in all, want at least 1s", s.WaitDuration)
	}
	db.SetMaxOpenConns(0)
}
