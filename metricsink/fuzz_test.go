package metricsink_test

import (
	"io"
	"log/slog"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/realtimeserver/observability/metricsink"
)

// The text format 0.0.4, one line at a time: metadata, or a sample whose
// label values hold only escaped backslashes, quotes and line feeds.
var (
	helpLine   = regexp.MustCompile(`^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* ([^\\\n]|\\\\|\\n)*$`)
	typeLine   = regexp.MustCompile(`^# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram|summary|untyped)$`)
	sampleLine = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\\\|\\"|\\n)*"(, ?[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\\\|\\"|\\n)*")*)?\})? (NaN|[+-]Inf|[-+]?[0-9.]+(e[-+]?[0-9]+)?)$`)
)

// checkExposition fails t for any line that is not valid text format, any
// family without # HELP and # TYPE, and any family that appears twice.
func checkExposition(t *testing.T, expo string) {
	t.Helper()
	typed := map[string]string{}
	helped := map[string]bool{}
	for i, l := range strings.Split(strings.TrimSuffix(expo, "\n"), "\n") {
		switch {
		case strings.HasPrefix(l, "# HELP "):
			if !helpLine.MatchString(l) {
				t.Fatalf("line %d: bad HELP line %q", i+1, l)
			}
			name := strings.Fields(l)[2]
			if helped[name] {
				t.Fatalf("line %d: second HELP for %s", i+1, name)
			}
			helped[name] = true
		case strings.HasPrefix(l, "# TYPE "):
			if !typeLine.MatchString(l) {
				t.Fatalf("line %d: bad TYPE line %q", i+1, l)
			}
			f := strings.Fields(l)
			typed[f[2]] = f[3]
		case sampleLine.MatchString(l):
			name := l[:strings.IndexAny(l, "{ ")]
			fam := name
			for _, suf := range []string{"_bucket", "_sum", "_count"} {
				if base, ok := strings.CutSuffix(name, suf); ok && (typed[base] == "histogram" || typed[base] == "summary") {
					fam = base
				}
			}
			if typed[fam] == "" || !helped[fam] {
				t.Fatalf("line %d: sample %q of a family without HELP and TYPE", i+1, l)
			}
		default:
			t.Fatalf("line %d: not text format: %q", i+1, l)
		}
	}
}

func FuzzExposition(f *testing.F) {
	f.Add("comments.created", "user_id", "42", 1.0)
	f.Add("", "", "", math.NaN())
	f.Add("a\nb", "le", "x\"y\\z\n", math.Inf(1))
	f.Add("requestCount", "__name__", "\xff", -1.0)
	f.Add("日本.語", "ключ", "значение", 0.5)
	f.Add("x:y", "Key.With.Dots", "{}=,", 1e300)
	f.Add("latency.ms", "quantile", "", 3.0)
	f.Fuzz(func(t *testing.T, name, key, value string, v float64) {
		p, err := metricsink.NewPrometheus(&metricsink.PrometheusOptions{
			MaxSeriesPerMetric: 2,
			ConstLabels:        map[string]string{"env": "fuzz"},
			Logger:             slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
		if err != nil {
			t.Fatal(err)
		}
		tags := metricsink.KV(key, value)
		p.Increment(name, v, tags)
		p.Increment(name, 1, metricsink.KV(key, value, "k2", name))
		p.Gauge(name, v, tags)
		p.Histogram(name, v, tags)
		p.Duration(name, time.Duration(v), tags)
		p.Increment(key, 1, metricsink.KV(name, value))
		p.Gauge(value, v, metricsink.KV(key, name))
		un := p.GaugeFunc(name+".f", tags, func() float64 { return v })
		defer un()
		p.CounterFunc(value, metricsink.KV(name, key), func() float64 { return v })
		var b strings.Builder
		p.WritePrometheus(&b)
		checkExposition(t, b.String())
	})
}
