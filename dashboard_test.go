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
