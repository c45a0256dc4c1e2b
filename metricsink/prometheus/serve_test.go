package prometheus_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/realtimeserver/observability/metricsink"
	"github.com/realtimeserver/observability/metricsink/prometheus"
)

func TestServeListener(t *testing.T) {
	p, _ := newProm(t, nil)
	p.Increment("hits", 1, metricsink.Tags{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- p.ServeListener(ctx, ln) }()

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	for path, wantStatus := range map[string]int{"/metrics": 200, "/": 200, "/other": 404} {
		resp, err := client.Get("http://" + ln.Addr().String() + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != wantStatus {
			t.Errorf("GET %s: status %d, want %d", path, resp.StatusCode, wantStatus)
		}
		if wantStatus == 200 && !strings.Contains(string(b), "hits_total 1") {
			t.Errorf("GET %s: body lacks hits_total:\n%s", path, b)
		}
	}
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("ServeListener after cancel = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ServeListener did not return after its context ended")
	}
}

func TestServeBadAddress(t *testing.T) {
	p, _ := newProm(t, nil)
	err := p.Serve(t.Context(), "127.0.0.1:http-not-a-port")
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:http-not-a-port") {
		t.Errorf("Serve(bad address) = %v, want an error naming the address", err)
	}
}

func TestPushOptionErrors(t *testing.T) {
	p, _ := newProm(t, nil)
	tests := []struct {
		name, url string
		opts      *prometheus.PushOptions
		want      string
	}{
		{"relative URL", "/api/v1/import/prometheus", nil, "URL"},
		{"ftp", "ftp://host/x", nil, "URL"},
		{"negative interval", "http://127.0.0.1:1/x", &prometheus.PushOptions{Interval: -time.Second}, "Interval"},
		{"negative timeout", "http://127.0.0.1:1/x", &prometheus.PushOptions{Timeout: -time.Second}, "Timeout"},
		{"bad header", "http://127.0.0.1:1/x", &prometheus.PushOptions{Headers: []string{"no colon"}}, "Headers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := p.Push(t.Context(), tt.url, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Push() = %v, want an error naming %s", err, tt.want)
			}
		})
	}
}

// A push endpoint that is down costs nothing but a counted error.
func TestPushFailuresCounted(t *testing.T) {
	p, logs := newProm(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if err := p.Push(ctx, "http://user:secret@"+addr+"/api/v1/import/prometheus", &prometheus.PushOptions{Interval: 50 * time.Millisecond}); err != nil {
		t.Fatalf("Push = %v, want nil after its context ended", err)
	}
	expo := scrape(p)
	line := ""
	for _, l := range strings.Split(expo, "\n") {
		if strings.HasPrefix(l, "metricsink_push_errors_total{") {
			line = l
		}
	}
	if line == "" || strings.HasSuffix(line, " 0") || strings.Contains(line, "secret") {
		t.Errorf("push errors line = %q, want a non-zero count with the password redacted", line)
	}
	if got := strings.Count(logs.String(), "push failed"); got != 1 {
		t.Errorf("push failure logged %d times, want once per failing streak:\n%s", got, logs)
	}
}
