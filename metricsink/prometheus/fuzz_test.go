package prometheus_test

import (
	"fmt"
	"io"
	"log/slog"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/realtimeserver/observability/metricsink"
	"github.com/realtimeserver/observability/metricsink/prometheus"
)

// The text format 0.0.4, one line at a time: metadata, or a sample whose
// label values hold only escaped backslashes, quotes and line feeds.
var (
	helpLine   = regexp.MustCompile(`^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* ([^\\\n]|\\\\|\\n)*$`)
	typeLine   = regexp.MustCompile(`^# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram|summary|untyped)$`)
	sampleLine = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\\\|\\"|\\n)*"(, ?[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\\\|\\"|\\n)*")*)?\})? (NaN|[+-]Inf|[-+]?[0-9.]+(e[-+]?[0-9]+)?)$`)
)

// checkExposition fails t when expositionError finds a problem in expo.
func checkExposition(t *testing.T, expo string) {
	t.Helper()
	if err := expositionError(expo); err != nil {
		t.Fatal(err)
	}
}

// expositionError reports the first line of expo that is not valid text
// format, a sample of a family without # HELP and # TYPE, a second HELP or
// TYPE line for a family, a family whose lines are not contiguous, and a
// series (name and labels) written twice.
func expositionError(expo string) error {
	typed := map[string]string{}
	helped := map[string]bool{}
	done := map[string]bool{} // families already left behind
	series := map[string]bool{}
	cur := ""
	enter := func(i int, fam string) error {
		if fam == cur {
			return nil
		}
		if done[fam] {
			return fmt.Errorf("line %d: family %s appears again after other families", i, fam)
		}
		if cur != "" {
			done[cur] = true
		}
		cur = fam
		return nil
	}
	for i, l := range strings.Split(strings.TrimSuffix(expo, "\n"), "\n") {
		i++
		switch {
		case strings.HasPrefix(l, "# HELP "):
			if !helpLine.MatchString(l) {
				return fmt.Errorf("line %d: bad HELP line %q", i, l)
			}
			name := strings.Fields(l)[2]
			if helped[name] {
				return fmt.Errorf("line %d: second HELP for %s", i, name)
			}
			helped[name] = true
			if err := enter(i, name); err != nil {
				return err
			}
		case strings.HasPrefix(l, "# TYPE "):
			if !typeLine.MatchString(l) {
				return fmt.Errorf("line %d: bad TYPE line %q", i, l)
			}
			f := strings.Fields(l)
			if typed[f[2]] != "" {
				return fmt.Errorf("line %d: second TYPE for %s", i, f[2])
			}
			typed[f[2]] = f[3]
			if err := enter(i, f[2]); err != nil {
				return err
			}
		case sampleLine.MatchString(l):
			key := l[:strings.LastIndexByte(l, ' ')]
			if dup := duplicateLabel(key); dup != "" {
				return fmt.Errorf("line %d: label %s appears twice in %q", i, dup, l)
			}
			if series[key] {
				return fmt.Errorf("line %d: series %s written twice", i, key)
			}
			series[key] = true
			name := l[:strings.IndexAny(l, "{ ")]
			fam := name
			for _, suf := range []string{"_bucket", "_sum", "_count"} {
				if base, ok := strings.CutSuffix(name, suf); ok && (typed[base] == "histogram" || typed[base] == "summary") {
					fam = base
				}
			}
			if typed[fam] == "" || !helped[fam] {
				return fmt.Errorf("line %d: sample %q of a family without HELP and TYPE", i, l)
			}
			if err := enter(i, fam); err != nil {
				return err
			}
		default:
			return fmt.Errorf("line %d: not text format: %q", i, l)
		}
	}
	return nil
}

// duplicateLabel returns a label name that appears twice in the series
// name{labels}, or "". The labels are valid text format.
func duplicateLabel(series string) string {
	i := strings.IndexByte(series, '{')
	if i < 0 {
		return ""
	}
	rest := series[i+1:]
	seen := map[string]bool{}
	for len(rest) > 0 && rest[0] != '}' {
		rest = strings.TrimLeft(rest, ", ")
		eq := strings.IndexByte(rest, '=')
		if eq < 0 {
			return ""
		}
		name := rest[:eq]
		if seen[name] {
			return name
		}
		seen[name] = true
		rest = rest[eq+2:] // past ="
		for j := 0; j < len(rest); j++ {
			if rest[j] == '\\' {
				j++
				continue
			}
			if rest[j] == '"' {
				rest = rest[j+1:]
				break
			}
		}
	}
	return ""
}

func TestExpositionErrorCatches(t *testing.T) {
	const ok = "# HELP a_total A.\n# TYPE a_total counter\na_total{k=\"1\"} 1\na_total{k=\"2\"} 1\n" +
		"# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n"
	if err := expositionError(ok); err != nil {
		t.Fatalf("valid exposition rejected: %v", err)
	}
	tests := []struct{ name, expo, want string }{
		{"duplicate series", ok + "# HELP b B.\n# TYPE b gauge\nb 1\nb 2\n", "written twice"},
		{"second TYPE", "# HELP b B.\n# TYPE b gauge\n# TYPE b counter\nb 1\n", "second TYPE"},
		{"second HELP", "# HELP b B.\n# HELP b B.\n# TYPE b gauge\nb 1\n", "second HELP"},
		{"split family", ok + "a_total{k=\"3\"} 1\n", "appears again"},
		{"no metadata", "c 1\n", "without HELP"},
		{"bad line", "c{ 1\n", "not text format"},
		{"label twice", "# HELP b B.\n# TYPE b gauge\nb{k=\"a,k=\\\"x\",k=\"2\"} 1\n", "label k appears twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := expositionError(tt.expo)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("expositionError() = %v, want an error with %q", err, tt.want)
			}
		})
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
		p, err := prometheus.New(&prometheus.Options{
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
