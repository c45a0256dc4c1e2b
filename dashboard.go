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

	"github.com/realtimeserver/observability/drop"
	"github.com/realtimeserver/observability/internal/term"
	"github.com/realtimeserver/observability/livedash"
	"github.com/realtimeserver/observability/metricsink"
	"github.com/realtimeserver/observability/operate"
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

// ensureToken makes a random token when DASHBOARD_TOKEN is empty, so that
// nothing that reveals or changes anything is ever served without one,
// and reports whether it made it.
func (t *Telemetry) ensureToken() (made bool, err error) {
	if t.Config.DashboardToken != "" {
		return false, nil
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return false, fmt.Errorf("DASHBOARD_TOKEN is empty and no token could be made: %w", err)
	}
	t.Config.DashboardToken = hex.EncodeToString(b[:])
	return true, nil
}

// mountOperations serves, on the metrics listener's mux, what operators
// use: /livez and /readyz, /loglevel behind the token, and the dashboard
// when Config.Dashboard is set. With the dashboard, the URL that carries
// a token Setup made is printed to Config.DashboardURLOutput.
func (t *Telemetry) mountOperations(mux *http.ServeMux, made bool) error {
	token := t.Config.DashboardToken
	t.Health.Mount(mux)
	level, err := operate.NewLevel(t.Level, &operate.LevelOptions{Logger: t.Logger, Token: token, Cookie: livedash.CookieName})
	if err != nil {
		return err
	}
	mux.Handle("/loglevel", level)
	if !t.Config.Dashboard {
		return nil
	}

	d, err := livedash.New(&livedash.Options{
		Source:      t.Prometheus,
		Logs:        t.logRing,
		Token:       token,
		Service:     t.Config.ServiceName,
		Environment: t.Config.Environment,
		Version:     t.Config.ServiceVersion,
	})
	if err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	t.Dashboard = d
	t.exportDashboardHealth(d)
	// The dashboard's pages read and change the level with its cookie.
	mux.Handle(DashboardPath+"/api/level", level)
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
		t.DashboardURL += "?token=" + token
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

// exportDashboardHealth registers the dashboard's own counts on t.Sink:
// what its bounds refused, and the live connections open.
func (t *Telemetry) exportDashboardHealth(d *livedash.Dashboard) {
	refused := metricsink.Desc{Name: "dashboard.requests.dropped", Kind: metricsink.Counter,
		Help: "Dashboard requests refused or cut short by its bounds, by reason: queue_full (past MaxViewers or MaxQueries, answered 503), closed, timeout (a viewer that stopped reading)."}
	_ = metricsink.Declare(t.Sink, refused) // a fixed, valid declaration
	for _, r := range []drop.Reason{drop.QueueFull, drop.Closed, drop.Timeout} {
		undo, _ := metricsink.CounterFunc(t.Sink, refused.Name, metricsink.KV("reason", r.String()),
			func() float64 { return float64(d.Stats().Dropped.Get(r)) })
		t.unregister = append(t.unregister, undo)
	}
	viewers := metricsink.Desc{Name: "dashboard.viewers", Kind: metricsink.Gauge,
		Help: "Dashboard pages open now (live connections)."}
	_ = metricsink.Declare(t.Sink, viewers)
	undo, _ := metricsink.GaugeFunc(t.Sink, viewers.Name, metricsink.Tags{}, func() float64 { return float64(d.Stats().Viewers) })
	t.unregister = append(t.unregister, undo)
}
