package prometheus_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/realtimeserver/observability/internal/hostile"
	"github.com/realtimeserver/observability/metricsink"
	"github.com/realtimeserver/observability/metricsink/prometheus"
)

// hostileStrings returns the strings of the shared hostile corpus: every
// case's name, message, attribute keys and string values (50 MB strings
// included), flattened through groups.
func hostileStrings() []string {
	var out []string
	var walk func(a slog.Attr)
	walk = func(a slog.Attr) {
		out = append(out, a.Key)
		switch a.Value.Kind() {
		case slog.KindString:
			out = append(out, a.Value.String())
		case slog.KindGroup:
			for _, g := range a.Value.Group() {
				walk(g)
			}
		}
	}
	for _, c := range hostile.Cases() {
		out = append(out, c.Name, c.Message)
		for i, a := range c.Attrs {
			if i >= 64 { // the 10,000-attribute case: its keys are alike
				break
			}
			walk(a)
		}
	}
	return out
}

// Every string of the shared hostile corpus, as a metric name, tag key and
// tag value, through the Sink methods, handles and declarations: nothing
// panics, memory stays bounded (tag values cut), and the exposition stays
// valid.
func TestHostileCorpus(t *testing.T) {
	reg, _ := newProm(t, &prometheus.Options{MaxSeriesPerMetric: 20})
	strs := hostileStrings()
	if raceEnabled { // the race detector makes 50 MB strings slow; 1 MB is past every bound too
		for i, s := range strs {
			if len(s) > 1<<20 {
				strs[i] = s[:1<<20]
			}
		}
	}
	for i, s := range strs {
		v := strs[(i+1)%len(strs)]
		tags := metricsink.KV(s, v, "k", s)
		reg.Increment(s, 1, tags)
		reg.Gauge(s+".g", 1, tags)
		reg.Histogram(s+".h", 1, tags)
		reg.Duration(s+".d", time.Millisecond, tags)
		metricsink.NewCounter(reg, "hostile.handle", metricsink.KV("v", s)).Inc()
		_ = metricsink.Declare(reg, metricsink.Desc{Name: s + ".decl", Kind: metricsink.Counter, Help: s})
		reg.GaugeFunc("hostile.func", metricsink.KV("v", s), func() float64 { return 1 })
	}
	var b strings.Builder
	reg.WritePrometheus(&b)
	expo := b.String()
	checkExposition(t, expo)
	if len(expo) > 8<<20 {
		t.Errorf("exposition of %d bytes: tag values are not bounded", len(expo))
	}
	_ = reg.Snapshot()
}
