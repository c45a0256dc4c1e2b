package observability

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/url"
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

	opts := &livedash.Options{
		Source:      t.Prometheus,
		Logs:        t.logRing,
		Token:       token,
		Service:     t.Config.ServiceName,
		Environment: t.Config.Environment,
		Version:     t.Config.ServiceVersion,
		// The Logs page reads and changes the level with its cookie.
		Level: level,
		// The Runtime page links the profiles once the program mounts
		// them under the dashboard's path (operate/profiling).
		Profiles: func() bool { return served(mux, DashboardPath+profilesPrefix) },
	}
	switch {
	case t.Spans != nil:
		opts.Spans = t.Spans
	case t.Config.OTel.Disabled:
		opts.TracesOff = "This program makes no spans: OTEL_SDK_DISABLED=true turns the OpenTelemetry SDK off. Unset it to see the spans of its instrumentation here."
	default:
		opts.TracesOff = tracesOff
	}
	d, err := livedash.New(opts)
	if err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	t.Dashboard = d
	t.exportDashboardHealth(d)
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

// tracesOff is what the Traces page says when the program does not
// import OTLPImportPath.
const tracesOff = "This program keeps no spans: the OpenTelemetry SDK that makes them is in the package " + OTLPImportPath +
	", which it does not import. Add `import _ \"" + OTLPImportPath + "\"` to its main package: the spans of its " +
	"instrumentation (httpmetrics, dbmetrics, wsmetrics, otel.Tracer) then show here, sampled as OTEL_TRACES_SAMPLER says, " +
	"with or without an OTLP endpoint (OTEL_EXPORTER_OTLP_ENDPOINT)."

// profilesPrefix is where operate/profiling serves the profiles, under
// the dashboard's path (its Options.Base).
const profilesPrefix = "/debug/pprof/"

// served reports whether mux has a route of its own for a GET of path,
// rather than one of a shorter prefix.
func served(mux *http.ServeMux, path string) bool {
	_, pattern := mux.Handler(&http.Request{Method: http.MethodGet, URL: &url.URL{Path: path}})
	return strings.HasSuffix(pattern, path)
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
