package observability

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Values accepted by the OpenTelemetry variables.
const (
	// OTLPProtocolHTTPProtobuf is the one value OTEL_EXPORTER_OTLP_PROTOCOL
	// accepts: OTLP over HTTP with protobuf bodies.
	OTLPProtocolHTTPProtobuf = "http/protobuf"

	// ExporterOTLP and ExporterNone are the values of OTEL_TRACES_EXPORTER,
	// OTEL_LOGS_EXPORTER and OTEL_METRICS_EXPORTER.
	ExporterOTLP = "otlp"
	ExporterNone = "none"

	// The samplers of OTEL_TRACES_SAMPLER.
	SamplerAlwaysOn                = "always_on"
	SamplerAlwaysOff               = "always_off"
	SamplerTraceIDRatio            = "traceidratio"
	SamplerParentBasedAlwaysOn     = "parentbased_always_on"
	SamplerParentBasedAlwaysOff    = "parentbased_always_off"
	SamplerParentBasedTraceIDRatio = "parentbased_traceidratio"
)

var (
	samplers      = []string{SamplerAlwaysOn, SamplerAlwaysOff, SamplerTraceIDRatio, SamplerParentBasedAlwaysOn, SamplerParentBasedAlwaysOff, SamplerParentBasedTraceIDRatio}
	compressions  = []string{"gzip", "none"}
	temporalities = []string{"cumulative", "delta", "lowmemory"}
	propagators   = []string{"tracecontext", "baggage", "none"}
	// histogramAggregations are the values of
	// OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION.
	histogramAggregations = []string{"base2_exponential_bucket_histogram", "explicit_bucket_histogram"}
)

// OTelConfig configures export over OTLP/HTTP, as the OpenTelemetry
// specification's environment variables do (each field names its
// variable). Nothing is exported while no endpoint is set; the zero
// OTelConfig exports nothing and touches no global.
//
// Its String and LogValue methods show header names, never their values.
type OTelConfig struct {
	// Disabled turns every OpenTelemetry export off, whatever else is set
	// (OTEL_SDK_DISABLED). Default: false.
	Disabled bool

	// Endpoint is the base URL of an OTLP/HTTP receiver
	// (OTEL_EXPORTER_OTLP_ENDPOINT, "http://localhost:4318"): each signal
	// is sent to it with v1/traces, v1/logs or v1/metrics appended to its
	// path. Default: none, so nothing is exported unless a signal's own
	// Endpoint is set.
	Endpoint string
	// Headers are sent with every export request
	// (OTEL_EXPORTER_OTLP_HEADERS: "key=value,key2=value2", values
	// percent-encoded). Never logged. Default: none.
	Headers map[string]string `json:"-"`
	// Protocol is OTLPProtocolHTTPProtobuf, the only one supported
	// (OTEL_EXPORTER_OTLP_PROTOCOL). Default: http/protobuf.
	Protocol string
	// Timeout bounds one export request (OTEL_EXPORTER_OTLP_TIMEOUT, in
	// milliseconds). Default: 10 s.
	Timeout time.Duration
	// Compression is "gzip" or "none" (OTEL_EXPORTER_OTLP_COMPRESSION).
	// Default: none.
	Compression string

	// Traces, Logs and Metrics override the settings above for one signal
	// (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, ..._LOGS_HEADERS and so on).
	// A signal's Endpoint is used as it is, with no path appended.
	Traces, Logs, Metrics OTLPSignalConfig

	// TracesExporter, LogsExporter and MetricsExporter are ExporterOTLP or
	// ExporterNone (OTEL_TRACES_EXPORTER, OTEL_LOGS_EXPORTER,
	// OTEL_METRICS_EXPORTER). Default: otlp, so that with an endpoint set
	// every signal is exported.
	TracesExporter, LogsExporter, MetricsExporter string

	// ResourceAttributes are added to the resource that describes the
	// service to every OTLP receiver (OTEL_RESOURCE_ATTRIBUTES:
	// "key=value,..." with values percent-encoded). service.name,
	// service.version and deployment.environment.name always come from
	// Config.ServiceName, Config.ServiceVersion and Config.Environment, so
	// that every backend names the service alike. Default: none.
	ResourceAttributes map[string]string

	// Sampler is one of always_on, always_off, traceidratio,
	// parentbased_always_on, parentbased_always_off,
	// parentbased_traceidratio (OTEL_TRACES_SAMPLER). Default:
	// parentbased_always_on.
	Sampler string
	// SamplerArg is the ratio of the traceidratio samplers, a number from
	// 0 to 1 (OTEL_TRACES_SAMPLER_ARG). Default: 1.
	SamplerArg string

	// Propagators lists the context propagators installed when SetGlobal
	// is true: tracecontext, baggage, or none alone (OTEL_PROPAGATORS).
	// Default: tracecontext,baggage.
	Propagators []string

	// MetricsTemporality is cumulative, delta or lowmemory
	// (OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE; Datadog's
	// OTLP intake prefers delta). Default: cumulative.
	MetricsTemporality string
	// MetricsHistogramAggregation is base2_exponential_bucket_histogram
	// or explicit_bucket_histogram
	// (OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION): how
	// histograms are exported. Default: base-2 exponential, which keeps
	// quantiles within a few percent at any scale; explicit buckets are
	// the declared ones or the kit's default duration buckets.
	MetricsHistogramAggregation string
	// MetricExportInterval is the time between two metric exports
	// (OTEL_METRIC_EXPORT_INTERVAL, milliseconds). Default: 60 s.
	MetricExportInterval time.Duration
	// MetricExportTimeout bounds one metric export
	// (OTEL_METRIC_EXPORT_TIMEOUT, milliseconds). Default: 30 s.
	MetricExportTimeout time.Duration

	// SpanBatch and LogBatch bound the queues of spans and log records
	// waiting for export (OTEL_BSP_* and OTEL_BLRP_*). Defaults: a queue of
	// 2048, batches of 512, exported every 5 s (spans) or 1 s (logs) or as
	// soon as a batch is full, each export bounded by 30 s.
	SpanBatch, LogBatch OTelBatchConfig

	// SetGlobal makes Setup install its TracerProvider with
	// otel.SetTracerProvider and the Propagators with
	// otel.SetTextMapPropagator, so that instrumentation reading the global
	// provider (httpmetrics, dbmetrics, wsmetrics, any library) traces
	// through it and incoming traceparent headers are honoured.
	// ConfigFromEnv sets it when traces are exported or the dashboard is
	// on (DASHBOARD=true: its Traces page shows the spans), since a program
	// configured from the environment expects exactly that; a Config built
	// by hand leaves it false, and Setup touches no global. Setup never
	// sets a global when it builds no provider: when traces are not
	// exported and no dashboard keeps spans (or the program does not
	// import OTLPImportPath). When the dashboard alone takes the spans,
	// the provider is the global one only while a dashboard page is open
	// (and 15 minutes after): at other times the instrumentation finds no
	// provider and does no span's work. Shutdown puts the
	// previous provider back, unless another was installed since; the
	// propagator stays. Default: false.
	SetGlobal bool
}

// OTLPSignalConfig overrides OTelConfig's export settings for one signal.
// A zero field takes OTelConfig's value.
type OTLPSignalConfig struct {
	// Endpoint is the full URL of the signal's receiver, used as it is
	// (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, ..._LOGS_..., ..._METRICS_...).
	Endpoint string
	// Headers are added to, and override, OTelConfig.Headers
	// (OTEL_EXPORTER_OTLP_TRACES_HEADERS, ...). Never logged.
	Headers map[string]string `json:"-"`
	// Protocol (OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, ...): http/protobuf.
	Protocol string
	// Timeout (OTEL_EXPORTER_OTLP_TRACES_TIMEOUT, ..., milliseconds).
	Timeout time.Duration
	// Compression (OTEL_EXPORTER_OTLP_TRACES_COMPRESSION, ...): gzip, none.
	Compression string
}

// OTelBatchConfig bounds a queue of spans or log records. A zero field
// means its default.
type OTelBatchConfig struct {
	// MaxQueue is the most items waiting; past it new ones are dropped and
	// counted (OTEL_BSP_MAX_QUEUE_SIZE, OTEL_BLRP_MAX_QUEUE_SIZE). Default: 2048.
	MaxQueue int
	// MaxBatch is the most items in one export (OTEL_BSP_MAX_EXPORT_BATCH_SIZE,
	// OTEL_BLRP_MAX_EXPORT_BATCH_SIZE). Default: 512.
	MaxBatch int
	// Delay is the longest an item waits for its export
	// (OTEL_BSP_SCHEDULE_DELAY, OTEL_BLRP_SCHEDULE_DELAY, milliseconds).
	// Default: 5 s for spans, 1 s for logs.
	Delay time.Duration
	// ExportTimeout bounds one export (OTEL_BSP_EXPORT_TIMEOUT,
	// OTEL_BLRP_EXPORT_TIMEOUT, milliseconds). Default: 30 s.
	ExportTimeout time.Duration
}

// Signal names one of the three OpenTelemetry signals.
type Signal int

// The signals, in the order their variables are read.
const (
	SignalTraces Signal = iota
	SignalLogs
	SignalMetrics
)

var signals = []Signal{SignalTraces, SignalLogs, SignalMetrics}

func (s Signal) upper() string { return [...]string{"TRACES", "LOGS", "METRICS"}[s] }

// String returns "traces", "logs" or "metrics", as in the signal's path.
func (s Signal) String() string { return [...]string{"traces", "logs", "metrics"}[s] }

func (c *OTelConfig) signal(s Signal) *OTLPSignalConfig {
	return [...]*OTLPSignalConfig{&c.Traces, &c.Logs, &c.Metrics}[s]
}

func (c *OTelConfig) exporter(s Signal) string {
	return [...]string{c.TracesExporter, c.LogsExporter, c.MetricsExporter}[s]
}

// OTLPExport is where and how one signal goes out, resolved from an
// OTelConfig: the signal's own settings over the common ones, defaults
// filled in. It is what the OTLP exporters are built from, so that no
// part of the kit derives these settings a second time.
type OTLPExport struct {
	// Endpoint is the full URL of the receiver, or "" when the signal is
	// not exported.
	Endpoint string
	// Headers are sent with every request: the common ones overridden by
	// the signal's. Never logged.
	Headers map[string]string `json:"-"`
	// Timeout bounds one export request (10 s by default).
	Timeout time.Duration
	// Gzip says whether request bodies are compressed.
	Gzip bool
}

// Export returns the resolved settings of signal s. Its Endpoint is ""
// when s is not exported (no endpoint, OTEL_SDK_DISABLED, or its
// exporter is none).
func (c *OTelConfig) Export(s Signal) OTLPExport {
	sc := c.signal(s)
	e := OTLPExport{Endpoint: c.endpoint(s), Timeout: 10 * time.Second}
	if t := cmp.Or(sc.Timeout, c.Timeout); t > 0 {
		e.Timeout = t
	}
	if len(c.Headers) > 0 || len(sc.Headers) > 0 {
		e.Headers = maps.Clone(c.Headers)
		if e.Headers == nil {
			e.Headers = map[string]string{}
		}
		maps.Copy(e.Headers, sc.Headers)
	}
	e.Gzip = cmp.Or(sc.Compression, c.Compression) == "gzip"
	return e
}

// endpoint returns the URL the signal is sent to, or "" when it is not
// exported.
func (c *OTelConfig) endpoint(s Signal) string {
	if c.Disabled || c.exporter(s) == ExporterNone {
		return ""
	}
	if e := c.signal(s).Endpoint; e != "" {
		return e
	}
	if c.Endpoint == "" {
		return ""
	}
	u, err := url.Parse(c.Endpoint)
	if err != nil {
		return ""
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/" + s.String()
	u.RawPath = ""
	return u.String()
}

// Enabled reports whether anything is exported over OTLP.
func (c *OTelConfig) Enabled() bool {
	return c.endpoint(SignalTraces) != "" || c.endpoint(SignalLogs) != "" || c.endpoint(SignalMetrics) != ""
}

// SamplerRatio returns SamplerArg as a number: the ratio of the
// traceidratio samplers, 1 when SamplerArg is empty or invalid (Setup
// refuses an invalid one).
func (c *OTelConfig) SamplerRatio() float64 {
	if c.SamplerArg == "" {
		return 1
	}
	r, err := parseRatio(c.SamplerArg)
	if err != nil {
		return 1
	}
	return r
}

// otelFromLookup reads the OTEL_* variables into cfg.OTel, and takes the
// service's name, version and environment from OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES when the kit's own variables left them unset.
// get returns a trimmed value and whether it is set and not empty.
func otelFromLookup(get func(string) (string, bool), cfg *Config) []error {
	var errs []error
	bad := func(name, value, accepted string) {
		errs = append(errs, fmt.Errorf("%s=%q is invalid: accepted %s", name, value, accepted))
	}
	o := &cfg.OTel
	if v, ok := get("OTEL_SDK_DISABLED"); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			bad("OTEL_SDK_DISABLED", v, "true or false")
		}
		o.Disabled = b
	}
	// The common settings, then each signal's.
	type target struct {
		prefix      string
		endpoint    *string
		headers     *map[string]string
		protocol    *string
		timeout     *time.Duration
		compression *string
	}
	targets := []target{{"OTEL_EXPORTER_OTLP_", &o.Endpoint, &o.Headers, &o.Protocol, &o.Timeout, &o.Compression}}
	for _, s := range signals {
		sc := o.signal(s)
		targets = append(targets, target{"OTEL_EXPORTER_OTLP_" + s.upper() + "_", &sc.Endpoint, &sc.Headers, &sc.Protocol, &sc.Timeout, &sc.Compression})
	}
	for _, t := range targets {
		if v, ok := get(t.prefix + "ENDPOINT"); ok {
			if err := checkOTLPURL(v); err != nil {
				bad(t.prefix+"ENDPOINT", v, "an absolute http:// or https:// URL ("+err.Error()+")")
			}
			*t.endpoint = v
		}
		if v, ok := get(t.prefix + "HEADERS"); ok {
			h, err := parseKeyValues(v)
			if err != nil {
				// The value may hold a secret: name the fault, not the value.
				errs = append(errs, fmt.Errorf("%sHEADERS is invalid (%v): accepted key=value pairs separated by commas, values percent-encoded", t.prefix, err))
			}
			*t.headers = h
		}
		if v, ok := get(t.prefix + "PROTOCOL"); ok {
			if v != OTLPProtocolHTTPProtobuf {
				bad(t.prefix+"PROTOCOL", v, OTLPProtocolHTTPProtobuf)
			}
			*t.protocol = v
		}
		if v, ok := get(t.prefix + "TIMEOUT"); ok {
			d, err := parseMillis(v)
			if err != nil {
				bad(t.prefix+"TIMEOUT", v, "a whole number of milliseconds, 0 or more")
			}
			*t.timeout = d
		}
		if v, ok := get(t.prefix + "COMPRESSION"); ok {
			if !slices.Contains(compressions, strings.ToLower(v)) {
				bad(t.prefix+"COMPRESSION", v, "gzip, none")
			}
			*t.compression = strings.ToLower(v)
		}
	}
	for _, e := range []struct {
		name string
		dst  *string
	}{{"OTEL_TRACES_EXPORTER", &o.TracesExporter}, {"OTEL_LOGS_EXPORTER", &o.LogsExporter}, {"OTEL_METRICS_EXPORTER", &o.MetricsExporter}} {
		if v, ok := get(e.name); ok {
			x, err := parseExporter(v)
			if err != nil {
				bad(e.name, v, "otlp or none")
			}
			*e.dst = x
		}
	}
	if v, ok := get("OTEL_RESOURCE_ATTRIBUTES"); ok {
		attrs, err := parseKeyValues(v)
		if err != nil {
			bad("OTEL_RESOURCE_ATTRIBUTES", v, "key=value pairs separated by commas, values percent-encoded ("+err.Error()+")")
		}
		o.ResourceAttributes = attrs
	}
	if v, ok := get("OTEL_TRACES_SAMPLER"); ok {
		o.Sampler = strings.ToLower(v)
		if !slices.Contains(samplers, o.Sampler) {
			bad("OTEL_TRACES_SAMPLER", v, strings.Join(samplers, ", "))
		}
	}
	if v, ok := get("OTEL_TRACES_SAMPLER_ARG"); ok {
		if _, err := parseRatio(v); err != nil {
			bad("OTEL_TRACES_SAMPLER_ARG", v, "a number from 0 to 1")
		}
		o.SamplerArg = v
	}
	if v, ok := get("OTEL_PROPAGATORS"); ok {
		p, err := parsePropagators(v)
		if err != nil {
			bad("OTEL_PROPAGATORS", v, "a comma-separated list of tracecontext, baggage, or none alone")
		}
		o.Propagators = p
	}
	if v, ok := get("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE"); ok {
		o.MetricsTemporality = strings.ToLower(v)
		if !slices.Contains(temporalities, o.MetricsTemporality) {
			bad("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", v, "cumulative, delta, lowmemory")
		}
	}
	if v, ok := get("OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION"); ok {
		o.MetricsHistogramAggregation = strings.ToLower(v)
		if !slices.Contains(histogramAggregations, o.MetricsHistogramAggregation) {
			bad("OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION", v, "base2_exponential_bucket_histogram, explicit_bucket_histogram")
		}
	}
	millis := func(name string, dst *time.Duration) {
		if v, ok := get(name); ok {
			d, err := parseMillis(v)
			if err != nil || d == 0 {
				bad(name, v, "a whole number of milliseconds, more than 0")
			}
			*dst = d
		}
	}
	count := func(name string, dst *int) {
		if v, ok := get(name); ok {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				bad(name, v, "a whole number more than 0")
			}
			*dst = n
		}
	}
	millis("OTEL_METRIC_EXPORT_INTERVAL", &o.MetricExportInterval)
	millis("OTEL_METRIC_EXPORT_TIMEOUT", &o.MetricExportTimeout)
	for _, b := range []struct {
		prefix string
		dst    *OTelBatchConfig
	}{{"OTEL_BSP_", &o.SpanBatch}, {"OTEL_BLRP_", &o.LogBatch}} {
		millis(b.prefix+"SCHEDULE_DELAY", &b.dst.Delay)
		millis(b.prefix+"EXPORT_TIMEOUT", &b.dst.ExportTimeout)
		count(b.prefix+"MAX_QUEUE_SIZE", &b.dst.MaxQueue)
		count(b.prefix+"MAX_EXPORT_BATCH_SIZE", &b.dst.MaxBatch)
	}
	for _, b := range []struct {
		prefix string
		c      OTelBatchConfig
	}{{"OTEL_BSP_", o.SpanBatch}, {"OTEL_BLRP_", o.LogBatch}} {
		if q := cmp.Or(b.c.MaxQueue, 2048); b.c.MaxBatch > q {
			errs = append(errs, fmt.Errorf("%sMAX_EXPORT_BATCH_SIZE=%d is invalid: accepted at most %sMAX_QUEUE_SIZE (%d)", b.prefix, b.c.MaxBatch, b.prefix, q))
		}
	}

	// The service's identity: the kit's variables, then OpenTelemetry's.
	if cfg.ServiceName == "" {
		if v, ok := get("OTEL_SERVICE_NAME"); ok {
			cfg.ServiceName = v
		} else {
			cfg.ServiceName = o.ResourceAttributes["service.name"]
		}
	}
	if cfg.ServiceVersion == "" {
		cfg.ServiceVersion = o.ResourceAttributes["service.version"]
	}
	if cfg.Environment == "" {
		cfg.Environment = cmp.Or(o.ResourceAttributes["deployment.environment.name"], o.ResourceAttributes["deployment.environment"])
	}
	// The dashboard's Traces page shows the spans of the global provider's
	// instrumentation, as an exporter does.
	o.SetGlobal = o.endpoint(SignalTraces) != "" || cfg.Dashboard
	return errs
}

// validate reports errors in a hand-built OTelConfig the way
// ConfigFromEnv would, naming the variable of each field.
func (c *OTelConfig) validate() []error {
	var errs []error
	bad := func(name, value, accepted string) {
		errs = append(errs, fmt.Errorf("%s=%q is invalid: accepted %s", name, value, accepted))
	}
	check := func(prefix, endpoint, protocol string, timeout time.Duration, compression string) {
		if endpoint != "" {
			if err := checkOTLPURL(endpoint); err != nil {
				bad(prefix+"ENDPOINT", endpoint, "an absolute http:// or https:// URL ("+err.Error()+")")
			}
		}
		if protocol != "" && protocol != OTLPProtocolHTTPProtobuf {
			bad(prefix+"PROTOCOL", protocol, OTLPProtocolHTTPProtobuf)
		}
		if timeout < 0 {
			bad(prefix+"TIMEOUT", timeout.String(), "a whole number of milliseconds, 0 or more")
		}
		if compression != "" && !slices.Contains(compressions, compression) {
			bad(prefix+"COMPRESSION", compression, "gzip, none")
		}
	}
	check("OTEL_EXPORTER_OTLP_", c.Endpoint, c.Protocol, c.Timeout, c.Compression)
	for _, s := range signals {
		sc := c.signal(s)
		check("OTEL_EXPORTER_OTLP_"+s.upper()+"_", sc.Endpoint, sc.Protocol, sc.Timeout, sc.Compression)
		if x := c.exporter(s); x != "" && x != ExporterOTLP && x != ExporterNone {
			bad("OTEL_"+s.upper()+"_EXPORTER", x, "otlp or none")
		}
	}
	if c.Sampler != "" && !slices.Contains(samplers, c.Sampler) {
		bad("OTEL_TRACES_SAMPLER", c.Sampler, strings.Join(samplers, ", "))
	}
	if c.SamplerArg != "" {
		if _, err := parseRatio(c.SamplerArg); err != nil {
			bad("OTEL_TRACES_SAMPLER_ARG", c.SamplerArg, "a number from 0 to 1")
		}
	}
	for _, p := range c.Propagators {
		if !slices.Contains(propagators, p) || (p == "none" && len(c.Propagators) > 1) {
			bad("OTEL_PROPAGATORS", strings.Join(c.Propagators, ","), "a comma-separated list of tracecontext, baggage, or none alone")
			break
		}
	}
	if c.MetricsTemporality != "" && !slices.Contains(temporalities, c.MetricsTemporality) {
		bad("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", c.MetricsTemporality, "cumulative, delta, lowmemory")
	}
	if c.MetricsHistogramAggregation != "" && !slices.Contains(histogramAggregations, c.MetricsHistogramAggregation) {
		bad("OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION", c.MetricsHistogramAggregation, "base2_exponential_bucket_histogram, explicit_bucket_histogram")
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"OTEL_METRIC_EXPORT_INTERVAL", c.MetricExportInterval}, {"OTEL_METRIC_EXPORT_TIMEOUT", c.MetricExportTimeout},
		{"OTEL_BSP_SCHEDULE_DELAY", c.SpanBatch.Delay}, {"OTEL_BSP_EXPORT_TIMEOUT", c.SpanBatch.ExportTimeout},
		{"OTEL_BLRP_SCHEDULE_DELAY", c.LogBatch.Delay}, {"OTEL_BLRP_EXPORT_TIMEOUT", c.LogBatch.ExportTimeout},
	} {
		if d.v < 0 {
			bad(d.name, d.v.String(), "a whole number of milliseconds, more than 0")
		}
	}
	for _, n := range []struct {
		name string
		v    int
	}{
		{"OTEL_BSP_MAX_QUEUE_SIZE", c.SpanBatch.MaxQueue}, {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", c.SpanBatch.MaxBatch},
		{"OTEL_BLRP_MAX_QUEUE_SIZE", c.LogBatch.MaxQueue}, {"OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", c.LogBatch.MaxBatch},
	} {
		if n.v < 0 {
			bad(n.name, strconv.Itoa(n.v), "a whole number more than 0")
		}
	}
	for k := range c.ResourceAttributes {
		if k == "" {
			errs = append(errs, errors.New(`OTEL_RESOURCE_ATTRIBUTES has an empty key: accepted key=value pairs with non-empty keys`))
		}
	}
	return errs
}

// checkOTLPURL accepts an absolute http or https URL with a host.
func checkOTLPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("does not parse")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return errors.New("scheme is not http or https")
	}
	if u.Host == "" {
		return errors.New("no host")
	}
	return nil
}

// parseKeyValues parses the format of OTEL_RESOURCE_ATTRIBUTES and
// OTEL_EXPORTER_OTLP_HEADERS: members separated by commas, each
// key=value with optional spaces around key and value, the value
// percent-encoded. Empty members are skipped; a later key overrides an
// earlier one. Errors never quote the value, which may be a secret.
func parseKeyValues(s string) (map[string]string, error) {
	out := map[string]string{}
	for i, member := range strings.Split(s, ",") {
		member = strings.TrimSpace(member)
		if member == "" {
			continue
		}
		k, v, ok := strings.Cut(member, "=")
		if !ok {
			return nil, fmt.Errorf("member %d has no '='", i+1)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if k == "" {
			return nil, fmt.Errorf("member %d has an empty key", i+1)
		}
		if strings.ContainsFunc(k, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
			return nil, fmt.Errorf("member %d has a key with a space, a control or a non-ASCII character", i+1)
		}
		dv, err := url.PathUnescape(v)
		if err != nil {
			return nil, fmt.Errorf("member %d has a value with an invalid percent-encoding", i+1)
		}
		out[k] = dv
	}
	return out, nil
}

// parseMillis parses a whole, non-negative number of milliseconds.
func parseMillis(s string) (time.Duration, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > int64(365*24*time.Hour/time.Millisecond) {
		return 0, errors.New("not a whole number of milliseconds in range")
	}
	return time.Duration(n) * time.Millisecond, nil
}

func parseRatio(s string) (float64, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || !(f >= 0 && f <= 1) {
		return 0, errors.New("not a number from 0 to 1")
	}
	return f, nil
}

// parseExporter accepts otlp or none, alone or (as the specification
// allows lists) repeated; "none" with anything else is an error.
func parseExporter(s string) (string, error) {
	var got []string
	for _, p := range strings.Split(s, ",") {
		p = strings.ToLower(strings.TrimSpace(p))
		if p != ExporterOTLP && p != ExporterNone {
			return "", errors.New("unsupported exporter")
		}
		if !slices.Contains(got, p) {
			got = append(got, p)
		}
	}
	if len(got) != 1 {
		return "", errors.New("none with another exporter")
	}
	return got[0], nil
}

func parsePropagators(s string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(s, ",") {
		p = strings.ToLower(strings.TrimSpace(p))
		if !slices.Contains(propagators, p) {
			return nil, errors.New("unsupported propagator")
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	if slices.Contains(out, "none") && len(out) > 1 {
		return nil, errors.New("none with another propagator")
	}
	return out, nil
}

// LogValue implements slog.LogValuer: the settings in effect, header
// names without their values.
func (c OTelConfig) LogValue() slog.Value {
	attrs := []slog.Attr{slog.Bool("enabled", c.Enabled())}
	for _, s := range signals {
		attrs = append(attrs, slog.String(s.String()+"_endpoint", c.endpoint(s)))
	}
	if h := c.Export(SignalTraces).Headers; len(h) > 0 {
		attrs = append(attrs, slog.String("header_names", strings.Join(slices.Sorted(maps.Keys(h)), ",")))
	}
	attrs = append(attrs,
		slog.String("sampler", cmp.Or(c.Sampler, SamplerParentBasedAlwaysOn)),
		slog.Bool("set_global", c.SetGlobal),
	)
	return slog.GroupValue(attrs...)
}

// String implements fmt.Stringer with LogValue's content.
func (c OTelConfig) String() string { return groupString(c.LogValue()) }

// GoString implements fmt.GoStringer so that %#v cannot print the headers.
func (c OTelConfig) GoString() string { return "observability.OTelConfig{" + c.String() + "}" }

// GoString implements fmt.GoStringer so that %#v cannot print the headers.
func (c OTLPSignalConfig) GoString() string {
	return fmt.Sprintf("observability.OTLPSignalConfig{Endpoint:%q Protocol:%q Timeout:%v Compression:%q Headers:%d}", c.Endpoint, c.Protocol, c.Timeout, c.Compression, len(c.Headers))
}

// String implements fmt.Stringer so that %v cannot print the headers.
func (c OTLPSignalConfig) String() string { return c.GoString() }
