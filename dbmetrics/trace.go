package dbmetrics

import (
	"context"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the spans the wrapped driver
// makes.
const ScopeName = "github.com/realtimeserver/observability/dbmetrics"

// defaultProvider is the global provider as the process starts: a
// delegate that makes no spans until a program installs a provider.
var defaultProvider = otel.GetTracerProvider()

// dbSystem maps a database/sql driver name to db.system.name.
func dbSystem(driverName string) string {
	switch driverName {
	case "pgx", "postgres", "postgresql", "pq":
		return "postgresql"
	case "sqlite", "sqlite3":
		return "sqlite"
	case "mysql":
		return "mysql"
	case "sqlserver", "mssql":
		return "microsoft.sql_server"
	}
	return "other_sql"
}

// tracer returns the tracer of statement spans, or nil when no provider
// is set: the only cost then is this check.
func (in *instrument) tracer() trace.Tracer {
	tp := in.tp
	if tp == nil {
		tp = otel.GetTracerProvider()
		if tp == defaultProvider {
			return nil
		}
	}
	return tp.Tracer(ScopeName)
}

// startSpan starts the client span of one statement, a child of ctx's
// span. Its name is the operation and the source ("SELECT comments"); it
// carries the shortened SQL text, never the arguments.
func (in *instrument) startSpan(ctx context.Context, tr trace.Tracer, info *stmtInfo, source string) trace.Span {
	op := strings.ToUpper(info.operation) // as SQL spells it: SELECT
	name := op
	attrs := make([]attribute.KeyValue, 0, 6)
	attrs = append(attrs,
		semconv.DBSystemNameKey.String(in.system),
		attribute.String("db.system", in.system),
		semconv.DBOperationName(op),
	)
	switch source {
	case SourceNone, SourceUnknown, SourceOther, "":
	default:
		name += " " + source
		attrs = append(attrs, semconv.DBCollectionName(source))
	}
	if in.namespace != "" {
		attrs = append(attrs, semconv.DBNamespace(in.namespace))
	}
	if in.maxSQL > 0 {
		attrs = append(attrs, semconv.DBQueryText(shortenSQL(info.sql, in.maxSQL)))
	}
	_, span := tr.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	return span
}

// endSpan records err, when it counts as a failure, and ends the span.
func endSpan(span trace.Span, err error) {
	if countsAsError(err) {
		span.RecordError(err)
		span.SetStatus(codes.Error, "")
	}
	span.End()
}
