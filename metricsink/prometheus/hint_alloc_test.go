//go:build !race

package prometheus_test

import (
	"testing"

	"github.com/realtimeserver/observability/metricsink"
)

// A name that lost its hint slot to another still records without
// allocating, through the hot map.
func TestAllocsHintSharedSlot(t *testing.T) {
	p, _ := newProm(t, nil)
	var s metricsink.Sink = p
	same, _ := collidingNames(t, 2)
	for range 300 {
		s.Increment(same[0], 1, metricsink.KV("route", "/x"))
		s.Increment(same[1], 1, metricsink.KV("route", "/x"))
	}
	if p.HintHolds(same[1]) {
		t.Fatalf("the slot holds %q; want the name that lost it", same[1])
	}
	if got := testing.AllocsPerRun(1000, func() { s.Increment(same[1], 1, metricsink.KV("route", "/x")) }); got != 0 {
		t.Errorf("%v allocations per Increment, want 0", got)
	}
}
