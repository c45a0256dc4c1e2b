package livedash

import (
	"math"
	"strconv"
	"testing"
	"time"
	"unsafe"

	"github.com/realtimeserver/observability/metricsink"
	"github.com/realtimeserver/observability/metricsink/prometheus"
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

// The history keeps at most its bound of series, HistoryPoints points
// each: past the bound a new series waits for a page to show it, and then
// takes the place of the one viewed least recently, which is counted.
func TestHistoryIsBounded(t *testing.T) {
	if size := int(unsafe.Sizeof(line{})); size > HistoryPoints*4+64 || MaxHistorySeries*size > HistoryBytes+MaxHistorySeries*64 {
		t.Errorf("a series takes %d bytes, %d for %d: documented as %d", size, MaxHistorySeries*size, MaxHistorySeries, HistoryBytes)
	}
	h := newHistStore(4)
	batch := func(groups ...string) []sample {
		var b []sample
		for _, g := range groups {
			b = append(b, sample{g, "c", "a", 1}, sample{g, "c", "b", 2})
		}
		return b
	}
	for i := range 3 * HistoryPoints {
		h.commit(int64(i), batch("x", "y", "z"))
	}
	lines, untracked, evicted := h.stats()
	if lines != 4 || untracked != 2 || evicted != 0 {
		t.Errorf("lines, untracked, evicted = %d, %d, %d; want 4, 2, 0", lines, untracked, evicted)
	}
	c, tick := h.read("x", 0)
	if tick != 3*HistoryPoints || len(c.t) != HistoryPoints || c.t[0] != 2*HistoryPoints || c.t[len(c.t)-1] != 3*HistoryPoints-1 {
		t.Fatalf("read %d points from %d to %d at tick %d, want the newest %d", len(c.t), c.t[0], c.t[len(c.t)-1], tick, HistoryPoints)
	}
	if c.last("c", "b") != 2 {
		t.Errorf("last value of x/c/b = %v, want 2", c.last("c", "b"))
	}
	// Nothing new since: nothing read.
	if c, _ := h.read("x", tick); c != nil {
		t.Errorf("read after the last tick = %+v, want nil", c)
	}
	xy := batch("x", "y")
	if a := testing.AllocsPerRun(100, func() { h.commit(1, xy) }); a != 0 {
		t.Errorf("commit allocates %v times", a)
	}

	// A page shows z: its series take the places of y's, viewed never.
	h.read("z", 0)
	h.commit(1, batch("x", "y", "z"))
	h.commit(1, batch("x", "y", "z"))
	lines, untracked, evicted = h.stats()
	if lines != 4 || untracked != 2 || evicted != 2 {
		t.Errorf("after z was shown: lines, untracked, evicted = %d, %d, %d; want 4, 2, 2", lines, untracked, evicted)
	}
	if c, _ := h.read("z", 0); c == nil || len(c.t) != 2 || c.last("c", "a") != 1 {
		t.Errorf("z's history once shown = %+v, want the two points since", c)
	}
	if c, _ := h.read("y", 0); c == nil || len(c.lines) != 0 {
		t.Errorf("y's history once dropped = %+v, want no line", c)
	}

	// Series without a value for the whole history are let go.
	for range HistoryPoints {
		h.commit(1, nil)
	}
	if lines, _, _ := h.stats(); lines != 0 {
		t.Errorf("%d lines kept after %d ticks without values, want 0", lines, HistoryPoints)
	}
}

// A chart sends at most maxLinesSent lines in full, the largest.
func TestHistoryFirstReadIsBounded(t *testing.T) {
	h := newHistStore(MaxHistorySeries)
	var b []sample
	for i := range 3 * maxLinesSent {
		b = append(b, sample{"p", "c", strconv.Itoa(i), float64(i)}, sample{"p", "d", strconv.Itoa(i), float64(i)})
	}
	for range 10 {
		h.commit(1, b)
	}
	c, _ := h.read("p", 0)
	per := map[string]int{}
	for _, l := range c.lines {
		per[l.chart]++
		if n, _ := strconv.Atoi(l.name); n < 2*maxLinesSent {
			t.Errorf("line %s/%s sent, want the %d largest alone", l.chart, l.name, maxLinesSent)
		}
	}
	if per["c"] != maxLinesSent || per["d"] != maxLinesSent {
		t.Errorf("lines sent per chart = %v, want %d", per, maxLinesSent)
	}
	// Later reads carry every line's new points.
	h.commit(2, b)
	if c, _ := h.read("p", 10); len(c.lines) != len(b) || len(c.t) != 1 {
		t.Errorf("an update carries %d lines of %d points, want %d of 1", len(c.lines), len(c.t), len(b))
	}
}

// The points before any series had a value are not sent; NaN is null.
func TestHistoryChunkJSON(t *testing.T) {
	h := newHistStore(8)
	h.commit(1, nil)
	h.commit(2, []sample{{"p", "c", "a", math.NaN()}})
	h.commit(3, []sample{{"p", "c", "a", 1.5}, {"p", "c", "b\"<", 2}})
	h.commit(4, []sample{{"p", "c", "a", math.Inf(1)}})
	c, _ := h.read("p", 0)
	b, err := c.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"t":[3,4],"charts":{"c":{"a":[1.5,null],"b\"<":[2,null]}}}`
	if string(b) != want {
		t.Errorf("chunk = %s\nwant    %s", b, want)
	}
}

func TestReadableDurations(t *testing.T) {
	for in, want := range map[string]string{
		"174.584668ms": "174.6 ms", "150ms": "150 ms", "1.5s": "1.5 s", "12.3456s": "12.35 s",
		"850.26µs": "850.3 µs", "999ns": "999 ns", "7m57.2s": "7 min 57 s", "2h0m5s": "2 h 5 s",
		"not a duration": "not a duration",
	} {
		if got := readableDuration(in); got != want {
			t.Errorf("readableDuration(%q) = %q, want %q", in, got, want)
		}
	}
	if got := spokenSpan(50*time.Hour + 3*time.Second); got != "2 d 2 h 3 s" {
		t.Errorf("spokenSpan(50 h 3 s) = %q", got)
	}
}

// The HTTP page's quantiles come from the native buckets of the
// registry's histograms, over the window: requests of 400 and 450 µs
// read as such (the classic buckets, 250 to 500 µs, would give 375 µs and
// 498 µs), merged over the series of a route, without the slower
// requests before the window.
func TestHTTPQuantilesFromNativeBuckets(t *testing.T) {
	reg, err := prometheus.New(&prometheus.Options{DisableRuntimeMetrics: true})
	if err != nil {
		t.Fatal(err)
	}
	ok := metricsink.NewTimer(reg, "http.request.duration", metricsink.KV("route", "GET /", "method", "GET", "status", "200"))
	missing := metricsink.NewTimer(reg, "http.request.duration", metricsink.KV("route", "GET /", "method", "GET", "status", "404"))
	for range 500 {
		ok.Observe(20 * time.Millisecond) // before the window
	}
	t0 := time.Now()
	old := newSnap(t0, reg.Snapshot())
	for range 1000 {
		ok.Observe(400 * time.Microsecond)
		missing.Observe(450 * time.Microsecond)
	}
	s := &sampled{cur: newSnap(t0.Add(window*time.Second), reg.Snapshot()), old: old}
	tk := &tick{}
	s.http(&emit{group: "http", t: tk})
	rows := tk.Tables["requests"]
	if len(rows) != 2 {
		t.Fatalf("rows = %v, want one per status", rows)
	}
	for _, r := range rows {
		want := 400e-6
		if r["status"] == "404" {
			want = 450e-6
		}
		for _, k := range []string{"p50", "p95", "p99"} {
			got := float64(r[k].(jsonFloat))
			if math.Abs(got-want)/want > 0.05 {
				t.Errorf("status %v: %s = %v, want %v within 5%%", r["status"], k, got, want)
			}
		}
	}
	// By route, the two series merged: p50 400 µs, p99 450 µs.
	g := newGrouper("route")
	g.histograms(s.cur.family(famHTTPDuration), s.old.family(famHTTPDuration))
	gr := g.get([]metricsink.Tag{{Key: "route", Value: "GET /"}})
	d := gr.h.minus(&gr.ph)
	for q, want := range map[float64]float64{0.5: 400e-6, 0.99: 450e-6} {
		if got := d.quantile(q); math.Abs(got-want)/want > 0.05 {
			t.Errorf("merged p%g = %v, want %v within 5%%", q*100, got, want)
		}
	}
}
