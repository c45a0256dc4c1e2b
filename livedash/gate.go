package livedash

import (
	"net/http"
	"strconv"
	"sync/atomic"

	"github.com/realtimeserver/observability/drop"
)

// gate admits at most max requests at a time and turns the others away at
// once: nothing waits for a place, so a crowd of requests costs what the
// admitted ones cost, plus a 503 each for the rest. The dashboard has one
// for its live connections and one for its log queries.
type gate struct {
	n   atomic.Int32
	max int32
}

// enter takes a place and reports whether there was one; leave gives it
// back.
func (g *gate) enter() bool {
	for {
		n := g.n.Load()
		if n >= g.max {
			return false
		}
		if g.n.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

func (g *gate) leave() { g.n.Add(-1) }

// refuse answers 503 with msg, and with Retry-After when retry (seconds)
// is above zero, and counts the request in Stats.Dropped under why.
func (d *Dashboard) refuse(w http.ResponseWriter, why drop.Reason, retry int, msg string) {
	d.dropped.Add(why, 1)
	if retry > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(retry))
	}
	http.Error(w, msg, http.StatusServiceUnavailable)
}
