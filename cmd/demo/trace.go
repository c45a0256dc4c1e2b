package main

import (
	"go.opentelemetry.io/otel"
)

// tracer makes the demo's own spans (storing a comment, broadcasting it),
// children of the request's server span. It goes through the global
// provider, which Setup installs when OTEL_EXPORTER_OTLP_ENDPOINT is set
// or the dashboard is on (its Traces page shows them); without either its
// spans cost next to nothing and go nowhere, and with the dashboard alone
// none are made while nobody watches it.
var tracer = otel.Tracer("github.com/realtimeserver/observability/cmd/demo")
