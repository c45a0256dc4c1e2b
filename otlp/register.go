package otlp

import (
	"context"

	"github.com/realtimeserver/observability"
	"github.com/realtimeserver/observability/enrich"
	"github.com/realtimeserver/observability/livedash"
)

func init() {
	observability.RegisterOTLP(func(ctx context.Context, cfg *observability.Config, names enrich.Options, spans *livedash.Spans) (observability.OTLPExporter, error) {
		// Outage and recovery lines go where the logger's local output
		// goes, in its format, as the Datadog handler's do. The dashboard's
		// spans, when it keeps them, come from the pipeline's provider.
		opts := &Options{ErrorOutput: cfg.LogOutput, ErrorJSON: cfg.LogFormat == observability.FormatJSON, Spans: spans}
		p, err := newPipeline(ctx, &cfg.OTel, names, opts)
		if err != nil || p == nil {
			return nil, err
		}
		return p, nil
	})
}

var _ observability.OTLPExporter = (*Pipeline)(nil)

// New builds the pipeline cfg describes for the service names identifies
// (names.WithDefaults fills what is unset), writing its diagnostics as
// opts says (nil means defaults), for programs that build their logger
// and sinks without observability.Setup. It returns nil and no error when
// cfg exports nothing and opts.Spans is nil.
func New(ctx context.Context, cfg *observability.OTelConfig, names enrich.Options, opts *Options) (*Pipeline, error) {
	return newPipeline(ctx, cfg, names.WithDefaults(), opts)
}

// From returns the pipeline Setup built into tel, or nil when tel
// exports nothing over OTLP.
func From(tel *observability.Telemetry) *Pipeline {
	if tel == nil {
		return nil
	}
	p, _ := tel.OTLP.(*Pipeline)
	return p
}
