package exposition

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/realtimeserver/observability/metricsink"
	"github.com/realtimeserver/observability/metricsink/prometheus"
	"github.com/realtimeserver/observability/metricsink/prometheus/promproto"
)

func newRegistry(t *testing.T, opts *prometheus.Options) *prometheus.Registry {
	t.Helper()
	p, err := prometheus.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(t.Context()) })
	return p
}

// exemplar returns the i-th test exemplar, its ids distinct from the
// others'.
func exemplar(i int) metricsink.Exemplar {
	var ex metricsink.Exemplar
	for j := range ex.TraceID {
		ex.TraceID[j] = byte(i*7 + j + 1)
	}
	for j := range ex.SpanID {
		ex.SpanID[j] = byte(0x80 + i*3 + j)
	}
	return ex
}

// fill records what a service records: request durations with exemplars
// from sub-millisecond to seconds, counters (whole and fractional), a
// gauge, a histogram with an exemplar in its +Inf bucket and native buckets
// far apart, one whose observations are all in the zero bucket, and one
// without any observation.
func fill(p *prometheus.Registry) {
	for i, v := range []float64{0.0004, 0.00041, 0.0004, 0.003, 0.02, 0.021, 0.7, 3, 12, 1e-9, 0} {
		d := time.Duration(v * float64(time.Second))
		p.DurationExemplar("http.request.duration", d, metricsink.KV("route", "/videos/{id}", "method", "GET"), exemplar(i))
		p.Duration("db.query.duration", d, metricsink.KV("query", "select_video"))
	}
	p.Increment("http.requests", 11, metricsink.KV("route", "/videos/{id}", "method", "GET", "status", "200"))
	p.Increment("jobs.done", 0.25, metricsink.KV("queue", "sms"))
	p.Gauge("queue.length", -7.5, metricsink.KV("queue", "mail"))
	p.Histogram("payload.bytes", 1e300, metricsink.KV("route", "/huge"))
	p.HistogramExemplar("payload.bytes", 5e300, metricsink.KV("route", "/huge"), exemplar(40))
	p.HistogramExemplar("payload.bytes", 3, metricsink.KV("route", "/huge"), exemplar(41))
	p.Histogram("payload.bytes", 0, metricsink.KV("route", "/empty-bodies"))
	p.NewHistogram("payload.bytes", metricsink.KV("route", "/never"))
}

// decodeProtobuf reads every family of a protobuf exposition with expfmt's
// decoder, which also checks names, label names and label values.
func decodeProtobuf(t *testing.T, b []byte) []*dto.MetricFamily {
	t.Helper()
	dec := expfmt.NewDecoder(bytes.NewReader(b), expfmt.NewFormat(expfmt.TypeProtoDelim))
	var out []*dto.MetricFamily
	for {
		mf := new(dto.MetricFamily)
		err := dec.Decode(mf)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("expfmt: decode family %d: %v", len(out), err)
		}
		out = append(out, mf)
	}
}

// The protobuf exposition, as Prometheus' expfmt reads it, holds every
// family, series, bucket, native bucket and exemplar of the Snapshot,
// the runtime's families included.
func TestProtobufSnapshot(t *testing.T) {
	p := newRegistry(t, &prometheus.Options{ConstLabels: map[string]string{"service": "api"}})
	fill(p)
	fams := p.Snapshot()
	var buf bytes.Buffer
	if err := promproto.Encode(&buf, fams); err != nil {
		t.Fatal(err)
	}
	compare(t, decodeProtobuf(t, buf.Bytes()), fams)
	covered(t, fams)
}

// A scrape through WriteProtobuf, the encoder registered by importing
// promproto, writes what Snapshot holds, scrape after scrape.
func TestWriteProtobuf(t *testing.T) {
	p := newRegistry(t, &prometheus.Options{DisableRuntimeMetrics: true})
	fill(p)
	for i := range 3 {
		var buf bytes.Buffer
		if err := p.WriteProtobuf(&buf); err != nil {
			t.Fatal(err)
		}
		compare(t, decodeProtobuf(t, buf.Bytes()), p.Snapshot())
		p.DurationExemplar("http.request.duration", time.Duration(i+1)*time.Millisecond, metricsink.KV("route", "/videos/{id}", "method", "GET"), exemplar(60+i))
		p.Increment("http.requests", 1, metricsink.KV("route", "/", "method", "GET", "status", fmt.Sprint(200+i)))
	}
}

// covered fails t when fams lacks a case the comparison is meant to see.
func covered(t *testing.T, fams []prometheus.Family) {
	t.Helper()
	seen := map[string]bool{}
	for _, f := range fams {
		seen[f.Type] = true
		for _, s := range f.Series {
			if nh := s.Native; nh != nil {
				seen["native exemplar"] = seen["native exemplar"] || nh.Exemplar != nil
				seen["no native bucket"] = seen["no native bucket"] || (len(nh.Counts) == 0 && nh.ZeroCount == 0)
				seen["zero bucket only"] = seen["zero bucket only"] || (len(nh.Counts) == 0 && nh.ZeroCount > 0)
				spans, _ := nh.Spans()
				seen["several spans"] = seen["several spans"] || len(spans) > 1
			}
			seen["no sum"] = seen["no sum"] || math.IsNaN(s.Sum)
			for _, b := range s.Buckets {
				seen["+Inf exemplar"] = seen["+Inf exemplar"] || (b.Exemplar != nil && math.IsInf(b.UpperBound, 1))
				seen["bucket exemplar"] = seen["bucket exemplar"] || (b.Exemplar != nil && !math.IsInf(b.UpperBound, 1))
			}
		}
	}
	for _, k := range []string{"counter", "gauge", "histogram", "summary", "native exemplar", "no native bucket", "zero bucket only", "several spans", "no sum", "+Inf exemplar", "bucket exemplar"} {
		if !seen[k] {
			t.Errorf("the snapshot has no %s", k)
		}
	}
}

// compare reports every difference between the families decoded and
// those encoded.
func compare(t *testing.T, got []*dto.MetricFamily, want []prometheus.Family) {
	t.Helper()
	if len(got) != len(want) {
		var names []string
		for _, mf := range got {
			names = append(names, mf.GetName())
		}
		t.Fatalf("decoded %d families (%s), want %d", len(got), strings.Join(names, " "), len(want))
	}
	for i, mf := range got {
		f := &want[i]
		if mf.GetName() != f.Name || mf.GetHelp() != f.Help || mf.GetUnit() != f.Unit {
			t.Errorf("family %d: name %q help %q unit %q, want %q %q %q", i, mf.GetName(), mf.GetHelp(), mf.GetUnit(), f.Name, f.Help, f.Unit)
		}
		if got := strings.ToLower(mf.GetType().String()); got != f.Type {
			t.Errorf("%s: type %s, want %s", f.Name, got, f.Type)
		}
		if len(mf.Metric) != len(f.Series) {
			t.Errorf("%s: %d metrics, want %d", f.Name, len(mf.Metric), len(f.Series))
			continue
		}
		for j, m := range mf.Metric {
			compareSeries(t, fmt.Sprintf("%s[%d]", f.Name, j), f.Type, m, &f.Series[j])
		}
	}
}

func compareSeries(t *testing.T, where, typ string, m *dto.Metric, s *prometheus.Series) {
	t.Helper()
	var labels []metricsink.Tag
	for _, l := range m.Label {
		labels = append(labels, metricsink.Tag{Key: l.GetName(), Value: l.GetValue()})
	}
	if !slices.Equal(labels, s.Labels) {
		t.Errorf("%s: labels %v, want %v", where, labels, s.Labels)
	}
	if m.TimestampMs != nil {
		t.Errorf("%s: a timestamp, which a scrape must not carry", where)
	}
	switch typ {
	case "counter":
		if !same(m.GetCounter().GetValue(), s.Value) {
			t.Errorf("%s: counter %v, want %v", where, m.GetCounter().GetValue(), s.Value)
		}
	case "gauge":
		if !same(m.GetGauge().GetValue(), s.Value) {
			t.Errorf("%s: gauge %v, want %v", where, m.GetGauge().GetValue(), s.Value)
		}
	case "summary":
		sm := m.GetSummary()
		if sm.GetSampleCount() != s.Count || !same(sm.GetSampleSum(), s.Sum) {
			t.Errorf("%s: count %d sum %v, want %d %v", where, sm.GetSampleCount(), sm.GetSampleSum(), s.Count, s.Sum)
		}
		var objs []prometheus.Objective
		for _, q := range sm.GetQuantile() {
			objs = append(objs, prometheus.Objective{Quantile: q.GetQuantile(), Value: q.GetValue()})
		}
		if !slices.Equal(objs, s.Objectives) {
			t.Errorf("%s: quantiles %v, want %v", where, objs, s.Objectives)
		}
	case "histogram":
		compareHistogram(t, where, m.GetHistogram(), s)
	default:
		t.Errorf("%s: unexpected type %q", where, typ)
	}
}

func compareHistogram(t *testing.T, where string, h *dto.Histogram, s *prometheus.Series) {
	t.Helper()
	if h.GetSampleCount() != s.Count || !same(h.GetSampleSum(), s.Sum) {
		t.Errorf("%s: count %d sum %v, want %d %v", where, h.GetSampleCount(), h.GetSampleSum(), s.Count, s.Sum)
	}
	// The +Inf bucket is implied by the count, written only with its
	// exemplar.
	want := s.Buckets
	if n := len(want); n > 0 && math.IsInf(want[n-1].UpperBound, 1) && want[n-1].Exemplar == nil {
		want = want[:n-1]
	}
	if len(h.Bucket) != len(want) {
		t.Errorf("%s: %d buckets, want %d", where, len(h.Bucket), len(want))
	} else {
		for i, b := range h.Bucket {
			if b.GetUpperBound() != want[i].UpperBound || b.GetCumulativeCount() != want[i].Count {
				t.Errorf("%s: bucket %d: le %v count %d, want %v %d", where, i, b.GetUpperBound(), b.GetCumulativeCount(), want[i].UpperBound, want[i].Count)
			}
			compareExemplar(t, fmt.Sprintf("%s: bucket le=%v", where, want[i].UpperBound), b.GetExemplar(), want[i].Exemplar)
		}
	}
	nh := s.Native
	if nh == nil {
		if h.Schema != nil || h.ZeroThreshold != nil || len(h.PositiveSpan) > 0 || len(h.Exemplars) > 0 {
			t.Errorf("%s: native fields on a classic histogram", where)
		}
		return
	}
	if h.Schema == nil || h.GetSchema() != nh.Schema || h.GetZeroThreshold() != nh.ZeroThreshold || h.GetZeroCount() != nh.ZeroCount {
		t.Errorf("%s: schema %v zero threshold %v zero count %v, want %d %v %d", where, h.Schema, h.GetZeroThreshold(), h.GetZeroCount(), nh.Schema, nh.ZeroThreshold, nh.ZeroCount)
	}
	// Prometheus reads a histogram as native when it has any of these.
	if h.GetZeroThreshold() == 0 && h.GetZeroCount() == 0 && len(h.PositiveSpan) == 0 && len(h.NegativeSpan) == 0 {
		t.Errorf("%s: not recognisable as a native histogram", where)
	}
	if len(h.PositiveSpan) == 0 {
		t.Errorf("%s: no positive span, not even the no-op one", where)
	}
	if len(h.NegativeSpan) > 0 || len(h.NegativeDelta) > 0 || len(h.PositiveCount) > 0 || h.ZeroCountFloat != nil || h.SampleCountFloat != nil {
		t.Errorf("%s: negative or float buckets", where)
	}
	got := expand(t, where, h.GetPositiveSpan(), h.GetPositiveDelta())
	wantCounts := map[int32]uint64{}
	for i, c := range nh.Counts {
		if c > 0 {
			wantCounts[nh.Offset+int32(i)] = c
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(wantCounts) {
		t.Errorf("%s: native buckets %v, want %v", where, got, wantCounts)
	}
	var total uint64 = h.GetZeroCount()
	for _, c := range got {
		total += c
	}
	if total != h.GetSampleCount() {
		t.Errorf("%s: native buckets hold %d observations, the count is %d", where, total, h.GetSampleCount())
	}
	var ex *dto.Exemplar
	switch len(h.Exemplars) {
	case 0:
	case 1:
		ex = h.Exemplars[0]
		if ex.Timestamp == nil {
			t.Errorf("%s: a native exemplar without a timestamp, which Prometheus refuses", where)
		}
	default:
		t.Errorf("%s: %d native exemplars, want at most 1", where, len(h.Exemplars))
	}
	compareExemplar(t, where+": native", ex, nh.Exemplar)
}

// expand returns the non-empty native buckets of spans and deltas by
// index.
func expand(t *testing.T, where string, spans []*dto.BucketSpan, deltas []int64) map[int32]uint64 {
	t.Helper()
	out := map[int32]uint64{}
	var idx int32
	var count int64
	k := 0
	for i, sp := range spans {
		if i > 0 && sp.GetOffset() < 0 {
			t.Errorf("%s: span %d has a negative offset", where, i)
		}
		idx += sp.GetOffset()
		for range sp.GetLength() {
			if k == len(deltas) {
				t.Errorf("%s: spans cover more buckets than the %d deltas", where, len(deltas))
				return out
			}
			count += deltas[k]
			k++
			if count < 0 {
				t.Errorf("%s: bucket %d has a negative count", where, idx)
			}
			if count > 0 {
				out[idx] = uint64(count)
			}
			idx++
		}
	}
	if k != len(deltas) {
		t.Errorf("%s: %d deltas, the spans cover %d", where, len(deltas), k)
	}
	return out
}

func compareExemplar(t *testing.T, where string, got *dto.Exemplar, want *prometheus.Exemplar) {
	t.Helper()
	switch {
	case got == nil && want == nil:
		return
	case got == nil || want == nil:
		t.Errorf("%s: exemplar %v, want %+v", where, got, want)
		return
	}
	labels := map[string]string{}
	for _, l := range got.Label {
		labels[l.GetName()] = l.GetValue()
	}
	wantLabels := map[string]string{"trace_id": hex.EncodeToString(want.TraceID[:]), "span_id": hex.EncodeToString(want.SpanID[:])}
	if len(got.Label) != 2 || fmt.Sprint(labels) != fmt.Sprint(wantLabels) {
		t.Errorf("%s: exemplar labels %v, want %v", where, labels, wantLabels)
	}
	if got.GetValue() != want.Value {
		t.Errorf("%s: exemplar value %v, want %v", where, got.GetValue(), want.Value)
	}
	if got.Timestamp == nil || !got.Timestamp.AsTime().Equal(want.Time) {
		t.Errorf("%s: exemplar time %v, want %v", where, got.GetTimestamp().AsTime(), want.Time)
	}
}

// same is == with NaN equal to NaN.
func same(a, b float64) bool { return a == b || (math.IsNaN(a) && math.IsNaN(b)) }
