package deliver

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"3", 3 * time.Second},
		{" 10 ", 10 * time.Second},
		{"0", 0},
		{"-5", 0},
		{"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	}
	for _, tt := range tests {
		if got := ParseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("ParseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// TestTransportObserves: the Transport records the status and Retry-After
// of the answer to a request made with an observed context, and the
// error of one that got no answer.
func TestTransportObserves(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()
	tr := NewTransport()
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	ctx, obs := Observe(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if obs.Status != 429 || obs.RetryAfter != 7*time.Second || obs.Err != nil {
		t.Errorf("observation = %+v, want 429 and 7s", obs)
	}
	if got := reasonText(obs.Result(errors.New("x")), false); got != "429 Too Many Requests" {
		t.Errorf("reason = %q", got)
	}

	// Nothing listens on a port just closed.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, obs = Observe(context.Background())
	req, _ = http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr, nil)
	if _, err := client.Do(req); err == nil {
		t.Fatal("a request to a closed port succeeded")
	}
	if obs.Status != 0 || obs.Err == nil {
		t.Errorf("observation = %+v, want the transport's error", obs)
	}
	if got := reasonText(obs.Result(errors.New("export failed")), false); got != "connection refused" {
		t.Errorf("reason = %q, want connection refused", got)
	}
}

func TestReasonText(t *testing.T) {
	tests := []struct {
		r        Result
		timedOut bool
		want     string
	}{
		{Result{Status: 404}, false, "404 Not Found"},
		{Result{Status: 503, Err: errors.New("x")}, false, "503 Service Unavailable"},
		{Result{Err: context.DeadlineExceeded}, false, "timeout"},
		{Result{Err: context.Canceled}, true, "timeout"},
		{Result{Err: &net.DNSError{Err: "no such host", Name: "x.invalid"}}, false, "host not found"},
		{Result{Err: Permanent(errors.New("bad"))}, false, "export error"},
		{Result{Err: errors.New("odd")}, false, "network error"},
	}
	for i, tt := range tests {
		if got := reasonText(tt.r, tt.timedOut); got != tt.want {
			t.Errorf("%d: reasonText(%+v) = %q, want %q", i, tt.r, got, tt.want)
		}
	}
}
