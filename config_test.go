package observability

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/realtimeserver/observability/internal/testenv"
)

func lookupMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func TestConfigFromLookupValid(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want Config
	}{
		{"empty environment gives defaults", nil, Config{}},
		{"LOG_LEVEL debug", map[string]string{"LOG_LEVEL": "debug"}, Config{LogLevel: slog.LevelDebug}},
		{"LOG_LEVEL warning as in the guide", map[string]string{"LOG_LEVEL": "warning"}, Config{LogLevel: slog.LevelWarn}},
		{"LOG_LEVEL warn, mixed case, spaces", map[string]string{"LOG_LEVEL": "  WaRn "}, Config{LogLevel: slog.LevelWarn}},
		{"LOG_LEVEL error", map[string]string{"LOG_LEVEL": "error"}, Config{LogLevel: slog.LevelError}},
		{"LOG_LEVEL empty is unset", map[string]string{"LOG_LEVEL": ""}, Config{}},
		{"LOG_FORMAT json", map[string]string{"LOG_FORMAT": "json"}, Config{LogFormat: FormatJSON}},
		{"LOG_FORMAT console", map[string]string{"LOG_FORMAT": "Console"}, Config{LogFormat: FormatConsole}},
		{"ENABLE_DATADOG false", map[string]string{"ENABLE_DATADOG": "false"}, Config{}},
		{"ENABLE_DATADOG 1 with key", map[string]string{"ENABLE_DATADOG": "1", "DATADOG_API_KEY": "k"},
			Config{EnableDatadog: true, DatadogAPIKey: "k"}},
		{"DATADOG_APP_KEY", map[string]string{"DATADOG_APP_KEY": "app"}, Config{DatadogAppKey: "app"}},
		{"DATADOG_SITE eu", map[string]string{"DATADOG_SITE": "datadoghq.eu"}, Config{DatadogSite: "datadoghq.eu"}},
		{"DATADOG_SITE gov", map[string]string{"DATADOG_SITE": "ddog-gov.com"}, Config{DatadogSite: "ddog-gov.com"}},
		{"DATADOG_LOGS_URL", map[string]string{"DATADOG_LOGS_URL": "http://127.0.0.1:9/v2/logs"},
			Config{DatadogLogsURL: "http://127.0.0.1:9/v2/logs"}},
		{"PROMETHEUS_PORT 9100", map[string]string{"PROMETHEUS_PORT": "9100"}, Config{PrometheusPort: 9100}},
		{"PROMETHEUS_PORT 0 turns the listener off", map[string]string{"PROMETHEUS_PORT": "0"},
			Config{DisablePrometheusListener: true}},
		{"PROMETHEUS_PORT 65535", map[string]string{"PROMETHEUS_PORT": "65535"}, Config{PrometheusPort: 65535}},
		{"METRICS_BACKENDS both", map[string]string{"METRICS_BACKENDS": "prometheus, DogStatsD"},
			Config{MetricsBackends: []string{"prometheus", "dogstatsd"}}},
		{"METRICS_BACKENDS duplicates kept once", map[string]string{"METRICS_BACKENDS": "dogstatsd,dogstatsd"},
			Config{MetricsBackends: []string{"dogstatsd"}}},
		{"METRICS_BACKENDS empty is unset: prometheus", map[string]string{"METRICS_BACKENDS": " "}, Config{}},
		{"PROMETHEUS_PORT=0 without prometheus", map[string]string{"METRICS_BACKENDS": "dogstatsd", "PROMETHEUS_PORT": "0"},
			Config{MetricsBackends: []string{"dogstatsd"}, DisablePrometheusListener: true}},
		{"SERVICE_NAME, ENVIRONMENT, SERVICE_VERSION",
			map[string]string{"SERVICE_NAME": "rts", "ENVIRONMENT": "prod", "SERVICE_VERSION": "1.2.3"},
			Config{ServiceName: "rts", Environment: "prod", ServiceVersion: "1.2.3"}},
		{"DD_ fallbacks", map[string]string{"DD_SERVICE": "dds", "DD_ENV": "staging", "DD_VERSION": "9"},
			Config{ServiceName: "dds", Environment: "staging", ServiceVersion: "9"}},
		{"own names win over DD_", map[string]string{"SERVICE_NAME": "own", "DD_SERVICE": "dds"},
			Config{ServiceName: "own"}},
		{"PROMETHEUS_HOST IPv4", map[string]string{"PROMETHEUS_HOST": "127.0.0.1"}, Config{PrometheusHost: "127.0.0.1"}},
		{"PROMETHEUS_HOST IPv6", map[string]string{"PROMETHEUS_HOST": "::1"}, Config{PrometheusHost: "::1"}},
		{"PROMETHEUS_HOST IPv6 in brackets", map[string]string{"PROMETHEUS_HOST": "[::1]"}, Config{PrometheusHost: "::1"}},
		{"PROMETHEUS_HOST all IPv4", map[string]string{"PROMETHEUS_HOST": "0.0.0.0"}, Config{PrometheusHost: "0.0.0.0"}},
		{"PROMETHEUS_HOST name", map[string]string{"PROMETHEUS_HOST": "localhost"}, Config{PrometheusHost: "localhost"}},
		{"PROMETHEUS_HOST FQDN", map[string]string{"PROMETHEUS_HOST": "metrics-1.internal.example."},
			Config{PrometheusHost: "metrics-1.internal.example."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ConfigFromLookup(lookupMap(tt.env))
			if err != nil {
				t.Fatalf("ConfigFromLookup(%v) error: %v", tt.env, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				// Config's own formatting hides fields: compare them all.
				type fields Config
				t.Errorf("ConfigFromLookup(%v)\n got %+v\nwant %+v", tt.env, fields(got), fields(tt.want))
			}
		})
	}
}

func TestConfigFromLookupInvalid(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		// every string must appear in the error
		want []string
	}{
		{"LOG_LEVEL", map[string]string{"LOG_LEVEL": "verbose"}, []string{"LOG_LEVEL", `"verbose"`, "debug, info, warning (or warn), error"}},
		{"LOG_FORMAT", map[string]string{"LOG_FORMAT": "xml"}, []string{"LOG_FORMAT", `"xml"`, "console, json"}},
		{"ENABLE_DATADOG", map[string]string{"ENABLE_DATADOG": "yes"}, []string{"ENABLE_DATADOG", `"yes"`, "true or false"}},
		{"DATADOG_API_KEY required", map[string]string{"ENABLE_DATADOG": "true"}, []string{"DATADOG_API_KEY", "required", "ENABLE_DATADOG"}},
		{"DATADOG_API_KEY with a NUL", map[string]string{"ENABLE_DATADOG": "true", "DATADOG_API_KEY": "abcd\x00efgh"}, []string{"DATADOG_API_KEY", "control character", "ENABLE_DATADOG"}},
		{"DATADOG_API_KEY with a tab", map[string]string{"ENABLE_DATADOG": "true", "DATADOG_API_KEY": "abcd\tefgh"}, []string{"DATADOG_API_KEY", "control character"}},
		{"DATADOG_API_KEY with a DEL", map[string]string{"ENABLE_DATADOG": "true", "DATADOG_API_KEY": "abcd\x7fefgh"}, []string{"DATADOG_API_KEY", "control character"}},
		{"DATADOG_API_KEY with a newline", map[string]string{"ENABLE_DATADOG": "true", "DATADOG_API_KEY": "abcd\nefgh"}, []string{"DATADOG_API_KEY", "control character"}},
		{"OTLP export not linked", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4318"}, []string{"OTEL_EXPORTER_OTLP", `import _ "github.com/realtimeserver/observability/otlp"`}},
		{"DATADOG_SITE", map[string]string{"DATADOG_SITE": "datadoghq.org"}, []string{"DATADOG_SITE", `"datadoghq.org"`, "datadoghq.com, datadoghq.eu"}},
		{"DATADOG_LOGS_URL", map[string]string{"DATADOG_LOGS_URL": "intake.local"}, []string{"DATADOG_LOGS_URL", `"intake.local"`, "http://"}},
		{"PROMETHEUS_PORT word", map[string]string{"PROMETHEUS_PORT": "metrics"}, []string{"PROMETHEUS_PORT", `"metrics"`, "1 to 65535", "0 to turn"}},
		{"PROMETHEUS_PORT too big", map[string]string{"PROMETHEUS_PORT": "70000"}, []string{"PROMETHEUS_PORT", `"70000"`}},
		{"PROMETHEUS_PORT negative", map[string]string{"PROMETHEUS_PORT": "-1"}, []string{"PROMETHEUS_PORT", `"-1"`}},
		{"METRICS_BACKENDS", map[string]string{"METRICS_BACKENDS": "prometheus,graphite"}, []string{"METRICS_BACKENDS", `"prometheus,graphite"`, "prometheus, dogstatsd"}},
		{"METRICS_BACKENDS only commas", map[string]string{"METRICS_BACKENDS": ", ,"}, []string{"METRICS_BACKENDS", "prometheus, dogstatsd"}},
		{"PROMETHEUS_PORT without prometheus", map[string]string{"METRICS_BACKENDS": "dogstatsd", "PROMETHEUS_PORT": "9100"}, []string{"PROMETHEUS_PORT", `"9100"`, "METRICS_BACKENDS", "no prometheus"}},
		{"several at once are all reported", map[string]string{"LOG_LEVEL": "loud", "PROMETHEUS_PORT": "x"}, []string{"LOG_LEVEL", "PROMETHEUS_PORT"}},
		{"PROMETHEUS_HOST with a port", map[string]string{"PROMETHEUS_HOST": "127.0.0.1:9568"}, []string{"PROMETHEUS_HOST", `"127.0.0.1:9568"`, "host name", "IP address", "without a port"}},
		{"PROMETHEUS_HOST URL", map[string]string{"PROMETHEUS_HOST": "http://localhost"}, []string{"PROMETHEUS_HOST", `"http://localhost"`}},
		{"PROMETHEUS_HOST underscore", map[string]string{"PROMETHEUS_HOST": "my_host"}, []string{"PROMETHEUS_HOST", `"my_host"`}},
		{"PROMETHEUS_HOST bad brackets", map[string]string{"PROMETHEUS_HOST": "[127.0.0.1]"}, []string{"PROMETHEUS_HOST", `"[127.0.0.1]"`}},
		{"PROMETHEUS_HOST leading hyphen", map[string]string{"PROMETHEUS_HOST": "-host"}, []string{"PROMETHEUS_HOST", `"-host"`}},
		{"PROMETHEUS_HOST empty label", map[string]string{"PROMETHEUS_HOST": "a..b"}, []string{"PROMETHEUS_HOST", `"a..b"`}},
		{"PROMETHEUS_HOST bad zone", map[string]string{"PROMETHEUS_HOST": "::%["}, []string{"PROMETHEUS_HOST", `"::%["`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ConfigFromLookup(lookupMap(tt.env))
			if err == nil {
				t.Fatalf("ConfigFromLookup(%v) = nil error, want one mentioning %q", tt.env, tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// TestConfigFromLookupRefusesWhatSetupRefuses: every value Setup would
// refuse is an error of ConfigFromLookup already, and an invalid key is
// never shown.
func TestConfigFromLookupRefusesWhatSetupRefuses(t *testing.T) {
	for _, key := range []string{"abcd\x00efgh", "abcd\tefgh", "abcd\x7fefgh", "abcd\nefgh"} {
		env := map[string]string{"ENABLE_DATADOG": "true", "DATADOG_API_KEY": key}
		cfg, err := ConfigFromLookup(lookupMap(env))
		if err == nil {
			t.Errorf("ConfigFromLookup accepted the API key %q", key)
		} else if strings.Contains(err.Error(), "efgh") || strings.Contains(err.Error(), "abcd") {
			t.Errorf("the error shows the key: %v", err)
		}
		cfg.EnableDatadog, cfg.DatadogAPIKey = true, key
		cfg.LogOutput, cfg.DisablePrometheusListener = io.Discard, true
		if tel, err := Setup(context.Background(), cfg); err == nil {
			tel.Shutdown(context.Background())
			t.Errorf("Setup accepted the API key %q", key)
		}
	}
}

// TestSetupNamesTheOTLPImport: OTLP export asked for, but the otlp
// package not linked, is an error naming the import, never a silent
// no-op.
func TestSetupNamesTheOTLPImport(t *testing.T) {
	cfg := Config{LogOutput: io.Discard, DisablePrometheusListener: true}
	cfg.OTel.Endpoint = "http://127.0.0.1:4318"
	tel, err := Setup(context.Background(), cfg)
	if err == nil {
		tel.Shutdown(context.Background())
		t.Fatal("Setup with OTel.Endpoint and no otlp package: no error")
	}
	if !errors.Is(err, ErrOTLPNotLinked) || !strings.Contains(err.Error(), `import _ "github.com/realtimeserver/observability/otlp"`) {
		t.Errorf("Setup = %v; want ErrOTLPNotLinked naming the import", err)
	}
}

func TestConfigFromEnv(t *testing.T) {
	t.Setenv("LOG_LEVEL", "error")
	t.Setenv("PROMETHEUS_PORT", "9999")
	got, err := ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if got.LogLevel != slog.LevelError || got.PrometheusPort != 9999 {
		t.Errorf("ConfigFromEnv() = %v, want level ERROR and port 9999", got)
	}
}

func TestConfigNeverShowsKeys(t *testing.T) {
	cfg := Config{EnableDatadog: true, DatadogAPIKey: "sekrit-api-key", DatadogAppKey: "sekrit-app-key"}
	var b strings.Builder
	logger := slog.New(slog.NewTextHandler(&b, nil))
	logger.Info("config", "cfg", cfg)
	for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, cfg), b.String()} {
		if strings.Contains(s, "sekrit") {
			t.Errorf("a key leaked: %s", s)
		}
	}
	if !strings.Contains(b.String(), "datadog_key_given=true") {
		t.Errorf("log line %q does not say the key is set", b.String())
	}
}

// TestConfigLoggedThroughSetupSaysWhatIsGiven: the yes/no fields that
// say whether a key or token was given survive the kit's redaction, and
// the key itself does not.
func TestConfigLoggedThroughSetupSaysWhatIsGiven(t *testing.T) {
	var out syncBuffer
	cfg := quietConfig(FormatJSON, &out)
	cfg.DatadogAPIKey = "sekrit-api-key" // given, Datadog off: nothing to ship to
	cfg.DashboardToken = "sekrit-token"
	tel := setupLogger(t, cfg)
	tel.Logger.Info("config", "config", cfg)
	got := out.String()
	for _, want := range []string{`"datadog_key_given":true`, `"dashboard_auth_given":true`} {
		if !strings.Contains(got, want) {
			t.Errorf("the logged config lacks %s:\n%s", want, got)
		}
	}
	if strings.Contains(got, "sekrit") {
		t.Errorf("a secret was logged:\n%s", got)
	}
}

// The examples of the first-hour report, word for word: each invalid
// variable is reported once, quoting the value it was given.
func TestConfigErrorsQuoteTheirValueOnce(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string // the error lines, in order
	}{
		{
			"an unknown backend beside a port",
			map[string]string{"PROMETHEUS_PORT": "9600", "METRICS_BACKENDS": "statsd"},
			[]string{`METRICS_BACKENDS="statsd" is invalid: accepted a comma-separated list of prometheus, dogstatsd (unknown: "statsd")`},
		},
		{
			"a port without prometheus quotes both values as given",
			map[string]string{"PROMETHEUS_PORT": "9600", "METRICS_BACKENDS": "DogStatsD"},
			[]string{`PROMETHEUS_PORT="9600" is set but METRICS_BACKENDS="DogStatsD" has no prometheus: add prometheus to METRICS_BACKENDS, or unset PROMETHEUS_PORT (or set it to 0)`},
		},
		{
			"four invalid variables at once",
			map[string]string{"LOG_LEVEL": "loud", "LOG_FORMAT": "xml", "PROMETHEUS_PORT": "abc", "METRICS_BACKENDS": "statsd"},
			[]string{
				`LOG_LEVEL="loud" is invalid: accepted debug, info, warning (or warn), error`,
				`LOG_FORMAT="xml" is invalid: accepted console, json`,
				`PROMETHEUS_PORT="abc" is invalid: accepted a port from 1 to 65535, or 0 to turn the metrics listener off`,
				`METRICS_BACKENDS="statsd" is invalid: accepted a comma-separated list of prometheus, dogstatsd (unknown: "statsd")`,
			},
		},
		{
			"an invalid port beside a valid backend list without prometheus",
			map[string]string{"PROMETHEUS_PORT": "abc", "METRICS_BACKENDS": "dogstatsd"},
			[]string{`PROMETHEUS_PORT="abc" is invalid: accepted a port from 1 to 65535, or 0 to turn the metrics listener off`},
		},
		{
			"several unknown backends in one error",
			map[string]string{"METRICS_BACKENDS": "graphite,prometheus,influx"},
			[]string{`METRICS_BACKENDS="graphite,prometheus,influx" is invalid: accepted a comma-separated list of prometheus, dogstatsd (unknown: "graphite", "influx")`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ConfigFromLookup(lookupMap(tt.env))
			if err == nil {
				t.Fatalf("ConfigFromLookup(%v) = nil error", tt.env)
			}
			got := strings.Split(err.Error(), "\n")
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ConfigFromLookup(%v) error lines:\n got %q\nwant %q", tt.env, got, tt.want)
			}
			if strings.Contains(err.Error(), `""`) {
				t.Errorf("error quotes an empty value: %v", err)
			}
		})
	}
}

func TestValidateNamesPrometheusHost(t *testing.T) {
	for _, host := range []string{"", "127.0.0.1", "::1", "localhost"} {
		cfg := Config{PrometheusHost: host}
		if err := cfg.validate(); err != nil {
			t.Errorf("validate(PrometheusHost=%q) = %v, want nil", host, err)
		}
	}
	cfg := Config{PrometheusHost: "localhost:9568"}
	err := cfg.validate()
	if err == nil || !strings.Contains(err.Error(), `PROMETHEUS_HOST="localhost:9568" is invalid`) {
		t.Errorf("validate(PrometheusHost=%q) = %v, want an error naming PROMETHEUS_HOST and the value", cfg.PrometheusHost, err)
	}
}

func FuzzParseHost(f *testing.F) {
	for _, s := range []string{"localhost", "127.0.0.1", "[::1]", "::1", "fe80::1%eth0", "a..b", "-x", "[1.2.3.4]", "x:1", "", "::%[", "[fe80::1%25eth0]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := parseHost(s)
		if err != nil {
			return
		}
		// What is accepted joins with a port into an address that splits
		// back into the same host.
		gotHost, port, err := net.SplitHostPort(net.JoinHostPort(h, "9568"))
		if err != nil || gotHost != h || port != "9568" {
			t.Fatalf("parseHost(%q) = %q, which does not round-trip through JoinHostPort: %q %q %v", s, h, gotHost, port, err)
		}
	})
}

// PROMETHEUS_HOST reaches the listener: Setup binds exactly that address
// and reports it in MetricsAddr.
func TestPrometheusHostIsBound(t *testing.T) {
	port := strconv.Itoa(testenv.FreePort(t))
	cfg, err := ConfigFromLookup(lookupMap(map[string]string{"PROMETHEUS_HOST": "127.0.0.1", "PROMETHEUS_PORT": port}))
	if err != nil {
		t.Fatal(err)
	}
	cfg.LogOutput = io.Discard
	tel, err := Setup(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	if want := "127.0.0.1:" + port; tel.MetricsAddr != want {
		t.Errorf("MetricsAddr = %q, want %q", tel.MetricsAddr, want)
	}
	resp, err := http.Get("http://" + tel.MetricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /metrics = %d", resp.StatusCode)
	}
	if !strings.Contains(cfg.String(), "prometheus_host=127.0.0.1") {
		t.Errorf("Config.String() = %q, want the host", cfg.String())
	}
}

// A host that cannot be bound is an error naming both variables.
func TestPrometheusHostBindErrorNamesIt(t *testing.T) {
	// 192.0.2.1 (TEST-NET-1) is never an address of this machine.
	cfg := Config{PrometheusHost: "192.0.2.1", PrometheusPort: testenv.FreePort(t), LogOutput: io.Discard}
	tel, err := Setup(context.Background(), cfg)
	if err == nil {
		tel.Shutdown(context.Background())
		t.Fatal("Setup bound an address this machine does not have")
	}
	if !strings.Contains(err.Error(), `PROMETHEUS_HOST="192.0.2.1"`) || !strings.Contains(err.Error(), "PROMETHEUS_PORT=") {
		t.Errorf("error = %v, want one naming PROMETHEUS_HOST and PROMETHEUS_PORT", err)
	}
}
