package dogstatsd

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/realtimeserver/observability/drop"
	"github.com/realtimeserver/observability/metricsink"
)

// accounted is every sample Stats accounts for.
func accounted(st Stats) uint64 {
	return st.Sent + st.RoundedToZero + st.Dropped.Get(drop.InvalidName) + st.Dropped.Get(drop.InvalidTags) +
		st.Dropped.Get(drop.InvalidValue) + st.Dropped.Get(drop.Closed) + st.Dropped.Get(drop.QueueFull)
}

// Every sample given is in exactly one count of Stats, increments that
// round to zero included.
func TestStatsAccountEverySample(t *testing.T) {
	l := listen(t)
	s := newTestSink(t, l, nil)
	const n = 1000
	for range n {
		s.Increment("frac", 0.25, metricsink.Tags{})
	}
	s.Increment("", 1, metricsink.Tags{})
	s.Increment("x", 1, metricsink.KV("odd"))
	s.Gauge("x", 1/zero(), metricsink.Tags{})
	st := s.Stats()
	if got := accounted(st); got != n+3 {
		t.Errorf("Stats account for %d samples, want %d: %+v", got, n+3, st)
	}
	if st.RoundedToZero == 0 || st.Sent == 0 {
		t.Errorf("RoundedToZero = %d, Sent = %d; want both > 0", st.RoundedToZero, st.Sent)
	}
}

func zero() float64 { return 0 }

// Samples racing Close are either delivered and counted Sent, or counted
// DroppedClosed: the sum the Agent receives is exactly Sent.
func TestSentSamplesRacingCloseAreDelivered(t *testing.T) {
	for round := range 5 {
		l := listen(t)
		s := newTestSink(t, l, nil)
		var wg sync.WaitGroup
		var calls atomic.Uint64
		stop := make(chan struct{})
		for range 4 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					s.Increment("race", 1, metricsink.Tags{})
					calls.Add(1)
				}
			})
		}
		time.Sleep(20 * time.Millisecond)
		if err := s.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		close(stop)
		wg.Wait()
		st := s.Stats()
		if got := accounted(st); got != calls.Load() {
			t.Errorf("round %d: Stats account for %d samples, want %d", round, got, calls.Load())
		}
		var received uint64
		deadline := time.Now().Add(2 * time.Second)
		for {
			received = 0
			for _, ln := range l.received() {
				if ln.Name == "race" {
					v, _ := strconv.ParseUint(ln.Value, 10, 64)
					received += v
				}
			}
			if received >= st.Sent || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if received != st.Sent {
			t.Fatalf("round %d: the listener received %d increments, Stats.Sent = %d", round, received, st.Sent)
		}
	}
}
