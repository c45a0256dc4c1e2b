package promproto_test

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/encoding/protodelim"
	"google.golang.org/protobuf/proto"

	"github.com/realtimeserver/observability/metricsink"
	"github.com/realtimeserver/observability/metricsink/prometheus"
	"github.com/realtimeserver/observability/metricsink/prometheus/promproto"
)

func newRegistry(t testing.TB, opts *prometheus.Options) *prometheus.Registry {
	t.Helper()
	p, err := prometheus.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(t.Context()) })
	return p
}

func exemplar(i int) metricsink.Exemplar {
	var ex metricsink.Exemplar
	for j := range ex.TraceID {
		ex.TraceID[j] = byte(i + j + 1)
	}
	for j := range ex.SpanID {
		ex.SpanID[j] = byte(0xa0 + i + j)
	}
	return ex
}

// fill records a bit of everything: counters (whole and fractional),
// gauges, histograms with and without exemplars, one with observations in
// the zero bucket only, one without observations, and summaries and
// histograms without sums come from the runtime when it is on.
func fill(p *prometheus.Registry) {
	p.Increment("jobs.done", 3, metricsink.KV("queue", "mail"))
	p.Increment("jobs.done", 0.25, metricsink.KV("queue", "sms"))
	p.Increment("ticks", 1, metricsink.Tags{})
	p.Gauge("queue.length", -7.5, metricsink.KV("queue", "mail"))
	for i, v := range []float64{0.0004, 0.0004, 0.003, 0.02, 0.02, 0.7, 3, 12, 200, 1e-9} {
		p.Duration("http.request.duration", time.Duration(v*float64(time.Second)), metricsink.KV("route", "/videos/{id}", "method", "GET"))
		p.HistogramExemplar("payload.bytes", v*1e6, metricsink.KV("route", "/upload"), exemplar(i))
	}
	p.Histogram("payload.bytes", 1e300, metricsink.KV("route", "/huge")) // the +Inf bucket, far native buckets
	p.HistogramExemplar("payload.bytes", 5e300, metricsink.KV("route", "/huge"), exemplar(40))
	p.Histogram("zeros", 0, metricsink.KV("kind", "zero"))
	p.NewHistogram("idle.seconds", metricsink.KV("kind", "none")) // no observation
}

// decode reads every length-delimited MetricFamily of b.
func decode(t *testing.T, b []byte) []*dto.MetricFamily {
	t.Helper()
	r := bufio.NewReader(bytes.NewReader(b))
	var out []*dto.MetricFamily
	for {
		mf := new(dto.MetricFamily)
		err := protodelim.UnmarshalFrom(r, mf)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("decode family %d: %v", len(out), err)
		}
		out = append(out, mf)
	}
}

// compare reports every difference between what was decoded and the
// families encoded.
func compare(t *testing.T, got []*dto.MetricFamily, want []prometheus.Family) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("decoded %d families, want %d", len(got), len(want))
	}
	for i, mf := range got {
		f := &want[i]
		where := f.Name
		if mf.GetName() != f.Name || mf.GetHelp() != f.Help || mf.GetUnit() != f.Unit {
			t.Errorf("family %d: name %q help %q unit %q, want %q %q %q", i, mf.GetName(), mf.GetHelp(), mf.GetUnit(), f.Name, f.Help, f.Unit)
		}
		if got, want := strings.ToLower(mf.GetType().String()), f.Type; got != want {
			t.Errorf("%s: type %s, want %s", where, got, want)
		}
		if len(mf.Metric) != len(f.Series) {
			t.Errorf("%s: %d metrics, want %d", where, len(mf.Metric), len(f.Series))
			continue
		}
		for j, m := range mf.Metric {
			compareSeries(t, fmt.Sprintf("%s[%d]", where, j), f.Type, m, &f.Series[j])
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
	want := s.Buckets
	if n := len(want); n > 0 && math.IsInf(want[n-1].UpperBound, 1) && want[n-1].Exemplar == nil {
		want = want[:n-1] // implicit
	}
	if len(h.Bucket) != len(want) {
		t.Errorf("%s: %d buckets, want %d", where, len(h.Bucket), len(want))
	} else {
		for i, b := range h.Bucket {
			if b.GetUpperBound() != want[i].UpperBound || b.GetCumulativeCount() != want[i].Count {
				t.Errorf("%s: bucket %d: le %v count %d, want %v %d", where, i, b.GetUpperBound(), b.GetCumulativeCount(), want[i].UpperBound, want[i].Count)
			}
			compareExemplar(t, fmt.Sprintf("%s: bucket %d", where, i), b.GetExemplar(), want[i].Exemplar)
		}
	}
	nh := s.Native
	if nh == nil {
		if h.Schema != nil || h.ZeroThreshold != nil || len(h.PositiveSpan) > 0 || len(h.Exemplars) > 0 {
			t.Errorf("%s: native fields on a classic histogram: %v", where, h)
		}
		return
	}
	if h.Schema == nil || h.GetSchema() != nh.Schema || h.GetZeroThreshold() != nh.ZeroThreshold || h.GetZeroCount() != nh.ZeroCount {
		t.Errorf("%s: schema %v zero threshold %v zero count %v, want %d %v %d", where, h.Schema, h.GetZeroThreshold(), h.GetZeroCount(), nh.Schema, nh.ZeroThreshold, nh.ZeroCount)
	}
	if len(h.PositiveSpan) == 0 {
		t.Errorf("%s: a native histogram without positive spans, not even the no-op one", where)
	}
	if len(h.NegativeSpan) > 0 || len(h.NegativeDelta) > 0 || len(h.PositiveCount) > 0 {
		t.Errorf("%s: negative or float buckets: %v", where, h)
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
	var ex *dto.Exemplar
	switch len(h.Exemplars) {
	case 0:
	case 1:
		ex = h.Exemplars[0]
	default:
		t.Errorf("%s: %d native exemplars, want at most 1", where, len(h.Exemplars))
	}
	compareExemplar(t, where+": native", ex, nh.Exemplar)
}

// expand returns the non-empty buckets of spans and deltas by index.
func expand(t *testing.T, where string, spans []*dto.BucketSpan, deltas []int64) map[int32]uint64 {
	t.Helper()
	out := map[int32]uint64{}
	var idx int32
	var count int64
	k := 0
	for i, sp := range spans {
		idx += sp.GetOffset()
		if i > 0 && sp.GetOffset() < 0 {
			t.Errorf("%s: span %d has a negative offset", where, i)
		}
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
		t.Errorf("%s: %d deltas, spans cover %d", where, len(deltas), k)
	}
	return out
}

func compareExemplar(t *testing.T, where string, got *dto.Exemplar, want *prometheus.Exemplar) {
	t.Helper()
	switch {
	case got == nil && want == nil:
		return
	case got == nil || want == nil:
		t.Errorf("%s: exemplar %v, want %v", where, got, want)
		return
	}
	labels := map[string]string{}
	for _, l := range got.Label {
		labels[l.GetName()] = l.GetValue()
	}
	wantLabels := map[string]string{"trace_id": hex.EncodeToString(want.TraceID[:]), "span_id": hex.EncodeToString(want.SpanID[:])}
	if fmt.Sprint(labels) != fmt.Sprint(wantLabels) || len(got.Label) != 2 {
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

// Every family, series, bucket, native bucket and exemplar of a Snapshot,
// the runtime's included, is what its encoding decodes to.
func TestEncodeSnapshot(t *testing.T) {
	p := newRegistry(t, &prometheus.Options{ConstLabels: map[string]string{"service": "api"}})
	fill(p)
	fams := p.Snapshot()
	var buf bytes.Buffer
	if err := promproto.Encode(&buf, fams); err != nil {
		t.Fatal(err)
	}
	got := decode(t, buf.Bytes())
	compare(t, got, fams)

	// What the test set out to cover is there.
	seen := map[string]bool{}
	for _, f := range fams {
		seen[f.Type] = true
		for _, s := range f.Series {
			if s.Native != nil && s.Native.Exemplar != nil {
				seen["native exemplar"] = true
			}
			if s.Native != nil && len(s.Native.Counts) == 0 && s.Native.ZeroCount == 0 {
				seen["empty native"] = true
			}
			if s.Native != nil && len(s.Native.Counts) == 0 && s.Native.ZeroCount > 0 {
				seen["zero bucket only"] = true
			}
			if math.IsNaN(s.Sum) {
				seen["no sum"] = true
			}
			for _, b := range s.Buckets {
				if b.Exemplar != nil && math.IsInf(b.UpperBound, 1) {
					seen["+Inf exemplar"] = true
				}
			}
		}
	}
	for _, k := range []string{"counter", "gauge", "histogram", "summary", "native exemplar", "empty native", "zero bucket only", "no sum", "+Inf exemplar"} {
		if !seen[k] {
			t.Errorf("the snapshot has no %s", k)
		}
	}
}

// The registered encoder is Encode: WriteProtobuf writes what Snapshot
// holds, scrape after scrape (each reusing the previous one's state).
func TestWriteProtobuf(t *testing.T) {
	p := newRegistry(t, &prometheus.Options{DisableRuntimeMetrics: true})
	fill(p)
	for i := range 3 {
		var buf bytes.Buffer
		if err := p.WriteProtobuf(&buf); err != nil {
			t.Fatal(err)
		}
		compare(t, decode(t, buf.Bytes()), p.Snapshot())
		p.Increment("jobs.done", 1, metricsink.KV("queue", fmt.Sprint("q", i))) // a new series each round
		p.HistogramExemplar("payload.bytes", float64(i), metricsink.KV("route", "/upload"), exemplar(50+i))
	}
}

// A scrape of small families after a large one, and the other way round,
// encodes as a fresh encoder would: nothing of the previous one leaks in.
func TestEncodeReuse(t *testing.T) {
	big := newRegistry(t, &prometheus.Options{DisableRuntimeMetrics: true})
	for i := range 600 {
		big.HistogramExemplar("latency", float64(i)/100, metricsink.KV("i", fmt.Sprint(i%300)), exemplar(i%7))
		big.Increment("events", 1, metricsink.KV("i", fmt.Sprint(i)))
	}
	small := newRegistry(t, &prometheus.Options{DisableRuntimeMetrics: true})
	small.Gauge("temperature", 21, metricsink.Tags{})
	small.Histogram("latency", 0.5, metricsink.Tags{})
	for _, p := range []*prometheus.Registry{big, small, big, small} {
		fams := p.Snapshot()
		var buf bytes.Buffer
		if err := promproto.Encode(&buf, fams); err != nil {
			t.Fatal(err)
		}
		compare(t, decode(t, buf.Bytes()), fams)
	}
}

// Concurrent encodings of the same families neither race (under -race)
// nor differ.
func TestEncodeConcurrent(t *testing.T) {
	p := newRegistry(t, &prometheus.Options{DisableRuntimeMetrics: true})
	fill(p)
	fams := p.Snapshot()
	var want bytes.Buffer
	if err := promproto.Encode(&want, fams); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 50 {
				var buf bytes.Buffer
				if err := promproto.Encode(&buf, fams); err != nil {
					t.Error(err)
					return
				}
				if !bytes.Equal(buf.Bytes(), want.Bytes()) {
					t.Error("concurrent encodings differ")
					return
				}
			}
		})
	}
	for range 50 { // and scrapes of the registry meanwhile
		if err := p.WriteProtobuf(io.Discard); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
}

// What Encode writes is what protodelim writes of the same messages:
// checked on families built by hand, decoded and encoded again.
func TestEncodeIsDelimited(t *testing.T) {
	p := newRegistry(t, nil)
	fill(p)
	var buf bytes.Buffer
	if err := promproto.Encode(&buf, p.Snapshot()); err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	for _, mf := range decode(t, buf.Bytes()) {
		if _, err := (protodelim.MarshalOptions{MarshalOptions: proto.MarshalOptions{Deterministic: true}}).MarshalTo(&again, mf); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Errorf("Encode wrote %d bytes, protodelim %d of the same messages", buf.Len(), again.Len())
	}
}

type failingWriter struct{ after int }

func (w *failingWriter) Write(b []byte) (int, error) {
	if w.after <= 0 {
		return 0, errors.New("connection reset")
	}
	w.after--
	return len(b), nil
}

// The writer's error is Encode's, also when it fails after the first
// piece of a large exposition.
func TestEncodeWriterError(t *testing.T) {
	p := newRegistry(t, &prometheus.Options{DisableRuntimeMetrics: true, MaxSeriesPerMetric: 5000})
	for i := range 5000 {
		p.Increment("events", 1, metricsink.KV("instance", fmt.Sprintf("host-%d", i)))
		p.Increment("other.events", 1, metricsink.KV("instance", fmt.Sprintf("host-%d", i)))
	}
	for _, after := range []int{0, 1} {
		if err := promproto.Encode(&failingWriter{after: after}, p.Snapshot()); err == nil || !strings.Contains(err.Error(), "connection reset") {
			t.Errorf("writer failing after %d writes: error %v, want the writer's", after, err)
		}
	}
}
