package livedash

import "github.com/realtimeserver/observability/metricsink/prometheus"

// Source is where the dashboard reads metrics: a structured snapshot of a
// registry, every family with every series. A *prometheus.Registry is a
// Source. The dashboard calls Snapshot once a second, from New to Close,
// whatever the pages open, never while holding a lock; it must be safe for
// concurrent use. The Metrics page lists every family it returns.
type Source interface {
	Snapshot() []Family
}

// SourceFunc adapts a function to Source.
type SourceFunc func() []Family

// Snapshot calls f.
func (f SourceFunc) Snapshot() []Family { return f() }

// Family, Series and Bucket are the registry's snapshot types: a family
// with its exposed name, type ("counter", "gauge" or "histogram"), help,
// unit and series; a series with its labels and its value, or, for a
// histogram, its count, sum, cumulative classic buckets (+Inf last) and
// native buckets, which the dashboard's quantiles come from when every
// series of a chart or row has them.
type (
	Family = prometheus.Family
	Series = prometheus.Series
	Bucket = prometheus.Bucket
)

var _ Source = (*prometheus.Registry)(nil)
