package drivertest

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/realtimeserver/observability/dbmetrics"
)

func spanAttrs(s sdktrace.ReadOnlySpan) map[attribute.Key]string {
	m := map[attribute.Key]string{}
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value.Emit()
	}
	return m
}

func TestStatementSpans(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	db, err := dbmetrics.Open("sqlite", ":memory:", &dbmetrics.Options{TracerProvider: tp, DBName: "main", NoPoolMetrics: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)

	ctx, parent := tp.Tracer("test").Start(context.Background(), "request")
	db.MustExecContext(ctx, "CREATE TABLE comments (id INTEGER PRIMARY KEY, body TEXT)")
	db.MustExecContext(ctx, "INSERT INTO comments (body) VALUES (?)", "secret-argument")
	db.MustExecContext(ctx, "INSERT INTO comments (body) VALUES (?)", "second")
	rows, err := db.QueryxContext(ctx, "SELECT id, body FROM comments")
	if err != nil {
		t.Fatal(err)
	}
	rows.Next()
	time.Sleep(30 * time.Millisecond) // reading rows is part of the query
	for rows.Next() {
	}
	rows.Close()
	if _, err := db.ExecContext(ctx, "INSERT INTO missing (x) VALUES (1)"); err == nil {
		t.Fatal("no error from a missing table")
	}
	parent.End()

	byName := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range rec.Ended() {
		byName[s.Name()] = s
	}
	sel, ok := byName["SELECT comments"]
	if !ok {
		t.Fatalf("no SELECT comments span among %v", byName)
	}
	ins := byName["INSERT comments"]
	for _, s := range []sdktrace.ReadOnlySpan{sel, ins} {
		if s.Parent().SpanID() != parent.SpanContext().SpanID() || s.SpanKind() != trace.SpanKindClient {
			t.Errorf("%s: parent %v kind %v; want the request span, client", s.Name(), s.Parent().SpanID(), s.SpanKind())
		}
	}
	a := spanAttrs(ins)
	for k, want := range map[attribute.Key]string{
		"db.system.name": "sqlite", "db.system": "sqlite", "db.operation.name": "INSERT",
		"db.collection.name": "comments", "db.namespace": "main",
		"db.query.text": "INSERT INTO comments (body) VALUES (?)",
	} {
		if a[k] != want {
			t.Errorf("%s = %q, want %q", k, a[k], want)
		}
	}
	for _, s := range rec.Ended() {
		for _, kv := range s.Attributes() {
			if strings.Contains(kv.Value.Emit(), "secret-argument") {
				t.Errorf("span %s carries an argument in %s", s.Name(), kv.Key)
			}
		}
	}
	if d := sel.EndTime().Sub(sel.StartTime()); d < 30*time.Millisecond {
		t.Errorf("the SELECT span lasted %v; want the reading of its rows inside it", d)
	}
	bad := byName["INSERT missing"]
	if bad == nil || bad.Status().Code != codes.Error || len(bad.Events()) == 0 || bad.Events()[0].Name != "exception" {
		t.Errorf("the failed statement's span: %v", bad)
	}
	if byName["CREATE comments"] == nil {
		t.Errorf("no span for the DDL statement among %v", byName)
	}
}

func TestTransactionSpans(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	db, err := dbmetrics.Open("sqlite", ":memory:", &dbmetrics.Options{TracerProvider: tp, NoPoolMetrics: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, parent := tp.Tracer("test").Start(context.Background(), "request")
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	parent.End()
	names := map[string]bool{}
	for _, s := range rec.Ended() {
		names[s.Name()] = true
		if s.Name() != "request" && s.Parent().SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("%s is not a child of the request", s.Name())
		}
	}
	if !names["BEGIN"] || !names["COMMIT"] {
		t.Errorf("spans %v; want BEGIN and COMMIT", names)
	}
}
