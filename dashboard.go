package observability

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

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
// ring and serves it at DashboardPath on mux.
func (t *Telemetry) mountDashboard(mux *http.ServeMux) {
	t.Dashboard = livedash.New(&livedash.Options{
		Source:      t.Prometheus,
		Logs:        t.logRing,
		Token:       t.Config.DashboardToken,
		Service:     t.Config.ServiceName,
		Environment: t.Config.Environment,
		Version:     t.Config.ServiceVersion,
	})
	mux.Handle(DashboardPath+"/", t.Dashboard)
	mux.Handle(DashboardPath, t.Dashboard)
}
