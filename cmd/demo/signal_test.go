package main

import (
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/realtimeserver/observability/internal/testenv"
)

// TestSecondSignalExitsAtOnce: with Datadog's intake down and a long
// -shutdown-timeout, the first SIGTERM starts a shutdown that would wait
// for the intake; a second one makes the demo exit at once, saying how
// many log records it abandoned.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	bin, err := buildDemo()
	if err != nil {
		t.Fatal(err)
	}
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer down.Close()

	cmd := exec.Command(bin, "-shutdown-timeout=2m")
	cmd.Dir = t.TempDir()
	cmd.Env = append(cmd.Environ(),
		"PORT=0", "PROMETHEUS_PORT="+strconv.Itoa(testenv.FreePort(t)), "LOG_FORMAT=json",
		"ENABLE_DATADOG=true", "DATADOG_API_KEY=test-api-key", "DATADOG_LOGS_URL="+down.URL+"/api/v2/logs")
	stdout, stderr := &testenv.Buffer{}, &testenv.Buffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-exited
		}
	}()
	base := waitFor(t, "the API URL", stdout, apiRE)
	for i := range 5 {
		postJSON(t, base+"/api/videos/1/comments", `{"user_id": 1, "body": "c`+strconv.Itoa(i)+`"}`)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the shutdown", stderr, regexp.MustCompile(`"msg":"stopped"`))
	select {
	case err := <-exited:
		t.Fatalf("demo exited (%v) after one SIGTERM with the intake down and a 2m timeout; stderr:\n%s", err, stderr)
	case <-time.After(500 * time.Millisecond): // waiting for the intake, as it should
	}

	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("demo still running 10s after a second SIGTERM; stderr:\n%s", stderr)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("demo took %v to exit after the second SIGTERM, want at once", d)
	}
	out := stderr.String()
	m := regexp.MustCompile(`demo: a second signal cut the shutdown short: (\d+) log records abandoned`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("stderr does not say how many records were abandoned:\n%s", out)
	}
	if n, _ := strconv.Atoi(m[1]); n == 0 {
		t.Errorf("%s: want the records queued for the intake that is down", m[0])
	}
	if strings.Contains(out, "still shutting down") {
		t.Errorf("the demo needed the fallback exit:\n%s", out)
	}
}
