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
