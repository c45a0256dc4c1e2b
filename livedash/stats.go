package livedash

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/realtimeserver/observability/metricsink"
	"github.com/realtimeserver/observability/metricsink/prometheus"
)

// snap is one snapshot of the Source, indexed by family name and, within
// each family, by series (its label string). It is not changed once made,
// so that views read it while the sampler goes on.
type snap struct {
	at   time.Time
	list []Family
	fams map[string]int   // family name -> index in list
	ids  [][]string       // per family, each series' labelString
	byID []map[string]int // per family, labelString -> index in Series
}

func newSnap(at time.Time, fams []Family) *snap {
	s := &snap{at: at, fams: make(map[string]int, len(fams)), list: fams,
		ids: make([][]string, len(fams)), byID: make([]map[string]int, len(fams))}
	for i := range fams {
		s.fams[fams[i].Name] = i
		ids := make([]string, len(fams[i].Series))
		by := make(map[string]int, len(ids))
		for j := range fams[i].Series {
			ids[j] = labelString(fams[i].Series[j].Labels)
			by[ids[j]] = j
		}
		s.ids[i], s.byID[i] = ids, by
	}
	return s
}

func (s *snap) family(name string) *Family {
	if s == nil {
		return nil
	}
	if i, ok := s.fams[name]; ok {
		return &s.list[i]
	}
	return nil
}

// series returns the series of family fam whose labelString is id, or nil.
func (s *snap) series(fam, id string) *Series {
	if s == nil {
		return nil
	}
	i, ok := s.fams[fam]
	if !ok {
		return nil
	}
	j, ok := s.byID[i][id]
	if !ok {
		return nil
	}
	return &s.list[i].Series[j]
}

// label returns the value of key among ls, or "".
func label(ls []metricsink.Tag, key string) string {
	for _, t := range ls {
		if t.Key == key {
			return t.Value
		}
	}
	return ""
}

// labelString renders ls as k="v",… in the order given: the identity of
// a series within its family.
func labelString(ls []metricsink.Tag) string {
	var b strings.Builder
	for i, t := range ls {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(t.Key)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(t.Value))
	}
	return b.String()
}

// hist is a histogram, possibly the merge of several series: classic
// buckets, cumulative (counts[i] observations were at most bounds[i]; the
// last bound is +Inf), and the series' native buckets when every series
// merged has them, which is where quantiles come from then.
type hist struct {
	bounds []float64
	counts []uint64
	count  uint64
	sum    float64

	nat prometheus.NativeHistogram
	// series merged, and of them those with native buckets
	series, natSeries int
}

// add merges s into h. Classic buckets whose bounds differ from the first
// series' are left out of the classic merge (a family's series share
// bounds in practice); native buckets of any schema merge, at the lowest.
func (h *hist) add(s *Series) {
	if len(s.Buckets) == 0 && s.Native == nil {
		return
	}
	h.series++
	if s.Native != nil {
		h.natSeries++
		h.nat = h.nat.Add(*s.Native)
	}
	if len(s.Buckets) == 0 {
		return
	}
	if h.bounds == nil {
		h.bounds = make([]float64, len(s.Buckets))
		h.counts = make([]uint64, len(s.Buckets))
		for i, b := range s.Buckets {
			h.bounds[i] = b.UpperBound
		}
	} else if len(h.bounds) != len(s.Buckets) {
		return
	}
	for i, b := range s.Buckets {
		if h.bounds[i] != b.UpperBound {
			return
		}
	}
	for i, b := range s.Buckets {
		h.counts[i] += b.Count
	}
	h.count += s.Count
	h.sum += s.Sum
}

// native reports whether h's quantiles come from its native buckets:
// every series merged had them.
func (h *hist) native() bool { return h.natSeries > 0 && h.natSeries == h.series }

// minus returns h less an earlier state of it, clamping at zero (a series
// that went away or was reset).
func (h *hist) minus(prev *hist) hist {
	d := hist{bounds: h.bounds, counts: slices.Clone(h.counts), count: h.count, sum: h.sum,
		nat: h.nat, series: h.series, natSeries: h.natSeries}
	if prev == nil {
		return d
	}
	if h.native() && (prev.series == 0 || prev.native()) {
		d.nat = h.nat.Sub(prev.nat)
	} else {
		d.natSeries = 0
	}
	if len(prev.counts) != len(h.counts) {
		return d
	}
	for i := range d.counts {
		d.counts[i] = subClamp(d.counts[i], prev.counts[i])
	}
	d.count = subClamp(d.count, prev.count)
	d.sum = math.Max(0, d.sum-prev.sum)
	return d
}

func subClamp(a, b uint64) uint64 {
	if a < b {
		return 0
	}
	return a - b
}

// quantile estimates the q-quantile (0 < q < 1): from the native buckets
// when every series merged has them (prometheus.NativeHistogram.Quantile),
// otherwise from the classic buckets by linear interpolation within the
// bucket that holds it, as Prometheus's histogram_quantile does, an answer
// in the +Inf bucket being the highest finite bound
// (prometheus.Series.Quantile). It is NaN when the histogram is empty.
func (h *hist) quantile(q float64) float64 {
	if h.native() {
		return h.nat.Quantile(q)
	}
	bs := make([]Bucket, len(h.counts))
	for i, c := range h.counts {
		bs[i] = Bucket{UpperBound: h.bounds[i], Count: c}
	}
	return Series{Buckets: bs}.Quantile(q)
}

// group is what one table row or chart line adds up: a counter total and
// a merged histogram, now and at the start of the window.
type group struct {
	labels      []metricsink.Tag // the grouping labels
	total, prev float64
	errs, prevE float64
	h, ph       hist
	gauge       float64
}

// groups sums family name's series by the values of keys, now (cur) and at
// the window's start (old). errKey, when set, picks the series whose value
// for errKey starts with '5' as errors (HTTP status).
type grouper struct {
	keys  []string
	byKey map[string]*group
	order []string
}

func newGrouper(keys ...string) *grouper {
	return &grouper{keys: keys, byKey: map[string]*group{}}
}

func (g *grouper) get(ls []metricsink.Tag) *group {
	var b strings.Builder
	for _, k := range g.keys {
		b.WriteString(label(ls, k))
		b.WriteByte(0)
	}
	id := b.String()
	gr := g.byKey[id]
	if gr == nil {
		gr = &group{}
		for _, k := range g.keys {
			gr.labels = append(gr.labels, metricsink.Tag{Key: k, Value: label(ls, k)})
		}
		g.byKey[id] = gr
		g.order = append(g.order, id)
	}
	return gr
}

func (g *grouper) counters(cur, old *Family, is5xx bool) {
	if cur == nil {
		return
	}
	for i := range cur.Series {
		s := &cur.Series[i]
		gr := g.get(s.Labels)
		gr.total += s.Value
		if is5xx && strings.HasPrefix(label(s.Labels, "status"), "5") {
			gr.errs += s.Value
		}
	}
	if old == nil {
		return
	}
	for i := range old.Series {
		s := &old.Series[i]
		gr := g.get(s.Labels)
		gr.prev += s.Value
		if is5xx && strings.HasPrefix(label(s.Labels, "status"), "5") {
			gr.prevE += s.Value
		}
	}
}

func (g *grouper) histograms(cur, old *Family) {
	if cur == nil {
		return
	}
	for i := range cur.Series {
		g.get(cur.Series[i].Labels).h.add(&cur.Series[i])
	}
	if old == nil {
		return
	}
	for i := range old.Series {
		g.get(old.Series[i].Labels).ph.add(&old.Series[i])
	}
}

func (g *grouper) gauges(cur *Family) {
	if cur == nil {
		return
	}
	for i := range cur.Series {
		g.get(cur.Series[i].Labels).gauge += cur.Series[i].Value
	}
}

func (g *grouper) each(f func(*group)) {
	for _, id := range g.order {
		f(g.byKey[id])
	}
}

// rate is the increase per second over secs, NaN without an earlier
// state; a drop (a reset, or a series gone) counts as no increase.
func rate(cur, prev, secs float64, havePrev bool) float64 {
	if !havePrev || secs <= 0 {
		return math.NaN()
	}
	return math.Max(0, cur-prev) / secs
}

func (gr *group) name(sep string) string {
	parts := make([]string, 0, len(gr.labels))
	for _, l := range gr.labels {
		v := l.Value
		if v == "" {
			v = "-"
		}
		parts = append(parts, v)
	}
	return strings.Join(parts, sep)
}

// window is the span the tables and charts average over: rates and
// quantiles over the last few seconds, so that one quiet second does not
// blank a chart.
const window = 5

// appendFloat renders x for JSON (finite x only).
func appendFloat(dst []byte, x float64) []byte {
	return strconv.AppendFloat(dst, x, 'g', 10, 64)
}

type metricTag = metricsink.Tag
