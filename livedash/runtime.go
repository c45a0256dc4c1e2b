package livedash

import (
	"math"
	"runtime/metrics"
)

// The runtime/metrics samples the dashboard reads.
const (
	rtHeapObjects = "/memory/classes/heap/objects:bytes"
	rtHeapGoal    = "/gc/heap/goal:bytes"
	rtTotal       = "/memory/classes/total:bytes"
	rtReleased    = "/memory/classes/heap/released:bytes"
	rtGCCycles    = "/gc/cycles/total:gc-cycles"
	rtPauses      = "/sched/pauses/total/gc:seconds"
	rtGoroutines  = "/sched/goroutines:goroutines"
	rtLatencies   = "/sched/latencies:seconds"
	rtCPUGC       = "/cpu/classes/gc/total:cpu-seconds"
	rtCPUTotal    = "/cpu/classes/total:cpu-seconds"
	rtGOMAXPROCS  = "/sched/gomaxprocs:threads"
	rtAllocs      = "/gc/heap/allocs:bytes"
	rtObjects     = "/gc/heap/objects:objects"
)

// runtimeReader reads a fixed set of runtime/metrics samples into a
// buffer it reuses; names the runtime does not know read as NaN.
type runtimeReader struct {
	samples []metrics.Sample
	index   map[string]int
}

func newRuntimeReader(names ...string) *runtimeReader {
	known := map[string]bool{}
	for _, d := range metrics.All() {
		known[d.Name] = true
	}
	r := &runtimeReader{index: map[string]int{}}
	for _, n := range names {
		if known[n] {
			r.index[n] = len(r.samples)
			r.samples = append(r.samples, metrics.Sample{Name: n})
		}
	}
	return r
}

func (r *runtimeReader) read() { metrics.Read(r.samples) }

// value returns a scalar sample as float64, or NaN.
func (r *runtimeReader) value(name string) float64 {
	i, ok := r.index[name]
	if !ok {
		return math.NaN()
	}
	v := r.samples[i].Value
	switch v.Kind() {
	case metrics.KindUint64:
		return float64(v.Uint64())
	case metrics.KindFloat64:
		return v.Float64()
	}
	return math.NaN()
}

// histogram returns a histogram sample as a cumulative hist (a copy), or
// an empty one.
func (r *runtimeReader) histogram(name string) hist {
	i, ok := r.index[name]
	if !ok || r.samples[i].Value.Kind() != metrics.KindFloat64Histogram {
		return hist{}
	}
	h := r.samples[i].Value.Float64Histogram()
	out := hist{bounds: make([]float64, len(h.Counts)), counts: make([]uint64, len(h.Counts))}
	var cum uint64
	for j, c := range h.Counts {
		cum += c
		out.counts[j] = cum
		out.bounds[j] = h.Buckets[j+1]
	}
	out.count = cum
	return out
}

// maxObserved returns the upper bound of the highest non-empty bucket of
// a cumulative delta histogram, NaN when it is empty.
func (h *hist) maxObserved() float64 {
	for i := len(h.counts) - 1; i >= 0; i-- {
		below := uint64(0)
		if i > 0 {
			below = h.counts[i-1]
		}
		if h.counts[i] > below {
			if math.IsInf(h.bounds[i], 1) && i > 0 {
				return h.bounds[i-1]
			}
			return h.bounds[i]
		}
	}
	return math.NaN()
}
