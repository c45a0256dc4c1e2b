// Package jaeger pins Jaeger v1.76.0, the traces receiver of the tools
// module's OpenTelemetry tests, as a Go tool of a module of its own:
//
//	cd tools/jaeger && GOWORK=off go build -o "$bin/jaeger" github.com/jaegertracing/jaeger/cmd/jaeger
//	cd tools/jaeger && GOWORK=off go tool jaeger   # OTLP/HTTP on :4318, the API (not the UI) on :16686
//
// It cannot live in the tools module itself: that module requires the kit,
// whose OpenTelemetry release (log API v1) is newer than the one Jaeger
// v1.76.0 compiles against (log API v0.14), and Go's minimal version
// selection would give Jaeger the newer one. Here Jaeger builds with
// exactly the versions its release requires.
package jaeger
