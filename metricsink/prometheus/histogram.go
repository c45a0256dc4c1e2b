package prometheus

import (
	"math"
	"sync"
	"sync/atomic"

	"github.com/realtimeserver/observability/metricsink"
)

// Every histogram series keeps two views of its observations: the classic
// buckets of its family (le bounds) and native buckets, the sparse
// exponential buckets of Prometheus' native histograms. At schema n the
// native bucket of index i counts the observations in (base^(i-1),
// base^i], base = 2^(2^-n); a zero bucket counts those at most
// nativeZeroThreshold. A series starts at schema 3 (base 2^(1/8), about
// 9% between bounds, 4.3% of relative error from a bucket's middle) and
// keeps at most Options.MaxNativeBuckets buckets, counted from its lowest
// to its highest (the dense window it stores); an observation that would
// need more halves the resolution (schema-1, pairs of buckets merged), as
// Prometheus does, down to schema -4, where every finite value fits in 72
// buckets.
//
// Concurrency: everything of one series (count, sum, classic and native
// buckets, exemplars) is under one mutex, which an observation holds for a
// few increments and nothing else: no call, no allocation. An uncontended
// Lock and Unlock cost two atomic operations, what the lock-free classic
// histogram paid before (a bucket's atomic add and the sum's
// compare-and-swap); a lock-free native window would need a writers count
// or hot and cold copies (client_golang's design) to grow without losing
// counts, which costs more atomic operations per observation. Under the
// lock every reader sees one consistent state: the count equals the sum of
// the classic buckets and of the native ones, and an exemplar is never
// newer than the counts. Growing the window allocates outside the lock
// (unlock, allocate, lock, look again), and at most a few times in a
// series' life, the window being bounded.
//
// Exemplars are kept in the same lock: one slot per classic bucket and
// one for the latest overall, preallocated on a series' first exemplar and
// overwritten in place, so that storing one costs a copy of 48 bytes and
// no allocation, and a reader never sees a half-written one.

// Native histogram parameters.
const (
	// nativeStartSchema is the schema every series starts at.
	nativeStartSchema = 3
	// nativeMinSchema is the coarsest schema Prometheus defines.
	nativeMinSchema = -4
	// nativeZeroThreshold is the upper bound of the zero bucket: 2^-128,
	// client_golang's default (DefNativeHistogramZeroThreshold).
	nativeZeroThreshold = 0x1p-128
	// minNativeBuckets is what every finite value above the zero
	// threshold needs at schema -4: indexes -7 (just above 2^-128) to 64
	// (math.MaxFloat64).
	minNativeBuckets = 72
	// nativeFirstWindow is the window a series allocates on its first
	// observation above the zero bucket; it doubles when it must grow.
	nativeFirstWindow = 16
)

// DefaultMaxNativeBuckets is the default of Options.MaxNativeBuckets, as
// client_golang's NativeHistogramMaxBucketNumber is commonly set.
const DefaultMaxNativeBuckets = 160

// schema3Bounds are the bounds of schema 3 within one power of two,
// 2^(j/8-1), as client_golang and Prometheus write them (their
// nativeHistogramBounds and exponentialBounds tables): a value is in the
// bucket whose bound is the first not below its fraction (math.Frexp).
var schema3Bounds = [8]float64{
	0.5, 0.5452538663326288, 0.5946035575013605, 0.6484197773255048,
	0.7071067811865475, 0.7711054127039704, 0.8408964152537144, 0.9170040432046711,
}

// keyCell is what the top 4 bits of a mantissa say of its place among the
// schema-3 bounds: how many bounds lie below the cell, and the mantissa of
// the one bound within it (1<<52, above every mantissa, when none).
type keyCell struct {
	below uint64
	mant  uint64
}

// keyCells is the lookup that replaces the binary search of client_golang
// (sort.SearchFloat64s over schema3Bounds) by one load and one comparison:
// cells of 1/16 of an octave's mantissa hold at most one bound each,
// bounds being at least 9% apart. key3 agrees with math.Frexp and the
// search on every value (TestNativeKeyMatchesFrexp).
var keyCells = func() (c [16]keyCell) {
	for i := range c {
		c[i].mant = 1 << 52
		for _, b := range schema3Bounds {
			m := math.Float64bits(b) & (1<<52 - 1)
			switch {
			case m < uint64(i)<<48:
				c[i].below++
			case m < uint64(i+1)<<48:
				if c[i].mant != 1<<52 {
					panic("prometheus: two schema-3 bounds in one key cell")
				}
				c[i].mant = m
			}
		}
	}
	return c
}()

// key3 returns the schema-3 index of v, a normal positive float64 (above
// the zero threshold, at most math.MaxFloat64): with frac, exp =
// math.Frexp(v), the index of the first bound not below frac, plus
// (exp-1)*8, as client_golang computes it.
func key3(v float64) int {
	bits := math.Float64bits(v)
	m := bits & (1<<52 - 1)
	c := &keyCells[m>>48]
	i := c.below
	if m > c.mant {
		i++
	}
	// v = 1.m × 2^e; Frexp's exp is e+1.
	return (int(bits>>52)-1023)*8 + int(i)
}

// keyAt returns the index at the schema 3-shift of the value whose
// schema-3 index is k3: the bucket of that schema holding bucket k3, as
// Prometheus merges buckets when it lowers a schema (ceil(k3 / 2^shift)).
func keyAt(k3 int, shift uint) int { return (k3 + (1<<shift - 1)) >> shift }

// exemplarSlot is one kept exemplar; at 0 means none.
type exemplarSlot struct {
	trace [16]byte
	span  [8]byte
	value float64
	at    int64 // Unix nanoseconds
}

func (e *exemplarSlot) set(ex *metricsink.Exemplar, v float64, at int64) {
	e.trace, e.span, e.value, e.at = ex.TraceID, ex.SpanID, v, at
}

// exemplarSlots are a series' exemplars: the latest of each classic
// bucket, and the latest overall (the native histogram's).
type exemplarSlots struct {
	classic []exemplarSlot
	latest  exemplarSlot
}

// histogram is the state of one histogram series.
type histogram struct {
	set       *bucketSet // the family's classic buckets when the series was made
	bounds    []float64  // set.bounds
	maxNative int        // the most native buckets

	ex atomic.Pointer[exemplarSlots] // nil until the first exemplar

	mu      sync.Mutex
	sum     float64
	classic []uint64 // per classic bucket, +Inf last; not cumulative
	zero    uint64   // the native zero bucket
	shift   uint     // 3 - schema: 0 to 7
	offset  int      // the native index of native[0]
	native  []uint64 // the window of native buckets; nil until needed
}

func newHistogram(set *bucketSet, maxNative int) *histogram {
	return &histogram{set: set, bounds: set.bounds, maxNative: maxNative, classic: make([]uint64, len(set.bounds)+1)}
}

// classicIndexAt returns the classic bucket of v, above the zero
// threshold and of schema-3 index k3: from the bucketSet's lookup, a
// comparison or two, or by classicIndex.
func (h *histogram) classicIndexAt(v float64, k3 int) int {
	set := h.set
	j := k3 - set.first
	switch {
	case set.below == nil:
		return h.classicIndex(v)
	case j < 0:
		// v is below the native bucket of the lowest bound above the
		// zero threshold: above those at most the threshold alone.
		j = int(set.below[0])
	case j >= len(set.below):
		return len(h.bounds) // v is above the highest bound's native bucket
	default:
		j = int(set.below[j])
	}
	for j < len(h.bounds) && v > h.bounds[j] {
		j++
	}
	return j
}

// classicIndex returns the classic bucket of v.
func (h *histogram) classicIndex(v float64) int {
	i := 0
	if n := len(h.bounds); n <= 16 {
		for i < n && v > h.bounds[i] {
			i++
		}
	} else {
		lo, hi := 0, n
		for lo < hi {
			m := int(uint(lo+hi) >> 1)
			if v > h.bounds[m] {
				lo = m + 1
			} else {
				hi = m
			}
		}
		i = lo
	}
	return i
}

// observe records v, finite and not negative.
func (h *histogram) observe(v float64) { h.record(v, nil, 0) }

// record records v, finite and not negative, and ex, when not nil, as the
// exemplar of v's bucket and the latest one, stamped at (Unix
// nanoseconds).
func (h *histogram) record(v float64, ex *metricsink.Exemplar, at int64) {
	var i, k3 int
	zero := v <= nativeZeroThreshold
	if zero {
		i = h.classicIndex(v)
	} else {
		k3 = key3(v)
		i = h.classicIndexAt(v, k3)
	}
	var slots *exemplarSlots
	if ex != nil {
		slots = h.exemplars()
	}
	h.mu.Lock()
	if zero {
		h.zero++
	} else {
		k := keyAt(k3, h.shift)
		j := k - h.offset
		if uint(j) >= uint(len(h.native)) {
			j = h.placeLocked(k3)
		}
		h.native[j]++
	}
	h.sum += v
	h.classic[i]++
	if slots != nil {
		slots.classic[i].set(ex, v, at)
		slots.latest.set(ex, v, at)
	}
	h.mu.Unlock()
}

// exemplars returns the series' exemplar slots, allocating them the first
// time.
func (h *histogram) exemplars() *exemplarSlots {
	if s := h.ex.Load(); s != nil {
		return s
	}
	h.ex.CompareAndSwap(nil, &exemplarSlots{classic: make([]exemplarSlot, len(h.bounds)+1)})
	return h.ex.Load()
}

// placeLocked makes room in the native window for the value of schema-3
// index k3 and returns its place. It lowers the schema while the window
// would span more than maxNative buckets, moves the window within its
// slice when that is enough, and otherwise allocates a larger one: with
// the lock released, the state being looked at again once it is taken
// back. Called and returning with h.mu held.
func (h *histogram) placeLocked(k3 int) int {
	var fresh []uint64
	for {
		k := keyAt(k3, h.shift)
		lo, hi := k, k
		if plo, phi, ok := h.populatedLocked(); ok {
			lo, hi = min(lo, plo), max(hi, phi)
		}
		n := hi - lo + 1
		if n > h.maxNative && h.shift < nativeStartSchema-nativeMinSchema {
			h.widenLocked()
			continue
		}
		switch {
		case n <= len(h.native):
			h.moveLocked(h.native, lo, hi)
			return k - h.offset
		case n <= len(fresh):
			h.moveLocked(fresh, lo, hi)
			return k - h.offset
		}
		size := max(n, min(h.maxNative, max(n+nativeFirstWindow/2, 2*len(h.native), nativeFirstWindow)))
		h.mu.Unlock()
		fresh = make([]uint64, size)
		h.mu.Lock()
	}
}

// populatedLocked returns the native indexes of the lowest and the highest
// non-empty bucket of the window, and false when all are empty.
func (h *histogram) populatedLocked() (lo, hi int, ok bool) {
	first, last := -1, -1
	for i, c := range h.native {
		if c != 0 {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 {
		return 0, 0, false
	}
	return h.offset + first, h.offset + last, true
}

// moveLocked makes dst (h.native or a zeroed slice at least hi-lo+1 long)
// the window, placed to hold the indexes lo to hi with the same room on
// either side, the counts moved into it.
func (h *histogram) moveLocked(dst []uint64, lo, hi int) {
	off := lo - (len(dst)-(hi-lo+1))/2
	if plo, phi, ok := h.populatedLocked(); ok {
		src := h.native[plo-h.offset : phi-h.offset+1]
		d := plo - off
		copy(dst[d:], src)
		if len(dst) > 0 && len(h.native) > 0 && &dst[0] == &h.native[0] {
			clear(dst[:d])
			clear(dst[d+len(src):])
		}
	}
	h.native, h.offset = dst, off
}

// widenLocked lowers the schema by one: each pair of buckets becomes one
// (index k becomes ceil(k/2)), in place; the window keeps its length and
// its counts end up in its lower half.
func (h *histogram) widenLocked() {
	off := (h.offset + 1) >> 1
	for i, c := range h.native {
		if c == 0 {
			continue
		}
		h.native[i] = 0
		h.native[(h.offset+i+1)>>1-off] += c // never above i: already moved
	}
	h.offset = off
	h.shift++
}

// histState is a copy of a histogram series' state, read at once.
type histState struct {
	sum     float64
	count   uint64
	classic []uint64 // per classic bucket, +Inf last; not cumulative

	// The native buckets (when loaded): the zero bucket, then native[i]
	// observations in bucket offset+i at schema; native runs from the
	// lowest non-empty bucket to the highest.
	schema int32
	zero   uint64
	offset int
	native []uint64

	// Exemplars (when loaded and the series has any): the latest of each
	// classic bucket (a zero at when none), and the latest overall.
	exemplars []exemplarSlot
	latest    exemplarSlot
}

// load copies the series' state into st, reusing st's slices: the count,
// sum and classic buckets, and when asked the native buckets and the
// exemplars. No allocation happens under the lock.
func (h *histogram) load(st *histState, native, exemplars bool) {
	st.classic = grow(st.classic, len(h.classic))
	if native {
		st.native = grow(st.native, h.maxNative)
	}
	var slots *exemplarSlots
	st.exemplars = st.exemplars[:0]
	st.latest = exemplarSlot{}
	if exemplars {
		if slots = h.ex.Load(); slots != nil {
			st.exemplars = grow(st.exemplars, len(slots.classic))
		}
	}
	h.mu.Lock()
	copy(st.classic, h.classic)
	st.sum = h.sum
	if native {
		st.schema = nativeStartSchema - int32(h.shift)
		st.zero = h.zero
		st.native = st.native[:0]
		st.offset = 0
		if lo, hi, ok := h.populatedLocked(); ok {
			st.offset = lo
			st.native = append(st.native, h.native[lo-h.offset:hi-h.offset+1]...)
		}
	}
	if slots != nil {
		copy(st.exemplars, slots.classic)
		st.latest = slots.latest
	}
	h.mu.Unlock()
	st.count = 0
	for _, c := range st.classic {
		st.count += c
	}
}

// grow returns s with length n, reusing its array when large enough.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
