package dogstatsd

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/DataDog/datadog-go/v5/statsd"

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

// Samples racing Close are either handed to the client (Stats.Sent) or
// counted dropped. What the test then checks is what UDP promises, read
// from the client's own counters: every sample counted Sent is one the
// client counts as given to it; the listener receives at most the
// datagrams and bytes the client wrote to its socket, and so at most the
// increments counted Sent; and when nothing was lost on the way (every
// byte written arrived), it received every increment counted Sent: Close
// flushed what the client had aggregated and buffered. Loopback UDP drops
// datagrams when the receiver falls behind, as on a loaded machine, so
// received == Sent is only required when no byte went missing.
func TestSentSamplesRacingCloseAreDelivered(t *testing.T) {
	for round := range 5 {
		l := listen(t)
		telemetry := listen(t) // the client's telemetry, kept apart
		s, err := New(&Options{Addr: l.Addr(), ClientOptions: []statsd.Option{
			statsd.WithoutOriginDetection(), statsd.WithTelemetryAddr(telemetry.Addr()),
		}})
		if err != nil {
			t.Fatal(err)
		}
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
		c := st.Client
		if c.TotalMetricsCount != st.Sent {
			t.Errorf("round %d: the client counts %d samples given to it, Stats.Sent = %d", round, c.TotalMetricsCount, st.Sent)
		}
		if c.TotalPayloadsSent == 0 {
			t.Fatalf("round %d: the client wrote no payload by the end of Close (Sent = %d): %+v", round, st.Sent, c)
		}
		// Wait, generously, for what was written to arrive.
		var got delivery
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			got = l.delivered("race")
			if got.bytes >= c.TotalBytesSent || time.Now().After(deadline) {
				break
			}
		}
		if got.datagrams > c.TotalPayloadsSent || got.bytes > c.TotalBytesSent || got.value > st.Sent {
			t.Fatalf("round %d: received %d datagrams, %d bytes, %d increments; the client wrote %d payloads, %d bytes; Stats.Sent = %d",
				round, got.datagrams, got.bytes, got.value, c.TotalPayloadsSent, c.TotalBytesSent, st.Sent)
		}
		if got.bytes == c.TotalBytesSent && c.TotalPayloadsDropped == 0 && got.value != st.Sent {
			t.Fatalf("round %d: every byte written arrived (%d datagrams, %d bytes), but %d increments of %d counted Sent: Close did not flush them; lines: %v; client: %+v",
				round, got.datagrams, got.bytes, got.value, st.Sent, l.received(), c)
		}
		if got.bytes != c.TotalBytesSent || c.TotalPayloadsDropped != 0 {
			t.Logf("round %d: UDP lost %d of %d bytes, the client dropped %d payloads; received %d of %d increments",
				round, c.TotalBytesSent-got.bytes, c.TotalBytesSent, c.TotalPayloadsDropped, got.value, st.Sent)
		}
	}
}
