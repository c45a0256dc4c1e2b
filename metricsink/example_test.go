package metricsink_test

import (
	"fmt"
	"strings"

	"github.com/realtimeserver/observability/metricsink"
	"github.com/realtimeserver/observability/metricsink/metricsinktest"
	"github.com/realtimeserver/observability/metricsink/prometheus"
)

func ExampleNewCounter() {
	rec := metricsinktest.New()
	// Resolve once, where the tags are known; then each Inc is cheap.
	hits := metricsink.NewCounter(rec, "http.requests", metricsink.KV("route", "/videos/{id}"))
	hits.Inc()
	hits.Add(2)
	fmt.Println(rec.Sum("http.requests", "route", "/videos/{id}"))
	// Output: 3
}

func ExampleNewGauge() {
	reg, _ := prometheus.New(&prometheus.Options{DisableRuntimeMetrics: true})
	open := metricsink.NewGauge(reg, "websocket.connections", metricsink.KV("channel", "video"))
	open.Inc()
	open.Inc()
	open.Dec()
	var b strings.Builder
	reg.WritePrometheus(&b)
	for line := range strings.Lines(b.String()) {
		if strings.HasPrefix(line, "websocket_connections{") {
			fmt.Print(line)
		}
	}
	// Output: websocket_connections{channel="video"} 1
}

func ExampleDeclare() {
	reg, _ := prometheus.New(&prometheus.Options{DisableRuntimeMetrics: true})
	err := metricsink.Declare(reg, metricsink.Desc{
		Name: "comment.body", Kind: metricsink.Histogram, Unit: "bytes",
		Help: "Size of comment bodies.", Buckets: []float64{64, 1024},
	})
	if err != nil {
		panic(err)
	}
	reg.Histogram("comment.body", 300, metricsink.KV("channel", "video"))
	var b strings.Builder
	reg.WritePrometheus(&b)
	for line := range strings.Lines(b.String()) {
		if strings.Contains(line, "comment_body") {
			fmt.Print(line)
		}
	}
	// Output:
	// # HELP comment_body_bytes Size of comment bodies.
	// # TYPE comment_body_bytes histogram
	// comment_body_bytes_bucket{channel="video",le="64"} 0
	// comment_body_bytes_bucket{channel="video",le="1024"} 1
	// comment_body_bytes_bucket{channel="video",le="+Inf"} 1
	// comment_body_bytes_sum{channel="video"} 300
	// comment_body_bytes_count{channel="video"} 1
}
