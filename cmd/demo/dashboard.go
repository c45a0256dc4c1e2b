package main

import (
	"fmt"
	"net"
	"slices"

	"github.com/realtimeserver/observability"
)

// turnOnDashboard shows the live dashboard unless DASHBOARD says otherwise
// or there is no metrics listener to serve it on.
func turnOnDashboard(cfg *observability.Config, lookup func(string) (string, bool)) {
	if v, set := lookup("DASHBOARD"); set && v != "" {
		return
	}
	prom := cfg.MetricsBackends == nil || slices.Contains(cfg.MetricsBackends, observability.BackendPrometheus)
	cfg.Dashboard = prom && !cfg.DisablePrometheusListener
}

// dashboardURL is the address to open in a browser: localhost when the
// listener binds every interface. A token is not printed: the line says
// how to give it.
func dashboardURL(tel *observability.Telemetry) string {
	host, port, err := net.SplitHostPort(tel.MetricsAddr)
	if err != nil {
		return ""
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	u := "http://" + net.JoinHostPort(host, port) + observability.DashboardPath + "/"
	if tel.Config.DashboardToken != "" {
		u += " (add ?token= and DASHBOARD_TOKEN's value once)"
	}
	return u
}

// dashboardLine is the start-up line that names the dashboard, or "".
func dashboardLine(tel *observability.Telemetry) string {
	if tel == nil || tel.Dashboard == nil || tel.MetricsAddr == "" {
		return ""
	}
	return fmt.Sprintf("  Dashboard  %s\n", dashboardURL(tel))
}
