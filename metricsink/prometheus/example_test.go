package prometheus_test

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/realtimeserver/observability/metricsink"
	"github.com/realtimeserver/observability/metricsink/prometheus"
)

func ExampleNew() {
	prom, err := prometheus.New(&prometheus.Options{
		Namespace:             "app",
		Buckets:               []float64{0.1, 0.5},
		DisableRuntimeMetrics: true,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	var sink metricsink.Sink = prom
	sink.Increment("comments.created", 1, metricsink.KV("channel", "video"))
	sink.Duration("http.request.duration", 120*time.Millisecond, metricsink.KV("route", "/videos/{id}"))

	var b strings.Builder
	prom.WritePrometheus(&b)
	for _, line := range strings.Split(b.String(), "\n") {
		if strings.HasPrefix(line, "app_") || strings.HasPrefix(line, "# TYPE app_") {
			fmt.Println(line)
		}
	}
	// Output:
	// # TYPE app_comments_created_total counter
	// app_comments_created_total{channel="video"} 1
	// # TYPE app_http_request_duration_seconds histogram
	// app_http_request_duration_seconds_bucket{route="/videos/{id}",le="0.1"} 0
	// app_http_request_duration_seconds_bucket{route="/videos/{id}",le="0.5"} 1
	// app_http_request_duration_seconds_bucket{route="/videos/{id}",le="+Inf"} 1
	// app_http_request_duration_seconds_sum{route="/videos/{id}"} 0.12
	// app_http_request_duration_seconds_count{route="/videos/{id}"} 1
}

func ExampleRegistry_GaugeFunc() {
	prom, _ := prometheus.New(&prometheus.Options{DisableRuntimeMetrics: true})
	queue := make(chan string, 10)
	queue <- "job"
	_ = metricsink.Declare(prom, metricsink.Desc{Name: "mail.queue_length", Kind: metricsink.Gauge, Help: "Mails waiting to be sent."})
	unregister := prom.GaugeFunc("mail.queue_length", metricsink.Tags{}, func() float64 { return float64(len(queue)) })
	defer unregister()

	var b strings.Builder
	prom.WritePrometheus(&b)
	fmt.Print(b.String()[:strings.Index(b.String(), "# HELP metricsink")])
	// Output:
	// # HELP mail_queue_length Mails waiting to be sent.
	// # TYPE mail_queue_length gauge
	// mail_queue_length 1
}

func ExampleFanout() {
	prom, _ := prometheus.New(&prometheus.Options{DisableRuntimeMetrics: true})
	sink := metricsink.Fanout(prom, metricsink.Discard, nil)
	sink.Increment("jobs.done", 2, metricsink.KV("queue", "mail"))
	var b strings.Builder
	prom.WritePrometheus(&b)
	for _, line := range strings.Split(b.String(), "\n") {
		if strings.HasPrefix(line, "jobs_done_total") {
			fmt.Fprintln(os.Stdout, line)
		}
	}
	// Output:
	// jobs_done_total{queue="mail"} 2
}

// Quantiles come from a histogram's native buckets, within about 5%
// whatever its classic buckets: here 400 µs and 2 ms requests, read from
// Snapshot; the exemplar links the slow bucket to a trace.
func ExampleSeries_Quantile() {
	prom, _ := prometheus.New(&prometheus.Options{DisableRuntimeMetrics: true})
	timer := metricsink.NewTimer(prom, "http.request.duration", metricsink.KV("route", "GET /"))
	for range 90 {
		timer.Observe(400 * time.Microsecond)
	}
	for range 10 {
		timer.Observe(2 * time.Millisecond)
	}
	var ex metricsink.Exemplar
	ex.TraceID[15], ex.SpanID[7] = 1, 2 // as metricsink.ExemplarFromContext gives them
	timer.ObserveWith(2*time.Millisecond, ex)

	for _, f := range prom.Snapshot() {
		if f.Name != "http_request_duration_seconds" {
			continue
		}
		s := f.Series[0]
		fmt.Printf("p50 %.0f µs, p99 %.2f ms, schema %d\n", s.Quantile(0.5)*1e6, s.Quantile(0.99)*1e3, s.Native.Schema)
		for _, b := range s.Buckets {
			if b.Exemplar != nil {
				fmt.Printf("le %g: %v\n", b.UpperBound, b.Exemplar.Labels())
			}
		}
	}
	// Output:
	// p50 393 µs, p99 2.04 ms, schema 3
	// le 0.0025: [{trace_id 00000000000000000000000000000001} {span_id 0000000000000002}]
}
