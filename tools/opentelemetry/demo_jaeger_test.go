package opentelemetry

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestDemoTraceInJaeger: the demo, pointed at Jaeger by
// OTEL_EXPORTER_OTLP_ENDPOINT, makes one trace of a POST that continues
// the caller's traceparent: the HTTP server span, the spans the handler
// makes (storing the comment, broadcasting it) and the database spans
// below them; and every log line of the request carries that trace id.
func TestDemoTraceInJaeger(t *testing.T) {
	j := startJaeger(t)
	d := startDemo(t,
		"OTEL_EXPORTER_OTLP_ENDPOINT="+j.OTLP,
		"OTEL_LOGS_EXPORTER=none", "OTEL_METRICS_EXPORTER=none", // Jaeger takes traces only
		"OTEL_BSP_SCHEDULE_DELAY=100",
		"SERVICE_NAME=realtime-jaeger-test",
	)
	traceID, parentID := randomHex(16), randomHex(8)
	payload, _ := json.Marshal(map[string]any{"user_id": 7, "body": "traced"})
	req, _ := http.NewRequest("POST", d.URL+"/api/videos/42/comments", bytes.NewReader(payload))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", "00-"+traceID+"-"+parentID+"-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST answered %d", resp.StatusCode)
	}
	requestID := resp.Header.Get("X-Request-ID")
	d.stop(t)

	got := j.trace(t, traceID, 4)
	byID := map[string]jaegerSpan{}
	var server jaegerSpan
	for _, s := range got.Spans {
		byID[s.SpanID] = s
		if s.OperationName == "POST /api/videos/{video_id}/comments" {
			server = s
		}
	}
	if server.SpanID == "" {
		t.Fatalf("no server span named by method and route among %v", names(got.Spans))
	}
	if server.parent() != parentID {
		t.Errorf("the server span's parent is %q, want the caller's %s", server.parent(), parentID)
	}
	for k, want := range map[string]string{
		"http.request.method": "POST", "http.route": "/api/videos/{video_id}/comments",
		"http.response.status_code": "201", "span.kind": "server", "request_id": requestID,
	} {
		if v := server.tag(k); v != want {
			t.Errorf("server span %s = %q, want %q", k, v, want)
		}
	}
	if proc := got.Processes[server.ProcessID]; proc.ServiceName != "realtime-jaeger-test" {
		t.Errorf("service = %q", proc.ServiceName)
	}
	// below reports whether s has the server span among its ancestors.
	below := func(s jaegerSpan) bool {
		for i := 0; i < 10 && s.parent() != ""; i++ {
			if s.parent() == server.SpanID {
				return true
			}
			s = byID[s.parent()]
		}
		return false
	}
	var db, store, broadcast int
	for _, s := range got.Spans {
		switch {
		case s.tag("db.system.name") != "":
			db++
			if !below(s) {
				t.Errorf("database span %q is not below the server span", s.OperationName)
			}
			if s.tag("span.kind") != "client" || s.tag("db.operation.name") == "" {
				t.Errorf("database span %q: kind %q, operation %q", s.OperationName, s.tag("span.kind"), s.tag("db.operation.name"))
			}
			if q := s.tag("db.query.text"); strings.Contains(q, "traced") {
				t.Errorf("database span carries an argument: %q", q)
			}
		case s.OperationName == "store comment":
			store++
			if s.parent() != server.SpanID {
				t.Errorf("store comment's parent is %q, want the server span", s.parent())
			}
		case s.OperationName == "broadcast":
			broadcast++
			if !below(s) {
				t.Error("broadcast is not below the server span")
			}
		}
	}
	if db == 0 || store != 1 || broadcast != 1 {
		t.Errorf("spans: %d database, %d store comment, %d broadcast; want some, 1, 1: %v", db, store, broadcast, names(got.Spans))
	}

	// Every log line of the request carries the trace id.
	var lines int
	for _, rec := range jsonLines(d.stderr.String()) {
		if rec["request_id"] != requestID {
			continue
		}
		lines++
		if rec["trace_id"] != traceID {
			t.Errorf("log line %q has trace_id %v, want %s", rec["msg"], rec["trace_id"], traceID)
		}
		if id, _ := rec["span_id"].(string); len(id) != 16 {
			t.Errorf("log line %q has span_id %v", rec["msg"], rec["span_id"])
		}
	}
	if lines < 2 {
		t.Errorf("found %d log lines of the request, want the comment and the access log at least", lines)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func names(spans []jaegerSpan) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.OperationName)
	}
	return out
}
