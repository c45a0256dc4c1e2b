package benchmarks

import (
	"context"
	"net"
	"testing"

	"github.com/realtimeserver/observability/metricsink"
	"github.com/realtimeserver/observability/metricsink/dogstatsd"
)

func init() {
	incrementCases = append(incrementCases, incrementCase{"dogstatsd", benchIncrementDogStatsD})
}

// benchIncrementDogStatsD is the BenchmarkIncrement scenario through the
// DogStatsD sink, with Datadog's client at its defaults (client-side
// aggregation on), sending to a UDP listener on loopback that drains every
// datagram.
func benchIncrementDogStatsD(b *testing.B) {
	agent, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		for {
			if _, _, err := agent.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	defer func() { agent.Close(); <-done }()

	d, err := dogstatsd.New(&dogstatsd.Options{Addr: agent.LocalAddr().String()})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close(context.Background())
	var s metricsink.Sink = d
	route, method := "/videos/{id}/comments", "POST"
	s.Increment("http.requests", 1, metricsink.KV("route", route, "method", method))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		s.Increment("http.requests", 1, metricsink.KV("route", route, "method", method))
	}
}
