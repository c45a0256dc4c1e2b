package drop

import (
	"sync"
	"testing"
)

func TestStringParseRoundTrip(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range All() {
		s := r.String()
		if s == "" {
			t.Fatalf("Reason(%d).String() = \"\"", r)
		}
		if seen[s] {
			t.Fatalf("label %q used by two reasons", s)
		}
		seen[s] = true
		got, ok := Parse(s)
		if !ok || got != r {
			t.Errorf("Parse(%q) = %v, %v; want %v, true", s, got, ok, r)
		}
	}
	if got := Reason(0).String(); got != "" {
		t.Errorf("Reason(0).String() = %q, want \"\"", got)
	}
	if got := Reason(200).String(); got != "" {
		t.Errorf("Reason(200).String() = %q, want \"\"", got)
	}
	if _, ok := Parse("nope"); ok {
		t.Error(`Parse("nope") reported a reason`)
	}
}

func TestCounterConcurrent(t *testing.T) {
	var c Counter
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				c.Add(QueueFull, 1)
				c.Add(Timeout, 2)
				c.Add(0, 5)   // not a reason: ignored
				c.Add(250, 5) // not a reason: ignored
			}
		})
	}
	wg.Wait()
	s := c.Snapshot()
	if got, want := s.Get(QueueFull), uint64(8000); got != want {
		t.Errorf("QueueFull = %d, want %d", got, want)
	}
	if got, want := c.Load(Timeout), uint64(16000); got != want {
		t.Errorf("Timeout = %d, want %d", got, want)
	}
	if got, want := s.Total(), uint64(24000); got != want {
		t.Errorf("Total = %d, want %d", got, want)
	}
	if got := s.Get(250); got != 0 {
		t.Errorf("Get(250) = %d, want 0", got)
	}
}
