package dbmetrics

import "testing"

// TestNoProviderNoSpan runs statements with no TracerProvider set, in
// Options or installed globally: no tracer is looked up beyond the check.
func TestNoProviderNoSpan(t *testing.T) {
	registerNarrow()
	db, err := Open("dbmetrics-narrow", t.Name(), &Options{NoPoolMetrics: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	in := newInstrument(nil)
	if in.tracer() != nil {
		t.Error("a tracer with no provider installed")
	}
	db.MustExec("SELECT 1")
}
