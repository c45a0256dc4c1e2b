package deploy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/realtimeserver/observability/internal/testenv"
)

// The integration test scrapes every second. The Grafana intervals below
// are what Grafana substitutes for a datasource with that scrape interval
// and a panel whose $__interval comes out at two seconds:
// $__rate_interval = max($__interval + scrape interval, 4 × scrape interval).
const (
	scrapeInterval = time.Second
	grafanaStep    = 2 * time.Second
	grafanaRange   = time.Minute
	minScrapes     = 5
)

// grafanaIntervals are the values of Grafana's built-in interval variables.
var grafanaIntervals = map[string]string{
	"$__interval":      promDuration(grafanaStep),
	"$__rate_interval": promDuration(max(grafanaStep+scrapeInterval, 4*scrapeInterval)),
	"$__range":         promDuration(grafanaRange),
}

// promDuration writes d as a PromQL duration in whole seconds.
func promDuration(d time.Duration) string {
	return strconv.Itoa(int(d/time.Second)) + "s"
}

// TestPrometheusEvaluatesDashboardsAndAlerts runs the demo with simulated
// traffic and Debian's Prometheus server scraping it and loading
// prometheus/alerts.yml. Through Prometheus's HTTP API it then resolves
// every query variable of every Grafana dashboard, evaluates every panel
// expression, which must parse and return data, and evaluates every alert
// expression, which must run without error; Prometheus's own evaluation of
// the loaded rules must be healthy too.
//
// The demo runs as a service would in production: with a GOMEMLIMIT and
// with log shipping to a (local) Datadog intake, so that the panels about
// them have data.
func TestPrometheusEvaluatesDashboardsAndAlerts(t *testing.T) {
	promBin := testenv.Binary(t, "prometheus", "apt-get install prometheus")
	target := startDemo(t)
	// From here on the test takes about ten seconds; the bound is generous
	// for a loaded machine.
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)

	base, prom := startPrometheus(t, promBin, target)
	p := &promAPI{t: t, base: base, client: client, proc: prom}
	p.waitReady(ctx)
	p.waitScrapes(ctx, minScrapes)

	var checks []promCheck
	checks = append(checks, grafanaChecks(ctx, t, p)...)
	panels := len(checks)
	rules := readAlertRules(t)
	for i, r := range rules {
		checks = append(checks, promCheck{
			name: fmt.Sprintf("alerts.yml rule %d %s", i+1, r.alert),
			expr: r.expr,
		})
	}
	if panels == 0 || len(rules) == 0 {
		t.Fatalf("%d panel expressions and %d alert expressions; want some of each", panels, len(rules))
	}

	// A series that appeared at the last scrape has one sample, too few for
	// rate(): expressions without data yet are evaluated again, once a
	// second, until each has data or the deadline passes.
	pending := checks
	deadline := time.Now().Add(20 * time.Second)
	rounds := 0
	for {
		rounds++
		var again []promCheck
		for _, c := range pending {
			n, err := p.query(ctx, c.expr)
			switch {
			case err != nil:
				t.Errorf("%s: %v\nexpr: %s", c.name, err, c.expr)
			case n == 0 && c.wantData:
				again = append(again, c)
			}
		}
		pending = again
		if len(pending) == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(scrapeInterval)
	}
	for _, c := range pending {
		t.Errorf("%s: no data after %d scrapes of traffic\nexpr: %s", c.name, p.scrapes(ctx), c.expr)
	}
	p.checkRuleHealth(ctx, rules)
	t.Logf("evaluated %d panel expressions and %d alert expressions after %d scrapes, in %d rounds",
		panels, len(rules), p.scrapes(ctx), rounds)
}

// promCheck is one expression to evaluate.
type promCheck struct {
	name, expr string
	wantData   bool
}

// grafanaChecks resolves the query variables of every Grafana dashboard
// through p and returns each panel target's expression with every variable
// replaced.
func grafanaChecks(ctx context.Context, t *testing.T, p *promAPI) []promCheck {
	t.Helper()
	files := jsonFiles(t, filepath.Join("grafana", "dashboards"))
	paths := slices.Sorted(func(yield func(string) bool) {
		for k := range files {
			if !yield(k) {
				return
			}
		}
	})
	var checks []promCheck
	for _, path := range paths {
		d := files[path]
		name := filepath.Base(path)
		vars := resolveVariables(ctx, t, p, name, d)
		t.Logf("%s: variables %v", name, vars)
		for _, panel := range grafanaPanels(d["panels"].([]any)) {
			targets, _ := panel["targets"].([]any)
			for _, tg := range targets {
				tm, _ := tg.(map[string]any)
				expr, _ := tm["expr"].(string)
				if hidden, _ := tm["hide"].(bool); hidden || expr == "" {
					continue
				}
				checks = append(checks, promCheck{
					name:     fmt.Sprintf("%s panel %q target %v", name, panel["title"], tm["refId"]),
					expr:     substitute(expr, vars),
					wantData: true,
				})
			}
		}
	}
	return checks
}

// labelValuesQuery matches label_values(selector, label) and label_values(label).
var labelValuesQuery = regexp.MustCompile(`^\s*label_values\(\s*(?:(.*),\s*)?([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$`)

// resolveVariables evaluates each query variable of a dashboard, in order,
// as Grafana does (a variable may use the ones before it), and returns the
// value each takes: the value itself when the query finds one, and what
// "All" stands for when it finds several. Values are regexp-escaped, since
// every variable of a multi-value or "All" kind is used with =~.
func resolveVariables(ctx context.Context, t *testing.T, p *promAPI, dashboard string, d map[string]any) map[string]string {
	t.Helper()
	vars := make(map[string]string)
	templating, _ := d["templating"].(map[string]any)
	list, _ := templating["list"].([]any)
	for _, v := range list {
		vm, _ := v.(map[string]any)
		name, _ := vm["name"].(string)
		switch vm["type"] {
		case "datasource":
			continue
		case "query":
		default:
			t.Errorf("%s: variable %s has type %v, which this test cannot resolve", dashboard, name, vm["type"])
			continue
		}
		q, _ := vm["query"].(map[string]any)
		query, _ := q["query"].(string)
		m := labelValuesQuery.FindStringSubmatch(query)
		if m == nil {
			t.Errorf("%s: variable %s: query %q is not label_values(...)", dashboard, name, query)
			continue
		}
		selector, label := substitute(m[1], vars), m[2]
		values, err := p.labelValues(ctx, label, selector)
		if err != nil {
			t.Errorf("%s: variable %s: %v", dashboard, name, err)
			continue
		}
		if len(values) == 0 {
			t.Errorf("%s: variable %s: label_values(%s, %s) finds no value", dashboard, name, selector, label)
			continue
		}
		switch all, _ := vm["allValue"].(string); {
		case len(values) == 1:
			vars[name] = promRegexpQuote(values[0])
		case all != "":
			vars[name] = all
		default:
			quoted := make([]string, len(values))
			for i, v := range values {
				quoted[i] = promRegexpQuote(v)
			}
			vars[name] = "(" + strings.Join(quoted, "|") + ")"
		}
	}
	return vars
}

// promRegexpQuote escapes v for a regular expression inside a PromQL
// double-quoted string, as Grafana escapes the values of a variable.
func promRegexpQuote(v string) string {
	return strings.ReplaceAll(regexp.QuoteMeta(v), `\`, `\\`)
}

// substitute replaces Grafana's variables in expr: the built-in intervals by
// grafanaIntervals, the others by vars. An unknown variable is left as it
// is, so that Prometheus refuses the expression.
func substitute(expr string, vars map[string]string) string {
	return grafanaVar.ReplaceAllStringFunc(expr, func(v string) string {
		if s, ok := grafanaIntervals[v]; ok {
			return s
		}
		name := strings.Trim(v, "${}[]")
		name, _, _ = strings.Cut(name, ":") // ${name:format}
		if s, ok := vars[name]; ok {
			return s
		}
		return v
	})
}

// promAPI queries a Prometheus server's HTTP API.
type promAPI struct {
	t      *testing.T
	base   string // http://127.0.0.1:port
	client *http.Client
	proc   *process
}

// promResponse is the envelope of every /api/v1 answer.
type promResponse struct {
	Status    string          `json:"status"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Warnings  []string        `json:"warnings"`
	Data      json.RawMessage `json:"data"`
}

// get fetches path with query parameters and decodes the envelope; an
// answer whose status is not success is an error.
func (p *promAPI) get(ctx context.Context, path string, params url.Values) (json.RawMessage, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+path+"?"+params.Encode(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var r promResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("GET %s: %s: %.200q", path, resp.Status, body)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("GET %s: %s: %s: %s", path, resp.Status, r.ErrorType, r.Error)
	}
	if len(r.Warnings) > 0 {
		return nil, fmt.Errorf("GET %s: warnings %q", path, r.Warnings)
	}
	return r.Data, nil
}

// query evaluates expr at the current time and returns the number of
// series (or 1 for a scalar or string result).
func (p *promAPI) query(ctx context.Context, expr string) (int, error) {
	data, err := p.get(ctx, "/api/v1/query", url.Values{"query": {expr}})
	if err != nil {
		return 0, err
	}
	var d struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return 0, err
	}
	switch d.ResultType {
	case "vector", "matrix":
		var series []json.RawMessage
		if err := json.Unmarshal(d.Result, &series); err != nil {
			return 0, err
		}
		return len(series), nil
	case "scalar", "string":
		return 1, nil
	}
	return 0, fmt.Errorf("result type %q", d.ResultType)
}

// value evaluates expr, which must give one series, and returns its value;
// it returns -1 when there is no series.
func (p *promAPI) value(ctx context.Context, expr string) (float64, error) {
	data, err := p.get(ctx, "/api/v1/query", url.Values{"query": {expr}})
	if err != nil {
		return 0, err
	}
	var d struct {
		Result []struct {
			Value [2]any `json:"value"`
		} `json:"result"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return 0, err
	}
	if len(d.Result) == 0 {
		return -1, nil
	}
	s, _ := d.Result[0].Value[1].(string)
	return strconv.ParseFloat(s, 64)
}

// labelValues returns the values of label on the series selector selects
// (all series when it is empty), as Grafana's label_values does.
func (p *promAPI) labelValues(ctx context.Context, label, selector string) ([]string, error) {
	params := url.Values{}
	if selector != "" {
		params.Set("match[]", selector)
	}
	data, err := p.get(ctx, "/api/v1/label/"+label+"/values", params)
	if err != nil {
		return nil, err
	}
	var values []string
	err = json.Unmarshal(data, &values)
	return values, err
}

// waitReady polls /-/ready until Prometheus answers 200.
func (p *promAPI) waitReady(ctx context.Context) {
	p.t.Helper()
	var last string
	for ctx.Err() == nil {
		p.proc.running(p.t)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.base+"/-/ready", nil)
		resp, err := p.client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.t.Fatalf("Prometheus was not ready in time; last answer: %s", last)
}

// upSelector selects the demo's target.
const upSelector = `up{job="realtime-server"}`

// scrapes returns how many scrapes of the demo Prometheus holds from the
// last minute, or -1 when it cannot say.
func (p *promAPI) scrapes(ctx context.Context) int {
	v, err := p.value(ctx, "count_over_time("+upSelector+"[1m])")
	if err != nil {
		return -1
	}
	return int(v)
}

// waitScrapes waits until the demo's target is up and has been scraped at
// least n times.
func (p *promAPI) waitScrapes(ctx context.Context, n int) {
	p.t.Helper()
	up, scrapes := -1.0, -1
	for ctx.Err() == nil {
		var err error
		if up, err = p.value(ctx, upSelector); err != nil {
			p.t.Fatalf("querying %s: %v", upSelector, err)
		}
		if scrapes = p.scrapes(ctx); up == 1 && scrapes >= n {
			return
		}
		time.Sleep(scrapeInterval / 2)
	}
	p.t.Fatalf("the demo's target was not scraped %d times in time: up = %v (-1: no series), %d scrapes",
		n, up, scrapes)
}

// checkRuleHealth checks that Prometheus loaded every rule of alerts.yml
// and evaluates each without error.
func (p *promAPI) checkRuleHealth(ctx context.Context, want []alertRule) {
	p.t.Helper()
	type rule struct {
		Name      string `json:"name"`
		Query     string `json:"query"`
		Health    string `json:"health"`
		LastError string `json:"lastError"`
	}
	var rules []rule
	for ctx.Err() == nil {
		data, err := p.get(ctx, "/api/v1/rules", url.Values{"type": {"alert"}})
		if err != nil {
			p.t.Fatalf("listing rules: %v", err)
		}
		var d struct {
			Groups []struct {
				Rules []rule `json:"rules"`
			} `json:"groups"`
		}
		if err := json.Unmarshal(data, &d); err != nil {
			p.t.Fatal(err)
		}
		rules = rules[:0]
		evaluated := true
		for _, g := range d.Groups {
			for _, r := range g.Rules {
				rules = append(rules, r)
				evaluated = evaluated && r.Health != "unknown"
			}
		}
		if evaluated {
			break
		}
		time.Sleep(scrapeInterval)
	}
	if len(rules) != len(want) {
		p.t.Errorf("Prometheus loaded %d alert rules, alerts.yml has %d", len(rules), len(want))
	}
	for i, r := range rules {
		if r.Health != "ok" || r.LastError != "" {
			p.t.Errorf("rule %d %s: health %q, last error %q\nquery: %s", i+1, r.Name, r.Health, r.LastError, r.Query)
		}
	}
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// process is a started program whose output goes to files.
type process struct {
	name           string
	cmd            *exec.Cmd
	stdout, stderr string        // paths
	exited         chan struct{} // closed when the program has exited
	err            error         // cmd.Wait's result, once exited is closed
}

// start starts cmd with its output in files of a temporary directory, and
// makes t's cleanup stop it: SIGTERM, then SIGKILL after 10 seconds. When t
// has failed, the end of its stderr is logged.
func start(t *testing.T, name string, cmd *exec.Cmd) *process {
	t.Helper()
	dir := t.TempDir()
	p := &process{name: name, cmd: cmd, exited: make(chan struct{}),
		stdout: filepath.Join(dir, name+".stdout"), stderr: filepath.Join(dir, name+".stderr")}
	out, err := os.Create(p.stdout)
	if err != nil {
		t.Fatal(err)
	}
	errOut, err := os.Create(p.stderr)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, errOut
	err = cmd.Start()
	out.Close()
	errOut.Close()
	if err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-p.exited
			t.Errorf("%s did not stop within 10s of SIGTERM; killed", name)
		}
		if t.Failed() {
			t.Logf("%s exited with %v; stderr (end):\n%s", name, p.err, tail(p.stderr, 6<<10))
		}
	})
	return p
}

// running fails t, with the end of the program's stderr, when it has exited.
func (p *process) running(t *testing.T) {
	t.Helper()
	select {
	case <-p.exited:
		t.Fatalf("%s exited early: %v; stderr (end):\n%s", p.name, p.err, tail(p.stderr, 6<<10))
	default:
	}
}

// tail returns the last n bytes of the file at path.
func tail(path string, n int64) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if int64(len(data)) > n {
		data = data[int64(len(data))-n:]
	}
	return string(data)
}

// demoMetricsLine is the demo's announcement of its metrics listener.
var demoMetricsLine = regexp.MustCompile(`Metrics +http://(\S+)/metrics`)

// startDemo builds and starts the demo with ten simulated users, a SQLite
// database, a GOMEMLIMIT and log shipping to a local Datadog intake, and
// returns its metrics address (host:port).
func startDemo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "demo")
	// Building from an empty cache compiles SQLite; with a warm one (go vet
	// or an earlier build) it takes a few seconds.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	began := time.Now()
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/demo")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/demo: %v\n%s", err, out)
	}
	t.Logf("built the demo in %v", time.Since(began).Round(time.Millisecond))

	// A Datadog logs intake that takes everything.
	intake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(intake.Close) // after the demo has stopped: cleanups run last first

	metricsPort := freePort(t)
	cmd := exec.Command(bin, "-simulate", "10", "-simulate-every", "100ms")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"PORT=0",
		"PROMETHEUS_PORT="+strconv.Itoa(metricsPort),
		"DATABASE_URL=sqlite://"+filepath.Join(dir, "demo.db"),
		"LOG_FORMAT=json",
		"LOG_LEVEL=info",
		"GOMEMLIMIT=1GiB",
		"ENABLE_DATADOG=true",
		"DATADOG_API_KEY=integration-test",
		"DATADOG_LOGS_URL="+intake.URL+"/api/v2/logs",
		"METRICS_BACKENDS=prometheus",
	)
	p := start(t, "demo", cmd)

	deadline := time.Now().Add(30 * time.Second)
	for {
		data, _ := os.ReadFile(p.stdout)
		if m := demoMetricsLine.FindSubmatch(data); m != nil {
			_, port, err := net.SplitHostPort(string(m[1]))
			if err != nil {
				t.Fatalf("demo announced metrics on %q: %v", m[1], err)
			}
			// The demo listens on every interface; scrape it on loopback.
			return net.JoinHostPort("127.0.0.1", port)
		}
		p.running(t)
		if time.Now().After(deadline) {
			t.Fatalf("the demo announced no metrics listener within 30s; stdout:\n%s\nstderr:\n%s",
				data, tail(p.stderr, 6<<10))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startPrometheus writes a configuration scraping target every second as
// job realtime-server, with prometheus/alerts.yml evaluated every second,
// starts Prometheus on a free loopback port and returns its base URL.
func startPrometheus(t *testing.T, bin, target string) (string, *process) {
	t.Helper()
	dir := t.TempDir()
	alerts, err := filepath.Abs(filepath.Join("prometheus", "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf(`global:
  scrape_interval: %[1]s
  scrape_timeout: %[1]s
  evaluation_interval: %[1]s
rule_files:
  - %[2]q
scrape_configs:
  - job_name: realtime-server
    metrics_path: /metrics
    static_configs:
      - targets: [%[3]q]
`, promDuration(scrapeInterval), alerts, target)
	configPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(configPath, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	data := filepath.Join(dir, "data")
	p := start(t, "prometheus", exec.Command(bin,
		"--config.file="+configPath,
		"--storage.tsdb.path="+data,
		"--web.listen-address="+addr,
	))
	return "http://" + addr, p
}
