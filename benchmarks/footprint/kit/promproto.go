//go:build promproto

package main

// Built with -tags promproto, the program also serves /metrics in the
// protobuf format: what a program pays for native histograms on the wire.
import _ "github.com/realtimeserver/observability/metricsink/prometheus/promproto"
