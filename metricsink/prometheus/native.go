package prometheus

import (
	"encoding/hex"
	"math"
	"slices"
	"time"

	"github.com/realtimeserver/observability/metricsink"
)

// NativeHistogram is a histogram series' native buckets, as Prometheus'
// native histograms define them: sparse exponential buckets whose bounds
// are powers of base = 2^(2^-Schema), and a zero bucket.
type NativeHistogram struct {
	// Schema sets the resolution: from 3 (base 2^(1/8), the schema a
	// series starts at) down to -4 (base 2^16), lowered as Prometheus does
	// when a series' values span more than Options.MaxNativeBuckets.
	Schema int32
	// ZeroThreshold is the upper bound of the zero bucket, and ZeroCount
	// the observations in it (from 0 to ZeroThreshold, both included).
	ZeroThreshold float64
	ZeroCount     uint64
	// Counts[i] is the number of observations in the bucket of index
	// Offset+i, (base^(Offset+i-1), base^(Offset+i)] (see Bounds). Counts
	// are not cumulative; they run from the lowest non-empty bucket to the
	// highest, the empty ones between included, and are empty when every
	// observation is in the zero bucket.
	Offset int32
	Counts []uint64
	// Exemplar is the latest observation of the series made with an
	// exemplar, nil when none was.
	Exemplar *Exemplar
}

// Exemplar is an observation linked to the sampled span it was made in:
// the latest of its bucket.
type Exemplar struct {
	metricsink.Exemplar // TraceID and SpanID
	// Value is the observation, Time when it was made.
	Value float64
	Time  time.Time
}

// Labels returns the exemplar's labels as the expositions write them:
// trace_id and span_id, in lowercase hex.
func (e Exemplar) Labels() []metricsink.Tag {
	return []metricsink.Tag{{Key: "trace_id", Value: e.TraceID.String()}, {Key: "span_id", Value: e.SpanID.String()}}
}

// appendLabels appends the exemplar's labels as the OpenMetrics
// exposition writes them, trace_id="…",span_id="…", without allocating.
func (e *Exemplar) appendLabels(b []byte) []byte {
	b = append(b, `trace_id="`...)
	b = hex.AppendEncode(b, e.TraceID[:])
	b = append(b, `",span_id="`...)
	b = hex.AppendEncode(b, e.SpanID[:])
	return append(b, '"')
}

// Count returns the observations of h: the zero bucket's and the others'.
func (h NativeHistogram) Count() uint64 {
	n := h.ZeroCount
	for _, c := range h.Counts {
		n += c
	}
	return n
}

// Bounds returns the lower and the upper bound of the bucket of index i:
// (base^(i-1), base^i], computed as Prometheus computes them, the last
// bucket of finite values ending at math.MaxFloat64.
func (h NativeHistogram) Bounds(i int32) (lower, upper float64) {
	return nativeBound(i-1, h.Schema), nativeBound(i, h.Schema)
}

// nativeBound returns base^i at schema, as Prometheus' getBound does for
// the schemas of this package (3 to -4; other schemas are computed, not
// read from Prometheus' tables).
func nativeBound(i, schema int32) float64 {
	switch {
	case schema > nativeStartSchema || schema < -62:
		b := math.Exp2(float64(i) * math.Exp2(-float64(schema)))
		if b > math.MaxFloat64 {
			return math.MaxFloat64
		}
		return b
	case schema <= 0:
		exp := int(i) << -schema
		if exp >= 1024 {
			return math.MaxFloat64
		}
		return math.Ldexp(1, exp)
	}
	frac := schema3Bounds[int(i&(1<<schema-1))<<(nativeStartSchema-schema)]
	exp := int(i>>schema) + 1
	if exp >= 1025 {
		return math.MaxFloat64
	}
	return math.Ldexp(frac, exp)
}

// BucketSpan is a run of consecutive native buckets, as Prometheus'
// protobuf exposition writes it: Offset is the index of its first bucket
// less the index after the previous span (the index itself for the first
// span), Length its number of buckets.
type BucketSpan struct {
	Offset int32
	Length uint32
}

// Spans returns h's buckets in the form of Prometheus' protobuf
// exposition: spans, and the count of each bucket of the spans as a delta
// to the previous one (the first to zero). Gaps of up to two empty buckets
// stay within a span, as client_golang writes them.
func (h NativeHistogram) Spans() (spans []BucketSpan, deltas []int64) {
	var prev int64
	next := int32(0)
	for i, c := range h.Counts {
		if c == 0 {
			continue
		}
		idx := h.Offset + int32(i)
		if gap := idx - next; len(spans) == 0 || gap > 2 {
			spans = append(spans, BucketSpan{Offset: gap})
		} else {
			for range gap {
				spans[len(spans)-1].Length++
				deltas = append(deltas, -prev)
				prev = 0
			}
		}
		spans[len(spans)-1].Length++
		deltas = append(deltas, int64(c)-prev)
		prev = int64(c)
		next = idx + 1
	}
	return spans, deltas
}

// Quantile returns an estimate of the q-quantile (0 ≤ q ≤ 1) of h's
// observations: NaN when it has none, -Inf for q below 0 and +Inf above 1,
// as Prometheus' histogram_quantile answers.
//
// Within the bucket that holds the quantile, the estimate interpolates
// geometrically, as histogram_quantile does for native histograms, where
// the bucket and its two neighbours hold about as many observations (the
// density is level there), and takes the bucket's geometric middle where
// they do not (a peak, an edge, a steep tail), between the two in
// proportion to the smaller neighbour's count over the largest of the
// three. So a smooth distribution is interpolated as Prometheus does, and
// a narrow peak (a constant latency) or the tail just past it is estimated
// within half a bucket, 4.4% at schema 3, where interpolating could be off
// by a whole bucket (9%). In the zero bucket the estimate is linear from
// 0.
func (h NativeHistogram) Quantile(q float64) float64 {
	if v, out := quantileOutside(q); out {
		return v
	}
	n := h.Count()
	if n == 0 {
		return math.NaN()
	}
	rank := q * float64(n)
	if z := float64(h.ZeroCount); z > 0 && (rank <= z || z == float64(n)) {
		return h.ZeroThreshold * math.Min(1, rank/z)
	}
	below := float64(h.ZeroCount)
	last := len(h.Counts) - 1
	for last > 0 && h.Counts[last] == 0 {
		last--
	}
	i := 0
	for ; i < last; i++ {
		c := float64(h.Counts[i])
		if c > 0 && below+c >= rank {
			break
		}
		below += c
	}
	c := float64(h.Counts[i])
	if c == 0 {
		_, upper := h.Bounds(h.Offset + int32(i))
		return upper
	}
	// x is where in the bucket, from 0 to 1 in log scale: interpolated,
	// then drawn to the middle as much as the neighbours are not level
	// with the bucket.
	var left, right float64
	if i > 0 {
		left = float64(h.Counts[i-1])
	}
	if i < len(h.Counts)-1 {
		right = float64(h.Counts[i+1])
	}
	x := math.Max(0, math.Min(1, (rank-below)/c))
	level := min(left, right) / max(left, right, c)
	x = 0.5 + level*(x-0.5)
	lower, upper := h.Bounds(h.Offset + int32(i))
	lower = math.Max(lower, h.ZeroThreshold)
	if lower <= 0 || upper <= lower {
		return upper
	}
	ll, lu := math.Log2(lower), math.Log2(upper)
	return math.Exp2(ll + (lu-ll)*x)
}

// Add returns the sum of h and o, at the lower of their schemas (an empty
// histogram takes the other's), with fresh Counts and the later of their
// exemplars.
func (h NativeHistogram) Add(o NativeHistogram) NativeHistogram { return h.combine(o, false) }

// Sub returns the observations h has that earlier has not, h less earlier
// bucket by bucket at the lower of their schemas: over a window, when
// earlier is the same series read at the window's start. A bucket that
// went down (the series was reset) counts as none.
func (h NativeHistogram) Sub(earlier NativeHistogram) NativeHistogram {
	return h.combine(earlier, true)
}

func (h NativeHistogram) empty() bool { return h.ZeroCount == 0 && len(h.Counts) == 0 }

func (h NativeHistogram) combine(o NativeHistogram, sub bool) NativeHistogram {
	out := NativeHistogram{Schema: min(h.Schema, o.Schema), ZeroThreshold: max(h.ZeroThreshold, o.ZeroThreshold), Exemplar: h.Exemplar}
	switch {
	case h.empty():
		out.Schema = o.Schema
	case o.empty():
		out.Schema = h.Schema
	}
	if !sub && o.Exemplar != nil && (h.Exemplar == nil || o.Exemplar.Time.After(h.Exemplar.Time)) {
		out.Exemplar = o.Exemplar
	}
	hz, hoff, hc := h.reduced(out.Schema, out.ZeroThreshold)
	oz, ooff, oc := o.reduced(out.Schema, out.ZeroThreshold)
	var off int64
	var counts []uint64
	switch {
	case sub:
		out.ZeroCount = hz - min(hz, oz)
		off, counts = hoff, hc
		for i, c := range oc {
			if j := ooff + int64(i) - off; j >= 0 && j < int64(len(counts)) {
				counts[j] -= min(counts[j], c)
			}
		}
	case len(hc) == 0:
		out.ZeroCount = hz + oz
		off, counts = ooff, oc
	case len(oc) == 0:
		out.ZeroCount = hz + oz
		off, counts = hoff, hc
	default:
		out.ZeroCount = hz + oz
		off = min(hoff, ooff)
		counts = make([]uint64, max(hoff+int64(len(hc)), ooff+int64(len(oc)))-off)
		for i, c := range hc {
			counts[hoff+int64(i)-off] += c
		}
		for i, c := range oc {
			counts[ooff+int64(i)-off] += c
		}
	}
	first := slices.IndexFunc(counts, func(c uint64) bool { return c != 0 })
	if first < 0 {
		return out
	}
	last := len(counts) - 1
	for counts[last] == 0 {
		last--
	}
	out.Offset = int32(off) + int32(first)
	out.Counts = slices.Clip(counts[first : last+1])
	return out
}

// reduced returns h's buckets at schema, at most h's, in a fresh slice
// whose first bucket has index offset, and the zero bucket's count with
// the buckets wholly below zeroThreshold added.
func (h NativeHistogram) reduced(schema int32, zeroThreshold float64) (zero uint64, offset int64, counts []uint64) {
	zero = h.ZeroCount
	if len(h.Counts) == 0 {
		return zero, 0, nil
	}
	d := uint(h.Schema - schema)
	at := func(i int) int64 { return (int64(h.Offset) + int64(i) + (1<<d - 1)) >> d }
	offset = at(0)
	counts = make([]uint64, at(len(h.Counts)-1)-offset+1)
	for i, c := range h.Counts {
		k := at(i)
		if _, up := (NativeHistogram{Schema: schema}).Bounds(int32(k)); up <= zeroThreshold {
			zero += c
			continue
		}
		counts[k-offset] += c
	}
	return zero, offset, counts
}
