package otlp

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/realtimeserver/observability/metricsink"
	"github.com/realtimeserver/observability/metricsink/prometheus"
)

// quantile returns the q-quantile of an exponential histogram data point:
// the geometric middle of the bucket that holds it.
func quantile(p metricdata.ExponentialHistogramDataPoint[float64], q float64) float64 {
	rank := q * float64(p.Count)
	base := math.Exp2(math.Exp2(-float64(p.Scale)))
	cum := float64(p.ZeroCount)
	for i, c := range p.PositiveBucket.Counts {
		if cum += float64(c); c > 0 && cum >= rank {
			idx := float64(int(p.PositiveBucket.Offset) + i)
			return math.Pow(base, idx+0.5)
		}
	}
	return math.NaN()
}

// TestExponentialQuantiles: the exported exponential histograms keep the
// scale the documentation of ExponentialMaxSize promises for values
// spread over 3, 6 and 6.8 decades, and p50, p95 and p99 computed from
// them are within the error of their bucket width; a constant keeps the
// largest scale.
func TestExponentialQuantiles(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	logUniform := func(lo, hi float64) func() float64 {
		return func() float64 { return math.Exp(math.Log(lo) + r.Float64()*math.Log(hi/lo)) }
	}
	for _, tc := range []struct {
		name     string
		next     func() float64
		minScale int32
	}{
		{"log-uniform 1 ms to 1 s", logUniform(1e-3, 1), 4},
		{"log-uniform 1 µs to 1 s", logUniform(1e-6, 1), 3},
		{"log-uniform 10 µs to 60 s", logUniform(10e-6, 60), 2},
		{"bimodal at 200 µs and 300 ms", func() float64 {
			if r.IntN(2) == 0 {
				return 200e-6 * (1 + r.Float64()/10)
			}
			return 0.3 * (1 + r.Float64()/10)
		}, 3},
		{"constant 400 µs", func() float64 { return 400e-6 }, ExponentialMaxScale},
	} {
		s, collect := newManual(t, SinkOptions{})
		vs := make([]float64, 20000)
		for i := range vs {
			vs[i] = tc.next()
			s.Duration("d", 0, metricsink.Tags{}) // a zero too: the zero bucket
			s.Histogram("h", vs[i], metricsink.Tags{})
		}
		slices.Sort(vs)
		p := collect()["h"].Data.(metricdata.ExponentialHistogram[float64]).DataPoints[0]
		if p.Scale < tc.minScale || len(p.PositiveBucket.Counts) > ExponentialMaxSize {
			t.Errorf("%s: scale %d with %d buckets, want at least scale %d in at most %d", tc.name, p.Scale, len(p.PositiveBucket.Counts), tc.minScale, ExponentialMaxSize)
		}
		bound := math.Exp2(math.Exp2(-float64(p.Scale))/2) - 1 // half a bucket, relative
		for _, q := range []float64{0.5, 0.95, 0.99} {
			exact := vs[int(math.Ceil(q*float64(len(vs))))-1]
			if got := quantile(p, q); math.Abs(got-exact)/exact > bound {
				t.Errorf("%s: p%v = %v, exact %v: %.2f%% off, more than %.2f%% at scale %d", tc.name, q*100, got, exact, 100*math.Abs(got-exact)/exact, 100*bound, p.Scale)
			}
		}
	}
}

// TestDurationBucketsAreTheKits: with explicit buckets, a duration has the
// same bounds here as in the Prometheus registry.
func TestDurationBucketsAreTheKits(t *testing.T) {
	if got, want := DurationBuckets(), prometheus.DefaultBuckets(); !slices.Equal(got, want) {
		t.Errorf("DurationBuckets() = %v, prometheus.DefaultBuckets() = %v", got, want)
	}
}
