package main

import (
	"bufio"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/realtimeserver/observability/internal/testenv"
)

// drive sends the traffic every reference metric needs: comments over HTTP
// and WebSocket, a list, a 4xx and an unmatched route.
func drive(t *testing.T, base string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/socket?channel=video:2", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if err := ws.Write(ctx, websocket.MessageText, []byte(`{"event":"comment.create","ref":"1","payload":{"user_id":1,"body":"hi"}}`)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ws.Read(ctx); err != nil {
		t.Fatal(err)
	}
	if s, b := postJSON(t, base+"/api/videos/2/comments", `{"user_id": 2, "body": "over http"}`); s != 201 {
		t.Fatalf("POST = %d %v", s, b)
	}
	get(t, base+"/api/videos/2/comments")
	postJSON(t, base+"/api/videos/2/comments", `{`)
	get(t, base+"/no/such/route")
}

// sample is one line of the exposition: a name and its labels.
type sample struct {
	name   string
	labels map[string]string
}

var sampleRE = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? \S+$`)
var labelRE = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)

func parseExposition(text string) []sample {
	var out []sample
	for _, line := range strings.Split(text, "\n") {
		m := sampleRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		s := sample{name: m[1], labels: map[string]string{}}
		for _, l := range labelRE.FindAllStringSubmatch(m[2], -1) {
			s.labels[l[1]] = l[2]
		}
		out = append(out, s)
	}
	return out
}

func TestEveryReferenceMetricIsExposed(t *testing.T) {
	d := startDemo(t, nil)
	drive(t, d.base)
	// The socket's connection counted once it has ended; give the server a
	// moment to see the close.
	time.Sleep(200 * time.Millisecond)
	status, text := get(t, d.metrics)
	if status != 200 {
		t.Fatalf("GET /metrics = %d", status)
	}
	samples := parseExposition(text)

	// Each metric of the guide's reference, under DESIGN's name, with its
	// labels (beside le for buckets).
	want := []struct {
		name   string
		labels []string
	}{
		{"http_request_duration_seconds_bucket", []string{"route", "method", "status", "le"}},
		{"http_requests_total", []string{"route", "method", "status"}},
		{"db_query_duration_seconds_bucket", []string{"source", "operation", "le"}},
		{"db_queries_total", []string{"source", "operation"}},
		{"websocket_connections", []string{"channel"}},
		{"websocket_messages_total", []string{"channel", "event", "direction"}},
		{"db_pool_max_open_connections", []string{"db"}},
		{"db_pool_in_use_connections", []string{"db"}},
		{"db_pool_waits_total", []string{"db"}},
		{"db_pool_open_connections", []string{"db"}},
		{"db_pool_idle_connections", []string{"db"}},
		{"db_pool_wait_seconds_total", []string{"db"}},
		{"log_records_total", []string{"level"}},
		{"comments_created_total", []string{"region", "channel", "transport"}},
		{"comment_creation_duration_seconds_bucket", []string{"region", "transport", "le"}},
		{"users_online", []string{"region"}},
		{"requests_rejected_total", []string{"transport", "reason"}},
		{"go_goroutines", nil},
		{"go_memstats_heap_inuse_bytes", nil},
		{"process_resident_memory_bytes", nil},
		{"process_cpu_seconds_total", nil},
	}
	for _, w := range want {
		found := false
		for _, s := range samples {
			if s.name != w.name {
				continue
			}
			var keys []string
			for k := range s.labels {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			wantKeys := slices.Clone(w.labels)
			sort.Strings(wantKeys)
			if !slices.Equal(keys, wantKeys) {
				t.Errorf("%s has labels %v, want %v", w.name, keys, wantKeys)
			}
			found = true
			break
		}
		if !found {
			t.Errorf("%s is missing from /metrics", w.name)
		}
	}

	// Routes are patterns, never raw paths.
	routes := map[string]bool{}
	for _, s := range samples {
		if s.name == "http_requests_total" {
			routes[s.labels["route"]] = true
		}
	}
	for _, r := range []string{"/api/videos/{video_id}/comments", "unmatched"} {
		if !routes[r] {
			t.Errorf("no http_requests_total with route %q; routes: %v", r, routes)
		}
	}
	for r := range routes {
		if strings.Contains(r, "/2/") || strings.Contains(r, "/no/such") {
			t.Errorf("raw path %q used as a route label", r)
		}
	}

	promtool := testenv.Binary(t, "promtool", "apt-get install prometheus")
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

func TestTelemetryOffServesTheSameAPI(t *testing.T) {
	port := testenv.FreePort(t)
	d := startDemo(t, map[string]string{"PROMETHEUS_PORT": strconv.Itoa(port)}, "-telemetry=false")
	if s, b := postJSON(t, d.base+"/api/videos/1/comments", `{"user_id": 1, "body": "plain"}`); s != 201 {
		t.Fatalf("POST = %d %v", s, b)
	}
	if strings.Contains(d.stdout.String(), "Metrics") {
		t.Errorf("uninstrumented demo announces a metrics listener:\n%s", d.stdout)
	}
	if _, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port)); err == nil {
		t.Errorf("uninstrumented demo serves metrics on PROMETHEUS_PORT=%d", port)
	}
	// LOG_FORMAT=json is honoured, and there is no access log.
	if !strings.Contains(d.stderr.String(), `"msg":"demo started"`) {
		t.Errorf("uninstrumented demo did not log JSON:\n%s", d.stderr)
	}
	if strings.Contains(d.stderr.String(), `"msg":"http request"`) {
		t.Errorf("uninstrumented demo writes an access log")
	}
}

// intake is a local server speaking Datadog's HTTP logs intake protocol.
type intake struct {
	mu      sync.Mutex
	entries []map[string]any
	keys    []string
}

func (in *intake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/api/v2/logs" ||
		r.Header.Get("Content-Encoding") != "gzip" || r.Header.Get("Content-Type") != "application/json" {
		http.Error(w, "bad request shape", http.StatusBadRequest)
		return
	}
	zr, err := gzip.NewReader(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var batch []map[string]any
	if err := json.NewDecoder(zr).Decode(&batch); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	in.mu.Lock()
	in.entries = append(in.entries, batch...)
	in.keys = append(in.keys, r.Header.Get("DD-API-KEY"))
	in.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

func TestBinaryShipsEveryLogToDatadogBeforeExit(t *testing.T) {
	bin, err := buildDemo()
	if err != nil {
		t.Fatal(err)
	}
	in := &intake{}
	srv := httptest.NewServer(in)
	defer srv.Close()

	cmd := exec.Command(bin)
	cmd.Dir = t.TempDir()
	cmd.Env = append(cmd.Environ(),
		"PORT=0", "PROMETHEUS_PORT="+strconv.Itoa(testenv.FreePort(t)), "LOG_FORMAT=json",
		"ENABLE_DATADOG=true", "DATADOG_API_KEY=test-api-key", "DATADOG_LOGS_URL="+srv.URL+"/api/v2/logs",
		"SERVICE_NAME=rts-e2e", "ENVIRONMENT=ci", "SERVICE_VERSION=1.2.3")
	stdout := &testenv.Buffer{}
	cmd.Stdout = stdout
	stderrPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var lines []string
	linesDone := make(chan struct{})
	go func() {
		defer close(linesDone)
		sc := bufio.NewScanner(stderrPipe)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
	}()
	base := waitFor(t, "the API URL", stdout, apiRE)
	metricsURL := waitFor(t, "the metrics URL", stdout, metricsRE)
	for i := range 20 {
		postJSON(t, base+"/api/videos/3/comments", fmt.Sprintf(`{"user_id": %d, "body": "c%d"}`, i+1, i))
	}
	drive(t, base)

	// The binary's exposition holds the reference metrics and passes promtool.
	_, text := get(t, metricsURL)
	for _, name := range []string{"http_requests_total{", "db_queries_total{", "websocket_messages_total{",
		"datadog_logs_sent_total ", "log_records_total{", "go_goroutines ", "process_resident_memory_bytes "} {
		if !strings.Contains(text, name) {
			t.Errorf("the binary's /metrics lacks %s", name)
		}
	}
	promtool := testenv.Binary(t, "promtool", "apt-get install prometheus")
	check := exec.Command(promtool, "check", "metrics")
	check.Stdin = strings.NewReader(text)
	if out, err := check.CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("promtool check metrics on the binary's output: %v\n%s", err, out)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitErr := make(chan error, 1)
	go func() { <-linesDone; waitErr <- cmd.Wait() }()
	select {
	case err := <-waitErr:
		if err != nil {
			t.Fatalf("demo exited with %v after SIGTERM; stderr:\n%s", err, strings.Join(lines, "\n"))
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("demo did not exit within 30s of SIGTERM")
	}

	// Every record the demo wrote to stderr reached the intake, with the
	// enrichment attributes.
	var local []map[string]any
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("stderr line is not JSON: %q", l)
		}
		local = append(local, m)
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(local) < 30 {
		t.Fatalf("only %d log lines on stderr", len(local))
	}
	key := func(m map[string]any, msgKey string) string {
		return fmt.Sprint(m[msgKey], "|", m["request_id"], "|", m["comment_id"], "|", m["channel"])
	}
	remote := map[string]int{}
	for _, e := range in.entries {
		remote[key(e, "message")]++
	}
	missing := 0
	for _, m := range local {
		k := key(m, "msg")
		if remote[k] == 0 {
			missing++
			if missing < 5 {
				t.Errorf("record %v never reached the intake", m)
			}
			continue
		}
		remote[k]--
	}
	if missing > 0 || len(in.entries) != len(local) {
		t.Errorf("%d of %d records missing; intake has %d entries", missing, len(local), len(in.entries))
	}
	for _, k := range in.keys {
		if k != "test-api-key" {
			t.Errorf("DD-API-KEY header = %q", k)
		}
	}
	var sawRequest bool
	for _, e := range in.entries {
		if e["service"] != "rts-e2e" || e["hostname"] == nil || e["ddsource"] != "go" {
			t.Errorf("entry lacks service/hostname/ddsource: %v", e)
			break
		}
		tags, _ := e["ddtags"].(string)
		if !strings.Contains(tags, "env:ci") || !strings.Contains(tags, "version:1.2.3") {
			t.Errorf("ddtags = %q, want env:ci and version:1.2.3", tags)
			break
		}
		if e["pid"] == nil {
			t.Errorf("entry lacks pid: %v", e)
			break
		}
		if e["message"] == "http request" {
			sawRequest = true
			if id, _ := e["request_id"].(string); id == "" {
				t.Errorf("access log entry without request_id: %v", e)
			}
		}
	}
	if !sawRequest {
		t.Error("no access log entry reached the intake")
	}
	for _, l := range lines {
		if strings.Contains(l, "test-api-key") {
			t.Errorf("the API key was logged: %s", l)
		}
	}
}

// TestOnPostgreSQL runs the demo on DATABASE_URL=postgres://…, in a schema
// of its own that it drops afterwards.
func TestOnPostgreSQL(t *testing.T) {
	url := testenv.PostgresURL(t)
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	schema := fmt.Sprintf("demo_test_%d", time.Now().UnixNano())
	if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("creating schema: %v", err)
	}
	t.Cleanup(func() { _, _ = db.Exec("DROP SCHEMA " + schema + " CASCADE") })
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	d := startDemo(t, map[string]string{"DATABASE_URL": url + sep + "search_path=" + schema})
	if !strings.Contains(d.stdout.String(), "(pgx)") {
		t.Fatalf("demo did not choose the pgx driver:\n%s", d.stdout)
	}
	drive(t, d.base)
	status, page := get(t, d.base+"/api/videos/2/comments")
	var list struct{ Comments []Comment }
	if err := json.Unmarshal([]byte(page), &list); err != nil || status != 200 || len(list.Comments) != 2 {
		t.Fatalf("GET = %d %s, want the 2 comments drive posted", status, page)
	}
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM " + schema + ".comments").Scan(&n); err != nil || n != 2 {
		t.Errorf("comments in %s = %d (%v), want 2", schema, n, err)
	}
	_, text := get(t, d.metrics)
	if !strings.Contains(text, `db_queries_total{operation="insert",source="comments"} 2`) {
		t.Errorf("metrics lack 2 inserts on comments:\n%s", grepLines(text, "db_queries_total"))
	}
}
