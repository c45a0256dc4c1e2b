package livedash

import (
	"math"
	"slices"
	"time"
)

// sampler reads the Source and the runtime once a second, from New to
// Close, whoever watches: every page's chart series and every series of
// the Source go into the history, and what it read is published for the
// open pages' tables. It keeps the last window+1 readings, for rates and
// quantiles, and is used by the Dashboard's sampling goroutine alone.
type sampler struct {
	src   Source
	rt    *runtimeReader
	snaps []*snap
	rts   []*rtState
	// pause holds the GC pause quantiles (p50, p99, max) of the latest
	// collections, and gcCPU the share of CPU they took, between the
	// collections that change them: the runtime updates its CPU estimates
	// only at a collection, and a window without one has no pause.
	pause [3]float64
	gcCPU float64
	batch []sample
}

// rtState is one reading of the runtime and the process.
type rtState struct {
	at                               time.Time
	heap, goal, total, released      float64
	cycles, allocs, objs, gor, procs float64
	cpu, cpuGC, cpuTotal             float64
	pauses, lat                      hist
}

// sampled is one second's reading, with the one window seconds before it
// (nil at first). It is never changed once published.
type sampled struct {
	cur, old  *snap
	rt, rtOld *rtState
	pause     [3]float64
	gcCPU     float64
}

func newSampler(src Source) *sampler {
	nan := math.NaN()
	return &sampler{src: src, pause: [3]float64{nan, nan, nan}, gcCPU: nan,
		rt: newRuntimeReader(rtHeapObjects, rtHeapGoal, rtTotal, rtReleased, rtGCCycles, rtPauses,
			rtGoroutines, rtLatencies, rtCPUGC, rtCPUTotal, rtGOMAXPROCS, rtAllocs, rtObjects)}
}

// sample reads the Source and the runtime once, and returns the reading
// and the value of every series the history keeps: each page's charts,
// then each series of the Source as the Metrics page charts it.
func (s *sampler) sample(now time.Time) (*sampled, []sample) {
	var fams []Family
	if s.src != nil {
		fams = s.src.Snapshot()
	}
	s.snaps = keepLast(s.snaps, newSnap(now, fams))
	r := s.rt
	r.read()
	st := &rtState{at: now, heap: r.value(rtHeapObjects), goal: r.value(rtHeapGoal), total: r.value(rtTotal),
		released: r.value(rtReleased), cycles: r.value(rtGCCycles), allocs: r.value(rtAllocs), objs: r.value(rtObjects),
		gor: r.value(rtGoroutines), procs: r.value(rtGOMAXPROCS), cpu: processCPU(), cpuGC: r.value(rtCPUGC),
		cpuTotal: r.value(rtCPUTotal), pauses: r.histogram(rtPauses), lat: r.histogram(rtLatencies)}
	s.rts = keepLast(s.rts, st)
	out := &sampled{cur: s.snaps[len(s.snaps)-1], rt: st}
	if len(s.snaps) > 1 {
		out.old, out.rtOld = s.snaps[0], s.rts[0]
		old := s.rts[0]
		if pd := st.pauses.minus(&old.pauses); pd.count > 0 {
			s.pause = [3]float64{pd.quantile(0.5), pd.quantile(0.99), pd.maxObserved()}
		}
		if dt := st.cpuTotal - old.cpuTotal; dt > 0 {
			s.gcCPU = math.Max(0, st.cpuGC-old.cpuGC) / dt * st.procs
		}
	}
	out.pause, out.gcCPU = s.pause, s.gcCPU

	b := s.batch[:0]
	for _, p := range chartPages {
		p.fn(out, &emit{group: p.id, batch: &b})
	}
	out.metricsLines(&b)
	s.batch = b
	return out, b
}

// keepLast appends x to xs and keeps the last window+1 elements.
func keepLast[T any](xs []T, x T) []T {
	if len(xs) > window {
		xs = slices.Delete(xs, 0, len(xs)-window)
	}
	return append(xs, x)
}

// chartPages are the pages whose charts the sampler computes, in the
// order their series claim places in the history.
var chartPages = []struct {
	id string
	fn func(*sampled, *emit)
}{
	{"home", (*sampled).home}, {"http", (*sampled).http}, {"db", (*sampled).db},
	{"ws", (*sampled).ws}, {"runtime", (*sampled).runtime},
}

// emit takes what a page's computation gives: chart values for the
// history (when batch is set: the sampler), tables for an update (when t
// is set: a view).
type emit struct {
	group string
	batch *[]sample
	t     *tick
}

func (e *emit) chart(chart, name string, v float64) {
	if e.batch != nil {
		*e.batch = append(*e.batch, sample{e.group, chart, name, v})
	}
}

// tables reports whether the tables are wanted.
func (e *emit) tables() bool { return e.t != nil }

func (e *emit) table(id string, rows []row) {
	if e.t != nil {
		e.t.table(id, rows)
	}
}

// secs is the time between the reading and the one before it.
func (s *sampled) secs() (float64, bool) {
	if s.old == nil {
		return 0, false
	}
	return s.cur.at.Sub(s.old.at).Seconds(), true
}

// metricsGroup is the history group of one series of the Source, as the
// Metrics page charts it.
func metricsGroup(family, id string) string {
	return "metrics\x00" + family + "\x00" + id
}

// seriesValue is one value the Metrics page shows of a series: its rate,
// value or a quantile.
type seriesValue struct {
	name string
	v    float64
}

// seriesValues returns what the Metrics page charts of series cur of f:
// a counter's rate, a gauge's value, a histogram's p50, p95 and p99 over
// the window (from its native buckets: see hist.quantile), prev being the
// series window seconds before (nil when it did not exist), or a
// summary's. A histogram's or summary's rate of observations comes fourth.
func seriesValues(f *Family, cur, prev *Series, secs float64, have bool) ([4]seriesValue, int) {
	var out [4]seriesValue
	switch f.Type {
	case "counter":
		pv := 0.0
		if prev != nil {
			pv = prev.Value
		}
		out[0] = seriesValue{"rate", rate(cur.Value, pv, secs, have && prev != nil)}
		return out, 1
	case "histogram":
		var h, ph hist
		h.add(cur)
		var pc float64
		if prev != nil {
			ph.add(prev)
			pc = float64(prev.Count)
		}
		d := h.minus(&ph)
		ok := have && prev != nil
		out[0] = seriesValue{"p50", q(ok, &d, 0.5)}
		out[1] = seriesValue{"p95", q(ok, &d, 0.95)}
		out[2] = seriesValue{"p99", q(ok, &d, 0.99)}
		out[3] = seriesValue{"rate", rate(float64(cur.Count), pc, secs, ok)}
		return out, 4
	case "summary":
		// The objectives are the summary's own (the runtime's GC pauses:
		// over its last 256 collections), not over the window.
		var pc float64
		if prev != nil {
			pc = float64(prev.Count)
		}
		out[0] = seriesValue{"p50", cur.Quantile(0.5)}
		out[1] = seriesValue{"p95", cur.Quantile(0.95)}
		out[2] = seriesValue{"p99", cur.Quantile(0.99)}
		out[3] = seriesValue{"rate", rate(float64(cur.Count), pc, secs, have && prev != nil)}
		return out, 4
	}
	out[0] = seriesValue{"value", cur.Value}
	return out, 1
}

// metricsLines adds the chart values of every series of the Source.
func (s *sampled) metricsLines(b *[]sample) {
	secs, have := s.secs()
	for fi := range s.cur.list {
		f := &s.cur.list[fi]
		n := 3 // a histogram's or summary's chart: its quantiles
		if f.Type != "histogram" && f.Type != "summary" {
			n = 1
		}
		for i := range f.Series {
			id := s.cur.ids[fi][i]
			vals, _ := seriesValues(f, &f.Series[i], s.old.series(f.Name, id), secs, have)
			g := metricsGroup(f.Name, id)
			for _, sv := range vals[:n] {
				*b = append(*b, sample{g, "series", sv.name, sv.v})
			}
		}
	}
}
