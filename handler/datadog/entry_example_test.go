package datadog_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/realtimeserver/observability/enrich"
	"github.com/realtimeserver/observability/handler/datadog"
)

// Example_accessLogEntry prints an access log entry as it arrives at a
// local intake, byte for byte (indented): the record is the one
// httpmetrics' access log writes, in a request carrying an OpenTelemetry
// span, through enrich as Setup builds the pipeline. The README shows this
// output (go test ./handler/datadog -run Example_accessLogEntry -v).
func Example_accessLogEntry() {
	intake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		zr, _ := gzip.NewReader(r.Body)
		body, _ := io.ReadAll(zr)
		var entries []json.RawMessage
		json.Unmarshal(body, &entries)
		for _, e := range entries {
			var out bytes.Buffer
			json.Indent(&out, e, "", "  ")
			fmt.Println(out.String())
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer intake.Close()

	dd, err := datadog.New(&datadog.Options{
		APIKey: "not-a-real-key", URL: intake.URL + "/api/v2/logs",
		Service: "comments", Env: "production", Version: "1.4.0", Hostname: "web-1",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	h := enrich.New(dd, &enrich.Options{Service: "comments", Environment: "production", Version: "1.4.0", Host: "web-1", PID: 4242})

	// What the access log and enrich add, at a fixed time.
	r := slog.NewRecord(time.Date(2026, 12, 1, 14, 5, 1, 0, time.UTC), slog.LevelInfo, "http request", 0)
	r.AddAttrs(
		slog.String("method", "POST"),
		slog.String("route", "/api/videos/{id}/comments"),
		slog.String("path", "/api/videos/42/comments"),
		slog.Int("status", 201),
		slog.Duration("duration", 1834200*time.Nanosecond),
		slog.Int64("bytes", 97),
		slog.String("user_agent", "curl/8.11.1"),
		slog.String("client_ip", "203.0.113.7"),
		slog.String("request_id", "f3b2c1d0a9e8"),
		slog.String("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"),
		slog.String("span_id", "00f067aa0ba902b7"),
	)
	h.Handle(context.Background(), r)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := dd.Close(ctx); err != nil {
		fmt.Println(err)
	}
	// Output:
	// {
	//   "status": "info",
	//   "timestamp": 1796133901000,
	//   "message": "http request",
	//   "service": "comments",
	//   "hostname": "web-1",
	//   "ddsource": "go",
	//   "ddtags": "env:production,version:1.4.0",
	//   "pid": 4242,
	//   "duration": 1834200,
	//   "bytes": 97,
	//   "request_id": "f3b2c1d0a9e8",
	//   "http": {
	//     "method": "POST",
	//     "status_code": 201,
	//     "route": "/api/videos/{id}/comments",
	//     "url_details": {
	//       "path": "/api/videos/42/comments"
	//     },
	//     "useragent": "curl/8.11.1"
	//   },
	//   "network": {
	//     "client": {
	//       "ip": "203.0.113.7"
	//     }
	//   },
	//   "dd": {
	//     "trace_id": "11803532876627986230",
	//     "span_id": "67667974448284343"
	//   },
	//   "otel": {
	//     "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
	//     "span_id": "00f067aa0ba902b7"
	//   }
	// }
}
