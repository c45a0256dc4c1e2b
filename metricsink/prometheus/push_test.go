package prometheus_test

import (
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/realtimeserver/observability/metricsink"
	"github.com/realtimeserver/observability/metricsink/prometheus"
)

// pushReceiver records the bodies POSTed to it, gunzipped, with the
// header it was asked to check.
type pushReceiver struct {
	mu     sync.Mutex
	bodies []string
	auth   []string
}

func (r *pushReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	b, _ := io.ReadAll(body)
	r.mu.Lock()
	r.bodies = append(r.bodies, string(b))
	r.auth = append(r.auth, req.Header.Get("Authorization"))
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (r *pushReceiver) got() (bodies, auth []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.bodies...), append([]string(nil), r.auth...)
}

// Push POSTs the exposition, gzipped, with the headers asked for; Flush
// pushes at once and Close ends the Push with a last push of the final
// values.
func TestPushFlushClose(t *testing.T) {
	recv := &pushReceiver{}
	srv := httptest.NewServer(recv)
	defer srv.Close()
	p, _ := newProm(t, nil)
	p.Increment("comments.created", 1, metricsink.Tags{})
	done := make(chan error, 1)
	go func() {
		done <- p.Push(context.Background(), srv.URL+"/api/v1/import/prometheus",
			&prometheus.PushOptions{Interval: time.Hour, Headers: []string{"Authorization: Bearer t0k"}})
	}()
	// Flush reaches the Push once it runs.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := p.Flush(context.Background()); err != nil {
			t.Fatalf("Flush = %v", err)
		}
		if bodies, _ := recv.got(); len(bodies) > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.Increment("comments.created", 1, metricsink.Tags{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Push = %v after Close, want nil", err)
	}
	if err := p.Close(ctx); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	if err := p.Push(ctx, srv.URL, nil); err == nil {
		t.Error("Push after Close = nil, want an error")
	}
	bodies, auth := recv.got()
	if len(bodies) < 2 {
		t.Fatalf("%d pushes, want one by Flush and one by Close", len(bodies))
	}
	if !strings.Contains(bodies[0], "comments_created_total 1\n") || !strings.Contains(bodies[len(bodies)-1], "comments_created_total 2\n") {
		t.Errorf("pushed:\n%s\n...\n%s", bodies[0], bodies[len(bodies)-1])
	}
	for _, a := range auth {
		if a != "Bearer t0k" {
			t.Errorf("Authorization = %q", a)
		}
	}
	checkExposition(t, bodies[0])
	if st := p.Stats(); st.PushErrors != 0 || st.Metrics != 1 || st.Series != 1 {
		t.Errorf("Stats = %+v", st)
	}
}
