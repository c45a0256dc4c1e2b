package dogstatsd_test

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/DataDog/datadog-go/v5/statsd"

	"github.com/realtimeserver/observability/metricsink"
	"github.com/realtimeserver/observability/metricsink/dogstatsd"
)

func Example() {
	// A stand-in for the Datadog Agent.
	agent, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer agent.Close()

	sink, err := dogstatsd.New(&dogstatsd.Options{
		Addr:      agent.LocalAddr().String(),
		Namespace: "realtime",
		// Keep the example's output the same on every machine.
		ClientOptions: []statsd.Option{statsd.WithoutTelemetry(), statsd.WithoutOriginDetection()},
	})
	if err != nil {
		panic(err)
	}
	tags := metricsink.KV("route", "/comments/{id}", "method", "GET", "status", "200")
	sink.Increment("http.requests", 1, tags)
	sink.Increment("http.requests", 1, tags)
	sink.Duration("http.request.duration", 2500*time.Microsecond, tags)
	sink.Close(context.Background()) // flushes

	var lines []string
	buf := make([]byte, 65536)
	agent.SetReadDeadline(time.Now().Add(5 * time.Second))
	for len(lines) < 2 {
		n, _, err := agent.ReadFrom(buf)
		if err != nil {
			panic(err)
		}
		lines = append(lines, strings.Split(strings.TrimSpace(string(buf[:n])), "\n")...)
	}
	slices.Sort(lines)
	for _, l := range lines {
		fmt.Println(l)
	}
	// Output:
	// realtime.http.request.duration:2.5|d|#route:/comments/_id,method:get,status:200
	// realtime.http.requests:2|c|#route:/comments/_id,method:get,status:200
}
