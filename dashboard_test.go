package observability

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/realtimeserver/observability/internal/testenv"
)

func TestDashboardConfig(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    bool
		wantErr string
	}{
		{"off by default", nil, false, ""},
		{"on", map[string]string{"DASHBOARD": "true"}, true, ""},
		{"other bool form", map[string]string{"DASHBOARD": "1"}, true, ""},
		{"not a bool", map[string]string{"DASHBOARD": "yes please"}, false, `DASHBOARD="yes please" is invalid`},
		{"no listener", map[string]string{"DASHBOARD": "true", "PROMETHEUS_PORT": "0"}, true, "DASHBOARD=true needs the metrics listener"},
		{"no registry", map[string]string{"DASHBOARD": "true", "METRICS_BACKENDS": "dogstatsd"}, true, "DASHBOARD=true needs prometheus in METRICS_BACKENDS"},
		{"off without a listener", map[string]string{"DASHBOARD": "false", "PROMETHEUS_PORT": "0"}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ConfigFromLookup(func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok })
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if cfg.Dashboard != tt.want {
				t.Errorf("Dashboard = %v, want %v", cfg.Dashboard, tt.want)
			}
		})
	}
	// A hand-built Config is checked the same way by Setup.
	_, err := Setup(context.Background(), Config{LogOutput: io.Discard, Dashboard: true, DisablePrometheusListener: true})
	if err == nil || !strings.Contains(err.Error(), "DASHBOARD=true") {
		t.Errorf("Setup without a listener = %v, want an error naming DASHBOARD", err)
	}
	// The token never shows.
	const token = "tok-3f9a-secret"
	cfg, err := ConfigFromLookup(func(k string) (string, bool) {
		v, ok := map[string]string{"DASHBOARD": "true", "DASHBOARD_TOKEN": token}[k]
		return v, ok
	})
	if err != nil || cfg.DashboardToken != token {
		t.Fatalf("DashboardToken = %q (%v)", cfg.DashboardToken, err)
	}
	for _, s := range []string{cfg.String(), fmt.Sprintf("%#v", cfg), fmt.Sprintf("%+v", cfg.LogValue())} {
		if strings.Contains(s, token) {
			t.Errorf("the token shows in %s", s)
		}
	}
}

func TestSetupServesTheDashboard(t *testing.T) {
	const token = "tok-3f9a-secret"
	tel, err := Setup(context.Background(), Config{
		LogOutput: io.Discard, PrometheusPort: testenv.FreePort(t), PrometheusHost: "127.0.0.1",
		Dashboard: true, DashboardToken: token, ServiceName: "dash-test",
	})
	if err != nil {
		t.Fatal(err)
	}
	shutdown := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return tel.Shutdown(ctx)
	}
	defer shutdown()
	base := "http://" + tel.MetricsAddr + DashboardPath
	get := func(path string, auth bool) (*http.Response, error) {
		req, _ := http.NewRequest("GET", base+path, nil)
		if auth {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		return http.DefaultClient.Do(req)
	}
	if resp, err := get("/", false); err != nil || resp.StatusCode != 401 {
		t.Fatalf("without the token: %v %v, want 401", resp.StatusCode, err)
	} else {
		resp.Body.Close()
	}
	resp, err := get("/", true)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /dashboard/ = %v %v", resp.StatusCode, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "dash-test") {
		t.Errorf("home page does not name the service")
	}

	// A page open (its live stream answered) makes the ring keep info
	// records too; the stream stays open to the end.
	stream, err := get("/api/stream?page=home", true)
	if err != nil || stream.StatusCode != 200 {
		t.Fatalf("stream: %v %v", stream.StatusCode, err)
	}
	defer stream.Body.Close()

	// Records reach the ring after redaction, with their request id.
	tel.Logger.Info("order placed", "request_id", "r-42", "password", "hunter2")
	resp, err = get("/api/logs?request_id=r-42", true)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Records []struct {
			Msg   string
			Attrs [][2]string
		}
	}
	json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if len(got.Records) != 1 || got.Records[0].Msg != "order placed" {
		t.Fatalf("ring records for r-42 = %+v", got.Records)
	}
	for _, kv := range got.Records[0].Attrs {
		if strings.Contains(kv[1], "hunter2") {
			t.Errorf("the ring kept a secret: %v", kv)
		}
	}

	// A page left open does not hold up Shutdown.
	if _, err := bufio.NewReader(stream.Body).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := shutdown(); err != nil {
		t.Errorf("Shutdown with a page open: %v", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("Shutdown with a page open took %v", took)
	}
}

// TestSetupDashboardNeverServesWithoutAToken: DASHBOARD=true with no
// DASHBOARD_TOKEN makes a random token, which no page can be had without,
// and prints the URL that carries it once to DashboardURLOutput, never
// through the logger.
func TestSetupDashboardNeverServesWithoutAToken(t *testing.T) {
	var logs, urls bytes.Buffer
	tel, err := Setup(context.Background(), Config{
		LogOutput: &logs, LogFormat: FormatJSON, LogLevel: slog.LevelDebug,
		PrometheusPort: testenv.FreePort(t), Dashboard: true, DashboardURLOutput: &urls,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		tel.Shutdown(ctx)
	}()
	token := tel.Config.DashboardToken
	if len(token) < 32 {
		t.Fatalf("made token %q; want 128 random bits", token)
	}
	if want := "?token=" + token; !strings.HasSuffix(tel.DashboardURL, want) || !strings.HasPrefix(tel.DashboardURL, "http://localhost:") {
		t.Errorf("DashboardURL = %q; want http://localhost:port%s/%s", tel.DashboardURL, DashboardPath, want)
	}
	if got, want := urls.String(), "Dashboard: "+tel.DashboardURL+"\n"; got != want {
		t.Errorf("printed %q, want %q", got, want)
	}
	base := "http://" + tel.MetricsAddr + DashboardPath
	for _, path := range []string{"/", "/api/logs?limit=2000", "/api/stream?page=home", "/api/metrics"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s without the token: %d, want 401", path, resp.StatusCode)
		}
	}
	// As a browser does: ?token= sets a cookie and redirects without it.
	jar, _ := cookiejar.New(nil)
	resp, err := (&http.Client{Jar: jar}).Get(tel.DashboardURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET DashboardURL: %d, want 200", resp.StatusCode)
	}
	// What the dashboard's bounds refuse is counted where Prometheus reads it.
	var m strings.Builder
	tel.Prometheus.WritePrometheus(&m)
	for _, want := range []string{`dashboard_requests_dropped_total{reason="queue_full"} 0`, "dashboard_viewers 0"} {
		if !strings.Contains(m.String(), want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	tel.Logger.Info("after start")
	if strings.Contains(logs.String(), token) {
		t.Errorf("the token reached the log output:\n%s", logs.String())
	}
}

// TestDashboardWithoutOTLP: a program that does not import the otlp
// package gets a Traces page that says how to turn traces on, the Logs
// page's level control behind the token, and the Runtime page's profile
// links once it mounts the profiles under the dashboard's path.
func TestDashboardWithoutOTLP(t *testing.T) {
	const token = "tok-level-secret"
	tel, err := Setup(context.Background(), Config{
		LogOutput: io.Discard, PrometheusPort: testenv.FreePort(t), PrometheusHost: "127.0.0.1",
		Dashboard: true, DashboardToken: token,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		tel.Shutdown(ctx)
	}()
	if tel.Spans != nil || tel.OTLP != nil {
		t.Errorf("without the otlp package: Spans %v, OTLP %v", tel.Spans, tel.OTLP)
	}
	base := "http://" + tel.MetricsAddr + DashboardPath
	do := func(method, path, body string, auth bool) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		if auth {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	code, page := do("GET", "/traces", "", true)
	if code != 200 || !strings.Contains(page, `data-traces-off="`) || !strings.Contains(page, OTLPImportPath) || strings.Contains(page, `data-traces="1"`) {
		t.Errorf("GET /traces = %d, want a page that says how to turn traces on:\n%s", code, page)
	}
	if code, _ := do("GET", "/api/trace?id=4bf92f3577b34da6a3ce929d0e0e4736", "", true); code != 404 {
		t.Errorf("GET /api/trace with no spans = %d, want 404", code)
	}

	// The level, read and changed through the dashboard, behind its token.
	if code, _ := do("PUT", "/api/level", `{"level":"debug"}`, false); code != 401 || tel.Level.Level() != slog.LevelInfo {
		t.Errorf("PUT /api/level without the token = %d, level %v", code, tel.Level.Level())
	}
	if code, body := do("GET", "/api/level", "", true); code != 200 || !strings.Contains(body, `"level":"info"`) {
		t.Errorf("GET /api/level = %d %s", code, body)
	}
	if code, body := do("PUT", "/api/level", `{"level":"debug","for":"1m"}`, true); code != 200 || !strings.Contains(body, `"revert_to":"info"`) || tel.Level.Level() != slog.LevelDebug {
		t.Errorf("PUT /api/level = %d %s, level %v", code, body, tel.Level.Level())
	}
	if code, _ := do("POST", "/api/level", `{"level":"warn"}`, true); code != 405 {
		t.Errorf("POST /api/level = %d, want 405", code)
	}
	if _, page := do("GET", "/logs", "", true); !strings.Contains(page, `data-level="1"`) {
		t.Error("the Logs page does not offer the level control")
	}

	// Profile links only once the profiles are served under the
	// dashboard's path.
	if _, page := do("GET", "/runtime", "", true); strings.Contains(page, "data-profiles") {
		t.Error("the Runtime page links profiles that are not served")
	}
	tel.Mux.Handle("GET "+DashboardPath+"/debug/pprof/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	if _, page := do("GET", "/runtime", "", true); !strings.Contains(page, `data-profiles="1"`) {
		t.Error("the Runtime page does not link the profiles served under it")
	}

	// From the environment, DASHBOARD=true installs the provider globally,
	// so that the instrumentation's spans reach the Traces page.
	cfg, err := ConfigFromLookup(lookupOf(map[string]string{"DASHBOARD": "true"}))
	if err != nil || !cfg.OTel.SetGlobal {
		t.Errorf("DASHBOARD=true: SetGlobal %v (%v)", cfg.OTel.SetGlobal, err)
	}
}
