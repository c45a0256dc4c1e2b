package dbtest

import (
	"testing"
	"time"

	"github.com/realtimeserver/observability/metricsink/metricsinktest"
)

// The query metrics, by the names dbmetrics gives the Sink.
const (
	MetricDuration = "db.query.duration"
	MetricQueries  = "db.queries"
	MetricErrors   = "db.query.errors"
)

// Recorder is metricsinktest's recorder with the questions dbmetrics'
// tests ask.
type Recorder struct{ *metricsinktest.Recorder }

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder { return &Recorder{metricsinktest.New()} }

// Queries returns db.queries for source and operation.
func (r *Recorder) Queries(source, op string) float64 {
	return r.Sum(MetricQueries, "source", source, "operation", op)
}

// Errors returns db.query.errors for source and operation.
func (r *Recorder) Errors(source, op string) float64 {
	return r.Sum(MetricErrors, "source", source, "operation", op)
}

// Durations returns the db.query.duration samples for source and operation.
func (r *Recorder) Durations(source, op string) []time.Duration {
	var out []time.Duration
	for _, x := range r.Samples(MetricDuration, "source", source, "operation", op) {
		out = append(out, time.Duration(x.Value*float64(time.Second)))
	}
	return out
}

// Total sums every sample of name, over all tags.
func (r *Recorder) Total(name string) float64 { return r.Sum(name) }

// Read collects the registered functions, as a scrape would, and returns
// the value of the one named name for db, of the given kind; it fails t
// when there is none.
func (r *Recorder) Read(t testing.TB, kind metricsinktest.Kind, name, db string) float64 {
	t.Helper()
	r.Collect()
	samples := r.Samples(name, "db", db)
	if len(samples) == 0 {
		t.Fatalf("%s{db=%s} is not registered; %d functions are", name, db, r.Funcs())
	}
	last := samples[len(samples)-1]
	if last.Kind != kind {
		t.Fatalf("%s{db=%s} is a %s; want a %s", name, db, last.Kind, kind)
	}
	return last.Value
}

// WantCount fails t, naming what, when got is not want.
func WantCount(t testing.TB, what string, got, want float64) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v; want %v", what, got, want)
	}
}
