package prometheus_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/realtimeserver/observability/drop"
	"github.com/realtimeserver/observability/metricsink"
	"github.com/realtimeserver/observability/metricsink/prometheus"
)

// within fails the test when f has not returned after d: a deadlock.
func within(t *testing.T, d time.Duration, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("still running after %v: deadlock", d)
	}
}

// lazySink records into *r, set after the logger that uses it is built.
type lazySink struct{ r **prometheus.Registry }

func (l lazySink) Increment(n string, v float64, t metricsink.Tags) { (*l.r).Increment(n, v, t) }
func (l lazySink) Gauge(n string, v float64, t metricsink.Tags)     { (*l.r).Gauge(n, v, t) }
func (l lazySink) Histogram(n string, v float64, t metricsink.Tags) { (*l.r).Histogram(n, v, t) }
func (l lazySink) Duration(n string, d time.Duration, t metricsink.Tags) {
	(*l.r).Duration(n, d, t)
}

// metricHandler is a slog.Handler that records a metric for every record,
// as a Config.Handlers entry counting log lines would.
type metricHandler struct{ sink metricsink.Sink }

func (h metricHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h metricHandler) Handle(_ context.Context, r slog.Record) error {
	h.sink.Increment("log.lines", 1, metricsink.KV("level", r.Level.String()))
	// Something invalid too, so that the registry warns from inside its
	// own warning.
	h.sink.Increment("bad\x00"+r.Message, -1, metricsink.Tags{})
	return nil
}
func (h metricHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h metricHandler) WithGroup(string) slog.Handler      { return h }

// The registry's warnings go to a logger whose handler records into the
// same registry: no lock is held while logging, so nothing deadlocks.
func TestLoggerRecordingMetricsDoesNotDeadlock(t *testing.T) {
	var reg *prometheus.Registry
	logger := slog.New(metricHandler{sink: lazySink{&reg}})
	reg, err := prometheus.New(&prometheus.Options{DisableRuntimeMetrics: true, Logger: logger, MaxSeriesPerMetric: 2})
	if err != nil {
		t.Fatal(err)
	}
	within(t, 10*time.Second, func() {
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				for i := range 200 {
					reg.Increment("", 1, metricsink.Tags{})                                            // invalid name
					reg.Gauge(fmt.Sprint("clash", i%3), 1, metricsink.Tags{})                          // then a type clash:
					reg.Increment(fmt.Sprint("clash", i%3), 1, metricsink.Tags{})                      // warned
					reg.Increment("users", 1, metricsink.KV("id", strconv.Itoa(g*1000+i)))             // overflow
					reg.GaugeFunc("dup", metricsink.Tags{}, func() float64 { return 1 })               // duplicate
					metricsink.NewCounter(reg, "handles", metricsink.KV("g", strconv.Itoa(g))).Add(-1) // invalid value
				}
			})
		}
		wg.Go(func() {
			for range 20 {
				_ = reg.Snapshot()
			}
		})
		wg.Wait()
	})
	if got := counterValue(reg.Snapshot(), "log_lines_total"); got == 0 {
		t.Errorf("the logger's metric was never recorded; the warnings did not fire")
	}
}

// counterValue sums the series of the family name in a snapshot.
func counterValue(fams []prometheus.Family, name string) float64 {
	var v float64
	for _, f := range fams {
		if f.Name == name {
			for _, s := range f.Series {
				v += s.Value
			}
		}
	}
	return v
}

// loggingSink is a user Sink that logs every sample through a logger whose
// handler records into the registry.
type loggingSink struct {
	logger *slog.Logger
}

func (s loggingSink) Increment(name string, v float64, _ metricsink.Tags) {
	s.logger.Info("sample", "name", name, "v", v)
}
func (s loggingSink) Gauge(name string, v float64, _ metricsink.Tags) {
	s.logger.Info("sample", "name", name, "v", v)
}
func (s loggingSink) Histogram(name string, v float64, _ metricsink.Tags) {
	s.logger.Info("sample", "name", name, "v", v)
}
func (s loggingSink) Duration(name string, d time.Duration, _ metricsink.Tags) {
	s.logger.Info("sample", "name", name, "d", d)
}

// A Fanout of the registry and a user sink that logs every sample, the
// log recording into the registry, with the registry's warnings firing.
func TestUserSinkLoggingEverySampleDoesNotDeadlock(t *testing.T) {
	var reg *prometheus.Registry
	logger := slog.New(metricHandler{sink: lazySink{&reg}})
	reg, err := prometheus.New(&prometheus.Options{DisableRuntimeMetrics: true, Logger: logger, MaxSeriesPerMetric: 3})
	if err != nil {
		t.Fatal(err)
	}
	sink := metricsink.Fanout(reg, loggingSink{logger: logger})
	within(t, 10*time.Second, func() {
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				h := metricsink.NewGauge(sink, "open", metricsink.KV("g", strconv.Itoa(g)))
				for i := range 200 {
					sink.Increment("events", 1, metricsink.KV("n", strconv.Itoa(i))) // overflow
					sink.Histogram("events", 1, metricsink.Tags{})                   // type clash
					sink.Duration("wait", -time.Second, metricsink.Tags{})           // invalid value
					h.Inc()
				}
			})
		}
		wg.Wait()
	})
	if got := counterValue(reg.Snapshot(), "log_lines_total"); got < 4*200 {
		t.Errorf("log_lines_total = %v, want at least one per sample of the user sink", got)
	}
}

// A callback that blocks costs each scrape at most the timeout; one that
// panics costs nothing; both are counted, and every other family is
// served.
func TestBlockingAndPanickingCallbacks(t *testing.T) {
	reg, _ := newProm(t, &prometheus.Options{CallbackTimeout: 200 * time.Millisecond})
	release := make(chan struct{})
	var returned sync.WaitGroup
	returned.Add(1)
	calls := 0
	reg.GaugeFunc("stuck", metricsink.Tags{}, func() float64 {
		calls++
		if calls == 1 {
			defer returned.Done()
		}
		<-release
		return 1
	})
	reg.GaugeFunc("broken", metricsink.Tags{}, func() float64 { panic("broken callback") })
	reg.GaugeFunc("fine", metricsink.Tags{}, func() float64 { return 7 })
	reg.Increment("served", 1, metricsink.Tags{})

	for i := range 3 {
		start := time.Now()
		var expo string
		within(t, 5*time.Second, func() { expo = scrape(reg) })
		if d := time.Since(start); d > time.Second {
			t.Errorf("scrape %d took %v, want at most about the 200ms timeout", i, d)
		}
		for _, want := range []string{"fine 7\n", "served_total 1\n"} {
			if !strings.Contains(expo, want) {
				t.Errorf("scrape %d lacks %q:\n%s", i, want, expo)
			}
		}
		if strings.Contains(expo, "stuck ") || strings.Contains(expo, "broken ") {
			t.Errorf("scrape %d exposes a callback that did not answer:\n%s", i, expo)
		}
	}
	if got := reg.Stats().Dropped.Get(drop.Timeout); got != 3 {
		t.Errorf("dropped{timeout} = %d, want 3 (one per scrape)", got)
	}
	if got := reg.Stats().Dropped.Get(drop.Panic); got != 3 {
		t.Errorf("dropped{panic} = %d, want 3 (one per scrape)", got)
	}
	close(release)
	returned.Wait()
	// Once it returns, the callback is read again.
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(scrape(reg), "stuck 1\n") {
		if time.Now().After(deadline) {
			t.Fatalf("the callback that returned is not read again:\n%s", scrape(reg))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if calls != 2 {
		t.Errorf("the blocked callback was called %d times, want 2 (never while a call was in flight)", calls)
	}
}

// Snapshot reads the registry's structures: declared help, units and
// buckets, cumulative buckets ending with +Inf, callbacks included.
func TestSnapshot(t *testing.T) {
	reg, _ := newProm(t, nil)
	if err := metricsink.Declare(reg, metricsink.Desc{Name: "comment.body", Kind: metricsink.Histogram, Unit: "bytes",
		Help: "Size of comment bodies.", Buckets: []float64{10, 100}}); err != nil {
		t.Fatal(err)
	}
	h := metricsink.NewHistogram(reg, "comment.body", metricsink.KV("channel", "video"))
	for _, v := range []float64{5, 50, 500, 5} {
		h.Observe(v)
	}
	reg.Increment("comments.created", 2, metricsink.KV("channel", "video"))
	g := metricsink.NewGauge(reg, "open", metricsink.Tags{})
	g.Add(3)
	g.Dec()
	reg.GaugeFunc("queue", metricsink.Tags{}, func() float64 { return 4 })

	fams := reg.Snapshot()
	byName := map[string]prometheus.Family{}
	var names []string
	for _, f := range fams {
		byName[f.Name] = f
		names = append(names, f.Name)
	}
	for i := 1; i < len(names); i++ {
		if names[i-1] >= names[i] {
			t.Errorf("families not sorted: %q", names)
		}
	}
	body, ok := byName["comment_body_bytes"]
	if !ok {
		t.Fatalf("no comment_body_bytes in %q", names)
	}
	want := prometheus.Series{
		Labels: []metricsink.Tag{{Key: "channel", Value: "video"}}, Count: 4, Sum: 560,
		Buckets: []prometheus.Bucket{{UpperBound: 10, Count: 2}, {UpperBound: 100, Count: 3}, {UpperBound: math.Inf(1), Count: 4}},
	}
	if body.Type != "histogram" || body.Help != "Size of comment bodies." || body.Unit != "bytes" || len(body.Series) != 1 {
		t.Fatalf("comment_body_bytes = %+v", body)
	}
	got := body.Series[0]
	native := got.Native
	got.Native = nil
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("series = %+v, want %+v", got, want)
	}
	// Native buckets at schema 3: 5 is in bucket 19 (2^(18/8), 2^(19/8)],
	// 50 in 46 and 500 in 72.
	if native == nil || native.Schema != 3 || native.ZeroCount != 0 || native.Offset != 19 || len(native.Counts) != 72-19+1 ||
		native.Counts[0] != 2 || native.Counts[46-19] != 1 || native.Counts[72-19] != 1 || native.Count() != 4 {
		t.Errorf("native = %+v, want schema 3, buckets 19: 2, 46: 1, 72: 1", native)
	}
	for name, v := range map[string]float64{"comments_created_total": 2, "open": 2, "queue": 4} {
		if got := counterValue(fams, name); got != v {
			t.Errorf("%s = %v, want %v", name, got, v)
		}
	}
	if _, ok := byName["metricsink_dropped_samples_total"]; !ok {
		t.Errorf("the registry's own families are missing from %q", names)
	}
	// Fresh slices: changing one snapshot leaves the next alone.
	body.Series[0].Buckets[0].Count = 99
	again := reg.Snapshot()
	for _, f := range again {
		if f.Name == "comment_body_bytes" && f.Series[0].Buckets[0].Count != 2 {
			t.Errorf("a snapshot shares its buckets with an earlier one")
		}
	}
}

// Declared metrics: HELP, unit suffix and buckets in the exposition.
func TestDeclared(t *testing.T) {
	reg, _ := newProm(t, nil)
	for _, d := range []metricsink.Desc{
		{Name: "payload.size", Kind: metricsink.Histogram, Unit: "bytes", Help: "Payload sizes.", Buckets: []float64{100, 1000}},
		{Name: "jobs.done", Kind: metricsink.Counter, Help: "Jobs done."},
		{Name: "jobs.done", Kind: metricsink.Counter, Help: "Jobs done."}, // again: fine
	} {
		if err := metricsink.Declare(reg, d); err != nil {
			t.Fatalf("Declare(%+v): %v", d, err)
		}
	}
	if err := metricsink.Declare(reg, metricsink.Desc{Name: "jobs.done", Kind: metricsink.Gauge}); err == nil {
		t.Errorf("declaring a counter again as a gauge: no error")
	}
	if err := metricsink.Declare(reg, metricsink.Desc{Name: "x", Kind: metricsink.Histogram, Buckets: []float64{2, 1}}); err == nil {
		t.Errorf("decreasing buckets: no error")
	}
	reg.Histogram("payload.size", 123, metricsink.Tags{})
	reg.Increment("jobs.done", 1, metricsink.Tags{})
	expo := scrape(reg)
	for _, want := range []string{
		"# HELP payload_size_bytes Payload sizes.\n# TYPE payload_size_bytes histogram\n",
		"payload_size_bytes_bucket{le=\"100\"} 0\npayload_size_bytes_bucket{le=\"1000\"} 1\npayload_size_bytes_bucket{le=\"+Inf\"} 1\n",
		"# HELP jobs_done_total Jobs done.\n# TYPE jobs_done_total counter\njobs_done_total 1\n",
	} {
		if !strings.Contains(expo, want) {
			t.Errorf("exposition lacks %q:\n%s", want, expo)
		}
	}
	checkExposition(t, expo)
}

// One kind per name: the first use wins, whatever the spelling.
func TestOneKindPerName(t *testing.T) {
	reg, logs := newProm(t, nil)
	reg.Increment("queue.size", 1, metricsink.Tags{})
	reg.Gauge("queue.size", 5, metricsink.Tags{})
	reg.Gauge("queueSize", 5, metricsink.Tags{})
	metricsink.NewHistogram(reg, "queue_size", metricsink.Tags{}).Observe(1)
	expo := scrape(reg)
	if strings.Contains(expo, "\nqueue_size ") || strings.Contains(expo, "queue_size_bucket") {
		t.Errorf("a second kind was accepted:\n%s", expo)
	}
	if got := dropped(t, reg, "type_clash"); got != "3" {
		t.Errorf("dropped{type_clash} = %s, want 3", got)
	}
	if n := strings.Count(logs.String(), "type_clash"); n < 1 {
		t.Errorf("no type_clash warning logged")
	}
}

// Past MaxMetrics names and MaxSeries series, samples are dropped,
// counted and warned about once; long tag values are cut with a marker.
func TestMemoryLimits(t *testing.T) {
	reg, logs := newProm(t, &prometheus.Options{MaxMetrics: 5, MaxSeries: 8, MaxTagValueLength: 20})
	for i := range 10 {
		reg.Increment(fmt.Sprint("name", i), 1, metricsink.Tags{})
	}
	if got := dropped(t, reg, "overflow"); got != "5" {
		t.Errorf("dropped{overflow} after 10 names = %s, want 5", got)
	}
	for i := range 6 {
		reg.Gauge("name0_level", 1, metricsink.KV("i", strconv.Itoa(i))) // a sixth name: dropped
		reg.Increment("name1", 1, metricsink.KV("i", strconv.Itoa(i)))   // series 6, 7, 8, then dropped
	}
	if got := dropped(t, reg, "overflow"); got != "14" {
		t.Errorf("dropped{overflow} = %s, want 14", got)
	}
	for _, want := range []string{"MaxMetrics", "MaxSeries"} {
		if n := strings.Count(logs.String(), want); n != 1 {
			t.Errorf("warning about %s logged %d times, want 1:\n%s", want, n, logs.String())
		}
	}
	reg2, _ := newProm(t, &prometheus.Options{MaxTagValueLength: 20})
	reg2.Increment("long", 1, metricsink.KV("v", strings.Repeat("é", 50)))
	want := `long_total{v="` + strings.Repeat("é", 8) + prometheus.TruncationMarker + `"} 1`
	if expo := scrape(reg2); !strings.Contains(expo, want) {
		t.Errorf("exposition lacks %q:\n%s", want, expo)
	}
}

// memWorkloadVar names the workload TestMemoryWorkload runs in a child
// process.
const memWorkloadVar = "PROMETHEUS_MEM_WORKLOAD"

// TestMemoryWorkload is run by TestMemoryBound in a child process: it
// records the workload and prints the peak resident set size.
func TestMemoryWorkload(t *testing.T) {
	w := os.Getenv(memWorkloadVar)
	if w == "" {
		t.Skip("run by TestMemoryBound")
	}
	reg, err := prometheus.New(&prometheus.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	switch w {
	case "names":
		for i := range 200_000 {
			reg.Increment("metric.number"+strconv.Itoa(i), 1, metricsink.KV("k", "v"))
		}
	case "values":
		big := strings.Repeat("x", 100<<10)
		for i := range 1000 {
			reg.Increment("big.values", 1, metricsink.KV("v", strconv.Itoa(i)+big))
		}
	}
	var sb strings.Builder
	reg.WritePrometheus(&sb)
	fmt.Printf("scrape-bytes %d\n", sb.Len())
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "VmHWM:") {
			fmt.Println(sc.Text())
		}
	}
}

// TestMemoryBound measures the peak RSS of the two workloads of the
// memory bound in child processes (see the README for the figures).
func TestMemoryBound(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("-short, or -race (which multiplies memory use)")
	}
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc/self/status on this system")
	}
	for _, tt := range []struct {
		workload string
		maxMB    int
	}{{"names", 300}, {"values", 50}} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMemoryWorkload$", "-test.count=1")
		cmd.Env = append(os.Environ(), memWorkloadVar+"="+tt.workload)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", tt.workload, err, out)
		}
		var kb int
		for line := range strings.Lines(string(out)) {
			if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				kb, _ = strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			}
		}
		if kb == 0 {
			t.Fatalf("%s: no VmHWM in the child's output:\n%s", tt.workload, out)
		}
		t.Logf("%s: peak RSS %d MB (limit %d MB)", tt.workload, kb>>10, tt.maxMB)
		if kb>>10 >= tt.maxMB {
			t.Errorf("%s: peak RSS %d MB, want under %d MB", tt.workload, kb>>10, tt.maxMB)
		}
	}
}

// TestRegisterWhileSnapshotting registers and unregisters GaugeFunc and
// CounterFunc series, and records into overflow series, while other
// goroutines take snapshots and scrapes: under -race, a series written
// after it was published to the lock-free readers is reported.
func TestRegisterWhileSnapshotting(t *testing.T) {
	reg, err := prometheus.New(&prometheus.Options{DisableRuntimeMetrics: true, MaxSeriesPerMetric: 4})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for range 2 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				_ = reg.Snapshot()
				reg.WritePrometheus(io.Discard)
			}
		})
	}
	for i := range 200 {
		tags := metricsink.KV("i", strconv.Itoa(i%8))
		undo, _ := metricsink.GaugeFunc(reg, "pool.open", tags, func() float64 { return float64(i) })
		undoC, _ := metricsink.CounterFunc(reg, "pool.waits", tags, func() float64 { return float64(i) })
		reg.Increment("requests", 1, metricsink.KV("path", strconv.Itoa(i))) // past 4 series: overflow
		undo()
		undoC()
	}
	close(stop)
	readers.Wait()
	if got := counterValue(reg.Snapshot(), "requests_total"); got != 200 {
		t.Errorf("requests_total summed over its series = %v, want 200", got)
	}
}
