package main

import (
	"fmt"
	"slices"

	"github.com/realtimeserver/observability"
)

// turnOnDashboard shows the live dashboard unless DASHBOARD says otherwise
// or there is no metrics listener to serve it on; as DASHBOARD=true would,
// it installs the provider globally, so that the demo's spans reach the
// Traces page.
func turnOnDashboard(cfg *observability.Config, lookup func(string) (string, bool)) {
	if v, set := lookup("DASHBOARD"); set && v != "" {
		return
	}
	prom := cfg.MetricsBackends == nil || slices.Contains(cfg.MetricsBackends, observability.BackendPrometheus)
	cfg.Dashboard = prom && !cfg.DisablePrometheusListener
	if cfg.Dashboard {
		cfg.OTel.SetGlobal = true
	}
}

// dashboardLine is the start-up line that names the dashboard, or "".
// With a token the kit made, the URL carries it: one click opens the
// dashboard. This line goes to the demo's terminal, never through the
// logger. A token from DASHBOARD_TOKEN is not printed: the line says how
// to give it.
func dashboardLine(tel *observability.Telemetry, tokenSet bool) string {
	if tel == nil || tel.Dashboard == nil || tel.DashboardURL == "" {
		return ""
	}
	if tokenSet {
		return fmt.Sprintf("  Dashboard  %s (add ?token= and DASHBOARD_TOKEN's value once)\n", tel.DashboardURL)
	}
	return fmt.Sprintf("  Dashboard  %s\n", tel.DashboardURL)
}
