//go:build !race

package wsmetrics

import (
	"testing"

	"github.com/realtimeserver/observability/metricsink"
)

func TestAllocs(t *testing.T) {
	tr := NewTracker(metricsink.Discard, nil)
	c := tr.Open("video:42")
	defer c.Close()
	msg := []byte(`{"topic":"video:42","event":"new_comment","payload":{"body":"hello"},"ref":"7"}`)
	hostile := []byte(`{"event":"not allowed!"}`)
	c.MessageData(In, false, msg) // the first sight of an event name allocates it once
	tests := []struct {
		name string
		max  float64
		f    func()
	}{
		{"MessageData known event", 0, func() { c.MessageData(In, false, msg) }},
		{"MessageData hostile event", 0, func() { c.MessageData(In, false, hostile) }},
		{"MessageData binary", 0, func() { c.MessageData(Out, true, msg) }},
		{"Message", 0, func() { c.Message(Out, "new_comment", 100) }},
		{"Open and Close", 4, func() { tr.Open("video:7").Close() }},
	}
	for _, tt := range tests {
		if got := testing.AllocsPerRun(1000, tt.f); got > tt.max {
			t.Errorf("%s: %v allocs per run, want at most %v", tt.name, got, tt.max)
		}
	}
}
