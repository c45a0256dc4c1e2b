package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// deployDir is the repository's deploy folder, whose real dashboards the
// tests upload.
const deployDir = "../../deploy"

const (
	grafanaToken = "glsa_secret-grafana-token"
	ddAPIKey     = "dd-secret-api-key"
	ddAppKey     = "dd-secret-app-key"
)

// recorded is one request a test server received.
type recorded struct {
	method, path string
	query        url.Values
	header       http.Header
	body         map[string]any
}

// recorder is a real HTTP server that records requests and answers them
// with respond.
type recorder struct {
	mu   sync.Mutex
	reqs []recorded
	srv  *httptest.Server
}

func newRecorder(t *testing.T, respond func(w http.ResponseWriter, r recorded)) *recorder {
	t.Helper()
	rec := &recorder{}
	rec.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("reading request body: %v", err)
		}
		got := recorded{method: r.Method, path: r.URL.Path, query: r.URL.Query(), header: r.Header.Clone()}
		if len(data) > 0 {
			if err := json.Unmarshal(data, &got.body); err != nil {
				t.Errorf("%s %s: body is not a JSON object: %v", r.Method, r.URL.Path, err)
			}
		}
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, got)
		rec.mu.Unlock()
		respond(w, got)
	}))
	t.Cleanup(rec.srv.Close)
	return rec
}

func (rec *recorder) requests() []recorded {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]recorded(nil), rec.reqs...)
}

func envFunc(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

// runCmd runs the command and returns its stdout and error.
func runCmd(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, envFunc(env), &stdout, &stderr)
	return stdout.String() + stderr.String(), err
}

// checkNoSecrets fails t when s holds any credential value.
func checkNoSecrets(t *testing.T, s string) {
	t.Helper()
	for _, secret := range []string{grafanaToken, ddAPIKey, ddAppKey} {
		if strings.Contains(s, secret) {
			t.Errorf("output or error contains the secret %q:\n%s", secret, s)
		}
	}
}

func grafanaUIDs(t *testing.T) []string {
	t.Helper()
	files, err := loadGrafanaDashboards(deployDir)
	if err != nil {
		t.Fatal(err)
	}
	var uids []string
	for _, f := range files {
		uids = append(uids, f.uid)
	}
	return uids
}

func TestGrafanaUpload(t *testing.T) {
	uids := grafanaUIDs(t)
	if len(uids) != 4 {
		t.Fatalf("deploy has %d Grafana dashboards, want 4", len(uids))
	}
	tests := []struct {
		name     string
		version  int
		folder   string
		wantVerb string
	}{
		{name: "create", version: 1, wantVerb: "created"},
		{name: "update into folder", version: 7, folder: "realtime-server", wantVerb: "updated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder(t, func(w http.ResponseWriter, r recorded) {
				dash, _ := r.body["dashboard"].(map[string]any)
				uid, _ := dash["uid"].(string)
				fmt.Fprintf(w, `{"id":12,"uid":%q,"url":"/d/%s/x","status":"success","version":%d,"slug":"x"}`, uid, uid, tt.version)
			})
			args := []string{"-grafana", "-dir", deployDir}
			if tt.folder != "" {
				args = append(args, "-grafana-folder", tt.folder)
			}
			out, err := runCmd(t, map[string]string{"GRAFANA_URL": rec.srv.URL + "/", "GRAFANA_TOKEN": grafanaToken}, args...)
			if err != nil {
				t.Fatalf("run: %v\n%s", err, out)
			}
			checkNoSecrets(t, out)
			reqs := rec.requests()
			if len(reqs) != len(uids) {
				t.Fatalf("Grafana got %d requests, want one per dashboard (%d)", len(reqs), len(uids))
			}
			for i, r := range reqs {
				if r.method != http.MethodPost || r.path != "/api/dashboards/db" {
					t.Errorf("request %d: got %s %s, want POST /api/dashboards/db", i, r.method, r.path)
				}
				if got, want := r.header.Get("Authorization"), "Bearer "+grafanaToken; got != want {
					t.Errorf("request %d: Authorization = %q, want %q", i, got, want)
				}
				if got := r.header.Get("Content-Type"); got != "application/json" {
					t.Errorf("request %d: Content-Type = %q, want application/json", i, got)
				}
				if got := r.body["overwrite"]; got != true {
					t.Errorf("request %d: overwrite = %v, want true", i, got)
				}
				if got, _ := r.body["folderUid"].(string); got != tt.folder {
					t.Errorf("request %d: folderUid = %q, want %q", i, got, tt.folder)
				}
				dash, _ := r.body["dashboard"].(map[string]any)
				if got := dash["uid"]; got != uids[i] {
					t.Errorf("request %d: dashboard.uid = %v, want %q", i, got, uids[i])
				}
				if _, ok := dash["id"]; ok {
					t.Errorf("request %d: dashboard carries an id; Grafana must match by uid", i)
				}
				if panels, _ := dash["panels"].([]any); len(panels) == 0 {
					t.Errorf("request %d: dashboard has no panels; the file was not sent whole", i)
				}
				if want := fmt.Sprintf("%s %q", tt.wantVerb, dash["title"]); !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

func TestGrafanaErrors(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   []string
	}{
		{name: "401", status: 401, body: `{"message":"invalid API key"}`,
			want: []string{"GRAFANA_TOKEN was rejected by", "HTTP 401", "invalid API key"}},
		{name: "403", status: 403, body: `{"message":"Access denied"}`,
			want: []string{"GRAFANA_TOKEN was rejected by", "HTTP 403", "Access denied"}},
		{name: "412 name exists", status: 412, body: `{"message":"A dashboard with the same name in the folder already exists","status":"name-exists"}`,
			want: []string{"answered HTTP 412", "same name"}},
		{name: "500", status: 500, body: "upstream crashed\n",
			want: []string{"Grafana at", "answered HTTP 500 Internal Server Error", "upstream crashed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder(t, func(w http.ResponseWriter, r recorded) {
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			})
			out, err := runCmd(t, map[string]string{"GRAFANA_URL": rec.srv.URL, "GRAFANA_TOKEN": grafanaToken}, "-grafana", "-dir", deployDir)
			if err == nil {
				t.Fatalf("run succeeded against HTTP %d; want an error\n%s", tt.status, out)
			}
			msg := err.Error()
			for _, w := range append(tt.want, rec.srv.URL) {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
			checkNoSecrets(t, msg+out)
			if n := len(rec.requests()); n != 1 {
				t.Errorf("Grafana got %d requests, want 1: the command must stop at the first failure", n)
			}
		})
	}
}

// ddServer is a fake Datadog API holding dashboards by id.
func ddServer(t *testing.T, existing map[string]string, fail map[string]int) *recorder {
	t.Helper()
	return newRecorder(t, func(w http.ResponseWriter, r recorded) {
		if code, ok := fail[r.method+" "+r.path]; ok {
			w.WriteHeader(code)
			io.WriteString(w, `{"errors":["Forbidden"]}`)
			return
		}
		switch {
		case r.method == http.MethodGet && r.path == "/api/v1/dashboard":
			var list []map[string]string
			for id, title := range existing {
				list = append(list, map[string]string{"id": id, "title": title})
			}
			json.NewEncoder(w).Encode(map[string]any{"dashboards": list})
		case r.method == http.MethodPost && r.path == "/api/v1/dashboard":
			ddAnswer(w, fmt.Sprintf("new-%d", len(r.body)), r)
		case r.method == http.MethodPut && strings.HasPrefix(r.path, "/api/v1/dashboard/"):
			ddAnswer(w, strings.TrimPrefix(r.path, "/api/v1/dashboard/"), r)
		default:
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"errors":["not found"]}`)
		}
	})
}

// ddAnswer answers a create or update as Datadog documents it: the
// dashboard sent, with its id and url.
func ddAnswer(w http.ResponseWriter, id string, r recorded) {
	json.NewEncoder(w).Encode(map[string]any{"id": id, "title": r.body["title"], "layout_type": r.body["layout_type"],
		"url": "/dashboard/" + id + "/x", "widgets": r.body["widgets"]})
}

func ddEnv(url string) map[string]string {
	return map[string]string{"DATADOG_API_KEY": ddAPIKey, "DATADOG_APP_KEY": ddAppKey, "DATADOG_API_URL": url}
}

func TestDatadogUpload(t *testing.T) {
	files, err := loadDatadogDashboards(deployDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 3 {
		t.Fatalf("deploy has %d Datadog dashboards, want 3", len(files))
	}
	// The second dashboard already exists (and an unrelated one): it must be
	// updated in place, the others created.
	existing := map[string]string{"abc-def-ghi": files[1].title, "zzz-zzz-zzz": "Someone else's dashboard"}
	rec := ddServer(t, existing, nil)
	out, err := runCmd(t, ddEnv(rec.srv.URL), "-datadog", "-dir", deployDir)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	checkNoSecrets(t, out)
	reqs := rec.requests()
	want := []struct{ method, path, title string }{
		{"GET", "/api/v1/dashboard", ""},
		{"POST", "/api/v1/dashboard", files[0].title},
		{"PUT", "/api/v1/dashboard/abc-def-ghi", files[1].title},
		{"POST", "/api/v1/dashboard", files[2].title},
	}
	if len(reqs) != len(want) {
		t.Fatalf("Datadog got %d requests, want %d", len(reqs), len(want))
	}
	for i, w := range want {
		r := reqs[i]
		if r.method != w.method || r.path != w.path {
			t.Errorf("request %d: got %s %s, want %s %s", i, r.method, r.path, w.method, w.path)
		}
		if got := r.header.Get("DD-API-KEY"); got != ddAPIKey {
			t.Errorf("request %d: DD-API-KEY = %q, want the API key", i, got)
		}
		if got := r.header.Get("DD-APPLICATION-KEY"); got != ddAppKey {
			t.Errorf("request %d: DD-APPLICATION-KEY = %q, want the application key", i, got)
		}
		if w.title == "" {
			if r.body != nil {
				t.Errorf("request %d: GET has a body %v", i, r.body)
			}
			continue
		}
		if got := r.header.Get("Content-Type"); got != "application/json" {
			t.Errorf("request %d: Content-Type = %q, want application/json", i, got)
		}
		if got := r.body["title"]; got != w.title {
			t.Errorf("request %d: title = %v, want %q", i, got, w.title)
		}
		if got := r.body["layout_type"]; got != "ordered" {
			t.Errorf("request %d: layout_type = %v, want ordered", i, got)
		}
		if widgets, _ := r.body["widgets"].([]any); len(widgets) == 0 {
			t.Errorf("request %d: no widgets; the file was not sent whole", i)
		}
	}
	for _, w := range []string{`created "` + files[0].title, `updated "` + files[1].title + `" (id abc-def-ghi)`} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

func TestDatadogErrors(t *testing.T) {
	files, err := loadDatadogDashboards(deployDir)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		existing  map[string]string
		fail      map[string]int
		want      []string
		wantCalls int
	}{
		{name: "401 on list", fail: map[string]int{"GET /api/v1/dashboard": 401},
			want: []string{"DATADOG_API_KEY or DATADOG_APP_KEY was rejected by", "HTTP 401", "Forbidden"}, wantCalls: 1},
		{name: "403 on create", fail: map[string]int{"POST /api/v1/dashboard": 403},
			want: []string{"DATADOG_API_KEY or DATADOG_APP_KEY was rejected by", "HTTP 403", files[0].path}, wantCalls: 2},
		{name: "503 on update", existing: map[string]string{"x-1": files[0].title}, fail: map[string]int{"PUT /api/v1/dashboard/x-1": 503},
			want: []string{"Datadog at", "answered HTTP 503 Service Unavailable", "PUT /api/v1/dashboard/x-1"}, wantCalls: 2},
		{name: "two dashboards with the title", existing: map[string]string{"a-1": files[0].title, "b-2": files[0].title},
			want: []string{"has 2 dashboards titled", files[0].title}, wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := ddServer(t, tt.existing, tt.fail)
			out, err := runCmd(t, ddEnv(rec.srv.URL), "-datadog", "-dir", deployDir)
			if err == nil {
				t.Fatalf("run succeeded; want an error\n%s", out)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			checkNoSecrets(t, err.Error()+out)
			if n := len(rec.requests()); n != tt.wantCalls {
				t.Errorf("Datadog got %d requests, want %d", n, tt.wantCalls)
			}
		})
	}
}

func TestDryRunSendsNothing(t *testing.T) {
	rec := newRecorder(t, func(w http.ResponseWriter, r recorded) {
		t.Errorf("dry run sent %s %s", r.method, r.path)
	})
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{name: "with credentials",
			env: map[string]string{"GRAFANA_URL": rec.srv.URL, "GRAFANA_TOKEN": grafanaToken,
				"DATADOG_API_KEY": ddAPIKey, "DATADOG_APP_KEY": ddAppKey, "DATADOG_API_URL": rec.srv.URL},
			want: []string{
				"grafana: would POST " + rec.srv.URL + `/api/dashboards/db: create or overwrite dashboard uid "rts-overview"`,
				"datadog: would GET " + rec.srv.URL + "/api/v1/dashboard",
				`datadog: would PUT ` + rec.srv.URL + `/api/v1/dashboard/{id} for "Realtime Server - Infrastructure"`,
			}},
		{name: "without credentials, on the EU site",
			env: map[string]string{"DATADOG_SITE": "datadoghq.eu"},
			want: []string{
				"grafana: GRAFANA_URL is not set; a real run would stop here",
				"grafana: GRAFANA_TOKEN is not set",
				"datadog: DATADOG_API_KEY is not set",
				"datadog: DATADOG_APP_KEY is not set",
				"datadog: would GET https://api.datadoghq.eu/api/v1/dashboard",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runCmd(t, tt.env, "-dry-run", "-dir", deployDir)
			if err != nil {
				t.Fatalf("run: %v\n%s", err, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if got := strings.Count(out, "grafana: would POST"); got != 4 {
				t.Errorf("dry run announced %d Grafana uploads, want 4:\n%s", got, out)
			}
			if got := strings.Count(out, "datadog: would PUT"); got != 3 {
				t.Errorf("dry run announced %d Datadog uploads, want 3:\n%s", got, out)
			}
			checkNoSecrets(t, out)
		})
	}
	if n := len(rec.requests()); n != 0 {
		t.Errorf("dry runs sent %d requests, want 0", n)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want []string
	}{
		{name: "grafana variables missing", args: []string{"-grafana"},
			want: []string{"GRAFANA_URL and GRAFANA_TOKEN, which are not set"}},
		{name: "grafana token missing", args: []string{"-grafana"}, env: map[string]string{"GRAFANA_URL": "http://localhost:3000"},
			want: []string{"needs GRAFANA_TOKEN, which is not set"}},
		{name: "grafana URL not http", args: []string{"-grafana"}, env: map[string]string{"GRAFANA_URL": "localhost:3000", "GRAFANA_TOKEN": grafanaToken},
			want: []string{"GRAFANA_URL=localhost:3000 is not accepted", "http://localhost:3000"}},
		{name: "grafana URL password redacted", args: []string{"-grafana"}, env: map[string]string{"GRAFANA_URL": "ftp://admin:hunter2@grafana", "GRAFANA_TOKEN": grafanaToken},
			want: []string{"GRAFANA_URL=ftp://admin:xxxxx@grafana is not accepted"}},
		{name: "datadog keys missing", args: []string{"-datadog"},
			want: []string{"DATADOG_API_KEY and DATADOG_APP_KEY, which are not set"}},
		{name: "datadog app key missing", args: []string{"-datadog"}, env: map[string]string{"DATADOG_API_KEY": ddAPIKey},
			want: []string{"needs DATADOG_APP_KEY, which is not set"}},
		{name: "datadog site invalid", args: []string{"-datadog", "-dry-run"}, env: map[string]string{"DATADOG_SITE": "datadog.com"},
			want: []string{`DATADOG_SITE="datadog.com" is not accepted: want one of datadoghq.com, datadoghq.eu, us3.datadoghq.com, us5.datadoghq.com, ap1.datadoghq.com, ddog-gov.com`}},
		{name: "both at once", env: map[string]string{"DATADOG_SITE": "nowhere"},
			want: []string{"GRAFANA_URL and GRAFANA_TOKEN", `DATADOG_SITE="nowhere"`}},
		{name: "no dashboards", args: []string{"-dir", "testdata-does-not-exist", "-dry-run"},
			want: []string{"no *.json dashboards in testdata-does-not-exist"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"-dir", deployDir}, tt.args...)
			out, err := runCmd(t, tt.env, args...)
			if err == nil {
				t.Fatalf("run succeeded; want an error\n%s", out)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			checkNoSecrets(t, err.Error()+out)
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q shows the URL's password", err)
			}
		})
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{"-nope"}, {"extra"}} {
		if _, err := runCmd(t, nil, args...); err != errUsage {
			t.Errorf("run(%q) = %v, want errUsage", args, err)
		}
	}
}

func TestBadDashboardFiles(t *testing.T) {
	tests := []struct {
		name    string
		grafana map[string]string
		datadog map[string]string
		want    string
	}{
		{name: "grafana without uid", grafana: map[string]string{"a.json": `{"title":"A","panels":[]}`}, want: `has no "uid"`},
		{name: "grafana duplicate uid", grafana: map[string]string{"a.json": `{"uid":"u","title":"A"}`, "b.json": `{"uid":"u","title":"B"}`}, want: `uid "u" is also used by`},
		{name: "grafana not an object", grafana: map[string]string{"a.json": `[1, 2]`}, want: "not a JSON object"},
		{name: "datadog without title", datadog: map[string]string{"a.json": `{"layout_type":"ordered","widgets":[]}`}, want: `has no "title"`},
		{name: "datadog bad layout", datadog: map[string]string{"a.json": `{"title":"A","layout_type":"grid","widgets":[]}`}, want: `"layout_type" is "grid"; Datadog accepts "ordered" or "free"`},
		{name: "datadog duplicate title", datadog: map[string]string{"a.json": `{"title":"A","layout_type":"ordered","widgets":[]}`, "b.json": `{"title":"A","layout_type":"ordered","widgets":[]}`}, want: `title "A" is also used by`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			flag := "-datadog"
			sub, files := filepath.Join(dir, "datadog"), tt.datadog
			if tt.grafana != nil {
				flag, sub, files = "-grafana", filepath.Join(dir, "grafana", "dashboards"), tt.grafana
			}
			if err := os.MkdirAll(sub, 0o755); err != nil {
				t.Fatal(err)
			}
			for name, content := range files {
				if err := os.WriteFile(filepath.Join(sub, name), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := runCmd(t, nil, flag, "-dry-run", "-dir", dir)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("run = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestDatadogUploadPagesThroughTheList(t *testing.T) {
	files, err := loadDatadogDashboards(deployDir)
	if err != nil {
		t.Fatal(err)
	}
	// 250 dashboards; ours is on the second page. A server that honours
	// count and start, as Datadog's does.
	var all []map[string]string
	for i := range 250 {
		all = append(all, map[string]string{"id": fmt.Sprintf("id-%d", i), "title": fmt.Sprintf("other %d", i)})
	}
	all[170]["title"] = files[0].title
	rec := newRecorder(t, func(w http.ResponseWriter, r recorded) {
		switch {
		case r.method == http.MethodGet && r.path == "/api/v1/dashboard":
			count, _ := strconv.Atoi(r.query.Get("count"))
			start, _ := strconv.Atoi(r.query.Get("start"))
			if count <= 0 {
				count = 100
			}
			page := all[min(start, len(all)):min(start+count, len(all))]
			json.NewEncoder(w).Encode(map[string]any{"dashboards": page})
		case r.method == http.MethodPut:
			ddAnswer(w, strings.TrimPrefix(r.path, "/api/v1/dashboard/"), r)
		default:
			ddAnswer(w, "new", r)
		}
	})
	if out, err := runCmd(t, ddEnv(rec.srv.URL), "-datadog", "-dir", deployDir); err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	var gets, puts int
	for _, r := range rec.requests() {
		switch r.method {
		case http.MethodGet:
			gets++
		case http.MethodPut:
			puts++
			if r.path != "/api/v1/dashboard/id-170" {
				t.Errorf("PUT %s, want /api/v1/dashboard/id-170", r.path)
			}
		}
	}
	if gets != 3 || puts != 1 {
		t.Errorf("%d list requests and %d updates, want 3 pages and 1 update of the dashboard on page 2", gets, puts)
	}
}
