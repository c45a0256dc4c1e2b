package prometheus

import (
	"errors"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/realtimeserver/observability/metricsink"
)

// The protobuf exposition format is opt-in: it needs
// google.golang.org/protobuf and Prometheus' client_model, which a program
// serving the text formats should not link. Package promproto holds the
// encoder and registers it here when imported; this file holds what the
// registry needs to use it: the registration, WriteProtobuf and the
// negotiation of the format by a scrape's Accept header.

// ContentTypeProtobuf is the Content-Type of the protobuf exposition format:
// io.prometheus.client.MetricFamily messages, each preceded by its length as
// a varint.
const ContentTypeProtobuf = "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"

// ContentTypeOpenMetrics is the Content-Type of the OpenMetrics text
// format, version 1.0.0.
const ContentTypeOpenMetrics = "application/openmetrics-text; version=1.0.0; charset=utf-8"

// ProtobufEncoder writes fams in the protobuf exposition format
// (ContentTypeProtobuf): one io.prometheus.client.MetricFamily message per
// family, in order, and returns the first error of its encoding or of w.
//
// fams and everything they reach are lent for the call: the registry
// reuses them for its next scrape, so the encoder must neither keep nor
// modify them. It is called from concurrent scrapes, each with fams of its
// own.
type ProtobufEncoder func(w io.Writer, fams []Family) error

// protobufEncoder is the registered encoder; nil until RegisterProtobuf.
var protobufEncoder atomic.Pointer[ProtobufEncoder]

// RegisterProtobuf makes enc the encoder of the protobuf exposition format
// for every Registry of the program: from then on WriteProtobuf writes with
// it and ServeHTTP answers in protobuf a scrape that prefers it, as
// Prometheus does when it scrapes native histograms. Package promproto
// registers its encoder when imported; a blank import is enough:
//
//	import _ "github.com/realtimeserver/observability/metricsink/prometheus/promproto"
//
// Without an encoder the registry serves the text formats only. A later
// call replaces the encoder, and nil removes it. It is safe to call from
// concurrent goroutines, and scrapes in flight finish with the encoder
// they started with.
func RegisterProtobuf(enc ProtobufEncoder) {
	if enc == nil {
		protobufEncoder.Store(nil)
		return
	}
	protobufEncoder.Store(&enc)
}

// protobufRegistered reports whether an encoder of the protobuf format is
// registered.
func protobufRegistered() bool { return protobufEncoder.Load() != nil }

// WriteProtobuf writes the whole exposition, the families WritePrometheus
// writes, in the protobuf format (ContentTypeProtobuf) with the encoder
// registered by RegisterProtobuf, and returns its error, which includes
// w's. With no encoder registered it writes nothing and returns an error
// saying so.
func (p *Registry) WriteProtobuf(w io.Writer) error {
	encp := protobufEncoder.Load()
	if encp == nil {
		return errors.New("prometheus: WriteProtobuf: no protobuf encoder is registered; import github.com/realtimeserver/observability/metricsink/prometheus/promproto")
	}
	sc := scratchPool.Get().(*scrapeScratch)
	p.snapshotInto(sc)
	err := (*encp)(w, sc.fams)
	scratchPool.Put(sc)
	return err
}

// scrapeScratch is what a scrape that lends its families to an encoder
// reuses from a previous one: the families and everything they hold, and
// a histogram's state. Each scrape takes its own from scratchPool, so that
// no two scrapes share one.
type scrapeScratch struct {
	fams []Family
	st   histState
}

var scratchPool = sync.Pool{New: func() any { return new(scrapeScratch) }}

// snapshotInto sets sc.fams to what Snapshot returns, reusing the
// families, series, buckets, native buckets and exemplars of sc's previous
// scrape, and sharing the registry's label slices rather than copying
// them: the families are lent, to be read and not kept. A registry whose
// families have not changed since sc's previous scrape allocates nothing
// here but what collect and the runtime families allocate. Families are
// merged in name order rather than sorted, so that each family lands in
// the slot that held it the previous time.
func (p *Registry) snapshotInto(sc *scrapeScratch) {
	vals := p.collect()
	var rt []Family
	if p.runtime {
		rt = p.runtimeFamilies()
		slices.SortStableFunc(rt, func(a, b Family) int { return strings.Compare(a.Name, b.Name) })
	}
	out := sc.fams[:0]
	for _, f := range *p.sorted.Load() {
		list := *f.list.Load()
		if len(list) == 0 {
			continue
		}
		for len(rt) > 0 && rt[0].Name < f.name {
			out, rt = append(out, rt[0]), rt[1:]
		}
		out = extend(out)
		fam := &out[len(out)-1]
		series := fam.Series[:0]
		*fam = Family{Name: f.name, Type: f.kind.String(), Help: f.getHelp(), Unit: f.unit}
		for _, s := range list {
			series = extend(series)
			ss := &series[len(series)-1]
			buckets, native := ss.Buckets, ss.Native
			*ss = Series{Labels: s.labels}
			switch {
			case s.fn != nil:
				v, ok := vals[s]
				if !ok {
					series = series[:len(series)-1]
					continue
				}
				ss.Value = v
			case s.read != nil:
				ss.Value = s.read()
			case f.kind == metricsink.Counter:
				ss.Value = s.counterValue()
			case f.kind == metricsink.Gauge:
				ss.Value = math.Float64frombits(s.bits.Load())
			default:
				s.hist.load(&sc.st, true, true)
				sc.st.lend(ss, s.hist.bounds, buckets, native)
			}
		}
		fam.Series = series
		if len(series) == 0 {
			out = out[:len(out)-1]
		}
	}
	sc.fams = append(out, rt...)
}

// extend returns s one element longer, reusing the element beyond its
// length when its array has one (which the caller may reuse what it holds
// of), a zero one otherwise.
func extend[T any](s []T) []T {
	if len(s) < cap(s) {
		return s[:len(s)+1]
	}
	var zero T
	return append(s, zero)
}

// lend fills s as series does, in buckets' array (whose exemplars it
// reuses) and native when they are large enough.
func (st *histState) lend(s *Series, bounds []float64, buckets []Bucket, native *NativeHistogram) {
	s.Count, s.Sum = st.count, st.sum
	buckets = buckets[:cap(buckets)]
	if len(buckets) < len(st.classic) {
		buckets = append(buckets, make([]Bucket, len(st.classic)-len(buckets))...)
	}
	buckets = buckets[:len(st.classic)]
	var cum uint64
	for i, c := range st.classic {
		cum += c
		ub := math.Inf(1)
		if i < len(bounds) {
			ub = bounds[i]
		}
		ex := buckets[i].Exemplar
		buckets[i] = Bucket{UpperBound: ub, Count: cum}
		if i < len(st.exemplars) {
			buckets[i].Exemplar = st.exemplars[i].into(ex)
		}
	}
	s.Buckets = buckets
	if native == nil {
		native = new(NativeHistogram)
	}
	*native = NativeHistogram{Schema: st.schema, ZeroThreshold: nativeZeroThreshold, ZeroCount: st.zero,
		Offset: int32(st.offset), Counts: append(native.Counts[:0], st.native...), Exemplar: st.latest.into(native.Exemplar)}
	s.Native = native
}

// into returns the slot as an Exemplar, written to x unless x is nil, nil
// when the slot is empty.
func (e *exemplarSlot) into(x *Exemplar) *Exemplar {
	if e.at == 0 {
		return nil
	}
	if x == nil {
		x = new(Exemplar)
	}
	*x = Exemplar{Exemplar: metricsink.Exemplar{TraceID: e.trace, SpanID: e.span}, Value: e.value, Time: time.Unix(0, e.at)}
	return x
}

// format is an exposition format the registry can answer a scrape in.
type format uint8

const (
	// formatText is the Prometheus text format 0.0.4, the default.
	formatText format = iota
	// formatOpenMetrics is the OpenMetrics text format 1.0.0.
	formatOpenMetrics
	// formatProtobuf is the protobuf format, length-delimited
	// MetricFamily messages.
	formatProtobuf

	nFormats
)

// contentType returns the Content-Type of an exposition in f.
func (f format) contentType() string {
	switch f {
	case formatOpenMetrics:
		return ContentTypeOpenMetrics
	case formatProtobuf:
		return ContentTypeProtobuf
	}
	return ContentType
}

func (f format) String() string {
	switch f {
	case formatOpenMetrics:
		return "OpenMetrics"
	case formatProtobuf:
		return "protobuf"
	}
	return "text"
}

// negotiate returns the format to answer a scrape whose Accept header is
// accept, protobuf telling whether the protobuf format may be chosen (an
// encoder is registered). It follows RFC 9110: each format takes the
// quality (q, 1 by default) of the most specific media range that accepts
// it, the format of the highest quality above 0 wins, and among equals the
// richer one (protobuf, then OpenMetrics, then text). Without any, it is
// the text format: a scrape is never refused.
//
// The media ranges a format answers to:
//   - text: text/plain of version 0.0.4, 1.0.0 (whose content a 0.0.4
//     exposition of this registry is, its names being legacy ones) or none;
//     text/* and */*, the text format being the default.
//   - OpenMetrics: application/openmetrics-text of version 1.0.0, 0.0.1
//     (the same format) or none.
//   - protobuf: application/vnd.google.protobuf with
//     proto=io.prometheus.client.MetricFamily and encoding=delimited.
//
// Other parameters (charset, escaping) are ignored: every name the
// registry writes is valid under any escaping scheme. negotiate allocates
// nothing.
func negotiate(accept string, protobuf bool) format {
	// The most specific range seen for each format, and its quality.
	var spec [nFormats]int8
	var q [nFormats]float64
	for i := range spec {
		spec[i] = -1
	}
	for accept != "" {
		var r string
		r, accept, _ = cutUnquoted(accept, ',')
		f, s, qv, ok := mediaRange(r)
		if !ok {
			continue
		}
		switch {
		case s > spec[f]:
			spec[f], q[f] = s, qv
		case s == spec[f]:
			q[f] = max(q[f], qv)
		}
	}
	best, bestQ := formatText, 0.0
	for f := range nFormats {
		if f == formatProtobuf && !protobuf {
			continue
		}
		if spec[f] >= 0 && q[f] > 0 && q[f] >= bestQ {
			best, bestQ = f, q[f]
		}
	}
	return best
}

// mediaRange parses one media range of an Accept header and returns the
// format it accepts, how specific it is (0 for */*, 1 for type/*, 2 for a
// type, 3 for a type with the parameter that names the format's version or
// encoding) and its quality, or ok false when it accepts none of them or
// its quality is not a number.
func mediaRange(r string) (f format, spec int8, q float64, ok bool) {
	typ, params, _ := cutUnquoted(r, ';')
	typ = strings.TrimSpace(typ)
	main, sub, found := strings.Cut(typ, "/")
	if !found {
		return 0, 0, 0, false
	}
	main, sub = strings.TrimSpace(main), strings.TrimSpace(sub)
	q = 1
	// The values of the parameters that decide; "" when absent.
	var version, proto, encoding string
	var hasVersion, hasProto, hasEncoding bool
	for params != "" {
		var p string
		p, params, _ = cutUnquoted(params, ';')
		name, value, _ := strings.Cut(p, "=")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		switch {
		case strings.EqualFold(name, "q"):
			v, err := strconv.ParseFloat(value, 64)
			if err != nil || v != v {
				return 0, 0, 0, false
			}
			q = min(max(v, 0), 1)
		case strings.EqualFold(name, "version"):
			version, hasVersion = value, true
		case strings.EqualFold(name, "proto"):
			proto, hasProto = value, true
		case strings.EqualFold(name, "encoding"):
			encoding, hasEncoding = value, true
		}
	}
	switch {
	case main == "*" && sub == "*":
		return formatText, 0, q, true
	case strings.EqualFold(main, "text") && sub == "*":
		return formatText, 1, q, true
	case strings.EqualFold(main, "text") && strings.EqualFold(sub, "plain"):
		if !hasVersion {
			return formatText, 2, q, true
		}
		if paramIs(version, "0.0.4") || paramIs(version, "1.0.0") {
			return formatText, 3, q, true
		}
	case strings.EqualFold(main, "application") && strings.EqualFold(sub, "openmetrics-text"):
		if !hasVersion {
			return formatOpenMetrics, 2, q, true
		}
		if paramIs(version, "1.0.0") || paramIs(version, "0.0.1") {
			return formatOpenMetrics, 3, q, true
		}
	case strings.EqualFold(main, "application") && strings.EqualFold(sub, "vnd.google.protobuf"):
		if hasProto && hasEncoding && paramIs(proto, "io.prometheus.client.MetricFamily") && paramIs(encoding, "delimited") {
			return formatProtobuf, 3, q, true
		}
	}
	return 0, 0, 0, false
}

// paramIs reports whether the parameter value v, a token or a quoted
// string (RFC 9110, with backslash escapes), is want.
func paramIs(v, want string) bool {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return v == want
	}
	in, j := v[1:len(v)-1], 0
	for i := 0; i < len(in); i++ {
		c := in[i]
		if c == '\\' {
			if i++; i == len(in) {
				return false
			}
			c = in[i]
		}
		if j == len(want) || want[j] != c {
			return false
		}
		j++
	}
	return j == len(want)
}

// cutUnquoted is strings.Cut at the first sep outside a quoted string: a
// quoted parameter value may hold commas and semicolons.
func cutUnquoted(s string, sep byte) (before, after string, found bool) {
	quoted, escaped := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case escaped:
			escaped = false
		case quoted && c == '\\':
			escaped = true
		case c == '"':
			quoted = !quoted
		case c == sep && !quoted:
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}
