package httpmetrics

import (
	"github.com/realtimeserver/observability/metricsink"
)

// maxSeries bounds the route, method and status combinations whose
// handles a middleware keeps: room for those of a typical service, many
// times over.
const maxSeries = 4096

// seriesEntry is the handles of the two series of one combination of
// labels.
type seriesEntry struct {
	duration metricsink.TimerHandle
	count    metricsink.CounterHandle
}

// newSeriesTable returns the table a middleware finds its handles in:
// metricsink's one lookup structure, keyed by the route and the method and
// status tags.
func newSeriesTable() *metricsink.Lookup[*seriesEntry] {
	return metricsink.NewLookup[*seriesEntry](maxSeries, 1024)
}

// series returns the handles of (route, method, status), resolving them
// on the sink the first time, or nil past maxSeries combinations: such a
// request is recorded through the Sink methods, as it would be without
// handles, so that the table never grows past its bound.
func (h *handler) series(route, method, status string) *seriesEntry {
	tags := [...]metricsink.Tag{{Key: "method", Value: method}, {Key: "status", Value: status}}
	if e, ok := h.table.Get(metricsink.OpIncrement, route, tags[:]); ok {
		return e
	}
	if h.table.Len() >= maxSeries {
		return nil
	}
	// Resolved without any lock held.
	kv := metricsink.KV("route", route, "method", method, "status", status)
	e := &seriesEntry{
		duration: metricsink.NewTimer(h.sink, DurationMetric, kv),
		count:    metricsink.NewCounter(h.sink, CountMetric, kv),
	}
	if !h.table.Put(metricsink.OpIncrement, route, tags[:], e) {
		if again, ok := h.table.Get(metricsink.OpIncrement, route, tags[:]); ok { // put meanwhile
			return again
		}
	}
	return e
}
