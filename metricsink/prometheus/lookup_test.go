package prometheus_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/realtimeserver/observability/drop"
	"github.com/realtimeserver/observability/metricsink"
)

// Many names alike but for their middle (one length, first and last
// byte): each must still reach its own family, whichever came first.
func TestLookupManyNames(t *testing.T) {
	p, _ := newProm(t, nil)
	var s metricsink.Sink = p
	const names = 700
	for range 3 {
		for i := range names {
			// One length, first and last byte: names alike but for
			// their middle.
			name := fmt.Sprintf("lookup.n%04d.x", i)
			for range i%3 + 1 {
				s.Increment(name, 1, metricsink.KV("round", "any"))
			}
		}
	}
	snap := p.Snapshot()
	for i := range names {
		fam := fmt.Sprintf("lookup_n%04d_x_total", i)
		if got, want := counterValue(snap, fam), float64(3*(i%3+1)); got != want {
			t.Fatalf("%s = %v, want %v", fam, got, want)
		}
	}
}

// Tags are matched by content: equal strings at other addresses find the
// same series, strings of the same length with other bytes do not, and
// neither does the same list in another order or with a tag more.
func TestLookupComparesContent(t *testing.T) {
	p, _ := newProm(t, nil)
	var s metricsink.Sink = p
	route := "/videos/{id}/comments"
	s.Increment("req", 1, metricsink.KV("route", route, "method", "GET"))
	for range 5 {
		// Fresh copies: other pointers, same bytes.
		s.Increment(strings.Clone("req"), 1, metricsink.KV(strings.Clone("route"), strings.Clone(route), strings.Clone("method"), strings.Clone("GET")))
	}
	s.Increment("req", 1, metricsink.KV("route", route, "method", "PUT"))                // same lengths
	s.Increment("req", 1, metricsink.KV("method", "GET", "route", route))                // other order, same series
	s.Increment("req", 1, metricsink.KV("route", route, "method", "GET", "code", "200")) // one tag more
	s.Increment("req", 1, metricsink.KV("route", strings.Replace(route, "{id}", "{ID}", 1), "method", "GET"))
	want := map[string]float64{
		`method="GET",route="/videos/{id}/comments"`:            7,
		`method="PUT",route="/videos/{id}/comments"`:            1,
		`code="200",method="GET",route="/videos/{id}/comments"`: 1,
		`method="GET",route="/videos/{ID}/comments"`:            1,
	}
	got := map[string]float64{}
	for _, f := range p.Snapshot() {
		if f.Name != "req_total" {
			continue
		}
		for _, se := range f.Series {
			var b strings.Builder
			for i, l := range se.Labels {
				if i > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, "%s=%q", l.Key, l.Value)
			}
			got[b.String()] = se.Value
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("series = %v\nwant %v", got, want)
	}
}

// Tags built past MaxTags are dropped even when their first MaxTags tags
// are a list the lookup already knows.
func TestLookupInvalidTagsAfterKnownList(t *testing.T) {
	p, _ := newProm(t, nil)
	var s metricsink.Sink = p
	var full metricsink.Tags
	for i := range metricsink.MaxTags {
		full = full.With(fmt.Sprintf("k%d", i), "v")
	}
	for range 3 {
		s.Increment("wide", 1, full)
	}
	over := full.With("extra", "v")
	if over.Valid() {
		t.Fatal("tags past MaxTags are valid")
	}
	before := p.Stats().Dropped.Get(drop.InvalidTags)
	s.Increment("wide", 1, over)
	if got := p.Stats().Dropped.Get(drop.InvalidTags) - before; got != 1 {
		t.Errorf("invalid tags dropped %d times, want 1", got)
	}
	if got := counterValue(p.Snapshot(), "wide_total"); got != 3 {
		t.Errorf("wide_total = %v, want 3", got)
	}
}
