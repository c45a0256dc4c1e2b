package benchmarks

import (
	"context"
	"io"
	"log/slog"
	"math"
	"runtime"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/realtimeserver/observability"
	"github.com/realtimeserver/observability/enrich"
	"github.com/realtimeserver/observability/handler"
)

// logCase is one row of BenchmarkLog: one library or pipeline logging the
// same record.
type logCase struct {
	name string
	run  func(b *testing.B)
}

// logCases are the rows of BenchmarkLog, in order: the baseline first.
// They are a package-level initializer, which Go runs before any init, so
// rows that other files append from init (datadog) come after these.
var logCases = []logCase{
	{"slog-json", benchInfo(jsonHandler())},
	{"json", benchInfo(handler.JSON(io.Discard, nil))},
	{"enrich", benchInfo(enrich.New(jsonHandler(), &benchOptions))},
	{"slog-json-ids", benchSlogIDs},
	{"enrich-span", benchEnrichSpan},
	{"enrich-span-json", benchEnrichSpanOn(handler.JSON(io.Discard, nil))},
	{"fanout-2", benchInfo(handler.Fanout(jsonHandler(), jsonHandler()))},
	{"redact", benchInfo(handler.Redact(jsonHandler(), nil))},
	{"console", benchInfo(handler.Console(io.Discard, nil))},
	{"enrich-storm", benchInfo(stormOver(enrich.New(jsonHandler(), &benchOptions)))},
	{"setup", benchSetup},
	{"suppressed", benchSuppressed},
	{"disabled-slog-json", benchDisabledBaseline},
	{"disabled", benchDisabled},
	{"zap", benchZap},
	{"zerolog", benchZerolog},
}

// BenchmarkLog logs one Info record with the message "message" and three
// attributes (a=1, b=2, c="three") to io.Discard through each pipeline.
// slog-json, the standard library's JSON handler, is the baseline.
func BenchmarkLog(b *testing.B) {
	for _, c := range logCases {
		b.Run(c.name, c.run)
	}
}

// benchOptions sets every field, so that enrich.New reads nothing from the
// process.
var benchOptions = enrich.Options{
	Service:     "realtime-server",
	Environment: "production",
	Version:     "v1.4.0",
	Host:        "web-1",
	PID:         4242,
}

func jsonHandler() slog.Handler { return slog.NewJSONHandler(io.Discard, nil) }

// benchInfo returns the run function of a row that logs the record
// through h with Info.
func benchInfo(h slog.Handler) func(b *testing.B) {
	return func(b *testing.B) {
		logger := slog.New(h)
		b.ReportAllocs()
		for b.Loop() {
			logger.Info("message", "a", 1, "b", 2, "c", "three")
		}
	}
}

// benchDisabledBaseline is the baseline of the disabled row: a Debug call on
// an Info logger over one JSON handler, nothing of ours.
func benchDisabledBaseline(b *testing.B) {
	logger := slog.New(jsonHandler())
	b.ReportAllocs()
	for b.Loop() {
		logger.Debug("message", "a", 1, "b", 2, "c", "three")
	}
}

// benchDisabled is the disabled row: a Debug call on the Info logger
// that observability.Setup builds (JSON format, to io.Discard, no metrics
// backend or listener).
func benchDisabled(b *testing.B) {
	tel, err := observability.Setup(context.Background(), observability.Config{
		LogFormat:                 observability.FormatJSON,
		LogOutput:                 io.Discard,
		LogLevel:                  slog.LevelInfo,
		MetricsBackends:           []string{},
		DisablePrometheusListener: true,
		ServiceName:               benchOptions.Service,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	logger := tel.Logger
	b.ReportAllocs()
	for b.Loop() {
		logger.Debug("message", "a", 1, "b", 2, "c", "three")
	}
}

// stormOver puts storm control in front of next with limits no benchmark
// reaches, so that every record passes: what the limiter costs a record
// that is not part of a storm.
func stormOver(next slog.Handler) slog.Handler {
	s, err := handler.NewStorm(next, &handler.StormOptions{Rate: math.MaxInt, Burst: math.MaxInt})
	if err != nil {
		panic(err)
	}
	return s
}

// setupLogger returns the logger observability.Setup builds (JSON format,
// to io.Discard, no metrics backend or listener) with storm control set to
// limit, shut down when b ends.
func setupLogger(b *testing.B, limit handler.StormOptions) *slog.Logger {
	tel, err := observability.Setup(context.Background(), observability.Config{
		LogFormat:                 observability.FormatJSON,
		LogOutput:                 io.Discard,
		LogLevel:                  slog.LevelInfo,
		LogRateLimit:              limit,
		MetricsBackends:           []string{},
		DisablePrometheusListener: true,
		ServiceName:               benchOptions.Service,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { tel.Shutdown(context.Background()) })
	return tel.Logger
}

// benchSetup is the setup row: the record through Setup's whole pipeline
// (storm control, enrichment, redaction, the level counts, the JSON
// writer) with limits no benchmark reaches, so that every record passes.
func benchSetup(b *testing.B) {
	logger := setupLogger(b, handler.StormOptions{Rate: math.MaxInt, Burst: math.MaxInt})
	b.ReportAllocs()
	for b.Loop() {
		logger.Info("message", "a", 1, "b", 2, "c", "three")
	}
}

// benchSuppressed is the suppressed row: a record refused by Setup's storm
// control (a limit of one record a second from a site, spent before the
// loop), handed to the handler of Setup's logger. It measures what the
// kit spends on a record it suppresses. What slog.Logger spends making the
// record (the caller's PC from runtime.Callers, the Record and its
// attributes) comes before any handler and is the same whatever the
// handler; BenchmarkStorm in the handler package shows it
// (logger-baseline).
func benchSuppressed(b *testing.B) {
	h := setupLogger(b, handler.StormOptions{Rate: 1, Burst: 1}).Handler()
	var pcs [1]uintptr
	runtime.Callers(1, pcs[:])
	r := slog.NewRecord(time.Now(), slog.LevelInfo, "message", pcs[0])
	r.AddAttrs(slog.Int("a", 1), slog.Int("b", 2), slog.String("c", "three"))
	ctx := context.Background()
	if !h.Enabled(ctx, r.Level) {
		b.Fatal("the record's level is disabled")
	}
	h.Handle(ctx, r) // spends the site's burst
	b.ReportAllocs()
	for b.Loop() {
		h.Handle(ctx, r)
	}
}

// benchSlogIDs is the record of the enrich-span rows with its trace and
// span ids added by hand, through slog's JSON handler: what slog's own
// writer costs for the 48 characters more, whoever adds them.
func benchSlogIDs(b *testing.B) {
	logger := slog.New(jsonHandler())
	b.ReportAllocs()
	for b.Loop() {
		logger.Info("message", "a", 1, "b", 2, "c", "three",
			"trace_id", "4bf92f3577b34da6a3ce929d0e0e4736", "span_id", "00f067aa0ba902b7")
	}
}

// benchEnrichSpan is the enrich row with a record whose context holds a
// valid OpenTelemetry span: trace_id and span_id are added to each record.
func benchEnrichSpan(b *testing.B) { benchEnrichSpanOn(jsonHandler())(b) }

// benchEnrichSpanOn returns the run function of the enrich-span record
// through enrich.New(next, &benchOptions).
func benchEnrichSpanOn(next slog.Handler) func(b *testing.B) {
	return func(b *testing.B) {
		sc := trace.NewSpanContext(trace.SpanContextConfig{
			TraceID:    trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
			SpanID:     trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
			TraceFlags: trace.FlagsSampled,
		})
		ctx := trace.ContextWithSpanContext(context.Background(), sc)
		logger := slog.New(enrich.New(next, &benchOptions))
		b.ReportAllocs()
		for b.Loop() {
			logger.InfoContext(ctx, "message", "a", 1, "b", 2, "c", "three")
		}
	}
}

func benchZap(b *testing.B) {
	logger := zap.New(zapcore.NewCore(
		zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()),
		zapcore.AddSync(io.Discard),
		zapcore.InfoLevel,
	))
	b.ReportAllocs()
	for b.Loop() {
		logger.Info("message", zap.Int("a", 1), zap.Int("b", 2), zap.String("c", "three"))
	}
}

func benchZerolog(b *testing.B) {
	logger := zerolog.New(io.Discard).With().Timestamp().Logger()
	b.ReportAllocs()
	for b.Loop() {
		logger.Info().Int("a", 1).Int("b", 2).Str("c", "three").Msg("message")
	}
}
