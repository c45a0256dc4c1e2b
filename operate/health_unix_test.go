//go:build unix

package operate

import (
	"context"
	"net/http"
	"syscall"
	"testing"
	"time"
)

// TestNotifyContextDrains: the first signal drains readiness, then ends the
// context; liveness still answers 200.
func TestNotifyContextDrains(t *testing.T) {
	h, srv := newHealthServer(t, nil)
	ctx, stop := h.NotifyContext(context.Background(), syscall.SIGUSR1)
	defer stop()
	if code, _ := do(t, "GET", srv.URL+"/readyz", "", "", ""); code != 200 {
		t.Fatalf("readyz before the signal: %d, want 200", code)
	}
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the context was not done 10 s after the signal")
	}
	if !h.Draining() {
		t.Error("not draining once the context is done")
	}
	if code, _ := do(t, "GET", srv.URL+"/readyz", "", "", ""); code != http.StatusServiceUnavailable {
		t.Errorf("readyz after the signal: %d, want 503", code)
	}
	if code, _ := do(t, "GET", srv.URL+"/livez", "", "", ""); code != 200 {
		t.Errorf("livez after the signal: %d, want 200", code)
	}
	stop()
	stop() // twice: nothing more
}

// TestNotifyContextStop: stop without a signal ends the context and the
// goroutine, and drains nothing.
func TestNotifyContextStop(t *testing.T) {
	h, err := NewHealth(nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := h.NotifyContext(context.Background(), syscall.SIGUSR2)
	stop()
	if ctx.Err() == nil {
		t.Error("the context is not done after stop")
	}
	if h.Draining() {
		t.Error("draining without a signal")
	}
}
