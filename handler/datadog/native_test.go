package datadog_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/realtimeserver/observability/enrich"
	"github.com/realtimeserver/observability/handler/datadog"
	"github.com/realtimeserver/observability/httpmetrics"
	"github.com/realtimeserver/observability/metricsink"
)

// localIntake keeps the raw entries of every request, as they arrive.
type localIntake struct {
	mu      sync.Mutex
	entries []json.RawMessage
}

func (in *localIntake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	zr, err := gzip.NewReader(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var batch []json.RawMessage
	if err := json.NewDecoder(zr).Decode(&batch); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	in.mu.Lock()
	in.entries = append(in.entries, batch...)
	in.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

// rootKeys returns the keys at the root of entry, in order, duplicates
// included, and the entry decoded.
func rootKeys(t *testing.T, entry []byte) ([]string, map[string]any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(entry))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("entry %s is not an object", entry)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	var m map[string]any
	dec = json.NewDecoder(bytes.NewReader(entry))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return keys, m
}

// path reads a nested member of m, such as "http.url_details.path".
func path(m map[string]any, p string) any {
	var v any = m
	for _, k := range strings.Split(p, ".") {
		o, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = o[k]
	}
	return v
}

// TestEntriesAreNativeInDatadog runs the access log of httpmetrics and an
// application record through enrich (as Setup builds the pipeline) into
// the Datadog handler, and checks each entry that reaches a local intake
// field by field against Datadog's reserved and standard attributes.
func TestEntriesAreNativeInDatadog(t *testing.T) {
	in := &localIntake{}
	srv := httptest.NewServer(in)
	defer srv.Close()
	dd, err := datadog.New(&datadog.Options{
		APIKey: "0123456789abcdef0123456789abcdef", URL: srv.URL + "/api/v2/logs",
		Service: "comments", Env: "production", Version: "1.4.0", Hostname: "web-1",
		ErrorOutput: io.Discard,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer dd.Close(context.Background())
	logger := slog.New(enrich.New(dd, &enrich.Options{
		Service: "comments", Environment: "production", Version: "1.4.0", Host: "web-1", PID: 4242,
	}))

	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/videos/{id}/comments", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
	})
	app := httptest.NewServer(httpmetrics.Middleware(metricsink.Discard, &httpmetrics.Options{AccessLog: true, Logger: logger})(mux))
	defer app.Close()
	req, _ := http.NewRequest(http.MethodPost, app.URL+"/api/videos/42/comments", strings.NewReader("{}"))
	req.Header.Set("User-Agent", "native-test/1.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	logger.Error("saving the comment failed",
		"video_id", 42,
		"error", errors.New("disk full"),
		"stack", "main.save\n\tstore.go:12",
		"logger", "comments.store",
		"trace_id", "4bf92f3577b34da6a3ce929d0e0e4736",
		"span_id", "00f067aa0ba902b7",
	)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := dd.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	in.mu.Lock()
	entries := append([]json.RawMessage(nil), in.entries...)
	in.mu.Unlock()
	if len(entries) != 2 {
		t.Fatalf("intake got %d entries, want 2", len(entries))
	}

	for _, e := range entries {
		keys, m := rootKeys(t, e)
		seen := map[string]int{}
		for _, k := range keys {
			seen[k]++
			if seen[k] > 1 {
				t.Errorf("root key %q twice in %s", k, e)
			}
			if strings.HasPrefix(k, "attr.") {
				t.Errorf("renamed key %q in %s", k, e)
			}
		}
		// The identity once, where Datadog reserves it.
		for _, k := range []string{"host", "environment", "env", "version"} {
			if _, ok := m[k]; ok {
				t.Errorf("identity repeated as %q: %s", k, e)
			}
		}
		if m["service"] != "comments" || m["hostname"] != "web-1" || m["ddsource"] != "go" || m["ddtags"] != "env:production,version:1.4.0" {
			t.Errorf("reserved attributes = service %v, hostname %v, ddsource %v, ddtags %v", m["service"], m["hostname"], m["ddsource"], m["ddtags"])
		}
		if m["pid"] != json.Number("4242") {
			t.Errorf("pid = %v, want 4242 once as an attribute", m["pid"])
		}
		if _, ok := m["timestamp"].(json.Number); !ok {
			t.Errorf("timestamp = %v, want milliseconds", m["timestamp"])
		}
	}

	_, access := rootKeys(t, entries[0])
	for p, want := range map[string]any{
		"message":               "http request",
		"status":                "info",
		"http.method":           "POST",
		"http.status_code":      json.Number("201"),
		"http.route":            "/api/videos/{id}/comments",
		"http.url_details.path": "/api/videos/42/comments",
		"http.useragent":        "native-test/1.0",
		"network.client.ip":     "127.0.0.1",
	} {
		if got := path(access, p); got != want {
			t.Errorf("access log %s = %#v, want %#v", p, got, want)
		}
	}
	if d, _ := access["duration"].(json.Number).Int64(); d <= 0 || d > int64(10*time.Second) {
		t.Errorf("access log duration = %v, want nanoseconds", access["duration"])
	}
	for _, k := range []string{"method", "route", "path", "user_agent", "client_ip"} {
		if _, ok := access[k]; ok {
			t.Errorf("access log keeps the flat key %q beside its standard attribute", k)
		}
	}

	_, app2 := rootKeys(t, entries[1])
	for p, want := range map[string]any{
		"status":        "error",
		"error.kind":    "*errors.errorString",
		"error.message": "disk full",
		"error.stack":   "main.save\n\tstore.go:12",
		"logger.name":   "comments.store",
		// Datadog correlates on the lower 64 bits of the trace id, in decimal.
		"dd.trace_id":   "11803532876627986230",
		"dd.span_id":    "67667974448284343",
		"otel.trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
		"otel.span_id":  "00f067aa0ba902b7",
		"video_id":      json.Number("42"),
	} {
		if got := path(app2, p); got != want {
			t.Errorf("record %s = %#v, want %#v", p, got, want)
		}
	}
}
