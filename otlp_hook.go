package observability

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"go.opentelemetry.io/otel/trace"

	"github.com/realtimeserver/observability/enrich"
	"github.com/realtimeserver/observability/livedash"
	"github.com/realtimeserver/observability/metricsink"
)

// OTLPImportPath is the package a program imports to export traces, logs
// and metrics over OTLP:
//
//	import _ "github.com/realtimeserver/observability/otlp"
//
// It is a module of its own, so that a program that does not export over
// OTLP links no OpenTelemetry SDK, exporter or gRPC.
const OTLPImportPath = "github.com/realtimeserver/observability/otlp"

// ErrOTLPNotLinked is returned by Setup when Config.OTel asks for OTLP
// export (OTEL_EXPORTER_OTLP_ENDPOINT and the like) but the program does
// not import OTLPImportPath. It is never ignored silently: either import
// the package or unset the variables.
var ErrOTLPNotLinked = errors.New("OpenTelemetry export is configured (OTEL_EXPORTER_OTLP_*) but not linked: add `import _ \"" + OTLPImportPath + "\"` to the program, or unset the OTEL_EXPORTER_OTLP_* variables")

// OTLPExporter is the OpenTelemetry pipeline that Setup builds when
// the program imports OTLPImportPath and Config.OTel exports anything or
// the dashboard keeps spans (Config.Dashboard).
// The otlp package's Pipeline implements it; programs reach its counts
// with otlp.From(tel).
type OTLPExporter interface {
	// TracerProvider returns the provider whose spans are exported, or a
	// no-op provider when traces are not exported.
	TracerProvider() trace.TracerProvider
	// LogHandler returns the logger's OTLP backend, or nil when logs are
	// not exported.
	LogHandler() slog.Handler
	// MetricsSink returns the OTLP metrics sink, or nil when metrics are
	// not exported.
	MetricsSink() metricsink.Sink
	// ExportHealth registers the pipeline's own counts on sink and returns
	// the function that unregisters them.
	ExportHealth(sink metricsink.Sink) (unregister func())
	// Flush exports what is queued, until ctx ends.
	Flush(ctx context.Context) error
	// Close flushes, then stops every export, within ctx, and reports what
	// could not be delivered.
	Close(ctx context.Context) error
}

// OTLPBuild is what Setup gives an OTLPBuilder.
type OTLPBuild struct {
	// Config is Setup's configuration; Config.OTel says what to export.
	Config *Config
	// Names is the service's identity, defaults filled in.
	Names enrich.Options
	// Spans, when not nil, is the dashboard's ring of recent spans: the
	// pipeline's TracerProvider also feeds it, sampling as configured,
	// and the pipeline is built even when Config.OTel exports nothing.
	Spans *livedash.Spans
	// Diagnostics is the logger's local handler (the console or JSON
	// lines), never the logger itself: the pipeline's outage and
	// recovery lines go to it, as the Datadog handler's do, so that they
	// read as the program's other lines and never queue for the receiver
	// that fails.
	Diagnostics slog.Handler
}

// OTLPBuilder builds the pipeline b describes.
type OTLPBuilder func(ctx context.Context, b OTLPBuild) (OTLPExporter, error)

var (
	otlpMu      sync.Mutex
	otlpBuilder OTLPBuilder
)

// RegisterOTLP makes Setup build OTLP export with b. The otlp package
// calls it when it is imported; programs do not call it.
func RegisterOTLP(b OTLPBuilder) {
	otlpMu.Lock()
	defer otlpMu.Unlock()
	otlpBuilder = b
}

// otlpLinked reports whether the program imports OTLPImportPath.
func otlpLinked() bool {
	otlpMu.Lock()
	defer otlpMu.Unlock()
	return otlpBuilder != nil
}

// newOTLP builds the OTLP pipeline cfg asks for, with a TracerProvider
// that feeds spans when spans is not nil, or returns nil when it asks for
// none. Without the otlp package linked, spans stays empty: the Traces
// page says how to fill it.
func newOTLP(ctx context.Context, build OTLPBuild) (OTLPExporter, error) {
	otlpMu.Lock()
	b := otlpBuilder
	otlpMu.Unlock()
	if !build.Config.OTel.Enabled() && (build.Spans == nil || b == nil) {
		return nil, nil
	}
	if b == nil {
		return nil, ErrOTLPNotLinked
	}
	x, err := b(ctx, build)
	if err != nil {
		return nil, fmt.Errorf("otlp: %w", err)
	}
	return x, nil
}
