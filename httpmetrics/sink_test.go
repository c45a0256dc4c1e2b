package httpmetrics

import (
	"testing"
	"time"

	"github.com/realtimeserver/observability/metricsink/metricsinktest"
)

// requestTags waits until rec holds what one request records (a Duration
// unless hijacked, then the Increment), checks it, and returns the tags as
// "route=…,method=…,status=…". It fails t after a few seconds.
func requestTags(t testing.TB, rec *metricsinktest.Recorder, hijacked bool) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for rec.Count(CountMetric) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no %s sample within 5s", CountMetric)
		}
		time.Sleep(time.Millisecond)
	}
	counts, durations := rec.Samples(CountMetric), rec.Samples(DurationMetric)
	if len(counts) != 1 {
		t.Fatalf("%s samples = %+v, want 1", CountMetric, counts)
	}
	inc := counts[0]
	if inc.Kind != metricsinktest.Counter || inc.Value != 1 || !inc.Valid {
		t.Errorf("%s sample = %+v, want a counter increment by 1", CountMetric, inc)
	}
	tags := "route=" + inc.Tags["route"] + ",method=" + inc.Tags["method"] + ",status=" + inc.Tags["status"]
	if len(inc.Tags) != 3 {
		t.Errorf("tags %v, want exactly route, method and status", inc.Tags)
	}
	want := 1
	if hijacked {
		want = 0
	}
	if len(durations) != want {
		t.Fatalf("%s samples = %+v, want %d", DurationMetric, durations, want)
	}
	for _, d := range durations {
		if d.Kind != metricsinktest.Duration || d.Value <= 0 || len(d.Tags) != 3 ||
			d.Tags["route"] != inc.Tags["route"] || d.Tags["method"] != inc.Tags["method"] || d.Tags["status"] != inc.Tags["status"] {
			t.Errorf("%s sample = %+v, want a duration > 0 with tags %v", DurationMetric, d, inc.Tags)
		}
	}
	return tags
}

func tagsOf(route, method, status string) string {
	return "route=" + route + ",method=" + method + ",status=" + status
}
