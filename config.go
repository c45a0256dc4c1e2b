package observability

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/realtimeserver/observability/handler"
	"github.com/realtimeserver/observability/handler/datadog"
	"github.com/realtimeserver/observability/metricsink"
)

// Log formats accepted by LOG_FORMAT.
const (
	FormatConsole = "console"
	FormatJSON    = "json"
)

// Metrics backends accepted by METRICS_BACKENDS.
const (
	BackendPrometheus = "prometheus"
	BackendDogStatsD  = "dogstatsd"
)

// DefaultPrometheusPort is the port of the metrics listener when
// PROMETHEUS_PORT is unset: the guide's 9568.
const DefaultPrometheusPort = 9568

// Config is everything Setup needs. ConfigFromEnv fills it from the
// environment; programs may also build one by hand. The zero Config is
// valid: info-level console logs to stderr, Prometheus on :9568, no Datadog.
//
// Config's String and LogValue methods never show the API keys.
type Config struct {
	// LogLevel is the minimum level logged (LOG_LEVEL). Default: info.
	LogLevel slog.Level
	// LogFormat is FormatConsole (tint, colour on a terminal) or FormatJSON
	// (LOG_FORMAT). Default: console.
	LogFormat string
	// LogOutput receives console or JSON lines. Default: os.Stderr.
	LogOutput io.Writer
	// LogRateLimit controls log storms (LOG_RATE_LIMIT: N or N:B): from
	// one call site at one level, at most Rate records a second pass after
	// a Burst; the rest are counted (log_records_suppressed_total) and
	// summed up in one record a second per site while the storm lasts. A
	// storm from one site never hides a record from another. Zero fields
	// mean the defaults: 100 a second, a burst of 200.
	LogRateLimit handler.StormOptions
	// DisableLogRateLimit lets every record through (LOG_RATE_LIMIT=off).
	DisableLogRateLimit bool

	// EnableDatadog ships logs to Datadog's HTTP intake (ENABLE_DATADOG).
	EnableDatadog bool
	// DatadogAPIKey authenticates the intake; required when EnableDatadog
	// (DATADOG_API_KEY). Never logged.
	DatadogAPIKey string `json:"-"`
	// DatadogAppKey is only used to upload dashboards (DATADOG_APP_KEY).
	DatadogAppKey string `json:"-"`
	// DatadogSite is one of datadog.ValidSites() (DATADOG_SITE). Default: datadoghq.com.
	DatadogSite string
	// DatadogLogsURL overrides the intake URL derived from the site, for
	// proxies and tests (DATADOG_LOGS_URL).
	DatadogLogsURL string

	// PrometheusPort is the port of the metrics listener (PROMETHEUS_PORT);
	// DisablePrometheusListener turns it off (PROMETHEUS_PORT=0). Zero means
	// DefaultPrometheusPort.
	PrometheusPort            int
	DisablePrometheusListener bool
	// PrometheusHost is the address the metrics listener binds: a host
	// name or an IP address, without a port (PROMETHEUS_HOST). Default:
	// every interface, so that a Prometheus on another host or container
	// can scrape; set 127.0.0.1 (or localhost) to keep /metrics on this
	// machine.
	PrometheusHost string

	// MetricsBackends lists BackendPrometheus and/or BackendDogStatsD
	// (METRICS_BACKENDS; unset or empty means prometheus). Nil means
	// prometheus alone; an empty non-nil slice, which only a program can
	// set, means none (Sinks alone, or Discard).
	MetricsBackends []string

	// Dashboard serves the live dashboard (package livedash) at /dashboard
	// on the metrics listener (DASHBOARD). It shows logs and SQL, so it is
	// off by default; it needs the listener and the prometheus backend.
	Dashboard bool
	// DashboardToken is required to open the dashboard, as a bearer token
	// or once as ?token= (DASHBOARD_TOKEN). Never logged. When it is empty,
	// Setup makes a random one: the dashboard never serves logs without a
	// token. Telemetry.DashboardURL carries it.
	DashboardToken string `json:"-"`
	// DashboardURLOutput is where Setup prints, once, the dashboard's URL
	// with a token it made (as Jupyter does), never through the logger.
	// Default: os.Stderr when it is a terminal; otherwise the URL is only
	// in Telemetry.DashboardURL, so that no log collector reads the token.
	DashboardURLOutput io.Writer

	// ServiceName, Environment and ServiceVersion are added to every log
	// record and Datadog tag (SERVICE_NAME or DD_SERVICE, ENVIRONMENT or
	// DD_ENV, SERVICE_VERSION or DD_VERSION). Defaults: the executable's
	// name, "development", the module's build version.
	ServiceName    string
	Environment    string
	ServiceVersion string

	// Handlers are extra log backends that receive every record beside the
	// console and Datadog: the guide's logger_backends.
	Handlers []slog.Handler
	// Sinks are extra metrics backends that receive every sample: the
	// guide's metrics_backends.
	Sinks []metricsink.Sink

	// OTel configures export of traces, logs and metrics over OTLP
	// (OTEL_EXPORTER_OTLP_ENDPOINT and the other OTEL_* variables; see
	// OTelConfig). The zero value exports nothing.
	OTel OTelConfig
}

// ConfigFromEnv reads the environment variables of the README's table into
// a Config. Every invalid value is reported, each naming the variable, the
// value and what is accepted; it never falls back silently to a default.
func ConfigFromEnv() (Config, error) {
	return ConfigFromLookup(os.LookupEnv)
}

// ConfigFromLookup is ConfigFromEnv over any lookup function with the
// signature of os.LookupEnv, for tests and for configuration held elsewhere.
func ConfigFromLookup(lookup func(string) (string, bool)) (Config, error) {
	var cfg Config
	var errs []error
	reported := map[string]bool{}
	get := func(name string) (string, bool) {
		v, ok := lookup(name)
		v = strings.TrimSpace(v)
		return v, ok && v != ""
	}
	// bad records one error per variable: the first problem found with it.
	bad := func(name, value, accepted string) {
		if reported[name] {
			return
		}
		reported[name] = true
		errs = append(errs, fmt.Errorf("%s=%q is invalid: accepted %s", name, value, accepted))
	}

	if v, ok := get("LOG_LEVEL"); ok {
		l, err := handler.ParseLevel(v)
		if err != nil {
			bad("LOG_LEVEL", v, "debug, info, warning (or warn), error")
		}
		cfg.LogLevel = l
	}
	if v, ok := get("LOG_FORMAT"); ok {
		switch f := strings.ToLower(v); f {
		case FormatConsole, FormatJSON:
			cfg.LogFormat = f
		default:
			bad("LOG_FORMAT", v, "console, json")
		}
	}
	if v, ok := get("LOG_RATE_LIMIT"); ok {
		opts, on, err := handler.ParseStormLimit(v)
		if err != nil {
			bad("LOG_RATE_LIMIT", v, "off, N (records a second per call site and level, a burst of 2N) or N:B (burst B), N and B from 1 to 1000000000")
		}
		cfg.LogRateLimit, cfg.DisableLogRateLimit = opts, !on
	}
	if v, ok := get("ENABLE_DATADOG"); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			bad("ENABLE_DATADOG", v, "true or false (1, t, TRUE, 0, f, FALSE and the other forms strconv.ParseBool takes)")
		}
		cfg.EnableDatadog = b
	}
	cfg.DatadogAPIKey, _ = get("DATADOG_API_KEY")
	cfg.DatadogAppKey, _ = get("DATADOG_APP_KEY")
	if v, ok := get("DATADOG_SITE"); ok {
		if !datadog.IsValidSite(strings.ToLower(v)) {
			bad("DATADOG_SITE", v, strings.Join(datadog.ValidSites(), ", "))
		}
		cfg.DatadogSite = strings.ToLower(v)
	}
	if v, ok := get("DATADOG_LOGS_URL"); ok {
		if err := checkURL(v); err != nil {
			bad("DATADOG_LOGS_URL", v, "an absolute http:// or https:// URL")
		}
		cfg.DatadogLogsURL = v
	}
	if err := cfg.apiKeyErr(); err != nil {
		errs = append(errs, err)
	}
	port, portSet := get("PROMETHEUS_PORT")
	if portSet {
		p, err := strconv.Atoi(port)
		switch {
		case err != nil || p < 0 || p > 65535:
			bad("PROMETHEUS_PORT", port, acceptedPort)
		case p == 0:
			cfg.DisablePrometheusListener = true
		default:
			cfg.PrometheusPort = p
		}
	}
	if v, ok := get("PROMETHEUS_HOST"); ok {
		h, err := parseHost(v)
		if err != nil {
			bad("PROMETHEUS_HOST", v, acceptedHost)
		}
		cfg.PrometheusHost = h
	}
	backends, backendsSet := get("METRICS_BACKENDS")
	if backendsSet {
		cfg.MetricsBackends = []string{}
		var unknown []string
		for _, b := range strings.Split(backends, ",") {
			b = strings.ToLower(strings.TrimSpace(b))
			switch b {
			case BackendPrometheus, BackendDogStatsD:
				if !slices.Contains(cfg.MetricsBackends, b) {
					cfg.MetricsBackends = append(cfg.MetricsBackends, b)
				}
			default:
				unknown = append(unknown, strconv.Quote(b))
			}
		}
		if len(unknown) > 0 {
			bad("METRICS_BACKENDS", backends, "a comma-separated list of prometheus, dogstatsd (unknown: "+strings.Join(unknown, ", ")+")")
		}
	}
	// A listener asked for without the backend it serves. Checked only when
	// both variables are valid: each invalid variable is reported once, for
	// what is wrong with it alone.
	if portSet && backendsSet && !reported["PROMETHEUS_PORT"] && !reported["METRICS_BACKENDS"] &&
		!cfg.DisablePrometheusListener && !slices.Contains(cfg.MetricsBackends, BackendPrometheus) {
		reported["PROMETHEUS_PORT"] = true
		errs = append(errs, fmt.Errorf("PROMETHEUS_PORT=%q is set but METRICS_BACKENDS=%q has no prometheus: add prometheus to METRICS_BACKENDS, or unset PROMETHEUS_PORT (or set it to 0)", port, backends))
	}
	if v, ok := get("DASHBOARD"); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			bad("DASHBOARD", v, "true or false (1, t, TRUE, 0, f, FALSE and the other forms strconv.ParseBool takes)")
		}
		cfg.Dashboard = b
	}
	cfg.DashboardToken, _ = get("DASHBOARD_TOKEN")
	if !reported["PROMETHEUS_PORT"] && !reported["METRICS_BACKENDS"] {
		if err := cfg.dashboardNeeds(); err != nil {
			errs = append(errs, err)
		}
	}
	cfg.ServiceName = firstSet(get, "SERVICE_NAME", "DD_SERVICE")
	cfg.Environment = firstSet(get, "ENVIRONMENT", "DD_ENV")
	cfg.ServiceVersion = firstSet(get, "SERVICE_VERSION", "DD_VERSION")
	otelErrs := otelFromLookup(get, &cfg)
	errs = append(errs, otelErrs...)
	if len(otelErrs) == 0 && cfg.OTel.Enabled() && !otlpLinked() {
		errs = append(errs, ErrOTLPNotLinked)
	}

	return cfg, errors.Join(errs...)
}

// What PROMETHEUS_PORT and PROMETHEUS_HOST accept, as errors say it.
const (
	acceptedPort = "a port from 1 to 65535, or 0 to turn the metrics listener off"
	acceptedHost = "a host name (such as localhost) or an IP address (such as 127.0.0.1, ::1 or [::1]) to bind the metrics listener to, without a port (PROMETHEUS_PORT sets that)"
)

// parseHost checks a PROMETHEUS_HOST value: an IPv4 or IPv6 address (IPv6
// with or without brackets, a zone allowed) or a host name of letters,
// digits, hyphens and dots, as RFC 1123 allows. It returns the host without
// brackets, ready for net.JoinHostPort.
func parseHost(s string) (string, error) {
	if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
		inner := s[1 : len(s)-1]
		if a, err := netip.ParseAddr(inner); err != nil || !a.Is6() || strings.ContainsAny(inner, "[]") {
			return "", errors.New("not an IPv6 address in brackets")
		}
		return parseHost(inner)
	}
	if a, err := netip.ParseAddr(s); err == nil {
		for _, c := range a.Zone() { // an interface name: fe80::1%eth0
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
				return "", errors.New("bad character in IPv6 zone")
			}
		}
		return s, nil
	}
	if len(s) > 253 {
		return "", errors.New("host name longer than 253 characters")
	}
	for _, label := range strings.Split(strings.TrimSuffix(s, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return "", errors.New("bad host name label")
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return "", errors.New("bad character in host name")
			}
		}
	}
	return s, nil
}

func firstSet(get func(string) (string, bool), names ...string) string {
	for _, n := range names {
		if v, ok := get(n); ok {
			return v
		}
	}
	return ""
}

func checkURL(s string) error {
	if !strings.HasPrefix(s, "http://") && !strings.HasPrefix(s, "https://") {
		return errors.New("not http(s)")
	}
	if len(s) <= len("https://") {
		return errors.New("no host")
	}
	return nil
}

// validate reports errors in a hand-built Config the way ConfigFromEnv
// would, naming the environment variable that corresponds to each field.
func (c *Config) validate() error {
	var errs []error
	switch c.LogFormat {
	case "", FormatConsole, FormatJSON:
	default:
		errs = append(errs, fmt.Errorf("LOG_FORMAT=%q is invalid: accepted console, json", c.LogFormat))
	}
	if r := c.LogRateLimit; r.Rate < 0 || r.Burst < 0 || r.MaxSites < 0 {
		errs = append(errs, fmt.Errorf("LOG_RATE_LIMIT (Config.LogRateLimit %d:%d, %d sites) is invalid: accepted off, N or N:B, N and B from 1", r.Rate, r.Burst, r.MaxSites))
	}
	if err := c.apiKeyErr(); err != nil {
		errs = append(errs, err)
	}
	if c.DatadogSite != "" && !datadog.IsValidSite(c.DatadogSite) {
		errs = append(errs, fmt.Errorf("DATADOG_SITE=%q is invalid: accepted %s", c.DatadogSite, strings.Join(datadog.ValidSites(), ", ")))
	}
	if c.PrometheusPort < 0 || c.PrometheusPort > 65535 {
		errs = append(errs, fmt.Errorf("PROMETHEUS_PORT=%d is invalid: accepted %s", c.PrometheusPort, acceptedPort))
	}
	if c.PrometheusHost != "" {
		if _, err := parseHost(c.PrometheusHost); err != nil {
			errs = append(errs, fmt.Errorf("PROMETHEUS_HOST=%q is invalid: accepted %s", c.PrometheusHost, acceptedHost))
		}
	}
	for _, b := range c.MetricsBackends {
		if b != BackendPrometheus && b != BackendDogStatsD {
			errs = append(errs, fmt.Errorf("METRICS_BACKENDS entry %q is invalid: accepted prometheus, dogstatsd", b))
		}
	}
	if err := c.dashboardNeeds(); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, c.OTel.validate()...)
	return errors.Join(errs...)
}

// apiKeyErr reports an API key that the Datadog handler would refuse,
// when Datadog is enabled.
func (c *Config) apiKeyErr() error {
	if !c.EnableDatadog {
		return nil
	}
	if err := datadog.CheckAPIKey(c.DatadogAPIKey); err != nil {
		return fmt.Errorf("%w (required when ENABLE_DATADOG is true)", err)
	}
	return nil
}

// rateLimit says LOG_RATE_LIMIT in effect, as the variable is written.
func (c *Config) rateLimit() string {
	if c.DisableLogRateLimit {
		return "off"
	}
	rate := cmp.Or(c.LogRateLimit.Rate, handler.DefaultStormRate)
	return strconv.Itoa(rate) + ":" + strconv.Itoa(cmp.Or(c.LogRateLimit.Burst, 2*rate))
}

// backends returns the metrics backends in effect.
func (c *Config) backends() []string {
	if c.MetricsBackends == nil {
		return []string{BackendPrometheus}
	}
	return c.MetricsBackends
}

// LogValue implements slog.LogValuer, leaving out the API keys.
func (c Config) LogValue() slog.Value {
	port := strconv.Itoa(c.port())
	if c.DisablePrometheusListener {
		port = "off"
	}
	return slog.GroupValue(
		slog.String("log_level", c.LogLevel.String()),
		slog.String("log_format", cmp.Or(c.LogFormat, FormatConsole)),
		slog.String("log_rate_limit", c.rateLimit()),
		slog.Bool("datadog", c.EnableDatadog),
		slog.String("datadog_site", cmp.Or(c.DatadogSite, datadog.DefaultSite)),
		// Named so that redaction, which hides the values of keys naming
		// an API key or a token, does not hide whether one was given.
		slog.Bool("datadog_key_given", c.DatadogAPIKey != ""),
		slog.String("prometheus_port", port),
		slog.String("prometheus_host", cmp.Or(c.PrometheusHost, "all interfaces")),
		slog.String("metrics_backends", strings.Join(c.backends(), ",")),
		slog.Bool("dashboard", c.Dashboard),
		slog.Bool("dashboard_auth_given", c.DashboardToken != ""),
		slog.Any("otel", c.OTel), // header names only, never their values
		slog.String("service", c.ServiceName),
		slog.String("environment", c.Environment),
		slog.String("version", c.ServiceVersion),
	)
}

// String implements fmt.Stringer, leaving out the API keys.
func (c Config) String() string { return groupString(c.LogValue()) }

// groupString writes a group's attributes as key=value pairs separated by
// spaces: the String of a configuration is its LogValue, so that neither
// can show what the other hides.
func groupString(v slog.Value) string {
	var b strings.Builder
	for i, a := range v.Group() {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(a.Key)
		b.WriteByte('=')
		b.WriteString(a.Value.String())
	}
	return b.String()
}

// GoString implements fmt.GoStringer so that %#v cannot print the keys.
func (c Config) GoString() string { return "observability.Config{" + c.String() + "}" }

func (c *Config) port() int {
	if c.PrometheusPort == 0 {
		return DefaultPrometheusPort
	}
	return c.PrometheusPort
}
