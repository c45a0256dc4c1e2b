package opentelemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configgrpc"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/realtimeserver/observability/internal/testenv"
)

// collector is the Collector's OTLP receiver, listening for OTLP/HTTP on
// Endpoint, with sinks that keep everything it receives.
type collector struct {
	Endpoint string // http://127.0.0.1:port
	Logs     *consumertest.LogsSink
	Metrics  *consumertest.MetricsSink
	Traces   *consumertest.TracesSink
}

// startCollector starts the receiver; the test's cleanup stops it.
func startCollector(t *testing.T) *collector {
	t.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	f := otlpreceiver.NewFactory()
	cfg := f.CreateDefaultConfig().(*otlpreceiver.Config)
	cfg.GRPC = configoptional.None[configgrpc.ServerConfig]()
	cfg.HTTP.GetOrInsertDefault().ServerConfig.Endpoint = addr
	c := &collector{
		Endpoint: "http://" + addr,
		Logs:     new(consumertest.LogsSink),
		Metrics:  new(consumertest.MetricsSink),
		Traces:   new(consumertest.TracesSink),
	}
	ctx := context.Background()
	set := receivertest.NewNopSettings(f.Type())
	lr, err := f.CreateLogs(ctx, set, cfg, c.Logs)
	if err != nil {
		t.Fatal(err)
	}
	mr, err := f.CreateMetrics(ctx, set, cfg, c.Metrics)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := f.CreateTraces(ctx, set, cfg, c.Traces)
	if err != nil {
		t.Fatal(err)
	}
	// The three share one server, started by the first Start.
	for _, r := range []receiver.Logs{lr} {
		if err := r.Start(ctx, componenttest.NewNopHost()); err != nil {
			t.Fatalf("starting the OTLP receiver on %s: %v", addr, err)
		}
	}
	if err := mr.Start(ctx, componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	if err := tr.Start(ctx, componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, r := range []interface{ Shutdown(context.Context) error }{lr, mr, tr} {
			if err := r.Shutdown(context.Background()); err != nil {
				t.Errorf("stopping the OTLP receiver: %v", err)
			}
		}
	})
	waitTCP(t, addr)
	return c
}

func waitTCP(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s after 30s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func attrMap(m pcommon.Map) map[string]string {
	out := map[string]string{}
	m.Range(func(k string, v pcommon.Value) bool {
		out[k] = v.AsString()
		return true
	})
	return out
}

// jaeger is a Jaeger all-in-one process with in-memory storage.
type jaeger struct {
	OTLP  string // OTLP/HTTP base URL
	Query string // the query API's base URL
	out   *testenv.Buffer
}

// startJaeger runs the jaeger binary on free ports; the test's cleanup
// stops it.
func startJaeger(t *testing.T) *jaeger {
	t.Helper()
	bin := os.Getenv("JAEGER_BIN")
	if bin == "" {
		bin = testenv.Binary(t, "jaeger", "build it: cd tools/jaeger && go build -o $HOME/go/bin/jaeger github.com/jaegertracing/jaeger/cmd/jaeger (.ci/run does), or set JAEGER_BIN")
	}
	otlpAddr := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	queryAddr := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	grpcAddr := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	config := fmt.Sprintf(`service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: %s
    grpc:
      endpoint: %s
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 10000
receivers:
  otlp:
    protocols:
      http:
        endpoint: %s
processors:
  batch:
    timeout: 50ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`, queryAddr, grpcAddr, otlpAddr)
	path := filepath.Join(t.TempDir(), "jaeger.yaml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	j := &jaeger{OTLP: "http://" + otlpAddr, Query: "http://" + queryAddr}
	j.out = startProcess(t, "jaeger", exec.Command(bin, "--config", path))
	waitTCP(t, otlpAddr)
	waitTCP(t, queryAddr)
	return j
}

// startProcess starts cmd, its output kept in the returned buffer; the
// test's cleanup interrupts it (kills it after 10 s) and, when the test
// failed, logs the end of its output.
func startProcess(t *testing.T, name string, cmd *exec.Cmd) *testenv.Buffer {
	t.Helper()
	out := new(testenv.Buffer)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", cmd.Path, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", name, tail(out.String(), 4000))
		}
	})
	return out
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// jaegerTrace is what Jaeger's query API returns for one trace.
type jaegerTrace struct {
	TraceID string       `json:"traceID"`
	Spans   []jaegerSpan `json:"spans"`
	// Processes are keyed by processID.
	Processes map[string]struct {
		ServiceName string `json:"serviceName"`
		Tags        []struct {
			Key   string `json:"key"`
			Value any    `json:"value"`
		} `json:"tags"`
	} `json:"processes"`
}

type jaegerSpan struct {
	TraceID       string `json:"traceID"`
	SpanID        string `json:"spanID"`
	OperationName string `json:"operationName"`
	ProcessID     string `json:"processID"`
	References    []struct {
		RefType string `json:"refType"`
		TraceID string `json:"traceID"`
		SpanID  string `json:"spanID"`
	} `json:"references"`
	Tags []struct {
		Key   string `json:"key"`
		Value any    `json:"value"`
	} `json:"tags"`
}

func (s jaegerSpan) parent() string {
	for _, r := range s.References {
		if r.RefType == "CHILD_OF" {
			return r.SpanID
		}
	}
	return ""
}

func (s jaegerSpan) tag(k string) string {
	for _, t := range s.Tags {
		if t.Key == k {
			return fmt.Sprint(t.Value)
		}
	}
	return ""
}

// trace waits until Jaeger holds the trace id with at least minSpans
// spans, and returns it.
func (j *jaeger) trace(t *testing.T, id string, minSpans int) jaegerTrace {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		resp, err := http.Get(j.Query + "/api/traces/" + id)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			last = fmt.Sprintf("%d %s", resp.StatusCode, tail(string(body), 500))
			var out struct {
				Data []jaegerTrace `json:"data"`
			}
			if resp.StatusCode == http.StatusOK && json.Unmarshal(body, &out) == nil &&
				len(out.Data) == 1 && len(out.Data[0].Spans) >= minSpans {
				return out.Data[0]
			}
		} else {
			last = err.Error()
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("Jaeger has no trace %s with %d spans after 30s; last answer: %s", id, minSpans, last)
	return jaegerTrace{}
}

// jsonLines decodes the JSON log lines of out, skipping any other line.
func jsonLines(out string) []map[string]any {
	var recs []map[string]any
	for _, line := range strings.Split(out, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil {
			recs = append(recs, m)
		}
	}
	return recs
}

// repoRoot is the main module's directory.
const repoRoot = "../.."

var (
	demoOnce sync.Once
	demoBin  string
	demoErr  error
)

// buildDemo builds cmd/demo once per test binary.
func buildDemo(t *testing.T) string {
	t.Helper()
	demoOnce.Do(func() {
		dir, err := os.MkdirTemp("", "otel-demo")
		if err != nil {
			demoErr = err
			return
		}
		demoBin = filepath.Join(dir, "demo")
		cmd := exec.Command("go", "build", "-o", demoBin, "./cmd/demo")
		cmd.Dir = repoRoot
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			demoErr = fmt.Errorf("go build ./cmd/demo: %v\n%s", err, out.String())
		}
	})
	if demoErr != nil {
		t.Fatal(demoErr)
	}
	return demoBin
}

// demo is a running demo server.
type demo struct {
	URL    string
	cmd    *exec.Cmd
	stderr *testenv.Buffer
	done   chan error
}

// startDemo runs the demo with env added to the test's environment and
// waits until it answers /healthz.
func startDemo(t *testing.T, env ...string) *demo {
	t.Helper()
	bin := buildDemo(t)
	port := testenv.FreePort(t)
	d := &demo{URL: "http://127.0.0.1:" + strconv.Itoa(port), stderr: new(testenv.Buffer), done: make(chan error, 1)}
	d.cmd = exec.Command(bin)
	d.cmd.Env = append(os.Environ(),
		"PORT="+strconv.Itoa(port),
		"PROMETHEUS_PORT=0",
		"LOG_FORMAT=json",
		"DATABASE_URL=sqlite://"+filepath.Join(t.TempDir(), "demo.db"),
	)
	d.cmd.Env = append(d.cmd.Env, env...)
	d.cmd.Stdout, d.cmd.Stderr = io.Discard, d.stderr
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	t.Cleanup(func() {
		d.cmd.Process.Kill()
		<-d.done
		if t.Failed() {
			t.Logf("demo stderr:\n%s", tail(d.stderr.String(), 6000))
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(d.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return d
			}
		}
		select {
		case err := <-d.done:
			d.done <- err
			t.Fatalf("the demo exited before answering: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the demo did not answer /healthz within 60s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop sends SIGTERM and waits for a clean exit, which flushes every
// backend.
func (d *demo) stop(t *testing.T) {
	t.Helper()
	d.cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-d.done:
		d.done <- err
		if err != nil {
			t.Errorf("the demo exited with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Error("the demo did not exit within 30s of SIGINT")
	}
}

// postComment posts one comment and returns the response's status.
func (d *demo) postComment(t *testing.T, video int, body string) int {
	t.Helper()
	payload, _ := json.Marshal(map[string]any{"user_id": 7, "body": body})
	resp, err := http.Post(d.URL+"/api/videos/"+strconv.Itoa(video)+"/comments", "application/json", bytes.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}
