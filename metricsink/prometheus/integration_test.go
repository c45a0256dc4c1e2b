package prometheus_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/realtimeserver/observability/internal/testenv"
	"github.com/realtimeserver/observability/metricsink"
	"github.com/realtimeserver/observability/metricsink/prometheus"
)

// recordHostile sends s every kind of awkward input a caller could pass.
func recordHostile(s metricsink.Sink) {
	names := []string{
		"", " ", "...", "comments.created", "Comments.Created", "requestCount", "http-requests/total",
		"x:y", "__reserved", "9lives", "a\nb", "a\"b", "a\\b", "日本語", "naïve.metric", "\xff\xfe",
		"metricsink.dropped_samples", "go.goroutines", "process.cpu", "latency.ms", "size.kilobytes",
		"jobs_total", "jobs.count", "jobs.sum", "jobs.bucket", "queue.gauge", strings.Repeat("long", 300),
	}
	values := []string{"", "plain", "quote\"d", "back\\slash", "new\nline", "\xff\xfe", "日本語", "{}=,", strings.Repeat("v", 1000)}
	keys := []string{"k", "le", "quantile", "__name__", "Key.With.Dots", "camelKey", "", "...", "9key", "ключ", "env"}
	for i, n := range names {
		v := values[i%len(values)]
		k := keys[i%len(keys)]
		tags := metricsink.KV(k, v)
		s.Increment(n, 1, tags)
		s.Increment(n, -1, tags)
		s.Increment(n, math.NaN(), tags)
		s.Gauge(n, math.Inf(1), tags)
		s.Gauge(n, math.NaN(), metricsink.KV("route", v))
		s.Histogram(n, 0.2, tags)
		s.Histogram(n, math.Inf(-1), tags)
		s.Duration(n, 150*time.Millisecond, tags)
		s.Duration(n, -time.Second, tags)
		s.Increment(n, 1, metricsink.KV("odd"))
		metricsink.GaugeFunc(s, n, tags, func() float64 { return math.Inf(-1) })
		metricsink.CounterFunc(s, n+".fn", tags, func() float64 { return 42 })
	}
	for _, v := range values {
		for _, k := range keys {
			s.Increment("hostile.labels", 1, metricsink.KV(k, v, "other", v))
		}
	}
	// Declared metrics, with units and buckets, and handles.
	_ = metricsink.Declare(s, metricsink.Desc{Name: "declared.size", Kind: metricsink.Histogram, Unit: "bytes",
		Help: "Sizes, with \\ backslash,\nnewline and a \"quote\".", Buckets: []float64{1, 10, 100}})
	_ = metricsink.Declare(s, metricsink.Desc{Name: "declared.jobs", Kind: metricsink.Counter, Help: "Jobs."})
	metricsink.NewHistogram(s, "declared.size", metricsink.KV("k", "v")).Observe(5)
	metricsink.NewCounter(s, "declared.jobs", metricsink.KV("k", "v")).Add(2)
	metricsink.NewGauge(s, "declared.level", metricsink.KV("k", "v")).Add(-3)
	metricsink.NewTimer(s, "declared.wait", metricsink.Tags{}).Observe(time.Second)
	// A real "other" value first: the overflow samples share its series.
	s.Increment("many.users", 1, metricsink.KV("user_id", "other"))
	for i := range 50 { // past the series limit of the test registry
		s.Increment("many.users", 1, metricsink.KV("user_id", fmt.Sprint(i)))
	}
}

// TestPromtoolAcceptsHostileInput scrapes over HTTP what recordHostile
// recorded, runtime and process metrics included, and runs
// `promtool check metrics` on it: it must find no problem at all.
func TestPromtoolAcceptsHostileInput(t *testing.T) {
	promtool := testenv.Binary(t, "promtool", "apt-get install prometheus")
	p, err := prometheus.New(&prometheus.Options{
		MaxSeriesPerMetric: 10,
		ConstLabels:        map[string]string{"env": "test"},
		Logger:             slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	recordHostile(p)
	srv := httptest.NewServer(p)
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# TYPE go_goroutines gauge", "# TYPE process_cpu_seconds_total counter", "comments_created_total", "metricsink_overflow_series_total{env=\"test\",metric=\"many_users_total\"} 41", "many_users_total{env=\"test\",user_id=\"other\"} 42"} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("exposition lacks %q", want)
		}
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	out, err := cmd.CombinedOutput()
	if err != nil || len(out) != 0 {
		t.Errorf("promtool check metrics: %v\n%s\nexposition:\n%s", err, out, body)
	}
}

// TestPushToVictoriaMetrics pushes to a real VictoriaMetrics server and
// finds the series through its query API.
func TestPushToVictoriaMetrics(t *testing.T) {
	bin := testenv.Binary(t, "victoria-metrics", "apt-get install victoria-metrics")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "-httpListenAddr="+addr, "-storageDataPath="+t.TempDir(), "-retentionPeriod=1d",
		"-search.latencyOffset=0s", "-loggerLevel=ERROR")
	var vmOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &vmOut, &vmOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	base := "http://" + addr
	waitUntil(t, 30*time.Second, func() bool {
		resp, err := client.Get(base + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}, func() string { return "victoria-metrics did not become healthy:\n" + vmOut.String() })

	p, err := prometheus.New(&prometheus.Options{ConstLabels: map[string]string{"instance_name": "push-test"}})
	if err != nil {
		t.Fatal(err)
	}
	p.Increment("comments.created", 3, metricsink.KV("video", "42"))
	p.Duration("http.request.duration", 120*time.Millisecond, metricsink.KV("route", "/x"))

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- p.Push(ctx, base+"/api/v1/import/prometheus", &prometheus.PushOptions{Interval: 200 * time.Millisecond})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Push = %v, want nil", err)
		}
	}()

	query := func(q string) string {
		resp, err := client.Get(base + "/api/v1/query?query=" + url.QueryEscape(q))
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		var r struct {
			Data struct {
				Result []struct {
					Metric map[string]string `json:"metric"`
					Value  []any             `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || len(r.Data.Result) == 0 {
			return ""
		}
		return fmt.Sprint(r.Data.Result[0].Value[1])
	}
	flush := func() {
		if resp, err := client.Get(base + "/internal/force_flush"); err == nil {
			resp.Body.Close()
		}
	}
	waitUntil(t, 30*time.Second, func() bool {
		flush()
		return query(`comments_created_total{video="42",instance_name="push-test"}`) == "3"
	}, func() string {
		return "comments_created_total never reached 3 in VictoriaMetrics; got " + query(`comments_created_total`) + "\n" + vmOut.String()
	})
	if got := query(`http_request_duration_seconds_count{route="/x"}`); got != "1" {
		t.Errorf("http_request_duration_seconds_count = %q, want 1", got)
	}
	if got := query(`http_request_duration_seconds_bucket{route="/x",le="0.25"}`); got != "1" {
		t.Errorf(`http_request_duration_seconds_bucket{le="0.25"} = %q, want 1`, got)
	}
	if got := query(`go_goroutines{instance_name="push-test"}`); got == "" {
		t.Errorf("go_goroutines was not pushed")
	}
}

func waitUntil(t *testing.T, d time.Duration, ok func() bool, msg func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal(msg())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
