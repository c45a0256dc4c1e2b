package prometheus_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/realtimeserver/observability/metricsink"
	"github.com/realtimeserver/observability/metricsink/prometheus"
)

// collidingNames returns n names of one hint slot, and a name of another.
func collidingNames(t testing.TB, n int) (same []string, other string) {
	t.Helper()
	slot := prometheus.HintIndex("hint.a0")
	for i := 0; len(same) < n || other == ""; i++ {
		name := fmt.Sprintf("hint.a%d", i)
		switch {
		case prometheus.HintIndex(name) == slot && len(same) < n:
			same = append(same, name)
		case prometheus.HintIndex(name) != slot && other == "":
			other = name
		}
		if i > 1e6 {
			t.Fatal("no names of one slot found")
		}
	}
	return same, other
}

// Names that share a hint slot each reach their own series, whichever
// came first, through every op, and the slot keeps the first of them.
func TestHintSharedSlot(t *testing.T) {
	p, _ := newProm(t, nil)
	var s metricsink.Sink = p
	same, other := collidingNames(t, 3)
	names := append(same, other)
	tags := metricsink.KV("route", "/x")
	for round := range 3 {
		for i, name := range names {
			for range i + 1 {
				s.Increment(name, 1, tags)
				s.Gauge(name+".g", float64(10*i+round), tags)
			}
		}
	}
	if !p.HintHolds(same[0]) || p.HintHolds(same[1]) || p.HintHolds(same[2]) || !p.HintHolds(other) {
		t.Errorf("hint slots: %v %v %v %v, want the first name of each slot held",
			p.HintHolds(same[0]), p.HintHolds(same[1]), p.HintHolds(same[2]), p.HintHolds(other))
	}
	snap := p.Snapshot()
	for i, name := range names {
		base := strings.ReplaceAll(name, ".", "_")
		if got, want := counterValue(snap, base+"_total"), float64(3*(i+1)); got != want {
			t.Errorf("%s_total = %v, want %v", base, got, want)
		}
		if got, want := counterValue(snap, base+"_g"), float64(10*i+2); got != want {
			t.Errorf("%s_g = %v, want %v", base, got, want)
		}
	}
}

// A name the hint slot does not hold is one comparison away from the map,
// and equal names at other addresses find the slot's name: the slot is
// matched by content.
func TestHintMatchesContent(t *testing.T) {
	p, _ := newProm(t, nil)
	var s metricsink.Sink = p
	same, _ := collidingNames(t, 2)
	for range 3 {
		s.Increment(same[0], 1, metricsink.Tags{})
		s.Increment(strings.Clone(same[0]), 1, metricsink.Tags{})
		s.Increment(same[1], 1, metricsink.Tags{})
	}
	snap := p.Snapshot()
	if got := counterValue(snap, strings.ReplaceAll(same[0], ".", "_")+"_total"); got != 6 {
		t.Errorf("%s = %v, want 6", same[0], got)
	}
	if got := counterValue(snap, strings.ReplaceAll(same[1], ".", "_")+"_total"); got != 3 {
		t.Errorf("%s = %v, want 3", same[1], got)
	}
	if prometheus.HintIndex("") != 0 {
		t.Errorf("HintIndex(\"\") = %d, want 0", prometheus.HintIndex(""))
	}
}
