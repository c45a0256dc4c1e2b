package benchmarks

import (
	"bytes"
	"io"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/realtimeserver/observability/metricsink"
	"github.com/realtimeserver/observability/metricsink/prometheus"
)

// FuzzExpositionParses records arbitrary names, tag keys and values and
// checks that Prometheus' own text parser reads the whole exposition,
// runtime and process families included, and finds every family typed
// and documented and every series once.
func FuzzExpositionParses(f *testing.F) {
	f.Add("comments.created", "user_id", "42", 1.0)
	f.Add("", "", "", math.NaN())
	f.Add("a\nb", "le", "x\"y\\z\n", math.Inf(1))
	f.Add("requestCount", "__name__", "\xff", -1.0)
	f.Add("日本.語", "ключ", "значение", 0.5)
	f.Add("x:y", "Key.With.Dots", "{}=,", 1e300)
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

		var b bytes.Buffer
		p.WritePrometheus(&b)
		parser := expfmt.NewTextParser(model.LegacyValidation)
		fams, err := parser.TextToMetricFamilies(bytes.NewReader(b.Bytes()))
		if err != nil {
			t.Fatalf("expfmt cannot parse the exposition: %v\n%s", err, b.String())
		}
		for n, mf := range fams {
			if mf.Help == nil || mf.Type == nil {
				t.Errorf("family %s has no HELP or TYPE", n)
			}
			if strings.HasPrefix(n, "__") {
				t.Errorf("family %s uses a reserved name", n)
			}
			seen := map[string]bool{}
			for _, m := range mf.GetMetric() {
				pairs := make([]string, 0, len(m.GetLabel()))
				for _, l := range m.GetLabel() {
					pairs = append(pairs, l.GetName()+"="+strconv.Quote(l.GetValue()))
				}
				slices.Sort(pairs)
				key := strings.Join(pairs, ",")
				if seen[key] {
					t.Errorf("series %s{%s} appears twice", n, key)
				}
				seen[key] = true
			}
		}
		if _, ok := fams["metricsink_dropped_samples_total"]; !ok {
			t.Errorf("metricsink_dropped_samples_total is missing")
		}
	})
}
