package livedash

import (
	"math"
	"testing"
	"unsafe"
)

func histOf(bounds []float64, counts ...uint64) hist {
	h := hist{bounds: bounds, counts: counts}
	h.count = counts[len(counts)-1]
	return h
}

func TestQuantile(t *testing.T) {
	inf := math.Inf(1)
	b := []float64{0.1, 0.5, 1, inf}
	tests := []struct {
		name string
		h    hist
		q    float64
		want float64
	}{
		// 100 observations, all in (0.1, 0.5]: the median is interpolated
		// half-way through that bucket.
		{"middle of a bucket", histOf(b, 0, 100, 100, 100), 0.5, 0.3},
		{"first bucket from zero", histOf(b, 10, 10, 10, 10), 0.5, 0.05},
		{"p95 across buckets", histOf(b, 50, 90, 100, 100), 0.95, 0.75},
		{"in +Inf: highest finite bound", histOf(b, 0, 0, 0, 10), 0.5, 1},
		{"empty", histOf(b, 0, 0, 0, 0), 0.5, math.NaN()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.h.quantile(tt.q)
			if math.IsNaN(tt.want) != math.IsNaN(got) || (!math.IsNaN(got) && math.Abs(got-tt.want) > 1e-9) {
				t.Errorf("quantile(%v) = %v, want %v", tt.q, got, tt.want)
			}
		})
	}
}

func TestHistMinusAndMerge(t *testing.T) {
	inf := math.Inf(1)
	var cur, prev hist
	cur.add(&Series{Count: 10, Sum: 2, Buckets: []Bucket{{UpperBound: 0.1, Count: 4}, {UpperBound: 1, Count: 9}, {UpperBound: inf, Count: 10}}})
	cur.add(&Series{Count: 5, Sum: 1, Buckets: []Bucket{{UpperBound: 0.1, Count: 5}, {UpperBound: 1, Count: 5}, {UpperBound: inf, Count: 5}}})
	cur.add(&Series{Count: 99, Buckets: []Bucket{{UpperBound: 0.2, Count: 99}, {UpperBound: inf, Count: 99}}}) // other bounds: left out
	prev.add(&Series{Count: 4, Sum: 1, Buckets: []Bucket{{UpperBound: 0.1, Count: 2}, {UpperBound: 1, Count: 4}, {UpperBound: inf, Count: 4}}})
	d := cur.minus(&prev)
	want := []uint64{7, 10, 11}
	for i := range want {
		if d.counts[i] != want[i] {
			t.Fatalf("delta counts = %v, want %v", d.counts, want)
		}
	}
	if d.count != 11 || d.sum != 2 {
		t.Errorf("delta count, sum = %d, %v; want 11, 2", d.count, d.sum)
	}
	// A reset (smaller than before) counts as nothing, not as negative.
	r := prev.minus(&cur)
	for _, c := range r.counts {
		if c != 0 {
			t.Fatalf("reset delta = %v, want zeros", r.counts)
		}
	}
}

func TestRate(t *testing.T) {
	if got := rate(110, 100, 5, true); got != 2 {
		t.Errorf("rate = %v, want 2", got)
	}
	if got := rate(5, 100, 5, true); got != 0 {
		t.Errorf("rate after a reset = %v, want 0", got)
	}
	if got := rate(5, 0, 5, false); !math.IsNaN(got) {
		t.Errorf("rate without a previous state = %v, want NaN", got)
	}
}

// The headline history has a fixed size, whatever is added to it.
func TestHistoryIsBounded(t *testing.T) {
	var h history
	if size := int(unsafe.Sizeof(h)); size > HistoryBytes+256 {
		t.Errorf("history takes %d bytes, documented as %d", size, HistoryBytes)
	}
	for i := range 3 * HistoryPoints {
		h.add(int64(i), [len(headline)]float64{float64(i)})
	}
	pts := h.points()
	if len(pts) != HistoryPoints {
		t.Fatalf("%d points kept, want %d", len(pts), HistoryPoints)
	}
	if pts[0].T != 2*HistoryPoints || pts[len(pts)-1].T != 3*HistoryPoints-1 {
		t.Errorf("kept points from %d to %d, want the newest %d", pts[0].T, pts[len(pts)-1].T, HistoryPoints)
	}
	for i, p := range pts {
		if float64(p.V[0]) != float64(p.T) {
			t.Fatalf("point %d = %+v: value does not match its time", i, p)
		}
	}
	if a := testing.AllocsPerRun(100, func() { h.add(1, [len(headline)]float64{}) }); a != 0 {
		t.Errorf("add allocates %v times", a)
	}
	if HistoryBytes > 50<<10 {
		t.Errorf("HistoryBytes = %d, over the 50 KiB the package documents", HistoryBytes)
	}
}
