package prometheus

import (
	"math"
	"slices"

	"github.com/realtimeserver/observability/metricsink"
)

// Family is one metric family of a Snapshot.
type Family struct {
	// Name is the name as exposed ("http_request_duration_seconds").
	Name string
	// Type is "counter", "gauge" or "histogram", or "summary" for the
	// runtime's go_gc_duration_seconds.
	Type string
	// Help is the # HELP text; Unit the declared or implied unit ("" for
	// none).
	Help, Unit string
	// Series are sorted by their labels as the exposition writes them.
	Series []Series
}

// Series is one labelled series of a Family.
type Series struct {
	// Labels are sorted by key, constant labels included.
	Labels []metricsink.Tag
	// Value is the value of a counter or gauge.
	Value float64
	// Count and Sum are the number and the sum of the observations of a
	// histogram or summary; Sum is NaN where it is not kept (the
	// runtime's histograms).
	Count uint64
	Sum   float64
	// Buckets are a histogram's classic buckets, cumulative, the last
	// one's UpperBound being +Inf.
	Buckets []Bucket
	// Native is a histogram's native buckets, nil for the runtime's
	// histograms, which have classic buckets only.
	Native *NativeHistogram
	// Objectives are a summary's quantiles.
	Objectives []Objective
}

// Bucket is one cumulative classic histogram bucket.
type Bucket struct {
	UpperBound float64
	Count      uint64
	// Exemplar is the latest observation in this bucket made with an
	// exemplar, nil when none was.
	Exemplar *Exemplar
}

// Objective is one quantile of a summary and its value.
type Objective struct {
	Quantile, Value float64
}

// Quantile returns an estimate of the q-quantile (0 ≤ q ≤ 1) of the
// observations of a histogram series: from its native buckets when it has
// them (see NativeHistogram.Quantile: within about 4.3% at schema 3),
// otherwise from its classic buckets, interpolated linearly as Prometheus'
// histogram_quantile does (an answer in the +Inf bucket being the highest
// finite bound). Of a summary it returns the value of objective q, NaN
// when it has none. It is NaN when there are no observations and for a
// counter or gauge, -Inf for q below 0 and +Inf above 1.
func (s Series) Quantile(q float64) float64 {
	if v, out := quantileOutside(q); out {
		return v
	}
	switch {
	case s.Native != nil && s.Native.Count() > 0:
		return s.Native.Quantile(q)
	case len(s.Objectives) > 0:
		for _, o := range s.Objectives {
			if o.Quantile == q {
				return o.Value
			}
		}
		return math.NaN()
	}
	return classicQuantile(q, s.Buckets)
}

// quantileOutside returns the answer of every quantile function for a q
// outside [0, 1], and false for one inside: NaN for NaN, -Inf below 0 and
// +Inf above 1, as Prometheus' histogram_quantile answers.
func quantileOutside(q float64) (float64, bool) {
	switch {
	case math.IsNaN(q):
		return math.NaN(), true
	case q < 0:
		return math.Inf(-1), true
	case q > 1:
		return math.Inf(1), true
	}
	return 0, false
}

// classicQuantile is histogram_quantile over cumulative buckets, +Inf
// last.
func classicQuantile(q float64, buckets []Bucket) float64 {
	n := len(buckets)
	if n == 0 || buckets[n-1].Count == 0 || !math.IsInf(buckets[n-1].UpperBound, 1) {
		return math.NaN()
	}
	rank := q * float64(buckets[n-1].Count)
	i, _ := slices.BinarySearchFunc(buckets, rank, func(b Bucket, r float64) int {
		if float64(b.Count) < r {
			return -1
		}
		return 1
	})
	switch {
	case i >= n-1:
		if n == 1 {
			return math.NaN()
		}
		return buckets[n-2].UpperBound
	case i == 0 && buckets[0].UpperBound <= 0:
		return buckets[0].UpperBound
	}
	lower, below := 0.0, 0.0
	if i > 0 {
		lower, below = buckets[i-1].UpperBound, float64(buckets[i-1].Count)
	}
	upper := buckets[i].UpperBound
	in := float64(buckets[i].Count) - below
	if in <= 0 || lower > upper {
		return upper
	}
	return lower + (upper-lower)*(rank-below)/in
}

// Snapshot returns the current value of every series of the registry's
// families, its own metricsink_* ones and the go_* and process_* ones
// included (unless Options.DisableRuntimeMetrics), families sorted by name
// and series by labels, read from the registry's structures. GaugeFunc and
// CounterFunc callbacks are called as a scrape calls them, waiting at most
// Options.CallbackTimeout; a series whose callback did not return in time,
// or panicked, is left out. Families without series are left out.
//
// Every call returns fresh slices and exemplars, Labels, Buckets and
// native Counts included, which the caller owns and may keep or modify.
func (p *Registry) Snapshot() []Family {
	// The scrapes' reader, into a scratch of its own: every slice it
	// fills is new, but for the labels, which it shares with the registry.
	var sc scrapeScratch
	p.snapshotInto(&sc)
	for i := range sc.fams {
		for j := range sc.fams[i].Series {
			s := &sc.fams[i].Series[j]
			s.Labels = slices.Clone(s.Labels)
		}
	}
	return slices.Clip(sc.fams)
}
