package prometheus

import (
	"math"
	"slices"

	"github.com/realtimeserver/observability/metricsink"
)

// Family is one metric family of a Snapshot.
type Family struct {
	// Name is the name as exposed ("http_request_duration_seconds").
	Name string
	// Type is "counter", "gauge" or "histogram".
	Type string
	// Help is the # HELP text; Unit the declared or implied unit ("" for
	// none).
	Help, Unit string
	// Series are sorted by their labels as the exposition writes them.
	Series []Series
}

// Series is one labelled series of a Family.
type Series struct {
	// Labels are sorted by key, constant labels included.
	Labels []metricsink.Tag
	// Value is the value of a counter or gauge.
	Value float64
	// Count, Sum and Buckets describe a histogram: the number and the sum
	// of the observations, and the cumulative count of each bucket, the
	// last one's UpperBound being +Inf.
	Count   uint64
	Sum     float64
	Buckets []Bucket
}

// Bucket is one cumulative histogram bucket.
type Bucket struct {
	UpperBound float64
	Count      uint64
}

// Snapshot returns the current value of every series of the registry's
// families (its own metricsink_* ones included, the go_* and process_*
// ones and the metrics registered directly on Set excluded), families
// sorted by name and series by labels, read from the registry's
// structures. GaugeFunc and CounterFunc callbacks are called as a scrape
// calls them, waiting at most Options.CallbackTimeout; a series whose
// callback did not return in time, or panicked, is left out. Families
// without series are left out.
//
// Every call returns fresh slices, Labels and Buckets included, which the
// caller owns and may keep or modify.
func (p *Registry) Snapshot() []Family {
	vals := p.collect()
	fams := *p.sorted.Load()
	out := make([]Family, 0, len(fams))
	for _, f := range fams {
		list := *f.list.Load()
		if len(list) == 0 {
			continue
		}
		fam := Family{Name: f.name, Type: f.kind.String(), Help: f.getHelp(), Unit: f.unit, Series: make([]Series, 0, len(list))}
		for _, s := range list {
			ss := Series{Labels: slices.Clone(s.labels)}
			switch {
			case s.fn != nil:
				v, ok := vals[s]
				if !ok {
					continue
				}
				ss.Value = v
			case s.read != nil:
				ss.Value = s.read()
			case f.kind == metricsink.Counter:
				ss.Value = s.counterValue()
			case f.kind == metricsink.Gauge:
				ss.Value = math.Float64frombits(s.bits.Load())
			default:
				bounds := s.hist.bounds
				ss.Buckets = make([]Bucket, len(s.hist.counts))
				var cum uint64
				for i := range s.hist.counts {
					cum += s.hist.counts[i].Load()
					ub := math.Inf(1)
					if i < len(bounds) {
						ub = bounds[i]
					}
					ss.Buckets[i] = Bucket{UpperBound: ub, Count: cum}
				}
				ss.Count = cum
				ss.Sum = math.Float64frombits(s.hist.sum.Load())
			}
			fam.Series = append(fam.Series, ss)
		}
		if len(fam.Series) > 0 {
			out = append(out, fam)
		}
	}
	return slices.Clip(out)
}
