package main

import "github.com/realtimeserver/observability/metricsink"

// demoMetrics are the declarations of the demo's own metrics: their help
// text, units and, for histograms, buckets fitted to what they measure.
var demoMetrics = []metricsink.Desc{
	{Name: "comments.created", Kind: metricsink.Counter,
		Help: "Comments stored, by region, channel and transport (http, socket)."},
	{Name: "comments.failed", Kind: metricsink.Counter,
		Help: "Comments that could not be stored, by region and transport."},
	{Name: "comment.creation.duration", Kind: metricsink.Histogram, Unit: "seconds",
		Help: "Time to store a comment, by region and transport."},
	{Name: "comment.body.bytes", Kind: metricsink.Histogram, Unit: "bytes",
		Help:    "Size of the bodies of the comments stored, in bytes, by region and transport.",
		Buckets: []float64{16, 64, 256, 1024, 4096, 16384, 65536}},
	{Name: "requests.rejected", Kind: metricsink.Counter,
		Help: "Requests refused before reaching the store, by transport and reason."},
	{Name: "sockets.idle_closed", Kind: metricsink.Counter,
		Help: "WebSocket connections closed because they stayed silent past the idle timeout, by region."},
	{Name: "users.online", Kind: metricsink.Gauge,
		Help: "WebSocket clients connected to this instance, by region."},
}

// declareMetrics declares the demo's metrics on sink.
func declareMetrics(sink metricsink.Sink) {
	for _, d := range demoMetrics {
		_ = metricsink.Declare(sink, d) // fixed, valid declarations
	}
}
