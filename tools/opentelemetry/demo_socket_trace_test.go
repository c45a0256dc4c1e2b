package opentelemetry

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestDemoSocketMessageTraces: each comment posted over the demo's
// WebSocket is a trace of its own, rooted at a "ws comment.create" span
// linked to the request that opened the socket (a socket outlives that
// request, whose trace would otherwise gather every message), with the
// comment's store span below it.
func TestDemoSocketMessageTraces(t *testing.T) {
	j := startJaeger(t)
	d := startDemo(t,
		"OTEL_EXPORTER_OTLP_ENDPOINT="+j.OTLP,
		"OTEL_LOGS_EXPORTER=none", "OTEL_METRICS_EXPORTER=none",
		"OTEL_BSP_SCHEDULE_DELAY=100",
	)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	openTrace, openParent := randomHex(16), randomHex(8)
	h := http.Header{}
	h.Set("traceparent", "00-"+openTrace+"-"+openParent+"-01")
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(d.URL, "http")+"/socket?channel=video:9", &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	for _, ref := range []string{"a", "b"} {
		msg := `{"event":"comment.create","ref":"` + ref + `","payload":{"user_id":5,"body":"socket ` + ref + `"}}`
		if err := ws.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		for acked := false; !acked; {
			_, data, err := ws.Read(ctx)
			if err != nil {
				t.Fatalf("reading the ack of %s: %v", ref, err)
			}
			var e struct{ Event, Ref string }
			_ = json.Unmarshal(data, &e)
			acked = e.Event == "ack" && e.Ref == ref
		}
	}
	ws.Close(websocket.StatusNormalClosure, "")

	// The trace of each comment, from its log line.
	var ids []string
	deadline := time.Now().Add(10 * time.Second)
	for len(ids) < 2 && time.Now().Before(deadline) {
		ids = ids[:0]
		for _, rec := range jsonLines(d.stderr.String()) {
			if rec["msg"] == "comment created" && rec["transport"] == "ws" {
				id, _ := rec["trace_id"].(string)
				ids = append(ids, id)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(ids) != 2 || ids[0] == ids[1] || ids[0] == openTrace || ids[1] == openTrace || len(ids[0]) != 32 {
		t.Fatalf("the two socket comments logged trace ids %q; want two traces of their own, not the socket's %s", ids, openTrace)
	}
	for _, id := range ids {
		tr := j.trace(t, id, 3)
		var root jaegerSpan
		var store bool
		for _, s := range tr.Spans {
			if s.OperationName == "ws comment.create" {
				root = s
			}
			store = store || s.OperationName == "store comment"
		}
		if root.SpanID == "" || root.parent() != "" || !store {
			t.Errorf("trace %s: root %q (parent %q), a store comment span %v; spans %v", id, root.OperationName, root.parent(), store, names(tr.Spans))
			continue
		}
		var linked bool
		for _, r := range root.References {
			linked = linked || (r.RefType == "FOLLOWS_FROM" && r.TraceID == openTrace)
		}
		if !linked {
			t.Errorf("trace %s: the message span has no link to the socket's request (trace %s): %+v", id, openTrace, root.References)
		}
	}
}
