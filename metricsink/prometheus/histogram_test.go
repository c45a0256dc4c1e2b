package prometheus

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"testing"
)

// refKey is client_golang's computation of a native bucket index
// (histogramCounts.observe), at any schema from 3 to -4, for a value above
// the zero threshold.
func refKey(v float64, schema int) int {
	frac, exp := math.Frexp(v)
	if schema > 0 {
		var bounds []float64
		for i := 0; i < 8; i += 1 << (3 - schema) {
			bounds = append(bounds, schema3Bounds[i])
		}
		return sort.SearchFloat64s(bounds, frac) + (exp-1)*len(bounds)
	}
	key := exp
	if frac == 0.5 {
		key--
	}
	offset := (1 << -schema) - 1
	return (key + offset) >> -schema
}

// nativeTestValues are values above the zero threshold that sit on, just
// below and just above every schema-3 bound over the whole float64 range,
// and a log-uniform spread between.
func nativeTestValues() []float64 {
	var vs []float64
	for e := -127; e <= 1024; e++ {
		for _, b := range schema3Bounds {
			v := math.Ldexp(b, e)
			if math.IsInf(v, 0) || v <= nativeZeroThreshold {
				continue
			}
			vs = append(vs, v, math.Nextafter(v, 0), math.Nextafter(v, math.Inf(1)))
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		vs = append(vs, math.Exp2(-127.9+r.Float64()*(1024+127.9)))
	}
	vs = append(vs, math.MaxFloat64, math.Nextafter(nativeZeroThreshold, 1), 1, 2, 0.5, 3)
	return slices.DeleteFunc(vs, func(v float64) bool {
		return math.IsInf(v, 0) || math.IsNaN(v) || v <= nativeZeroThreshold
	})
}

// The key lookup agrees with client_golang's math.Frexp and binary search
// at every schema, on and around every bound.
func TestNativeKeyMatchesFrexp(t *testing.T) {
	for _, v := range nativeTestValues() {
		k3 := key3(v)
		for schema := nativeStartSchema; schema >= nativeMinSchema; schema-- {
			if got, want := keyAt(k3, uint(nativeStartSchema-schema)), refKey(v, schema); got != want {
				t.Fatalf("key of %v (%b) at schema %d = %d, want %d", v, math.Float64bits(v), schema, got, want)
			}
		}
	}
	// Bounds: bucket i holds (base^(i-1), base^i].
	for _, v := range []float64{1, 2, 1024, 0.001, 0.3, 4e-4, 2e-4, 60, 1e-5, 1e300, math.MaxFloat64} {
		for schema := int32(nativeStartSchema); schema >= nativeMinSchema; schema-- {
			k := keyAt(key3(v), uint(nativeStartSchema-schema))
			lo, hi := (NativeHistogram{Schema: schema}).Bounds(int32(k))
			if !(lo < v && v <= hi) {
				t.Errorf("schema %d: %v in bucket %d = (%v, %v]", schema, v, k, lo, hi)
			}
		}
	}
}

// refState is what a series holds after observing vs, computed from the
// values alone: the schema is the highest whose span fits max, every
// value counted at it.
func refState(vs []float64, bound int) (schema int, zero uint64, counts map[int]uint64) {
	for schema = nativeStartSchema; schema > nativeMinSchema; schema-- {
		lo, hi, any := 0, 0, false
		for _, v := range vs {
			if v <= nativeZeroThreshold {
				continue
			}
			k := refKey(v, schema)
			if !any {
				lo, hi, any = k, k, true
			}
			lo, hi = min(lo, k), max(hi, k)
		}
		if hi-lo+1 <= bound {
			break
		}
	}
	counts = map[int]uint64{}
	for _, v := range vs {
		if v <= nativeZeroThreshold {
			zero++
			continue
		}
		counts[refKey(v, schema)]++
	}
	return schema, zero, counts
}

func checkState(t *testing.T, h *histogram, vs []float64) {
	t.Helper()
	var st histState
	h.load(&st, true, false)
	schema, zero, counts := refState(vs, h.maxNative)
	if int(st.schema) != schema || st.zero != zero {
		t.Fatalf("schema, zero = %d, %d; want %d, %d", st.schema, st.zero, schema, zero)
	}
	if len(st.native) > h.maxNative || len(h.native) > h.maxNative {
		t.Fatalf("%d buckets (window %d), bound %d", len(st.native), len(h.native), h.maxNative)
	}
	got := map[int]uint64{}
	for i, c := range st.native {
		if c != 0 {
			got[st.offset+i] = c
		}
	}
	if len(got) != len(counts) {
		t.Fatalf("buckets %v, want %v", got, counts)
	}
	for k, c := range counts {
		if got[k] != c {
			t.Fatalf("bucket %d = %d, want %d (all: %v, want %v)", k, got[k], c, got, counts)
		}
	}
	if st.count != uint64(len(vs)) {
		t.Fatalf("count %d, want %d", st.count, len(vs))
	}
}

// Whatever the order and range of the values, a series ends with the
// buckets computed from the values alone, within its bound: the window
// moves, grows and widens without losing or misplacing a count.
func TestNativeWindow(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	logUniform := func(n int, lo, hi float64) []float64 {
		out := make([]float64, n)
		for i := range out {
			out[i] = math.Exp(math.Log(lo) + r.Float64()*(math.Log(hi)-math.Log(lo)))
		}
		return out
	}
	tests := []struct {
		name    string
		vs      []float64
		max     int
		wantMax int // the highest schema expected
	}{
		{"narrow", logUniform(1000, 1e-3, 2e-3), 160, 3},
		{"latency 10 µs to 60 s", logUniform(20000, 1e-5, 60), 160, 2},
		{"ascending", slices.Sorted(slices.Values(logUniform(5000, 1e-6, 1e3))), 160, 2},
		{"descending", func() []float64 {
			v := slices.Sorted(slices.Values(logUniform(5000, 1e-6, 1e3)))
			slices.Reverse(v)
			return v
		}(), 160, 2},
		{"whole range", append(logUniform(5000, 1e-30, 1e300), 0, math.MaxFloat64, math.Nextafter(nativeZeroThreshold, 1)), 160, -3},
		{"whole range at the least bound", append(logUniform(5000, 1e-38, 1e300), math.MaxFloat64, math.Nextafter(nativeZeroThreshold, 1)), minNativeBuckets, -4},
		{"zeros and tiny", []float64{0, 0, 1e-300, nativeZeroThreshold, 5e-324}, 160, 3},
		{"one outlier", append(logUniform(2000, 1e-3, 1e-1), 1e300), 160, -3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bs := newBucketSet(DefaultBuckets())
			h := newHistogram(bs, tt.max)
			for i, v := range tt.vs {
				h.observe(v)
				if i%997 == 0 {
					checkState(t, h, tt.vs[:i+1])
				}
			}
			checkState(t, h, tt.vs)
			if schema := nativeStartSchema - int(h.shift); schema > tt.wantMax {
				t.Errorf("schema %d, want at most %d", schema, tt.wantMax)
			}
		})
	}
}

// Concurrent observations, some widening the schema, and readers: no
// count is lost and the result is the one computed from the values.
func TestNativeConcurrent(t *testing.T) {
	h := newHistogram(newBucketSet(DefaultBuckets()), DefaultMaxNativeBuckets)
	const writers, each = 4, 5000
	vals := make([][]float64, writers)
	for w := range vals {
		r := rand.New(rand.NewPCG(uint64(w), 9))
		for range each {
			lo, hi := -6.0, 2.0
			if r.IntN(100) == 0 {
				lo, hi = -30, 30 // now and then far out: the schema widens under the others
			}
			vals[w] = append(vals[w], math.Pow(10, lo+r.Float64()*(hi-lo)))
		}
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var readers sync.WaitGroup
	readers.Add(1)
	go func() {
		defer readers.Done()
		var st histState
		for {
			select {
			case <-stop:
				return
			default:
			}
			h.load(&st, true, true)
			var n uint64
			for _, c := range st.native {
				n += c
			}
			if n+st.zero != st.count {
				t.Errorf("a reader saw %d native observations and a count of %d", n+st.zero, st.count)
				return
			}
		}
	}()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, v := range vals[w] {
				h.observe(v)
			}
		}()
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	checkState(t, h, slices.Concat(vals...))
}

// The exemplar labels the expositions write: trace_id and span_id in
// lowercase hex, the same as Exemplar.Labels.
func TestExemplarLabels(t *testing.T) {
	var e exemplarSlot
	for i := range e.trace {
		e.trace[i] = byte(0xf0 + i)
	}
	e.span[0], e.span[7], e.at = 0xab, 0x01, 1
	x := e.into(nil)
	got := string(x.appendLabels(nil))
	want := `trace_id="f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",span_id="ab00000000000001"`
	if got != want {
		t.Errorf("appendLabels = %s, want %s", got, want)
	}
	l := x.Labels()
	if l[0].Value != "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff" || l[1].Value != "ab00000000000001" {
		t.Errorf("Labels = %v", l)
	}
	if got := testing.AllocsPerRun(100, func() { _ = x.appendLabels(make([]byte, 0, 128)[:0]) }); got > 1 {
		t.Errorf("appendLabels: %v allocations, want none but the buffer's", got)
	}
}

// The classic bucket found through the native index is the one the
// binary search finds, for the default bounds and for odd ones: dense,
// zero and negative, tiny and huge, too wide for a lookup.
func TestClassicIndexAt(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	sets := [][]float64{
		DefaultBuckets(),
		{0.1, 0.5},
		{1},
		{-10, -1, 0, 0x1p-128, 1e-3, 1e-3 * 1.01, 1},
		{1, 1.01, 1.02, 1.03}, // four in one native bucket: no lookup
		{1e-300, 1e300},       // too wide: no lookup
		{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600},
		{math.Nextafter(1, 2), 2, math.Nextafter(2, 3)},
	}
	for _, b := range sets {
		h := newHistogram(newBucketSet(b), DefaultMaxNativeBuckets)
		vs := []float64{math.MaxFloat64, math.Nextafter(nativeZeroThreshold, 1)}
		for _, x := range b {
			vs = append(vs, x, math.Nextafter(x, math.Inf(-1)), math.Nextafter(x, math.Inf(1)))
		}
		for range 20000 {
			vs = append(vs, math.Exp2(-140+r.Float64()*200))
		}
		for _, v := range vs {
			if v <= nativeZeroThreshold {
				continue
			}
			if got, want := h.classicIndexAt(v, key3(v)), h.classicIndex(v); got != want {
				t.Fatalf("bounds %v: classic bucket of %v = %d, want %d", b, v, got, want)
			}
		}
	}
	if newBucketSet(DefaultBuckets()).below == nil {
		t.Errorf("the default buckets have no lookup")
	}
	if newBucketSet([]float64{1, 1.01, 1.02, 1.03}).below != nil {
		t.Errorf("four bounds in one native bucket have a lookup")
	}
}
