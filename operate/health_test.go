package operate

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/realtimeserver/observability/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newHealthServer(t *testing.T, opts *HealthOptions) (*Health, *httptest.Server) {
	t.Helper()
	h, err := NewHealth(opts)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Mount(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return h, srv
}

func TestHealthOK(t *testing.T) {
	h, srv := newHealthServer(t, nil)
	if err := h.AddReadiness("db", func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/livez", "/readyz", "/readyz/db", "/readyz/shutdown"} {
		if code, body := do(t, "GET", srv.URL+path, "", "", ""); code != 200 || body != "ok" {
			t.Errorf("%s: %d %q, want 200 ok", path, code, body)
		}
	}
	code, body := do(t, "GET", srv.URL+"/readyz?verbose", "", "", "")
	if want := "[+]shutdown ok\n[+]db ok\nreadyz check passed\n"; code != 200 || body != want {
		t.Errorf("verbose: %d %q, want 200 %q", code, body, want)
	}
	code, body = do(t, "GET", srv.URL+"/livez?verbose", "", "", "")
	if want := "livez check passed\n"; code != 200 || body != want {
		t.Errorf("livez verbose: %d %q, want 200 %q", code, body, want)
	}
	if code, _ := do(t, "GET", srv.URL+"/readyz/nosuch", "", "", ""); code != http.StatusNotFound {
		t.Errorf("unknown check: %d, want 404", code)
	}
	if code, _ := do(t, "POST", srv.URL+"/readyz", "", "", ""); code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d, want 405", code)
	}
	if code, body := do(t, "HEAD", srv.URL+"/readyz", "", "", ""); code != 200 || body != "" {
		t.Errorf("HEAD: %d %q, want 200 and no body", code, body)
	}
}

// TestHealthDrain: readiness fails from the moment Drain is called,
// liveness does not.
func TestHealthDrain(t *testing.T) {
	h, srv := newHealthServer(t, nil)
	h.Drain()
	if !h.Draining() {
		t.Fatal("Draining() = false after Drain")
	}
	code, body := do(t, "GET", srv.URL+"/readyz", "", "", "")
	if want := "[-]shutdown failed: the service is draining\nreadyz check failed\n"; code != http.StatusServiceUnavailable || body != want {
		t.Errorf("readyz: %d %q, want 503 %q", code, body, want)
	}
	if code, body := do(t, "GET", srv.URL+"/livez", "", "", ""); code != 200 || body != "ok" {
		t.Errorf("livez: %d %q, want 200 ok", code, body)
	}
	if code, _ := do(t, "GET", srv.URL+"/readyz/shutdown", "", "", ""); code != http.StatusServiceUnavailable {
		t.Errorf("readyz/shutdown: %d, want 503", code)
	}
	h.Drain() // again: nothing changes
	if code, _ := do(t, "GET", srv.URL+"/readyz", "", "", ""); code != http.StatusServiceUnavailable {
		t.Errorf("readyz after a second Drain: %d, want 503", code)
	}
}

func TestHealthFailuresAndExclude(t *testing.T) {
	h, srv := newHealthServer(t, &HealthOptions{Token: testToken})
	h.AddReadiness("db", func(context.Context) error { return errors.New("connection refused\n[+]forged ok") })
	h.AddReadiness("cache", func(context.Context) error { return nil })
	h.AddReadiness("boom", func(context.Context) error { panic("kaput") })

	code, body := do(t, "GET", srv.URL+"/readyz", "", "", "")
	want := "[+]shutdown ok\n[-]db failed: reason withheld\n[+]cache ok\n[-]boom failed: reason withheld\nreadyz check failed\n"
	if code != http.StatusServiceUnavailable || body != want {
		t.Errorf("without the token: %d %q, want 503 %q", code, body, want)
	}
	code, body = do(t, "GET", srv.URL+"/readyz", testToken, "", "")
	want = "[+]shutdown ok\n[-]db failed: connection refused [+]forged ok\n[+]cache ok\n[-]boom failed: panic: kaput\nreadyz check failed\n"
	if code != http.StatusServiceUnavailable || body != want {
		t.Errorf("with the token: %d %q, want 503 %q", code, body, want)
	}
	if code, body := do(t, "GET", srv.URL+"/readyz?exclude=db&exclude=boom", "", "", ""); code != 200 || body != "ok" {
		t.Errorf("exclude=db&exclude=boom: %d %q, want 200 ok", code, body)
	}
	code, body = do(t, "GET", srv.URL+"/readyz?exclude=db,boom&exclude=nosuch&verbose", "", "", "")
	want = "[+]shutdown ok\n[+]cache ok\nwarn: some health checks cannot be excluded: no matches for \"nosuch\"\nreadyz check passed\n"
	if code != 200 || body != want {
		t.Errorf("exclude with an unknown name: %d %q, want 200 %q", code, body, want)
	}
	if code, body := do(t, "GET", srv.URL+"/readyz/cache", "", "", ""); code != 200 || body != "ok" {
		t.Errorf("readyz/cache: %d %q, want 200 ok", code, body)
	}
	if code, body := do(t, "GET", srv.URL+"/readyz/db", "", "", ""); code != 503 || body != "[-]db failed: reason withheld\n" {
		t.Errorf("readyz/db: %d %q, want 503 and its line", code, body)
	}

	h.AddLiveness("loop", func(context.Context) error { return errors.New("stuck") })
	if code, _ := do(t, "GET", srv.URL+"/livez", "", "", ""); code != http.StatusServiceUnavailable {
		t.Errorf("livez with a failing liveness check: %d, want 503", code)
	}
}

// TestHealthHangingCheck: a check that ignores its context and never
// returns fails within its bound, and is not started again while it runs.
func TestHealthHangingCheck(t *testing.T) {
	const bound = 200 * time.Millisecond
	h, srv := newHealthServer(t, &HealthOptions{Timeout: bound})
	release := make(chan struct{})
	var calls atomic.Int32
	h.AddReadiness("stuck", func(context.Context) error {
		calls.Add(1)
		<-release
		return nil
	})
	h.AddReadiness("quick", func(context.Context) error { return nil })
	defer close(release) // let the check's goroutine end before goleak looks

	for i := range 3 {
		start := time.Now()
		code, body := do(t, "GET", srv.URL+"/readyz", "", "", "")
		elapsed := time.Since(start)
		if code != http.StatusServiceUnavailable || !strings.Contains(body, "[-]stuck failed: timed out after 200ms, still running\n") || !strings.Contains(body, "[+]quick ok") {
			t.Errorf("probe %d: %d %q, want 503 and stuck timed out", i, code, body)
		}
		if elapsed > bound+5*time.Second {
			t.Errorf("probe %d took %v, want about %v", i, elapsed, bound)
		}
	}
	// Probes at once, too.
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if code, _ := do(t, "GET", srv.URL+"/readyz/stuck", "", "", ""); code != http.StatusServiceUnavailable {
				t.Errorf("readyz/stuck: %d, want 503", code)
			}
		})
	}
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Errorf("the hanging check was started %d times, want 1 (one run in flight per check)", n)
	}
}

// TestHealthContextCheck: a check that honours its context is cancelled at
// the bound and started afresh by the next probe.
func TestHealthContextCheck(t *testing.T) {
	h, srv := newHealthServer(t, &HealthOptions{Timeout: 100 * time.Millisecond, Token: testToken})
	var calls atomic.Int32
	h.AddReadiness("slow", func(ctx context.Context) error {
		calls.Add(1)
		<-ctx.Done()
		return ctx.Err()
	})
	for range 2 {
		code, body := do(t, "GET", srv.URL+"/readyz/slow", testToken, "", "")
		if code != http.StatusServiceUnavailable || !strings.HasPrefix(body, "[-]slow failed: ") {
			t.Errorf("%d %q, want 503", code, body)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for calls.Load() < 2 && time.Now().Before(deadline) {
		do(t, "GET", srv.URL+"/readyz/slow", testToken, "", "")
	}
	if calls.Load() < 2 {
		t.Errorf("a returned check was not started again")
	}
}

func TestHealthAddErrors(t *testing.T) {
	h, err := NewHealth(nil)
	if err != nil {
		t.Fatal(err)
	}
	ok := func(context.Context) error { return nil }
	if err := h.AddReadiness("db", ok); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		check Check
	}{{"db", ok}, {"shutdown", ok}, {"", ok}, {"a b", ok}, {"a/b", ok}, {"x", nil}} {
		if err := h.AddReadiness(c.name, c.check); err == nil {
			t.Errorf("AddReadiness(%q) returned no error", c.name)
		}
	}
	if err := h.AddLiveness("shutdown", ok); err != nil {
		t.Errorf("AddLiveness(shutdown): %v (the name is reserved for readiness only)", err)
	}
	if err := h.AddLiveness("db", ok); err != nil {
		t.Errorf("AddLiveness(db): %v (names are per kind)", err)
	}
	if _, err := NewHealth(&HealthOptions{Timeout: -time.Second}); err == nil {
		t.Error("a negative Timeout was accepted")
	}
}

// TestHealthConcurrent registers checks while probes run, under -race.
func TestHealthConcurrent(t *testing.T) {
	h, srv := newHealthServer(t, &HealthOptions{Timeout: time.Second})
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 10 {
				name := string(rune('a'+i)) + string(rune('a'+j))
				if err := h.AddReadiness(name, func(context.Context) error { return nil }); err != nil {
					t.Error(err)
				}
			}
		})
		wg.Go(func() {
			for range 10 {
				if code, body := do(t, "GET", srv.URL+"/readyz?verbose", "", "", ""); code != 200 {
					t.Errorf("%d %q", code, body)
				}
			}
		})
	}
	wg.Wait()
	_, body := do(t, "GET", srv.URL+"/readyz?verbose", "", "", "")
	if n := strings.Count(body, "[+]"); n != 41 {
		t.Errorf("%d checks listed, want 41", n)
	}
}

// TestNoPprofDependency: no package of the kit's module but
// operate/profiling links net/http/pprof (Setup, the handlers, the
// dashboard and these operations included), so that a program that does
// not ask for profiles never has them on http.DefaultServeMux, where
// net/http/pprof's init puts them (operate/profiling's doc says what that
// means for a program that imports it).
func TestNoPprofDependency(t *testing.T) {
	goTool := testenv.Binary(t, "go", "the go command, to list dependencies")
	const module = "github.com/realtimeserver/observability"
	// The kit's module alone: in the workspace, module/... also matches the
	// modules below it (the demo asks for profiles).
	out, err := exec.Command(goTool, "list", "-f", `{{if eq .Module.Path "`+module+`"}}{{.ImportPath}}{{end}}`, module+"/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list %s/...: %v\n%s", module, err, out)
	}
	var pkgs []string
	for line := range strings.Lines(string(out)) {
		if p := strings.TrimSpace(line); p != "" && p != module+"/operate/profiling" {
			pkgs = append(pkgs, p)
		}
	}
	if len(pkgs) < 20 || !slices.Contains(pkgs, module) || !slices.Contains(pkgs, module+"/operate") {
		t.Fatalf("go list %s/... gave %d packages (%v), want the module's", module, len(pkgs), pkgs)
	}
	for _, pkg := range pkgs {
		out, err := exec.Command(goTool, "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		for line := range strings.Lines(string(out)) {
			if strings.TrimSpace(line) == "net/http/pprof" {
				t.Errorf("%s imports net/http/pprof", pkg)
			}
		}
	}
	out, err = exec.Command(goTool, "list", "-deps", module+"/operate/profiling").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "net/http/pprof\n") {
		t.Errorf("go list -deps operate/profiling: %v, want net/http/pprof among its dependencies (the check above would prove nothing)", err)
	}
}
