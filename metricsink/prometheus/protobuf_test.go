package prometheus

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/realtimeserver/observability/metricsink"
)

// The Accept headers Prometheus sends (scrape.acceptHeader): 2.42 with
// native histograms on, 3.x by default and 3.x with scrape_protocols
// putting PrometheusProto first (native histograms on).
const (
	acceptPrometheus242Native = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.8,application/openmetrics-text;version=1.0.0;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
	acceptPrometheus242       = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
	acceptPrometheus3         = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1"
	acceptPrometheus3Native   = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1"
	acceptPrometheus3TextOnly = "text/plain;version=0.0.4;q=0.2,*/*;q=0.1"
)

func TestNegotiate(t *testing.T) {
	tests := []struct {
		name     string
		accept   string
		protobuf bool // an encoder is registered
		want     format
	}{
		{"no header", "", true, formatText},
		{"curl", "*/*", true, formatText},
		{"browser", "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8", true, formatText},
		{"Prometheus 2.42, native histograms", acceptPrometheus242Native, true, formatProtobuf},
		{"Prometheus 2.42, native histograms, no encoder", acceptPrometheus242Native, false, formatOpenMetrics},
		{"Prometheus 2.42", acceptPrometheus242, true, formatOpenMetrics},
		{"Prometheus 3", acceptPrometheus3, true, formatOpenMetrics},
		{"Prometheus 3, native histograms", acceptPrometheus3Native, true, formatProtobuf},
		{"Prometheus 3, native histograms, no encoder", acceptPrometheus3Native, false, formatOpenMetrics},
		{"Prometheus 3, text only", acceptPrometheus3TextOnly, true, formatText},
		{"text 0.0.4", "text/plain; version=0.0.4", true, formatText},
		{"text 1.0.0", "text/plain;version=1.0.0;escaping=underscores", true, formatText},
		{"text of an unknown version, wildcard below", "text/plain;version=2.0.0,*/*;q=0.1", true, formatText},
		{"text/*", "text/*, application/openmetrics-text;q=0.5", true, formatText},
		{"OpenMetrics without version", "application/openmetrics-text", true, formatOpenMetrics},
		{"OpenMetrics 0.0.1", "application/openmetrics-text; version=0.0.1", true, formatOpenMetrics},
		{"OpenMetrics 2.0.0 only", "application/openmetrics-text;version=2.0.0", true, formatText},
		{"OpenMetrics, quoted version", `application/openmetrics-text;version="1.0.0"`, true, formatOpenMetrics},
		{"OpenMetrics, escaped quoted version", `application/openmetrics-text;version="1.0\.0"`, true, formatOpenMetrics},
		{"case of type and parameter names", "Application/OpenMetrics-Text; Version=1.0.0", true, formatOpenMetrics},
		{"protobuf, text encoding", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text", true, formatText},
		{"protobuf without proto", "application/vnd.google.protobuf;encoding=delimited", true, formatText},
		{"protobuf of another message", "application/vnd.google.protobuf;proto=foo.Bar;encoding=delimited", true, formatText},
		{"protobuf, quoted parameters", `application/vnd.google.protobuf; proto="io.prometheus.client.MetricFamily"; encoding="delimited"`, true, formatProtobuf},
		{"protobuf with spaces", "application/vnd.google.protobuf ; proto=io.prometheus.client.MetricFamily ; encoding=delimited ; q=0.9 , text/plain ; q=0.5", true, formatProtobuf},
		{"tie: the richer format", "text/plain,application/openmetrics-text", true, formatOpenMetrics},
		{"tie with a wildcard", "*/*,application/openmetrics-text", true, formatOpenMetrics},
		{"wildcard above", "application/openmetrics-text;q=0.5,*/*;q=0.9", true, formatText},
		{"refused text, nothing else", "text/plain;q=0", true, formatText},
		{"refused OpenMetrics", "application/openmetrics-text;q=0,*/*;q=0.1", true, formatText},
		{"refused protobuf", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0,application/openmetrics-text;q=0.1", true, formatOpenMetrics},
		{"specific range overrides a wildcard", "text/plain;q=0.1,*/*;q=1,application/openmetrics-text;q=0.5", true, formatOpenMetrics},
		{"versioned range overrides an unversioned one", "application/openmetrics-text;q=0.9,application/openmetrics-text;version=1.0.0;q=0.2,text/plain;q=0.5", true, formatText},
		{"q above 1 counts as 1", "text/plain;q=0.9,application/openmetrics-text;q=7", true, formatOpenMetrics},
		{"invalid q ignores the range", "application/openmetrics-text;q=high,text/plain;q=0.1", true, formatText},
		{"NaN q ignores the range", "application/openmetrics-text;q=NaN", true, formatText},
		{"comma in a quoted value", `text/plain;x="a,application/openmetrics-text";q=0.5,application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.4`, true, formatText},
		{"empty ranges", ",,;,  ,", true, formatText},
		{"garbage", "\x00;;==,\"", true, formatText},
		{"unterminated quote", `application/openmetrics-text;version="1.0.0`, true, formatText},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := negotiate(tt.accept, tt.protobuf); got != tt.want {
				t.Errorf("negotiate(%q, %v) = %v, want %v", tt.accept, tt.protobuf, got, tt.want)
			}
		})
	}
}

func TestFormatContentType(t *testing.T) {
	for f, want := range map[format]string{
		formatText:        "text/plain; version=0.0.4; charset=utf-8",
		formatOpenMetrics: "application/openmetrics-text; version=1.0.0; charset=utf-8",
		formatProtobuf:    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited",
	} {
		if got := f.contentType(); got != want {
			t.Errorf("%v: content type %q, want %q", f, got, want)
		}
		// What a scrape answered with this Content-Type would ask for
		// again is the same format.
		if got := negotiate(f.contentType(), true); got != f {
			t.Errorf("negotiate(%q) = %v, want %v", f.contentType(), got, f)
		}
	}
}

// FuzzNegotiate checks that no Accept header makes negotiate panic or
// answer in a format the header does not name, and that protobuf is chosen
// only when it may be, the choice being otherwise the same.
func FuzzNegotiate(f *testing.F) {
	for _, s := range []string{"", "*/*", acceptPrometheus242Native, acceptPrometheus242, acceptPrometheus3, acceptPrometheus3Native,
		`application/openmetrics-text;version="1.0\.0";q=0.3`, `text/plain;x="a,b;c";q=0`, "\"", "\\", ";q=", "a/b;q=1e400"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, accept string) {
		with, without := negotiate(accept, true), negotiate(accept, false)
		if without == formatProtobuf {
			t.Fatalf("negotiate(%q, false) chose protobuf", accept)
		}
		lower := strings.ToLower(accept)
		switch with {
		case formatProtobuf:
			if !strings.Contains(lower, "application/vnd.google.protobuf") {
				t.Fatalf("negotiate(%q) chose protobuf, which it does not name", accept)
			}
		case formatOpenMetrics:
			if !strings.Contains(lower, "openmetrics-text") {
				t.Fatalf("negotiate(%q) chose OpenMetrics, which it does not name", accept)
			}
		}
		if with != formatProtobuf && with != without {
			t.Fatalf("negotiate(%q): %v with an encoder, %v without", accept, with, without)
		}
	})
}

func TestWriteProtobufWithoutEncoder(t *testing.T) {
	RegisterProtobuf(nil)
	p, err := New(&Options{DisableRuntimeMetrics: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(t.Context())
	var buf bytes.Buffer
	err = p.WriteProtobuf(&buf)
	if err == nil || !strings.Contains(err.Error(), "promproto") {
		t.Errorf("WriteProtobuf without an encoder: error %v, want one naming promproto", err)
	}
	if buf.Len() != 0 {
		t.Errorf("WriteProtobuf without an encoder wrote %d bytes", buf.Len())
	}
}

// The encoder receives the families Snapshot gives, and its error, w's
// included, is WriteProtobuf's.
func TestWriteProtobufLendsSnapshot(t *testing.T) {
	t.Cleanup(func() { RegisterProtobuf(nil) })
	p, err := New(&Options{DisableRuntimeMetrics: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(t.Context())
	p.Increment("jobs.done", 3, metricsink.KV("queue", "mail"))
	p.Gauge("queue.length", 7, metricsink.KV("queue", "mail"))
	p.Histogram("payload.bytes", 512, metricsink.KV("route", "/"))

	var got []string
	fail := errors.New("disk full")
	RegisterProtobuf(func(w io.Writer, fams []Family) error {
		got = got[:0]
		for _, f := range fams {
			for _, s := range f.Series {
				got = append(got, f.Name+" "+string(renderLabels(nil, s.Labels)))
			}
		}
		if _, err := io.WriteString(w, "x"); err != nil {
			return err
		}
		return fail
	})
	var want []string
	for _, f := range p.Snapshot() {
		for _, s := range f.Series {
			want = append(want, f.Name+" "+string(renderLabels(nil, s.Labels)))
		}
	}
	for range 2 { // the second scrape reuses the first one's families
		var buf bytes.Buffer
		if err := p.WriteProtobuf(&buf); !errors.Is(err, fail) {
			t.Errorf("WriteProtobuf: error %v, want the encoder's", err)
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("the encoder got\n%s\nwant (Snapshot)\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if buf.String() != "x" {
			t.Errorf("wrote %q, want the encoder's %q", buf.String(), "x")
		}
	}
}

// Registering and scraping at once is safe: a scrape uses the encoder it
// loaded, or reports that there is none.
func TestRegisterProtobufConcurrent(t *testing.T) {
	t.Cleanup(func() { RegisterProtobuf(nil) })
	p, err := New(&Options{DisableRuntimeMetrics: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(t.Context())
	p.Increment("jobs.done", 1, metricsink.Tags{})
	enc := func(w io.Writer, fams []Family) error {
		_, err := io.WriteString(w, fams[0].Name)
		return err
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				if g == 0 {
					if i%2 == 0 {
						RegisterProtobuf(enc)
					} else {
						RegisterProtobuf(nil)
					}
					continue
				}
				var buf bytes.Buffer
				if err := p.WriteProtobuf(&buf); err == nil && buf.String() != "jobs_done_total" {
					t.Errorf("WriteProtobuf wrote %q", buf.String())
					return
				}
			}
		})
	}
	wg.Wait()
}

// snapshotInto gives what Snapshot gives, scrape after scrape, as the
// registry changes: series and families added, exemplars arriving, a
// callback leaving, a histogram family's slot taken by a counter one.
func TestSnapshotInto(t *testing.T) {
	p, err := New(&Options{DisableRuntimeMetrics: true, CallbackTimeout: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(t.Context())
	var sc scrapeScratch
	check := func(step string) {
		t.Helper()
		p.snapshotInto(&sc)
		want := p.Snapshot()
		// Each of the two counts the callbacks that time out.
		for _, fams := range [][]Family{sc.fams, want} {
			for _, f := range fams {
				if f.Name == "metricsink_dropped_samples_total" {
					for i := range f.Series {
						f.Series[i].Value = 0
					}
				}
			}
		}
		if !reflect.DeepEqual(sc.fams, want) {
			t.Errorf("%s: snapshotInto gave\n%+v\nSnapshot\n%+v", step, sc.fams, want)
		}
	}
	check("empty")
	p.Histogram("build.latency", 0.3, metricsink.KV("route", "/"))
	p.Increment("cache.events", 2, metricsink.KV("kind", "a"))
	check("first series")
	unregister := p.GaugeFunc("dispatch.queue", metricsink.KV("queue", "mail"), func() float64 { return 4 })
	p.HistogramExemplar("build.latency", 0.002, metricsink.KV("route", "/"), metricsink.Exemplar{TraceID: [16]byte{1}, SpanID: [8]byte{2}})
	p.Histogram("build.latency", 7e9, metricsink.KV("route", "/big"))
	check("exemplar, callback, far native buckets")
	p.Increment("alpha.first", 1, metricsink.Tags{}) // every family moves one slot down
	p.HistogramExemplar("build.latency", 0.5, metricsink.KV("route", "/"), metricsink.Exemplar{TraceID: [16]byte{3}, SpanID: [8]byte{4}})
	check("a family before the others")
	unregister()
	check("callback gone")
	// A callback that does not return in time leaves its series out, and
	// its family when it is the only one.
	stuck := make(chan struct{})
	defer close(stuck)
	p.GaugeFunc("stuck.queue", metricsink.KV("queue", "a"), func() float64 { <-stuck; return 1 })
	p.GaugeFunc("stuck.queue", metricsink.KV("queue", "b"), func() float64 { <-stuck; return 1 })
	p.GaugeFunc("waiting.queue", metricsink.KV("queue", "a"), func() float64 { <-stuck; return 1 })
	p.GaugeFunc("waiting.queue", metricsink.KV("queue", "b"), func() float64 { return 2 })
	check("callbacks timed out")
	check("unchanged")
	var names []string
	for _, f := range sc.fams {
		names = append(names, f.Name)
	}
	if want := []string{"alpha_first_total", "build_latency", "cache_events_total", "metricsink_dropped_samples_total", "waiting_queue"}; !slices.Equal(names, want) {
		t.Errorf("families %v, want %v", names, want)
	}
}

func TestSnapshotIntoRuntime(t *testing.T) {
	p, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(t.Context())
	p.Increment("zz.last", 1, metricsink.Tags{})
	p.Increment("aa.first", 1, metricsink.Tags{})
	p.Gauge("heap.middle", 1, metricsink.Tags{}) // between go_* and process_*
	var sc scrapeScratch
	for range 2 {
		p.snapshotInto(&sc)
		var got, want []string
		for _, f := range sc.fams {
			got = append(got, f.Name)
		}
		for _, f := range p.Snapshot() {
			want = append(want, f.Name)
		}
		if !slices.Equal(got, want) {
			t.Errorf("snapshotInto's families\n%v\nSnapshot's\n%v", got, want)
		}
	}
}
