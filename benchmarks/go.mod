module github.com/realtimeserver/observability/benchmarks

go 1.26.8

replace github.com/realtimeserver/observability => ../

require github.com/realtimeserver/observability v0.0.0-00010101000000-000000000000

require (
	github.com/mattn/go-colorable v0.1.14 // indirect
	github.com/mattn/go-isatty v0.0.24 // indirect
	github.com/prometheus/client_golang v1.25.0 // indirect
	github.com/prometheus/common v0.73.1 // indirect
	github.com/rs/zerolog v1.35.1 // indirect
	go.uber.org/multierr v1.10.0 // indirect
	go.uber.org/zap v1.28.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)
