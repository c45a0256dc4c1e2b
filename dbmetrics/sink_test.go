package dbmetrics

import (
	"testing"
	"time"

	"github.com/realtimeserver/observability/metricsink/metricsinktest"
)

// recSink is metricsinktest's recorder with the questions these tests ask.
type recSink struct{ *metricsinktest.Recorder }

func newRecSink() *recSink { return &recSink{metricsinktest.New()} }

// queries returns db.queries for source and operation.
func (s *recSink) queries(source, op string) float64 {
	return s.Sum(metricQueries, "source", source, "operation", op)
}

// errors returns db.query.errors for source and operation.
func (s *recSink) errors(source, op string) float64 {
	return s.Sum(metricErrors, "source", source, "operation", op)
}

// durs returns the db.query.duration samples for source and operation.
func (s *recSink) durs(source, op string) []time.Duration {
	var out []time.Duration
	for _, x := range s.Samples(metricDuration, "source", source, "operation", op) {
		out = append(out, time.Duration(x.Value*float64(time.Second)))
	}
	return out
}

// read collects the registered functions, as a scrape would, and returns
// the value of the one named name for db, of the given kind.
func (s *recSink) read(t *testing.T, kind metricsinktest.Kind, name, db string) float64 {
	t.Helper()
	s.Collect()
	samples := s.Samples(name, "db", db)
	if len(samples) == 0 {
		t.Fatalf("%s{db=%s} is not registered; %d functions are", name, db, s.Funcs())
	}
	last := samples[len(samples)-1]
	if last.Kind != kind {
		t.Fatalf("%s{db=%s} is a %s; want a %s", name, db, last.Kind, kind)
	}
	return last.Value
}

// total sums every sample of name, over all tags.
func (s *recSink) total(name string) float64 { return s.Sum(name) }
