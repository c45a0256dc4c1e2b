package livedash

import (
	"math"
	"sync"
)

// History length of the headline series: 15 minutes at one point a second.
const (
	HistoryPoints = 900
)

// headline names the series the sampler keeps while nobody watches.
var headline = [...]string{"rps", "errors", "p95", "memory", "goroutines"}

// HistoryBytes is the memory the headline history takes, whatever the
// traffic: one timestamp and one float64 per headline series for each of
// HistoryPoints seconds.
const HistoryBytes = HistoryPoints * 8 * (1 + len(headline))

// history is a fixed ring of points: a timestamp (Unix milliseconds) and
// one value per headline series. Its size never changes after it is made.
type history struct {
	mu   sync.Mutex
	t    [HistoryPoints]int64
	v    [len(headline)][HistoryPoints]float64
	next int // where the next point goes
	n    int
}

func (h *history) add(t int64, vals [len(headline)]float64) {
	h.mu.Lock()
	h.t[h.next] = t
	for i := range vals {
		h.v[i][h.next] = vals[i]
	}
	h.next = (h.next + 1) % HistoryPoints
	if h.n < HistoryPoints {
		h.n++
	}
	h.mu.Unlock()
}

// point is one headline point as the page receives it; NaN (no data, such
// as no request in that second for p95) is sent as null.
type point struct {
	T int64       `json:"t"`
	V []jsonFloat `json:"v"`
}

// points returns the kept points, oldest first.
func (h *history) points() []point {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]point, h.n)
	vals := make([]jsonFloat, h.n*len(headline))
	start := (h.next - h.n + HistoryPoints) % HistoryPoints
	for i := range h.n {
		j := (start + i) % HistoryPoints
		v := vals[i*len(headline) : (i+1)*len(headline) : (i+1)*len(headline)]
		for k := range headline {
			v[k] = jsonFloat(h.v[k][j])
		}
		out[i] = point{T: h.t[j], V: v}
	}
	return out
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
