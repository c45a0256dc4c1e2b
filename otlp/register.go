package otlp

import (
	"context"

	"github.com/realtimeserver/observability"
	"github.com/realtimeserver/observability/enrich"
)

func init() {
	observability.RegisterOTLP(func(ctx context.Context, b observability.OTLPBuild) (observability.OTLPExporter, error) {
		// Outage and recovery lines go to the logger's local handler, as
		// the Datadog handler's do. The dashboard's spans, when it keeps
		// them, come from the pipeline's provider.
		opts := &Options{ErrorHandler: b.Diagnostics, Spans: b.Spans}
		if b.Diagnostics == nil {
			opts.ErrorOutput, opts.ErrorJSON = b.Config.LogOutput, b.Config.LogFormat == observability.FormatJSON
		}
		p, err := newPipeline(ctx, &b.Config.OTel, b.Names, opts)
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
