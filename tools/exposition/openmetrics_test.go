package exposition

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/realtimeserver/observability/metricsink"
	"github.com/realtimeserver/observability/metricsink/prometheus"
)

// decode reads every family of an exposition in format f with expfmt's
// decoder for it.
func decode(t *testing.T, r io.Reader, f expfmt.Format) []*dto.MetricFamily {
	t.Helper()
	dec := expfmt.NewDecoder(r, f)
	var out []*dto.MetricFamily
	for {
		mf := new(dto.MetricFamily)
		err := dec.Decode(mf)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("expfmt (%s): decode family %d: %v", f, len(out), err)
		}
		out = append(out, mf)
	}
	// The text decoder gives families in no particular order.
	slices.SortFunc(out, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) })
	return out
}

// The OpenMetrics exposition, as expfmt's OpenMetrics 1.0 parser reads it,
// holds every family, series, classic bucket (+Inf included) and bucket
// exemplar of the Snapshot; it has no form for native buckets.
func TestOpenMetricsSnapshot(t *testing.T) {
	p := newRegistry(t, &prometheus.Options{DisableRuntimeMetrics: true, ConstLabels: map[string]string{"service": "api"}})
	fill(p)
	p.Increment("http.response.size.bytes", 512, metricsink.KV("route", "/")) // a counter with a unit
	var buf bytes.Buffer
	if err := p.WriteOpenMetrics(&buf); err != nil {
		t.Fatal(err)
	}
	fams := p.Snapshot()
	compareOpenMetrics(t, decode(t, &buf, expfmt.Format(prometheus.ContentTypeOpenMetrics)), fams)
	var exemplars int
	for _, f := range fams {
		for _, s := range f.Series {
			for _, b := range s.Buckets {
				if b.Exemplar != nil {
					exemplars++
				}
			}
		}
	}
	if exemplars < 5 {
		t.Errorf("the snapshot has %d bucket exemplars, want several", exemplars)
	}
}

// With the runtime's families (a summary, histograms without a sum), the
// OpenMetrics exposition still parses and names every family of the
// Snapshot.
func TestOpenMetricsRuntime(t *testing.T) {
	p := newRegistry(t, nil)
	fill(p)
	var buf bytes.Buffer
	if err := p.WriteOpenMetrics(&buf); err != nil {
		t.Fatal(err)
	}
	// go_memstats_alloc_bytes (a gauge) and go_memstats_alloc_bytes_total
	// (a counter, which OpenMetrics would name go_memstats_alloc_bytes)
	// would share a name (client_golang's do: prometheus/client_golang#829,
	// and expfmt refuses the second family): the counter is exposed under
	// its own name as unknown, which expfmt reads as untyped.
	if strings.Contains(buf.String(), "# TYPE go_memstats_alloc_bytes counter") {
		t.Error("the counter go_memstats_alloc_bytes_total is named go_memstats_alloc_bytes, the gauge's name")
	}
	got := decode(t, &buf, expfmt.Format(prometheus.ContentTypeOpenMetrics))
	want := p.Snapshot()
	for i := range want {
		if want[i].Name == "go_memstats_alloc_bytes_total" {
			want[i].Type = "untyped"
		}
	}
	wantNames(t, got, want)
}

// wantNames fails t unless got names the families of want, with their
// types.
func wantNames(t *testing.T, got []*dto.MetricFamily, want []prometheus.Family) {
	t.Helper()
	var g, w []string
	for _, mf := range got {
		g = append(g, mf.GetName()+" "+strings.ToLower(mf.GetType().String()))
	}
	for _, f := range want {
		w = append(w, f.Name+" "+f.Type)
	}
	slices.Sort(w)
	if !slices.Equal(g, w) {
		t.Errorf("families\n%s\nwant\n%s", strings.Join(g, "\n"), strings.Join(w, "\n"))
	}
}

func compareOpenMetrics(t *testing.T, got []*dto.MetricFamily, want []prometheus.Family) {
	t.Helper()
	if len(got) != len(want) {
		wantNames(t, got, want)
		t.FailNow()
	}
	for i, mf := range got {
		f := &want[i]
		if mf.GetName() != f.Name || mf.GetHelp() != f.Help {
			t.Errorf("family %d: name %q help %q, want %q %q", i, mf.GetName(), mf.GetHelp(), f.Name, f.Help)
		}
		// OpenMetrics writes a unit only where the name ends with it.
		base := strings.TrimSuffix(f.Name, "_total")
		if wantUnit := f.Unit; (wantUnit != "" && strings.HasSuffix(base, "_"+wantUnit)) != (mf.GetUnit() != "") || (mf.GetUnit() != "" && mf.GetUnit() != wantUnit) {
			t.Errorf("%s: unit %q, want %q", f.Name, mf.GetUnit(), f.Unit)
		}
		if got := strings.ToLower(mf.GetType().String()); got != f.Type {
			t.Errorf("%s: type %s, want %s", f.Name, got, f.Type)
		}
		if len(mf.Metric) != len(f.Series) {
			t.Errorf("%s: %d metrics, want %d", f.Name, len(mf.Metric), len(f.Series))
			continue
		}
		for j, m := range mf.Metric {
			where := fmt.Sprintf("%s[%d]", f.Name, j)
			s := &f.Series[j]
			if f.Type != "histogram" {
				compareSeries(t, where, f.Type, m, s)
				continue
			}
			var labels []metricsink.Tag
			for _, l := range m.Label {
				labels = append(labels, metricsink.Tag{Key: l.GetName(), Value: l.GetValue()})
			}
			if !slices.Equal(labels, s.Labels) {
				t.Errorf("%s: labels %v, want %v", where, labels, s.Labels)
			}
			h := m.GetHistogram()
			if h.GetSampleCount() != s.Count || !same(h.GetSampleSum(), s.Sum) {
				t.Errorf("%s: count %d sum %v, want %d %v", where, h.GetSampleCount(), h.GetSampleSum(), s.Count, s.Sum)
			}
			if h.Schema != nil || len(h.PositiveSpan) > 0 {
				t.Errorf("%s: native buckets in OpenMetrics 1.0", where)
			}
			if len(h.Bucket) != len(s.Buckets) {
				t.Errorf("%s: %d buckets, want %d (+Inf included)", where, len(h.Bucket), len(s.Buckets))
				continue
			}
			for k, b := range h.Bucket {
				wb := s.Buckets[k]
				if b.GetUpperBound() != wb.UpperBound || b.GetCumulativeCount() != wb.Count {
					t.Errorf("%s: bucket %d: le %v count %d, want %v %d", where, k, b.GetUpperBound(), b.GetCumulativeCount(), wb.UpperBound, wb.Count)
				}
				ex := wb.Exemplar
				if ex != nil {
					// OpenMetrics timestamps have millisecond precision here.
					e := *ex
					e.Time = time.UnixMilli(ex.Time.UnixMilli())
					ex = &e
				}
				compareExemplar(t, fmt.Sprintf("%s: bucket le=%v", where, wb.UpperBound), b.GetExemplar(), ex)
			}
		}
	}
}

// The Accept headers Prometheus sends (its scrape.acceptHeader): 2.42
// with native histograms on, 3.x by default, 3.x with native histograms.
const (
	acceptPrometheus242Native = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.8,application/openmetrics-text;version=1.0.0;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
	acceptPrometheus3         = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1"
	acceptPrometheus3Native   = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1"
)

// /metrics answers each Accept header Prometheus sends in the format it
// prefers, gzipped, with a Content-Type from which expfmt picks the
// decoder that reads the body: the whole Snapshot, native buckets and
// exemplars included in protobuf.
func TestServeHTTPNegotiates(t *testing.T) {
	p := newRegistry(t, &prometheus.Options{DisableRuntimeMetrics: true})
	fill(p)
	srv := httptest.NewServer(p)
	defer srv.Close()
	for _, tt := range []struct {
		name, accept string
		want         expfmt.FormatType
	}{
		{"Prometheus 2.42, native histograms", acceptPrometheus242Native, expfmt.TypeProtoDelim},
		{"Prometheus 3", acceptPrometheus3, expfmt.TypeOpenMetrics},
		{"Prometheus 3, native histograms", acceptPrometheus3Native, expfmt.TypeProtoDelim},
		{"curl", "*/*", expfmt.TypeTextPlain},
		{"no Accept", "", expfmt.TypeTextPlain},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/metrics", nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.accept != "" {
				req.Header.Set("Accept", tt.accept)
			}
			resp, err := srv.Client().Do(req) // asks for gzip and inflates
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if !resp.Uncompressed {
				t.Errorf("the response was not gzipped")
			}
			format := expfmt.ResponseFormat(resp.Header)
			if got := format.FormatType(); got != tt.want {
				t.Fatalf("Content-Type %q: expfmt reads %v, want %v", resp.Header.Get("Content-Type"), got, tt.want)
			}
			got := decode(t, resp.Body, format)
			want := p.Snapshot()
			switch tt.want {
			case expfmt.TypeProtoDelim:
				compare(t, got, want)
			case expfmt.TypeOpenMetrics:
				compareOpenMetrics(t, got, want)
			default:
				wantNames(t, got, want)
				for _, mf := range got {
					for _, m := range mf.Metric {
						if h := m.GetHistogram(); h != nil && len(h.Bucket) > 0 && !math.IsInf(h.Bucket[len(h.Bucket)-1].GetUpperBound(), 1) {
							t.Errorf("%s: the text format's buckets end below +Inf", mf.GetName())
						}
					}
				}
			}
		})
	}
}
