// Package promproto writes the Prometheus registry's families in
// Prometheus' protobuf exposition format, the one that carries native
// histograms, with the ecosystem's own types (prometheus/client_model's
// io.prometheus.client.MetricFamily, encoded by google.golang.org/protobuf).
//
// Importing it registers Encode with prometheus.RegisterProtobuf, after
// which the registry answers in protobuf the scrapes that prefer it (a
// Prometheus scraping native histograms) and WriteProtobuf writes it; a
// blank import is enough:
//
//	import _ "github.com/realtimeserver/observability/metricsink/prometheus/promproto"
//
// It is a package of its own because the protobuf runtime adds about
// 1.7 MB to a stripped program, which a program serving the text formats
// should not pay.
//
// What a family becomes:
//   - a counter, gauge or summary, the message client_golang writes;
//   - a histogram, its classic buckets (cumulative, the +Inf bucket left
//     implicit, as client_golang leaves it, unless it holds an exemplar),
//     each with its exemplar, and its native buckets: schema, zero
//     threshold and count, positive spans and deltas, and the latest
//     exemplar. A native histogram without buckets gets the no-op span
//     (offset 0, length 0) so that it is read as native. A histogram whose
//     sum is not kept (the runtime's) has NaN as its sum.
//
// Exemplars have the labels trace_id and span_id (lowercase hex), their
// value and their timestamp.
package promproto

import (
	"encoding/hex"
	"io"
	"math"
	"sync"

	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/realtimeserver/observability/metricsink/prometheus"
)

func init() { prometheus.RegisterProtobuf(Encode) }

// Encode writes fams in the protobuf exposition format
// (prometheus.ContentTypeProtobuf): one io.prometheus.client.MetricFamily
// message per family, in order, each preceded by its length as a varint,
// as protodelim writes them. It returns the first error of w. It neither
// keeps nor modifies fams, and is safe to call from concurrent goroutines.
func Encode(w io.Writer, fams []prometheus.Family) error {
	e := encoders.Get().(*encoder)
	err := e.encode(w, fams)
	e.release()
	return err
}

// flushAt is the size of encoded families above which Encode writes them
// to w, so that an exposition is written in pieces of about this size.
const flushAt = 64 << 10

var encoders = sync.Pool{New: func() any { return new(encoder) }}

// encoder is the state of one Encode call, reused by the next one: the
// messages of one family at a time, taken from arenas reset between
// families, and the bytes encoded. The messages point into the families
// being encoded (names, labels, values) rather than copying them.
type encoder struct {
	mf         dto.MetricFamily
	metrics    arena[dto.Metric]
	metricPtrs ptrArena[dto.Metric]
	labels     arena[dto.LabelPair]
	labelPtrs  ptrArena[dto.LabelPair]
	counters   arena[dto.Counter]
	gauges     arena[dto.Gauge]
	untyped    arena[dto.Untyped]
	summaries  arena[dto.Summary]
	quantiles  arena[dto.Quantile]
	quantPtrs  ptrArena[dto.Quantile]
	histograms arena[dto.Histogram]
	buckets    arena[dto.Bucket]
	bucketPtrs ptrArena[dto.Bucket]
	spans      arena[dto.BucketSpan]
	spanPtrs   ptrArena[dto.BucketSpan]
	exemplars  arena[dto.Exemplar]
	exPtrs     ptrArena[dto.Exemplar]
	times      arena[timestamppb.Timestamp]
	strs       values[string] // exemplars' trace and span ids
	buf        []byte
}

// Constants the messages point to; never written.
var (
	typeCounter   = dto.MetricType_COUNTER
	typeGauge     = dto.MetricType_GAUGE
	typeHistogram = dto.MetricType_HISTOGRAM
	typeSummary   = dto.MetricType_SUMMARY
	typeUntyped   = dto.MetricType_UNTYPED
	traceIDKey    = "trace_id"
	spanIDKey     = "span_id"
	zero32        = int32(0)
	zeroU32       = uint32(0)
)

func (e *encoder) encode(w io.Writer, fams []prometheus.Family) error {
	b := e.buf[:0]
	var err error
	for i := range fams {
		e.reset()
		e.family(&fams[i])
		b = protowire.AppendVarint(b, uint64(proto.Size(&e.mf)))
		if b, err = (proto.MarshalOptions{UseCachedSize: true}).MarshalAppend(b, &e.mf); err != nil {
			break
		}
		if len(b) >= flushAt {
			if _, err = w.Write(b); err != nil {
				break
			}
			b = b[:0]
		}
	}
	if err == nil && len(b) > 0 {
		_, err = w.Write(b)
	}
	e.buf = b[:0]
	return err
}

// release returns e to the pool, unless it grew for a scrape so large that
// keeping it would hold memory for nothing.
func (e *encoder) release() {
	e.reset()
	if cap(e.buf) > 4<<20 {
		e.buf = nil
	}
	encoders.Put(e)
}

func (e *encoder) reset() {
	e.mf.Reset()
	e.metrics.reset()
	e.metricPtrs.reset()
	e.labels.reset()
	e.labelPtrs.reset()
	e.counters.reset()
	e.gauges.reset()
	e.untyped.reset()
	e.summaries.reset()
	e.quantiles.reset()
	e.quantPtrs.reset()
	e.histograms.reset()
	e.buckets.reset()
	e.bucketPtrs.reset()
	e.spans.reset()
	e.spanPtrs.reset()
	e.exemplars.reset()
	e.exPtrs.reset()
	e.times.reset()
	e.strs.reset()
}

// family fills e.mf with f.
func (e *encoder) family(f *prometheus.Family) {
	mf := &e.mf
	mf.Name, mf.Help = &f.Name, &f.Help
	if f.Unit != "" {
		mf.Unit = &f.Unit
	}
	switch f.Type {
	case "counter":
		mf.Type = &typeCounter
	case "gauge":
		mf.Type = &typeGauge
	case "histogram":
		mf.Type = &typeHistogram
	case "summary":
		mf.Type = &typeSummary
	default:
		mf.Type = &typeUntyped
	}
	mf.Metric = e.metricPtrs.take(len(f.Series))
	for i := range f.Series {
		s := &f.Series[i]
		m := e.metrics.one()
		mf.Metric[i] = m
		m.Label = e.labelPairs(s.Labels)
		switch *mf.Type {
		case dto.MetricType_COUNTER:
			c := e.counters.one()
			c.Value = &s.Value
			m.Counter = c
		case dto.MetricType_GAUGE:
			g := e.gauges.one()
			g.Value = &s.Value
			m.Gauge = g
		case dto.MetricType_HISTOGRAM:
			m.Histogram = e.histogram(s)
		case dto.MetricType_SUMMARY:
			m.Summary = e.summary(s)
		default:
			u := e.untyped.one()
			u.Value = &s.Value
			m.Untyped = u
		}
	}
}

func (e *encoder) labelPairs(tags []prometheus.Tag) []*dto.LabelPair {
	if len(tags) == 0 {
		return nil
	}
	out := e.labelPtrs.take(len(tags))
	for i := range tags {
		l := e.labels.one()
		l.Name, l.Value = &tags[i].Key, &tags[i].Value
		out[i] = l
	}
	return out
}

func (e *encoder) summary(s *prometheus.Series) *dto.Summary {
	sm := e.summaries.one()
	sm.SampleCount, sm.SampleSum = &s.Count, &s.Sum
	sm.Quantile = e.quantPtrs.take(len(s.Objectives))
	for i := range s.Objectives {
		q := e.quantiles.one()
		q.Quantile, q.Value = &s.Objectives[i].Quantile, &s.Objectives[i].Value
		sm.Quantile[i] = q
	}
	return sm
}

func (e *encoder) histogram(s *prometheus.Series) *dto.Histogram {
	h := e.histograms.one()
	h.SampleCount, h.SampleSum = &s.Count, &s.Sum
	n := len(s.Buckets)
	if n > 0 && math.IsInf(s.Buckets[n-1].UpperBound, 1) && s.Buckets[n-1].Exemplar == nil {
		n-- // implied by the count
	}
	if n > 0 {
		h.Bucket = e.bucketPtrs.take(n)
		for i := range n {
			bk := &s.Buckets[i]
			b := e.buckets.one()
			b.CumulativeCount, b.UpperBound = &bk.Count, &bk.UpperBound
			if bk.Exemplar != nil {
				b.Exemplar = e.exemplar(bk.Exemplar)
			}
			h.Bucket[i] = b
		}
	}
	if nh := s.Native; nh != nil {
		h.Schema, h.ZeroThreshold, h.ZeroCount = &nh.Schema, &nh.ZeroThreshold, &nh.ZeroCount
		spans, deltas := nh.Spans()
		if len(spans) == 0 {
			// The no-op span: read as native whatever the zero bucket.
			sp := e.spans.one()
			sp.Offset, sp.Length = &zero32, &zeroU32
			h.PositiveSpan = e.spanPtrs.take(1)
			h.PositiveSpan[0] = sp
		} else {
			h.PositiveSpan = e.spanPtrs.take(len(spans))
			for i := range spans {
				sp := e.spans.one()
				sp.Offset, sp.Length = &spans[i].Offset, &spans[i].Length
				h.PositiveSpan[i] = sp
			}
			h.PositiveDelta = deltas
		}
		if nh.Exemplar != nil {
			h.Exemplars = e.exPtrs.take(1)
			h.Exemplars[0] = e.exemplar(nh.Exemplar)
		}
	}
	return h
}

// exemplar returns x as a message: its trace_id and span_id labels in one
// string of hex (the one allocation), value and timestamp.
func (e *encoder) exemplar(x *prometheus.Exemplar) *dto.Exemplar {
	var buf [48]byte
	ids := string(hex.AppendEncode(hex.AppendEncode(buf[:0], x.TraceID[:]), x.SpanID[:]))
	trace, span := ids[:32], ids[32:]
	ex := e.exemplars.one()
	ex.Label = e.labelPtrs.take(2)
	l := e.labels.one()
	l.Name, l.Value = &traceIDKey, e.strs.one(trace)
	ex.Label[0] = l
	l = e.labels.one()
	l.Name, l.Value = &spanIDKey, e.strs.one(span)
	ex.Label[1] = l
	ex.Value = &x.Value
	ts := e.times.one()
	ts.Seconds, ts.Nanos = x.Time.Unix(), int32(x.Time.Nanosecond())
	ex.Timestamp = ts
	return ex
}

// arenaChunk is the length of an arena's chunks.
const arenaChunk = 256

// arena hands out zeroed messages of type T from chunks that it keeps
// between uses: reset makes them all available again. A chunk never moves,
// so that the pointers handed out stay valid until reset.
//
// A message is zeroed by assignment rather than by its Reset method, which
// also stores its type's information in it with an atomic write: protobuf
// reads that of the top-level message only, which e.mf is, and knows its
// nested messages' from their fields.
type arena[T any] struct {
	chunks [][]T
	c, i   int // the chunk in use and its next free item
}

func (a *arena[T]) reset() { a.c, a.i = 0, 0 }

func (a *arena[T]) one() *T {
	if a.c < len(a.chunks) && a.i == len(a.chunks[a.c]) {
		a.c, a.i = a.c+1, 0
	}
	if a.c == len(a.chunks) {
		a.chunks = append(a.chunks, make([]T, arenaChunk))
	}
	p := &a.chunks[a.c][a.i]
	a.i++
	var zero T
	*p = zero
	return p
}

// ptrArena hands out slices of pointers, the repeated fields of messages,
// from chunks it keeps between uses, as arena does.
type ptrArena[T any] struct {
	chunks [][]*T
	c, i   int
}

func (a *ptrArena[T]) reset() { a.c, a.i = 0, 0 }

// take returns a slice of n pointers, for the caller to fill.
func (a *ptrArena[T]) take(n int) []*T {
	if n == 0 {
		return nil
	}
	if a.c < len(a.chunks) && a.i+n > len(a.chunks[a.c]) {
		a.c, a.i = a.c+1, 0
	}
	if a.c < len(a.chunks) && n > len(a.chunks[a.c]) {
		a.chunks[a.c] = make([]*T, max(n, arenaChunk))
	}
	if a.c == len(a.chunks) {
		a.chunks = append(a.chunks, make([]*T, max(n, arenaChunk)))
	}
	s := a.chunks[a.c][a.i : a.i+n : a.i+n]
	a.i += n
	return s
}

// values hands out pointers to copies of values of type T, as arena hands
// out messages.
type values[T any] struct {
	chunks [][]T
	c, i   int
}

func (a *values[T]) reset() { a.c, a.i = 0, 0 }

func (a *values[T]) one(v T) *T {
	if a.c < len(a.chunks) && a.i == len(a.chunks[a.c]) {
		a.c, a.i = a.c+1, 0
	}
	if a.c == len(a.chunks) {
		a.chunks = append(a.chunks, make([]T, arenaChunk))
	}
	p := &a.chunks[a.c][a.i]
	a.i++
	*p = v
	return p
}
