package httpmetrics

import (
	"hash/maphash"
	"sync/atomic"

	"github.com/realtimeserver/observability/metricsink"
)

// seriesSlots is the size of a middleware's series cache: room for the
// route, method and status combinations of a typical service.
const seriesSlots = 256

// seriesCache maps a request's labels to the handles of its two series, so
// that recording a request looks nothing up in the sink. It is lock-free
// and bounded: each slot holds an immutable entry, filled by the first
// combination that hashes to it and never replaced. A combination whose
// slot is taken by another is recorded through the Sink methods, as it
// would be without the cache, so the cache allocates at most seriesSlots
// entries over the process's life.
type seriesCache struct {
	seed  maphash.Seed
	slots [seriesSlots]atomic.Pointer[seriesEntry]
}

// seriesEntry is one combination of labels and its handles.
type seriesEntry struct {
	route, method string
	status        int
	duration      metricsink.TimerHandle
	count         metricsink.CounterHandle
}

// lookup returns the entry of (route, method, status), making it when its
// slot is free, or nil when the slot holds another combination.
func (c *seriesCache) lookup(sink metricsink.Sink, route, method string, status int) *seriesEntry {
	h := maphash.String(c.seed, route) ^ uint64(status)*0x9e3779b97f4a7c15 ^ uint64(len(method))<<32 ^ uint64(method[0])
	slot := &c.slots[h%seriesSlots]
	e := slot.Load()
	if e != nil {
		if e.status == status && e.method == method && e.route == route {
			return e
		}
		return nil
	}
	tags := metricsink.KV("route", route, "method", method, "status", statusLabel(status))
	e = &seriesEntry{
		route: route, method: method, status: status,
		duration: metricsink.NewTimer(sink, DurationMetric, tags),
		count:    metricsink.NewCounter(sink, CountMetric, tags),
	}
	if slot.CompareAndSwap(nil, e) {
		return e
	}
	// Another request filled the slot first: use the entry when it is
	// this combination's.
	if e2 := slot.Load(); e2.status == status && e2.method == method && e2.route == route {
		return e2
	}
	return nil
}
