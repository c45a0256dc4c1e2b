package observability

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"

	"github.com/realtimeserver/observability/internal/term"
	"github.com/realtimeserver/observability/livedash"
)

// DashboardPath is where Setup serves the live dashboard on the metrics
// listener when Config.Dashboard is set.
const DashboardPath = livedash.DefaultPath

// dashboardNeeds reports a dashboard asked for without what serves it: the
// metrics listener and the Prometheus registry it reads.
func (c *Config) dashboardNeeds() error {
	if !c.Dashboard {
		return nil
	}
	if c.DisablePrometheusListener {
		return fmt.Errorf("DASHBOARD=true needs the metrics listener, which PROMETHEUS_PORT=0 turns off: set PROMETHEUS_PORT to a port, or DASHBOARD=false")
	}
	if !slices.Contains(c.backends(), BackendPrometheus) {
		return fmt.Errorf("DASHBOARD=true needs prometheus in METRICS_BACKENDS=%q: add it, or set DASHBOARD=false", strings.Join(c.backends(), ","))
	}
	return nil
}

// mountDashboard builds the live dashboard over the registry and the log
// ring and serves it at DashboardPath on mux. Without a configured token
// it makes one, and prints the URL that carries it to
// Config.DashboardURLOutput.
func (t *Telemetry) mountDashboard(mux *http.ServeMux) error {
	made := false
	if t.Config.DashboardToken == "" {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return fmt.Errorf("DASHBOARD_TOKEN is empty and no token could be made: %w", err)
		}
		t.Config.DashboardToken, made = hex.EncodeToString(b[:]), true
	}
	d, err := livedash.New(&livedash.Options{
		Source:      t.Prometheus,
		Logs:        t.logRing,
		Token:       t.Config.DashboardToken,
		Service:     t.Config.ServiceName,
		Environment: t.Config.Environment,
		Version:     t.Config.ServiceVersion,
	})
	if err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	t.Dashboard = d
	mux.Handle(DashboardPath+"/", t.Dashboard)
	mux.Handle(DashboardPath, t.Dashboard)

	host, port, err := net.SplitHostPort(t.MetricsAddr)
	if err != nil {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	t.DashboardURL = "http://" + net.JoinHostPort(host, port) + DashboardPath + "/"
	if made {
		t.DashboardURL += "?token=" + t.Config.DashboardToken
		out := t.Config.DashboardURLOutput
		if out == nil && term.IsTerminal(os.Stderr) {
			out = os.Stderr
		}
		if out != nil {
			fmt.Fprintf(out, "Dashboard: %s\n", t.DashboardURL)
		}
	}
	return nil
}
