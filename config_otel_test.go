package observability

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"testing"
	"time"
)

// linkOTLP stands in for importing the otlp package, which this module's
// tests cannot link, for the length of t: ConfigFromEnv accepts OTEL_*
// export variables only when OTLP export is linked.
func linkOTLP(t *testing.T) {
	otlpMu.Lock()
	prev := otlpBuilder
	otlpBuilder = func(context.Context, OTLPBuild) (OTLPExporter, error) {
		return nil, errors.New("the otlp package is not linked into these tests")
	}
	otlpMu.Unlock()
	t.Cleanup(func() { RegisterOTLP(prev) })
}

func lookupOf(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func TestOTelFromEnv(t *testing.T) {
	linkOTLP(t)
	cfg, err := ConfigFromLookup(lookupOf(map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT":                              "http://collector:4318/",
		"OTEL_EXPORTER_OTLP_HEADERS":                               "api-key=s%3Dcret, x-team = obs ",
		"OTEL_EXPORTER_OTLP_PROTOCOL":                              "http/protobuf",
		"OTEL_EXPORTER_OTLP_TIMEOUT":                               "2500",
		"OTEL_EXPORTER_OTLP_COMPRESSION":                           "GZIP",
		"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT":                         "https://logs.example/custom/path",
		"OTEL_EXPORTER_OTLP_LOGS_HEADERS":                          "x-team=logs",
		"OTEL_EXPORTER_OTLP_METRICS_TIMEOUT":                       "700",
		"OTEL_METRICS_EXPORTER":                                    "none",
		"OTEL_SERVICE_NAME":                                        "comments",
		"OTEL_RESOURCE_ATTRIBUTES":                                 "service.version=1.2.3,deployment.environment.name=staging,team=a%2Cb",
		"OTEL_TRACES_SAMPLER":                                      "ParentBased_TraceIdRatio",
		"OTEL_TRACES_SAMPLER_ARG":                                  "0.25",
		"OTEL_PROPAGATORS":                                         "tracecontext",
		"OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE":        "delta",
		"OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION": "Explicit_Bucket_Histogram",
		"OTEL_BSP_MAX_QUEUE_SIZE":                                  "100",
		"OTEL_BSP_MAX_EXPORT_BATCH_SIZE":                           "10",
		"OTEL_BLRP_SCHEDULE_DELAY":                                 "250",
	}))
	if err != nil {
		t.Fatal(err)
	}
	o := cfg.OTel
	for _, c := range []struct{ name, got, want string }{
		{"traces endpoint", o.endpoint(SignalTraces), "http://collector:4318/v1/traces"},
		{"logs endpoint", o.endpoint(SignalLogs), "https://logs.example/custom/path"},
		{"metrics endpoint (exporter none)", o.endpoint(SignalMetrics), ""},
		{"sampler", o.Sampler, SamplerParentBasedTraceIDRatio},
		{"sampler arg", o.SamplerArg, "0.25"},
		{"temporality", o.MetricsTemporality, "delta"},
		{"histogram aggregation", o.MetricsHistogramAggregation, "explicit_bucket_histogram"},
		{"service", cfg.ServiceName, "comments"},
		{"version", cfg.ServiceVersion, "1.2.3"},
		{"environment", cfg.Environment, "staging"},
		{"resource team", o.ResourceAttributes["team"], "a,b"},
		{"trace headers", fmt.Sprint(o.Export(SignalTraces).Headers), "map[api-key:s=cret x-team:obs]"},
		{"log headers", fmt.Sprint(o.Export(SignalLogs).Headers), "map[api-key:s=cret x-team:logs]"},
		{"propagators", strings.Join(o.Propagators, ","), "tracecontext"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if o.Export(SignalTraces).Timeout != 2500*time.Millisecond || o.Export(SignalMetrics).Timeout != 700*time.Millisecond {
		t.Errorf("timeouts = %v, %v", o.Export(SignalTraces).Timeout, o.Export(SignalMetrics).Timeout)
	}
	if !o.Export(SignalTraces).Gzip {
		t.Error("compression gzip not taken")
	}
	if o.SpanBatch.MaxQueue != 100 || o.SpanBatch.MaxBatch != 10 || o.LogBatch.Delay != 250*time.Millisecond {
		t.Errorf("batches = %+v %+v", o.SpanBatch, o.LogBatch)
	}
	if !o.SetGlobal {
		t.Error("SetGlobal is false with traces exported from the environment")
	}
	// The kit's own variables win over OpenTelemetry's.
	cfg, err = ConfigFromLookup(lookupOf(map[string]string{
		"SERVICE_NAME": "mine", "OTEL_SERVICE_NAME": "theirs",
		"OTEL_RESOURCE_ATTRIBUTES": "service.name=attr",
	}))
	if err != nil || cfg.ServiceName != "mine" {
		t.Errorf("service = %q, %v; want SERVICE_NAME's", cfg.ServiceName, err)
	}
	cfg, _ = ConfigFromLookup(lookupOf(map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "service.name=attr"}))
	if cfg.ServiceName != "attr" {
		t.Errorf("service = %q, want the resource attribute's", cfg.ServiceName)
	}
}

func TestOTelNothingByDefault(t *testing.T) {
	linkOTLP(t)
	cfg, err := ConfigFromLookup(lookupOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.OTel.Enabled() || cfg.OTel.SetGlobal {
		t.Errorf("no variable set, but OTel = %v", cfg.OTel)
	}
	cfg, _ = ConfigFromLookup(lookupOf(map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true",
	}))
	if cfg.OTel.Enabled() {
		t.Error("OTEL_SDK_DISABLED=true still exports")
	}
	cfg, _ = ConfigFromLookup(lookupOf(map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none",
	}))
	if cfg.OTel.SetGlobal || cfg.OTel.endpoint(SignalTraces) != "" || cfg.OTel.endpoint(SignalLogs) == "" {
		t.Errorf("OTEL_TRACES_EXPORTER=none: %v", cfg.OTel)
	}
	cfg, _ = ConfigFromLookup(lookupOf(map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://j:4318/v1/traces"}))
	if cfg.OTel.endpoint(SignalTraces) != "http://j:4318/v1/traces" || cfg.OTel.endpoint(SignalLogs) != "" {
		t.Errorf("a traces endpoint alone: %v", cfg.OTel)
	}
}

func TestOTelInvalid(t *testing.T) {
	linkOTLP(t)
	for _, c := range []struct {
		env  map[string]string
		want []string // in the error
	}{
		{map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, []string{"OTEL_EXPORTER_OTLP_PROTOCOL", `"grpc"`, "http/protobuf"}},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"}, []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json", "accepted http/protobuf"}},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"}, []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318", "http://"}},
		{map[string]string{"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "http://"}, []string{"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "no host"}},
		{map[string]string{"OTEL_EXPORTER_OTLP_TIMEOUT": "10s"}, []string{"OTEL_EXPORTER_OTLP_TIMEOUT", "10s", "milliseconds"}},
		{map[string]string{"OTEL_EXPORTER_OTLP_COMPRESSION": "zstd"}, []string{"OTEL_EXPORTER_OTLP_COMPRESSION", "zstd", "gzip, none"}},
		{map[string]string{"OTEL_TRACES_SAMPLER": "jaeger_remote"}, []string{"OTEL_TRACES_SAMPLER", "jaeger_remote", "parentbased_traceidratio"}},
		{map[string]string{"OTEL_TRACES_SAMPLER_ARG": "1.5"}, []string{"OTEL_TRACES_SAMPLER_ARG", "1.5", "0 to 1"}},
		{map[string]string{"OTEL_TRACES_SAMPLER_ARG": "NaN"}, []string{"OTEL_TRACES_SAMPLER_ARG"}},
		{map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, []string{"OTEL_TRACES_EXPORTER", "zipkin", "otlp or none"}},
		{map[string]string{"OTEL_LOGS_EXPORTER": "otlp,none"}, []string{"OTEL_LOGS_EXPORTER"}},
		{map[string]string{"OTEL_METRICS_EXPORTER": "prometheus"}, []string{"OTEL_METRICS_EXPORTER", "prometheus"}},
		{map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "a=1,b"}, []string{"OTEL_RESOURCE_ATTRIBUTES", "member 2 has no '='"}},
		{map[string]string{"OTEL_RESOURCE_ATTRIBUTES": "a=%zz"}, []string{"OTEL_RESOURCE_ATTRIBUTES", "percent-encoding"}},
		{map[string]string{"OTEL_PROPAGATORS": "b3"}, []string{"OTEL_PROPAGATORS", "b3"}},
		{map[string]string{"OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": "sometimes"}, []string{"OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "cumulative, delta, lowmemory"}},
		{map[string]string{"OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION": "exponential"}, []string{"OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION", "exponential", "explicit_bucket_histogram"}},
		{map[string]string{"OTEL_BSP_MAX_QUEUE_SIZE": "-1"}, []string{"OTEL_BSP_MAX_QUEUE_SIZE", "-1"}},
		{map[string]string{"OTEL_BLRP_SCHEDULE_DELAY": "0"}, []string{"OTEL_BLRP_SCHEDULE_DELAY", "more than 0"}},
		{map[string]string{"OTEL_BSP_MAX_QUEUE_SIZE": "10", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "20"}, []string{"OTEL_BSP_MAX_EXPORT_BATCH_SIZE=20", "at most"}},
		{map[string]string{"OTEL_SDK_DISABLED": "maybe"}, []string{"OTEL_SDK_DISABLED", "maybe"}},
		{map[string]string{"OTEL_METRIC_EXPORT_INTERVAL": "1m"}, []string{"OTEL_METRIC_EXPORT_INTERVAL", "1m"}},
	} {
		_, err := ConfigFromLookup(lookupOf(c.env))
		if err == nil {
			t.Errorf("%v: no error", c.env)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q does not contain %q", c.env, err, w)
			}
		}
	}
}

// TestOTelHeadersNeverShown: invalid or valid, header values reach no
// error message and no String, LogValue or %#v of the Config.
func TestOTelHeadersNeverShown(t *testing.T) {
	linkOTLP(t)
	const secret = "sup3rs3cret"
	_, err := ConfigFromLookup(lookupOf(map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "api-key=" + secret + ",broken"}))
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("error %v: want one that does not show the header value", err)
	}
	cfg, err := ConfigFromLookup(lookupOf(map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT":       "http://c:4318",
		"OTEL_EXPORTER_OTLP_HEADERS":        "api-key=" + secret,
		"OTEL_EXPORTER_OTLP_TRACES_HEADERS": "x=" + secret,
	}))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		cfg.String(), fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg),
		cfg.OTel.String(), fmt.Sprintf("%+v", cfg.OTel), fmt.Sprintf("%#v", cfg.OTel),
		fmt.Sprintf("%+v", cfg.OTel.Traces), fmt.Sprintf("%#v", cfg.OTel.Traces),
		cfg.OTel.LogValue().String(),
	} {
		if strings.Contains(s, secret) {
			t.Errorf("header value shown in %q", s)
		}
	}
	if !strings.Contains(cfg.OTel.String(), "api-key") {
		t.Errorf("OTel.String() = %q; want header names", cfg.OTel.String())
	}
	var b strings.Builder
	slog.New(slog.NewJSONHandler(&b, nil)).Info("config", "config", cfg)
	if !strings.Contains(cfg.String(), "http://c:4318") || !strings.Contains(b.String(), "http://c:4318") || strings.Contains(b.String(), secret) {
		t.Errorf("Config as logged = %s; want the OTLP endpoint and no header value", b.String())
	}
}

func TestOTelValidate(t *testing.T) {
	linkOTLP(t)
	for _, c := range []struct {
		o    OTelConfig
		want string
	}{
		{OTelConfig{Protocol: "grpc"}, "OTEL_EXPORTER_OTLP_PROTOCOL"},
		{OTelConfig{Endpoint: "ftp://x"}, "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{OTelConfig{Metrics: OTLPSignalConfig{Compression: "br"}}, "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION"},
		{OTelConfig{Sampler: "sometimes"}, "OTEL_TRACES_SAMPLER"},
		{OTelConfig{SamplerArg: "-0.1"}, "OTEL_TRACES_SAMPLER_ARG"},
		{OTelConfig{LogsExporter: "console"}, "OTEL_LOGS_EXPORTER"},
		{OTelConfig{Propagators: []string{"none", "baggage"}}, "OTEL_PROPAGATORS"},
		{OTelConfig{SpanBatch: OTelBatchConfig{MaxQueue: -1}}, "OTEL_BSP_MAX_QUEUE_SIZE"},
		{OTelConfig{Timeout: -time.Second}, "OTEL_EXPORTER_OTLP_TIMEOUT"},
		{OTelConfig{ResourceAttributes: map[string]string{"": "x"}}, "OTEL_RESOURCE_ATTRIBUTES"},
	} {
		cfg := Config{OTel: c.o}
		err := cfg.validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("validate(%#v) = %v; want an error naming %s", c.o, err, c.want)
		}
	}
	if err := (&Config{}).validate(); err != nil {
		t.Errorf("the zero Config: %v", err)
	}
}

func TestParseKeyValues(t *testing.T) {
	linkOTLP(t)
	for _, c := range []struct {
		in   string
		want map[string]string
		err  bool
	}{
		{"", map[string]string{}, false},
		{"a=1", map[string]string{"a": "1"}, false},
		{" a = 1 , b=2,", map[string]string{"a": "1", "b": "2"}, false},
		{"a=x%20y%2C", map[string]string{"a": "x y,"}, false},
		{"a=1=2", map[string]string{"a": "1=2"}, false},
		{"a=1,a=2", map[string]string{"a": "2"}, false},
		{"a=", map[string]string{"a": ""}, false},
		{"=1", nil, true},
		{"a", nil, true},
		{"a b=1", nil, true},
		{"a=%", nil, true},
	} {
		got, err := parseKeyValues(c.in)
		if (err != nil) != c.err || (!c.err && !maps.Equal(got, c.want)) {
			t.Errorf("parseKeyValues(%q) = %v, %v; want %v, error %v", c.in, got, err, c.want, c.err)
		}
	}
}

// FuzzParseKeyValues: any input parses or fails without panicking, an
// error never quotes the input, and what parses survives a round trip.
func FuzzParseKeyValues(f *testing.F) {
	for _, s := range []string{"a=1,b=2", " k = v%2C ", "=", "a=%zz", ",,,", "k=\xff", "a=b=c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := parseKeyValues(s)
		if err != nil {
			if len(s) > 8 && strings.Contains(err.Error(), s) {
				t.Errorf("error %q quotes the input", err)
			}
			return
		}
		var parts []string
		for k, v := range m {
			if k == "" || strings.ContainsAny(k, "=, ") {
				t.Fatalf("key %q parsed from %q", k, s)
			}
			parts = append(parts, k+"="+escapeValue(v))
		}
		back, err := parseKeyValues(strings.Join(parts, ","))
		if err != nil || !maps.Equal(back, m) {
			t.Errorf("round trip of %q: %v, %v; want %v", s, back, err, m)
		}
	})
}

func escapeValue(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '%' || c == ',' || c == '=' || c <= ' ' || c >= 0x7f {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}
