package main

import (
	"go.opentelemetry.io/otel"
)

// tracer makes the demo's own spans (storing a comment, broadcasting it),
// children of the request's server span. It goes through the global
// provider, which Setup installs when OTEL_EXPORTER_OTLP_ENDPOINT is set;
// without one its spans cost next to nothing and go nowhere.
var tracer = otel.Tracer("github.com/realtimeserver/observability/cmd/demo")
