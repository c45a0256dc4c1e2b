package main

import (
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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

	cmd, stdout, stderr, exited := startDemoBinary(t, bin, []string{"-shutdown-timeout=2m"},
		"PORT=0", "PROMETHEUS_PORT="+strconv.Itoa(testenv.FreePort(t)), "LOG_FORMAT=json",
		"ENABLE_DATADOG=true", "DATADOG_API_KEY=test-api-key", "DATADOG_LOGS_URL="+down.URL+"/api/v2/logs")
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

// TestSIGTERMDrainsReadiness: under load, from the first SIGTERM /readyz
// on the metrics listener answers 503 within a second, /livez answers 200
// for as long as the listener does, and no request the demo accepted
// fails.
func TestSIGTERMDrainsReadiness(t *testing.T) {
	bin, err := buildDemo()
	if err != nil {
		t.Fatal(err)
	}
	metrics := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	cmd, stdout, stderr, exited := startDemoBinary(t, bin, []string{"-shutdown-timeout=10s", "-not-ready-wait=2s"},
		"PORT=0", "PROMETHEUS_HOST=127.0.0.1", "PROMETHEUS_PORT="+strings.TrimPrefix(metrics, "127.0.0.1:"), "LOG_FORMAT=json")
	base := waitFor(t, "the API URL", stdout, apiRE)
	probe := func(path string) (int, error) {
		resp, err := http.Get("http://" + metrics + path)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if code, err := probe("/readyz"); err != nil || code != http.StatusOK {
		t.Fatalf("/readyz before the signal: %d %v, want 200", code, err)
	}

	// Load, as from behind a load balancer: new requests until /readyz
	// answers 503, each of which must succeed, the last ones included.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	var ready atomic.Bool
	ready.Store(true)
	stop := make(chan struct{})
	failed := make(chan string, 100)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if !ready.Load() {
					return
				}
				resp, err := client.Get(base + "/api/videos/1/comments")
				if err != nil {
					failed <- err.Error()
					return
				}
				resp.Body.Close()
				if resp.StatusCode >= 500 {
					failed <- resp.Status
				}
			}
		})
	}
	time.Sleep(300 * time.Millisecond)

	signalled := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var notReady time.Duration
	for {
		code, err := probe("/readyz")
		if err != nil {
			break // the listener is closed: the demo is exiting
		}
		if code == http.StatusServiceUnavailable && notReady == 0 {
			notReady = time.Since(signalled)
			ready.Store(false)
		}
		if live, err := probe("/livez"); err == nil && live != http.StatusOK {
			t.Errorf("/livez answered %d while the demo drained", live)
		}
		if time.Since(signalled) > 30*time.Second {
			t.Fatal("the metrics listener still answers 30 s after SIGTERM")
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	close(failed)
	for f := range failed {
		t.Errorf("a request failed during the drain: %s", f)
	}
	if notReady == 0 || notReady > time.Second {
		t.Errorf("/readyz answered 503 after %v, want within 1 s of SIGTERM", notReady)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("demo exited with %v; stderr:\n%s", err, stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("demo still running 30 s after SIGTERM")
	}
}

// startDemoBinary starts the demo binary with args and env in a folder of its
// own. exited receives Wait's result once; should the test end first, the
// process is killed and waited for.
func startDemoBinary(t *testing.T, bin string, args []string, env ...string) (cmd *exec.Cmd, stdout, stderr *testenv.Buffer, exited <-chan error) {
	t.Helper()
	cmd = exec.Command(bin, args...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(cmd.Environ(), env...)
	stdout, stderr = &testenv.Buffer{}, &testenv.Buffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ch := make(chan error, 1)
	done := make(chan struct{})
	go func() { ch <- cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		select {
		case <-done:
		default:
			cmd.Process.Kill()
			<-done
		}
	})
	return cmd, stdout, stderr, ch
}
