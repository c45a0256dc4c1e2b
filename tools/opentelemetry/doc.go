// Package opentelemetry proves the kit's OTLP output against real
// OpenTelemetry receivers: Jaeger (built from its own sources as a Go tool
// of the module tools/jaeger) for traces, queried through its HTTP API, and the
// OpenTelemetry Collector's own OTLP receiver, started inside the tests
// with consumers that record what it receives, for logs and metrics.
//
// The tests find Jaeger as the program named by JAEGER_BIN, or jaeger on
// PATH; .ci/run builds it with
//
//	cd tools/jaeger && go build -o "$bin/jaeger" github.com/jaegertracing/jaeger/cmd/jaeger
//
// Without it they skip, or fail when OBSERVABILITY_REQUIRE_INTEGRATION=1.
package opentelemetry
