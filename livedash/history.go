package livedash

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"sync"

	"github.com/realtimeserver/observability/internal/jsonesc"
)

// Bounds of the history: what every page's charts show as soon as they
// open.
const (
	// HistoryPoints is the points kept of each series: 15 minutes at one
	// a second.
	HistoryPoints = 900
	// MaxHistorySeries bounds the series kept: the lines of every page's
	// charts and of every series of the Source (one for a counter's rate
	// or a gauge's value, three for a histogram's quantiles). Past it, a
	// new series is kept only when a page shows it, in the place of the
	// series viewed least recently, which is dropped and counted in
	// Stats.Dropped as overflow.
	MaxHistorySeries = 1024
	// HistoryBytes is the most memory the history's values take, whatever
	// the Source holds: HistoryPoints float32 values for each of
	// MaxHistorySeries series, and one timestamp a point (3.5 MiB). Each
	// series also keeps its name, which the Source bounds.
	HistoryBytes = MaxHistorySeries*HistoryPoints*4 + HistoryPoints*8
)

// Bounds of what one update sends of the history.
const (
	// maxLinesSent is the most lines of one chart that a page's first
	// update carries in full: those with the largest last values (a chart
	// draws eight).
	maxLinesSent = 24
	// wantTicks is how long, in samples, a page showing a group of
	// series keeps its claim to places for them.
	wantTicks = 3
	// catchUp is the most points an update carries of every line of its
	// charts (a page reconnecting after a while).
	catchUp = 60
)

// sample is one value of one series at one tick: the series is line name
// of chart in group, a page ("http") or a series of the Source shown on
// the Metrics page (see metricsGroup).
type sample struct {
	group, chart, name string
	v                  float64
}

// lineKey names a series within its group.
type lineKey struct{ chart, name string }

// line is one series' values, one a tick, in a ring aligned with the
// store's times; NaN where it had none.
type line struct {
	v      [HistoryPoints]float32
	set    uint64 // the last tick that gave it a value
	viewed uint64 // the last tick a page read it, 0 for never
	born   uint64
}

// histStore keeps the last HistoryPoints ticks of every series sampled,
// up to max series. Ticks are numbered from 1; tick k is at index
// (k-1)%HistoryPoints. Its memory is bounded by max lines of fixed size.
type histStore struct {
	mu        sync.Mutex
	max       int
	times     [HistoryPoints]int64 // Unix milliseconds
	tick      uint64
	n         int // lines
	groups    map[string]map[lineKey]*line
	wants     map[string]uint64 // group -> the last tick a page read it
	untracked int               // series the last tick could not keep
	evicted   uint64
}

func newHistStore(max int) *histStore {
	return &histStore{max: max, groups: map[string]map[lineKey]*line{}, wants: map[string]uint64{}}
}

var nan32 = float32(math.NaN())

// commit records one tick: the time t (Unix milliseconds) and the values
// in batch. Series not in batch get no value at this tick; those without
// one for all of the history are let go. It returns the tick's number.
func (h *histStore) commit(t int64, batch []sample) uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.tick++
	idx := int((h.tick - 1) % HistoryPoints)
	h.times[idx] = t
	h.untracked = 0
	for i := range batch {
		s := &batch[i]
		g := h.groups[s.group]
		k := lineKey{s.chart, s.name}
		l := g[k]
		if l == nil {
			if l = h.place(s.group); l == nil {
				h.untracked++
				continue
			}
			if g == nil {
				g = map[lineKey]*line{}
				h.groups[s.group] = g
			}
			g[k] = l
		}
		l.v[idx] = float32(s.v)
		l.set = h.tick
	}
	for name, g := range h.groups {
		for k, l := range g {
			if l.set == h.tick {
				continue
			}
			l.v[idx] = nan32
			if h.tick-l.set >= HistoryPoints {
				delete(g, k)
				h.n--
			}
		}
		if len(g) == 0 {
			delete(h.groups, name)
		}
	}
	for g, at := range h.wants {
		if h.tick-at > wantTicks {
			delete(h.wants, g)
		}
	}
	return h.tick
}

// place returns a new line for a series of group, or nil when the store
// is full and no page shows group. When a page does, the line viewed
// least recently (never before recently, the oldest first) outside the
// groups pages show gives its place, and is counted.
func (h *histStore) place(group string) *line {
	if h.n < h.max {
		h.n++
		l := &line{born: h.tick}
		for i := range l.v {
			l.v[i] = nan32
		}
		return l
	}
	if _, shown := h.wants[group]; !shown {
		return nil
	}
	var (
		victim     *line
		vGroup     string
		vKey       lineKey
		vAge, vBrn uint64
	)
	for name, g := range h.groups {
		if _, shown := h.wants[name]; shown {
			continue
		}
		for k, l := range g {
			if victim == nil || l.viewed < vAge || l.viewed == vAge && l.born < vBrn {
				victim, vGroup, vKey, vAge, vBrn = l, name, k, l.viewed, l.born
			}
		}
	}
	if victim == nil {
		return nil
	}
	delete(h.groups[vGroup], vKey)
	if len(h.groups[vGroup]) == 0 {
		delete(h.groups, vGroup)
	}
	h.evicted++
	*victim = line{born: h.tick}
	for i := range victim.v {
		victim.v[i] = nan32
	}
	return victim
}

// read returns group's points after tick after (all of those kept when
// after is 0), and the tick they go up to. It marks the group shown, so
// that its series keep or get their places. On a first read (after 0),
// or one of more than catchUp points, each chart sends at most
// maxLinesSent lines, those with the largest last values; on a first
// read, the leading points where no line has a value are left out.
func (h *histStore) read(group string, after uint64) (*histChunk, uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.wants[group] = h.tick
	if h.tick == 0 {
		return nil, 0
	}
	first := h.tick - min(h.tick, HistoryPoints) + 1 // the oldest tick kept
	from := max(first, after+1)
	if from > h.tick {
		return nil, h.tick
	}
	g := h.groups[group]
	lines := make([]histLine, 0, len(g))
	for k, l := range g {
		l.viewed = h.tick
		lines = append(lines, histLine{lineKey: k, l: l})
	}
	if after == 0 || from+catchUp < h.tick {
		// A first read, or one far behind: the chart's largest lines.
		lines = h.largest(lines)
	}
	if after == 0 {
		// Leave out the points before any line had a value.
		for ; from < h.tick; from++ {
			j := int((from - 1) % HistoryPoints)
			if slices.ContainsFunc(lines, func(hl histLine) bool { return !isNaN32(hl.l.v[j]) }) {
				break
			}
		}
	}
	n := int(h.tick - from + 1)
	c := &histChunk{t: make([]int64, n), lines: lines}
	vals := make([]float32, n*len(lines))
	for i := range n {
		j := int((from + uint64(i) - 1) % HistoryPoints)
		c.t[i] = h.times[j]
		for li := range lines {
			vals[li*n+i] = lines[li].l.v[j]
		}
	}
	for li := range lines {
		lines[li].v = vals[li*n : (li+1)*n : (li+1)*n]
		lines[li].l = nil
	}
	return c, h.tick
}

// largest keeps, in each chart, the maxLinesSent lines whose last values
// are largest. Under mu.
func (h *histStore) largest(lines []histLine) []histLine {
	idx := int((h.tick - 1) % HistoryPoints)
	last := func(l *line) float32 {
		for i := range HistoryPoints {
			if v := l.v[(idx-i+HistoryPoints)%HistoryPoints]; !isNaN32(v) {
				return v
			}
		}
		return float32(math.Inf(-1))
	}
	slices.SortFunc(lines, func(a, b histLine) int {
		if c := cmp.Compare(a.chart, b.chart); c != 0 {
			return c
		}
		return cmp.Compare(last(b.l), last(a.l))
	})
	out := lines[:0]
	for i, hl := range lines {
		if i >= maxLinesSent && lines[i-maxLinesSent].chart == hl.chart {
			continue
		}
		out = append(out, hl)
	}
	return out
}

// now returns the latest tick.
func (h *histStore) now() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.tick
}

// stats returns the lines kept, the series the last tick could not keep,
// and the lines evicted since the store was made.
func (h *histStore) stats() (lines, untracked int, evicted uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n, h.untracked, h.evicted
}

func isNaN32(v float32) bool { return v != v }

// histLine is one line of a histChunk: its values, one per time.
type histLine struct {
	lineKey
	v []float32
	l *line // while read copies it
}

// histChunk is the points of a group's series that an update carries:
//
//	{"t":[<Unix ms>,…],"charts":{"<chart>":{"<series>":[<value or null>,…]}}}
//
// with one value per time in t, null where the series had none.
type histChunk struct {
	t     []int64
	lines []histLine
}

// MarshalJSON writes the chunk as its doc comment shows, charts and
// series in name order.
func (c *histChunk) MarshalJSON() ([]byte, error) {
	slices.SortFunc(c.lines, func(a, b histLine) int {
		return cmp.Or(cmp.Compare(a.chart, b.chart), cmp.Compare(a.name, b.name))
	})
	b := make([]byte, 0, 32+len(c.t)*(14+6*len(c.lines)))
	b = append(b, `{"t":[`...)
	for i, t := range c.t {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, t, 10)
	}
	b = append(b, `],"charts":{`...)
	for i, l := range c.lines {
		if i == 0 || c.lines[i-1].chart != l.chart {
			if i > 0 {
				b = append(b, "},"...)
			}
			b = jsonesc.AppendString(b, l.chart)
			b = append(b, ":{"...)
		} else {
			b = append(b, ',')
		}
		b = jsonesc.AppendString(b, l.name)
		b = append(b, ":["...)
		for j, v := range l.v {
			if j > 0 {
				b = append(b, ',')
			}
			if isNaN32(v) || math.IsInf(float64(v), 0) {
				b = append(b, "null"...)
			} else {
				b = strconv.AppendFloat(b, float64(v), 'g', -1, 32)
			}
		}
		b = append(b, ']')
	}
	if len(c.lines) > 0 {
		b = append(b, '}')
	}
	return append(b, "}}"...), nil
}

// last returns the last value of series name of chart, NaN when it has
// none: for tests and tables.
func (c *histChunk) last(chart, name string) float64 {
	if c == nil {
		return math.NaN()
	}
	for _, l := range c.lines {
		if l.chart == chart && l.name == name {
			for i := len(l.v) - 1; i >= 0; i-- {
				if !isNaN32(l.v[i]) {
					return float64(l.v[i])
				}
			}
		}
	}
	return math.NaN()
}

// jsonFloat encodes NaN and ±Inf as null, which JSON cannot carry.
type jsonFloat float64

func (f jsonFloat) MarshalJSON() ([]byte, error) {
	x := float64(f)
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return []byte("null"), nil
	}
	return appendFloat(nil, x), nil
}
