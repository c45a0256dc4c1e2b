package observability

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"log/slog"
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
	// PrometheusHost is the interface the listener binds. Default: all.
	PrometheusHost string

	// MetricsBackends lists BackendPrometheus and/or BackendDogStatsD
	// (METRICS_BACKENDS; unset or empty means prometheus). Nil means
	// prometheus alone; an empty non-nil slice, which only a program can
	// set, means none (Sinks alone, or Discard).
	MetricsBackends []string

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
	get := func(name string) (string, bool) {
		v, ok := lookup(name)
		v = strings.TrimSpace(v)
		return v, ok && v != ""
	}
	bad := func(name, value, accepted string) {
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
	if cfg.EnableDatadog && cfg.DatadogAPIKey == "" {
		errs = append(errs, errors.New("DATADOG_API_KEY is empty: it is required when ENABLE_DATADOG is true"))
	}
	if v, ok := get("PROMETHEUS_PORT"); ok {
		p, err := strconv.Atoi(v)
		switch {
		case err != nil || p < 0 || p > 65535:
			bad("PROMETHEUS_PORT", v, "a port from 1 to 65535, or 0 to turn the metrics listener off")
		case p == 0:
			cfg.DisablePrometheusListener = true
		default:
			cfg.PrometheusPort = p
		}
	}
	if v, ok := get("METRICS_BACKENDS"); ok {
		cfg.MetricsBackends = []string{}
		for _, b := range strings.Split(v, ",") {
			b = strings.ToLower(strings.TrimSpace(b))
			switch b {
			case BackendPrometheus, BackendDogStatsD:
				if !slices.Contains(cfg.MetricsBackends, b) {
					cfg.MetricsBackends = append(cfg.MetricsBackends, b)
				}
			default:
				bad("METRICS_BACKENDS", v, "a comma-separated list of prometheus, dogstatsd")
			}
		}
	}
	if p, ok := get("PROMETHEUS_PORT"); ok && cfg.MetricsBackends != nil &&
		!slices.Contains(cfg.MetricsBackends, BackendPrometheus) && !cfg.DisablePrometheusListener {
		errs = append(errs, fmt.Errorf("PROMETHEUS_PORT=%q is set but METRICS_BACKENDS=%q has no prometheus: add prometheus to METRICS_BACKENDS, or unset PROMETHEUS_PORT (or set it to 0)", p, strings.Join(cfg.MetricsBackends, ",")))
	}
	cfg.ServiceName = firstSet(get, "SERVICE_NAME", "DD_SERVICE")
	cfg.Environment = firstSet(get, "ENVIRONMENT", "DD_ENV")
	cfg.ServiceVersion = firstSet(get, "SERVICE_VERSION", "DD_VERSION")

	return cfg, errors.Join(errs...)
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
	if c.EnableDatadog && c.DatadogAPIKey == "" {
		errs = append(errs, errors.New("DATADOG_API_KEY is empty: it is required when ENABLE_DATADOG is true"))
	}
	if c.DatadogSite != "" && !datadog.IsValidSite(c.DatadogSite) {
		errs = append(errs, fmt.Errorf("DATADOG_SITE=%q is invalid: accepted %s", c.DatadogSite, strings.Join(datadog.ValidSites(), ", ")))
	}
	if c.PrometheusPort < 0 || c.PrometheusPort > 65535 {
		errs = append(errs, fmt.Errorf("PROMETHEUS_PORT=%d is invalid: accepted a port from 1 to 65535, or 0 to turn the metrics listener off", c.PrometheusPort))
	}
	for _, b := range c.MetricsBackends {
		if b != BackendPrometheus && b != BackendDogStatsD {
			errs = append(errs, fmt.Errorf("METRICS_BACKENDS entry %q is invalid: accepted prometheus, dogstatsd", b))
		}
	}
	return errors.Join(errs...)
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
		slog.Bool("datadog", c.EnableDatadog),
		slog.String("datadog_site", cmp.Or(c.DatadogSite, datadog.DefaultSite)),
		slog.Bool("datadog_api_key_set", c.DatadogAPIKey != ""),
		slog.String("prometheus_port", port),
		slog.String("metrics_backends", strings.Join(c.backends(), ",")),
		slog.String("service", c.ServiceName),
		slog.String("environment", c.Environment),
		slog.String("version", c.ServiceVersion),
	)
}

// String implements fmt.Stringer, leaving out the API keys.
func (c Config) String() string {
	var b strings.Builder
	for i, a := range c.LogValue().Group() {
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
