// Package tools holds the tests that prove the kit's output against real
// consumers built from their own Go sources, one package per consumer:
// prometheus/statsd_exporter reading the DogStatsD stream (statsdexporter),
// Grafana's own dashboard types (grafana), the OpenTelemetry receivers
// (opentelemetry), and prometheus/common's expfmt reading the Prometheus
// registry's expositions (exposition). It is a module of its own, so that none of those programs
// and libraries enter the main go.mod.
//
//	cd tools && go test ./...
package tools
