package prometheus_test

import (
	"context"
	"math"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/realtimeserver/observability/metricsink"
	"github.com/realtimeserver/observability/metricsink/prometheus"
)

// A real tag value "other" and the overflow series share their labels: the
// samples past the limit go to that one series, none is lost.
func TestOverflowMeetsRealOtherValue(t *testing.T) {
	p, _ := newProm(t, &prometheus.Options{MaxSeriesPerMetric: 1})
	for _, u := range []string{"other", "bob", "eve"} {
		p.Increment("logins", 1, metricsink.KV("user", u))
	}
	expo := scrape(p)
	if !strings.Contains(expo, "logins_total{user=\"other\"} 3\n") {
		t.Errorf("want logins_total{user=\"other\"} 3:\n%s", expo)
	}
	if got := dropped(t, p, "panic"); got != "0" {
		t.Errorf("dropped{panic} = %s, want 0", got)
	}
	checkExposition(t, expo)
}

// After an unregister frees room under the limit, a series whose labels are
// those of an existing overflow series is that series, for samples and
// callbacks alike.
func TestOverflowSeriesReusedBelowLimit(t *testing.T) {
	p, _ := newProm(t, &prometheus.Options{MaxSeriesPerMetric: 1})
	un := p.GaugeFunc("temp", metricsink.KV("room", "a"), func() float64 { return 1 })
	p.Gauge("temp", 2, metricsink.KV("room", "b")) // overflow: room="other"
	un()
	p.Gauge("temp", 5, metricsink.KV("room", "other"))
	dup := p.GaugeFunc("temp", metricsink.KV("room", "other"), func() float64 { return 9 })
	defer dup()
	expo := scrape(p)
	if !strings.Contains(expo, "temp{room=\"other\"} 5\n") {
		t.Errorf("want temp{room=\"other\"} 5:\n%s", expo)
	}
	for _, tt := range []struct{ reason, want string }{{"panic", "0"}, {"duplicate", "1"}} {
		if got := dropped(t, p, tt.reason); got != tt.want {
			t.Errorf("dropped{%s} = %s, want %s", tt.reason, got, tt.want)
		}
	}
	checkExposition(t, expo)
}

// The series limit applies to GaugeFunc and CounterFunc too.
func TestFuncsRespectSeriesLimit(t *testing.T) {
	p, logs := newProm(t, &prometheus.Options{MaxSeriesPerMetric: 2})
	for _, db := range []string{"a", "b", "c", "d"} {
		un := p.GaugeFunc("db.pool.open_connections", metricsink.KV("db", db), func() float64 { return 1 })
		defer un()
	}
	expo := scrape(p)
	if got := strings.Count(expo, "\ndb_pool_open_connections{"); got != 2 {
		t.Errorf("%d series exposed, want 2:\n%s", got, expo)
	}
	if got := dropped(t, p, "overflow"); got != "2" {
		t.Errorf("dropped{overflow} = %s, want 2", got)
	}
	if got := strings.Count(logs.String(), "series limit"); got != 1 {
		t.Errorf("limit warning logged %d times, want 1:\n%s", got, logs)
	}
}

// A CounterFunc that reads a negative, NaN, infinite or smaller value, or
// panics, keeps its last good value; each bad read is counted.
func TestCounterFuncInvalidReads(t *testing.T) {
	p, _ := newProm(t, nil)
	reads := []float64{5, -1, math.NaN(), 3, math.Inf(1), 7, -2}
	want := []string{"5", "5", "5", "5", "5", "7", "7"}
	i := 0
	un := p.CounterFunc("jobs.done", metricsink.Tags{}, func() float64 { return reads[i] })
	defer un()
	for i = range reads {
		expo := scrape(p)
		if !strings.Contains(expo, "\njobs_done_total "+want[i]+"\n") {
			t.Errorf("read %v: want jobs_done_total %s:\n%s", reads[i], want[i], expo)
		}
		checkExposition(t, expo)
	}
	i = 5 // a good read again: the scrape of dropped counts nothing more
	if got := dropped(t, p, "invalid_value"); got != "5" {
		t.Errorf("dropped{invalid_value} = %s, want 5", got)
	}

	boom := p.CounterFunc("boom", metricsink.Tags{}, func() float64 { panic("callback failed") })
	defer boom()
	expo := scrape(p)
	if !strings.Contains(expo, "\nboom_total 0\n") || !strings.Contains(expo, "\njobs_done_total 7\n") {
		t.Errorf("a panicking CounterFunc should read 0 and leave the rest intact:\n%s", expo)
	}
	checkExposition(t, expo)
	if got := dropped(t, p, "panic"); got == "0" {
		t.Errorf("dropped{panic} = %s, want > 0", got)
	}
}

// Every family has its # TYPE line, constant labels or not.
func TestExposeMetadataIgnored(t *testing.T) {
	p, _ := newProm(t, &prometheus.Options{ConstLabels: map[string]string{"env": "t"}})
	p.Increment("hits", 1, metricsink.KV("path", "/"))
	p.Gauge("level", 2, metricsink.Tags{})
	p.Duration("op", time.Second, metricsink.Tags{})
	un := p.CounterFunc("waits", metricsink.Tags{}, func() float64 { return 3 })
	defer un()
	expo := scrape(p)
	checkExposition(t, expo)
	for _, want := range []string{"# TYPE hits_total counter\n", "# TYPE waits_total counter\n", "# TYPE op_seconds histogram\n"} {
		if !strings.Contains(expo, want) {
			t.Errorf("exposition lacks %q:\n%s", want, expo)
		}
	}
}

func TestOptionsReservedNames(t *testing.T) {
	tests := []struct {
		name string
		opts prometheus.Options
		want string
	}{
		{"const label reason", prometheus.Options{ConstLabels: map[string]string{"reason": "x"}}, "ConstLabels"},
		{"const label metric", prometheus.Options{ConstLabels: map[string]string{"metric": "x"}}, "ConstLabels"},
		{"const label url", prometheus.Options{ConstLabels: map[string]string{"url": "x"}}, "ConstLabels"},
		{"namespace go", prometheus.Options{Namespace: "go"}, "Namespace"},
		{"namespace process", prometheus.Options{Namespace: "process"}, "Namespace"},
		{"namespace metricsink", prometheus.Options{Namespace: "metricsink", DisableRuntimeMetrics: true}, "Namespace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := prometheus.New(&tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewPrometheus() = %v, %v; want an error naming %s", p, err, tt.want)
			}
		})
	}
	if _, err := prometheus.New(&prometheus.Options{Namespace: "go", DisableRuntimeMetrics: true}); err != nil {
		t.Errorf("Namespace go without runtime metrics: %v, want accepted", err)
	}
}

// Every metricsink_* name is reserved, not only the existing families.
func TestSelfPrefixReserved(t *testing.T) {
	p, _ := newProm(t, nil)
	p.Increment("metricsink.custom", 1, metricsink.Tags{})
	if got := dropped(t, p, "invalid_name"); got != "1" {
		t.Errorf("dropped{invalid_name} = %s, want 1", got)
	}
}

// A token in the push URL's query string appears neither in the url label
// nor in the logs.
func TestPushURLQueryHidden(t *testing.T) {
	p, logs := newProm(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if err := p.Push(ctx, "http://u:pw@"+addr+"/api/v1/import/prometheus?token=s3cr3t#frag", &prometheus.PushOptions{Interval: 50 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	expo := scrape(p)
	want := `metricsink_push_errors_total{url="http://` + addr + `/api/v1/import/prometheus"}`
	if !strings.Contains(expo, want) {
		t.Errorf("exposition lacks %s:\n%s", want, expo)
	}
	for _, secret := range []string{"s3cr3t", "pw@", "frag"} {
		if strings.Contains(expo, secret) || strings.Contains(logs.String(), secret) {
			t.Errorf("%q leaked:\n%s\n%s", secret, expo, logs)
		}
	}
}

type plainSink struct{ metricsink.Sink }

// GaugeFunc and CounterFunc report ok only when a sink of the fanout took
// the registration.
func TestFanoutFuncOK(t *testing.T) {
	p, _ := newProm(t, nil)
	tests := []struct {
		name string
		sink metricsink.Sink
		want bool
	}{
		{"no FuncSink", metricsink.Fanout(plainSink{metricsink.Discard}, plainSink{metricsink.Discard}), false},
		{"nested without FuncSink", metricsink.Fanout(metricsink.Discard, metricsink.Fanout(metricsink.Discard, plainSink{})), false},
		{"one FuncSink", metricsink.Fanout(metricsink.Discard, p), true},
		{"nested FuncSink", metricsink.Fanout(metricsink.Discard, metricsink.Fanout(metricsink.Discard, p)), true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := "fan" + string(rune('a'+i))
			un, ok := metricsink.GaugeFunc(tt.sink, name, metricsink.Tags{}, func() float64 { return 1 })
			defer un()
			if ok != tt.want {
				t.Errorf("GaugeFunc ok = %v, want %v", ok, tt.want)
			}
			un2, ok := metricsink.CounterFunc(tt.sink, name+".c", metricsink.Tags{}, func() float64 { return 1 })
			defer un2()
			if ok != tt.want {
				t.Errorf("CounterFunc ok = %v, want %v", ok, tt.want)
			}
		})
	}
}

// A constant label that a runtime metric already has (go_info's version)
// is not written twice in its line.
func TestConstLabelMeetsRuntimeLabel(t *testing.T) {
	p, err := prometheus.New(&prometheus.Options{ConstLabels: map[string]string{"version": "1.2", "env": "t"}})
	if err != nil {
		t.Fatal(err)
	}
	expo := scrape(p)
	checkExposition(t, expo)
	if !strings.Contains(expo, `go_goroutines{env="t",version="1.2"} `) {
		t.Errorf("runtime lines lack the const labels:\n%s", expo)
	}
}

// In a full family, tag lists the hot path has not remembered still reach
// their own series, real or overflow.
func TestFullFamilyUnrememberedTags(t *testing.T) {
	p, _ := newProm(t, &prometheus.Options{MaxSeriesPerMetric: 2, ConstLabels: map[string]string{"env": "t"}})
	p.Increment("x", 1, metricsink.KV("b", "2", "a", "1")) // not in canonical order
	p.Increment("x", 1, metricsink.KV("a", "9"))           // the family is full
	for i := range 200 {                                   // past the remembered tag lists
		p.Increment("x", 1, metricsink.KV("a", "v"+strconv.Itoa(i)))
	}
	p.Increment("x", 1, metricsink.KV("a", "other", "b", "2")) // overflow for the keys a, b
	p.Increment("x", 1, metricsink.KV("a", "1", "b", "2"))     // canonical order, not remembered
	p.Increment("x", 1, metricsink.KV("a", "9"))
	expo := scrape(p)
	for _, want := range []string{
		`x_total{a="1",b="2",env="t"} 2`,
		`x_total{a="9",env="t"} 2`,
		`x_total{a="other",env="t"} 200`,
		`x_total{a="other",b="other",env="t"} 1`,
		`metricsink_overflow_series_total{env="t",metric="x_total"} 201`,
	} {
		if !strings.Contains(expo, want+"\n") {
			t.Errorf("exposition lacks %q:\n%s", want, expo)
		}
	}
	checkExposition(t, expo)
}
