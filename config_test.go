package observability

import (
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ConfigFromLookup(lookupMap(tt.env))
			if err != nil {
				t.Fatalf("ConfigFromLookup(%v) error: %v", tt.env, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ConfigFromLookup(%v)\n got %#v\nwant %#v", tt.env, got, tt.want)
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
		{"DATADOG_SITE", map[string]string{"DATADOG_SITE": "datadoghq.org"}, []string{"DATADOG_SITE", `"datadoghq.org"`, "datadoghq.com, datadoghq.eu"}},
		{"DATADOG_LOGS_URL", map[string]string{"DATADOG_LOGS_URL": "intake.local"}, []string{"DATADOG_LOGS_URL", `"intake.local"`, "http://"}},
		{"PROMETHEUS_PORT word", map[string]string{"PROMETHEUS_PORT": "metrics"}, []string{"PROMETHEUS_PORT", `"metrics"`, "1 to 65535", "0 to turn"}},
		{"PROMETHEUS_PORT too big", map[string]string{"PROMETHEUS_PORT": "70000"}, []string{"PROMETHEUS_PORT", `"70000"`}},
		{"PROMETHEUS_PORT negative", map[string]string{"PROMETHEUS_PORT": "-1"}, []string{"PROMETHEUS_PORT", `"-1"`}},
		{"METRICS_BACKENDS", map[string]string{"METRICS_BACKENDS": "prometheus,graphite"}, []string{"METRICS_BACKENDS", `"prometheus,graphite"`, "prometheus, dogstatsd"}},
		{"METRICS_BACKENDS only commas", map[string]string{"METRICS_BACKENDS": ", ,"}, []string{"METRICS_BACKENDS", "prometheus, dogstatsd"}},
		{"PROMETHEUS_PORT without prometheus", map[string]string{"METRICS_BACKENDS": "dogstatsd", "PROMETHEUS_PORT": "9100"}, []string{"PROMETHEUS_PORT", `"9100"`, "METRICS_BACKENDS", "no prometheus"}},
		{"several at once are all reported", map[string]string{"LOG_LEVEL": "loud", "PROMETHEUS_PORT": "x"}, []string{"LOG_LEVEL", "PROMETHEUS_PORT"}},
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
	if !strings.Contains(b.String(), "datadog_api_key_set=true") {
		t.Errorf("log line %q does not say the key is set", b.String())
	}
}
