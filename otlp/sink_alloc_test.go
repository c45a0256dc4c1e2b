//go:build !race

package otlp

import (
	"context"
	"testing"
	"time"

	"github.com/realtimeserver/observability/metricsink"
)

// TestHandleAllocs: handles, as the facade requires, record without
// allocating, with an exemplar too, in exponential and explicit-bucket
// histograms; each exemplar is kept, not skipped.
func TestHandleAllocs(t *testing.T) {
	for _, explicit := range []bool{false, true} {
		s, collect := newManual(t, SinkOptions{ExplicitBuckets: explicit})
		c := metricsink.NewCounter(s, "c", metricsink.KV("k", "v"))
		g := metricsink.NewGauge(s, "g", metricsink.KV("k", "v"))
		h := metricsink.NewHistogram(s, "h", metricsink.KV("k", "v"))
		tm := metricsink.NewTimer(s, "t", metricsink.KV("k", "v"))
		hx := metricsink.NewHistogram(s, "hx", metricsink.KV("k", "v"))
		tx := metricsink.NewTimer(s, "tx", metricsink.KV("k", "v"))
		ctx, _, _ := spanCtx(7, true)
		for name, f := range map[string]func(){
			"counter":            func() { c.Inc() },
			"gauge":              func() { g.Add(1) },
			"histogram":          func() { h.Observe(2) },
			"timer":              func() { tm.Observe(time.Millisecond) },
			"histogram exemplar": func() { hx.ObserveContext(ctx, 2) },
			"timer exemplar":     func() { tx.ObserveContext(ctx, time.Millisecond) },
			"sink exemplar":      func() { metricsink.DurationContext(ctx, s, "sx", time.Millisecond, metricsink.KV("k", "v")) },
			"handle, no span":    func() { hx.ObserveContext(context.Background(), 2) },
		} {
			f() // first use may set up the series
			if n := testing.AllocsPerRun(1000, f); n != 0 {
				t.Errorf("explicit %v, %s: %v allocations per sample, want 0", explicit, name, n)
			}
		}
		got := collect()
		for _, name := range []string{"hx", "tx", "sx"} {
			if len(exemplarsOf(t, got[name])) == 0 {
				t.Errorf("explicit %v, %s: no exemplar kept", explicit, name)
			}
		}
	}
}
