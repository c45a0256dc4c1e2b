package prometheus

import (
	"bytes"
	"compress/gzip"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/realtimeserver/observability/metricsink"
)

// ContentType is the Content-Type of the Prometheus text format, version
// 0.0.4, which ServeHTTP writes unless the scrape asks for another.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

var gzipPool = sync.Pool{New: func() any { return gzip.NewWriter(io.Discard) }}

// WritePrometheus writes the whole exposition to w: every family recorded
// through the Sink methods (each with # HELP and # TYPE, sorted by name),
// metricsink's own metrics, and the go_* and process_* families unless
// disabled.
func (p *Registry) WritePrometheus(w io.Writer) {
	p.writeFamilies(w)
	if p.runtime {
		p.writeRuntime(w)
	}
}

// ServeHTTP writes the exposition in the format the request's Accept
// header prefers (see negotiate): the Prometheus text format by default,
// OpenMetrics 1.0.0 (with exemplars), or the protobuf format (native
// histograms and exemplars) when an encoder is registered (see
// RegisterProtobuf). It is gzipped when the request's Accept-Encoding
// accepts gzip.
func (p *Registry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer putBuf(buf)
	f := negotiate(r.Header.Get("Accept"), protobufRegistered())
	switch f {
	case formatOpenMetrics:
		_ = p.WriteOpenMetrics(buf)
	case formatProtobuf:
		if err := p.WriteProtobuf(buf); err != nil {
			// The encoder was removed since negotiate, or failed: the
			// text format, which needs none.
			buf.Reset()
			f = formatText
			p.WritePrometheus(buf)
		}
	default:
		p.WritePrometheus(buf)
	}
	h := w.Header()
	h.Set("Content-Type", f.contentType())
	h.Add("Vary", "Accept")
	h.Add("Vary", "Accept-Encoding")
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		h.Set("Content-Encoding", "gzip")
		zw := gzipPool.Get().(*gzip.Writer)
		zw.Reset(w)
		_, _ = zw.Write(buf.Bytes())
		_ = zw.Close()
		zw.Reset(io.Discard)
		gzipPool.Put(zw)
		return
	}
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

func putBuf(b *bytes.Buffer) {
	if b.Cap() <= 4<<20 {
		bufPool.Put(b)
	}
}

// acceptsGzip reports whether an Accept-Encoding header value accepts gzip
// with a non-zero quality.
func acceptsGzip(h string) bool {
	for part := range strings.SplitSeq(h, ",") {
		coding, params, _ := strings.Cut(part, ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		params = strings.TrimSpace(params)
		if q, ok := strings.CutPrefix(params, "q="); ok {
			if f, err := strconv.ParseFloat(strings.TrimSpace(q), 64); err == nil && f == 0 {
				return false
			}
		}
		return true
	}
	return false
}

// writeFamilies writes every family that has series (each with # HELP and # TYPE,
// sorted by name, series sorted by labels), not the runtime ones (see
// WritePrometheus). No lock is held while it writes or calls callbacks.
func (p *Registry) writeFamilies(w io.Writer) {
	vals := p.collect()
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer putBuf(buf)
	b := buf.Bytes()
	var st histState
	for _, f := range *p.sorted.Load() {
		list := *f.list.Load()
		if len(list) == 0 {
			continue
		}
		start := len(b)
		b = append(b, "# HELP "...)
		b = append(b, f.name...)
		b = append(b, ' ')
		b = appendHelp(b, f.getHelp())
		b = append(b, "\n# TYPE "...)
		b = append(b, f.name...)
		b = append(b, ' ')
		b = append(b, f.kind.String()...)
		b = append(b, '\n')
		header := len(b)
		for _, s := range list {
			b = appendSeries(b, f, s, vals, &st)
		}
		if len(b) == header { // every series left out
			b = b[:start]
		}
		if len(b) > 64<<10 {
			_, _ = w.Write(b)
			b = b[:0]
		}
	}
	_, _ = w.Write(b)
	*buf = *bytes.NewBuffer(b[:0])
}

// appendSeries appends the sample lines of s; st is scratch for a
// histogram's state.
func appendSeries(b []byte, f *family, s *series, vals map[*series]float64, st *histState) []byte {
	switch {
	case s.fn != nil:
		v, ok := vals[s]
		if !ok {
			return b // timed out or panicked: left out, counted
		}
		return appendSample(b, f.name, "", s.text, "", v)
	case s.read != nil:
		return appendSample(b, f.name, "", s.text, "", s.read())
	case f.kind == metricsink.Counter:
		if frac := math.Float64frombits(s.bits.Load()); frac != 0 {
			return appendSample(b, f.name, "", s.text, "", float64(s.ints.Load())+frac)
		}
		b = appendName(b, f.name, "", s.text, "")
		b = strconv.AppendUint(b, s.ints.Load(), 10)
		return append(b, '\n')
	case f.kind == metricsink.Gauge:
		return appendSample(b, f.name, "", s.text, "", math.Float64frombits(s.bits.Load()))
	}
	s.hist.load(st, false, false)
	le := s.hist.set.le
	var cum uint64
	for i, c := range st.classic {
		cum += c
		b = appendName(b, f.name, "_bucket", s.text, le[i])
		b = strconv.AppendUint(b, cum, 10)
		b = append(b, '\n')
	}
	b = appendSample(b, f.name, "_sum", s.text, "", st.sum)
	b = appendName(b, f.name, "_count", s.text, "")
	b = strconv.AppendUint(b, cum, 10)
	return append(b, '\n')
}

func appendName(b []byte, name, suffix, labels, le string) []byte {
	b = append(b, name...)
	b = append(b, suffix...)
	if labels == "" && le == "" {
		return append(b, ' ')
	}
	b = append(b, '{')
	b = append(b, labels...)
	if le != "" {
		if labels != "" {
			b = append(b, ',')
		}
		b = append(b, `le="`...)
		b = append(b, le...)
		b = append(b, '"')
	}
	return append(b, '}', ' ')
}

func appendSample(b []byte, name, suffix, labels, le string, v float64) []byte {
	b = appendName(b, name, suffix, labels, le)
	b = appendFloat(b, v)
	return append(b, '\n')
}

// appendFloat appends v as the text format writes it: NaN, +Inf, -Inf or
// the shortest decimal that reads back as v.
func appendFloat(b []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(b, "NaN"...)
	case math.IsInf(v, 1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return strconv.AppendInt(b, int64(v), 10)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// writeRuntime writes the go_* and process_* families (runtime.go), the
// constant labels on every line.
func (p *Registry) writeRuntime(w io.Writer) {
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer putBuf(buf)
	b := buf.Bytes()
	fams := p.runtimeFamilies()
	for i := range fams {
		b = appendFamily(b, &fams[i], false, nil)
	}
	_, _ = w.Write(b)
	*buf = *bytes.NewBuffer(b[:0])
}

// runtimeFamilies reads the go_* and process_* families now, with the
// constant labels: what the text exposition writes and Snapshot gives.
func (p *Registry) runtimeFamilies() []Family {
	r := runtimeReader{consts: p.constLabels}
	r.readGo()
	r.readProcess()
	return r.fams
}

// appendFamily appends f in the text format, or in OpenMetrics when om is
// set: # HELP, # TYPE (and in OpenMetrics # UNIT) and its samples. A
// histogram's buckets are written as given (cumulative, +Inf last), in
// OpenMetrics each with its exemplar; its _sum unless its sum is NaN, and
// its _count (in the text format only beside its _sum); a summary's
// objectives with their quantile label, then _sum and _count alike. all
// are the exposition's families, sorted by name: OpenMetrics names a
// counter without its _total unless another family has that name.
func appendFamily(b []byte, f *Family, om bool, all []Family) []byte {
	if len(f.Series) == 0 {
		return b
	}
	name := f.Name // of the metadata and of the histogram and summary samples
	if om {
		var typ string
		name, typ = openMetricsName(f, all)
		b = append(b, "# TYPE "...)
		b = append(b, name...)
		b = append(b, ' ')
		b = append(b, typ...)
		b = append(b, '\n')
		if f.Unit != "" && strings.HasSuffix(name, "_"+f.Unit) {
			b = append(b, "# UNIT "...)
			b = append(b, name...)
			b = append(b, ' ')
			b = append(b, f.Unit...)
			b = append(b, '\n')
		}
		if f.Help != "" {
			b = append(b, "# HELP "...)
			b = append(b, name...)
			b = append(b, ' ')
			b = appendLabelValue(b, f.Help) // OpenMetrics escapes a help text as a label value
			b = append(b, '\n')
		}
	} else {
		b = append(b, "# HELP "...)
		b = append(b, f.Name...)
		b = append(b, ' ')
		b = appendHelp(b, f.Help)
		b = append(b, "\n# TYPE "...)
		b = append(b, f.Name...)
		b = append(b, ' ')
		b = append(b, f.Type...)
		b = append(b, '\n')
	}
	var le [32]byte
	for i := range f.Series {
		s := &f.Series[i]
		switch f.Type {
		case "histogram":
			for _, bk := range s.Buckets {
				bound := append(le[:0], "+Inf"...)
				if !math.IsInf(bk.UpperBound, 1) {
					bound = strconv.AppendFloat(le[:0], bk.UpperBound, 'g', -1, 64)
				}
				b = appendSampleOf(b, name, "_bucket", s.Labels, "le", bound, float64(bk.Count))
				if om && bk.Exemplar != nil {
					b = appendExemplar(b, bk.Exemplar)
				}
				b = append(b, '\n')
			}
		case "summary":
			for _, o := range s.Objectives {
				b = appendSampleOf(b, name, "", s.Labels, "quantile", strconv.AppendFloat(le[:0], o.Quantile, 'g', -1, 64), o.Value)
				b = append(b, '\n')
			}
		default:
			b = appendSampleOf(b, f.Name, "", s.Labels, "", nil, s.Value)
			b = append(b, '\n')
			continue
		}
		if !math.IsNaN(s.Sum) {
			b = appendSampleOf(b, name, "_sum", s.Labels, "", nil, s.Sum)
			b = append(b, '\n')
		}
		if om || !math.IsNaN(s.Sum) {
			b = appendSampleOf(b, name, "_count", s.Labels, "", nil, float64(s.Count))
			b = append(b, '\n')
		}
	}
	return b
}

// appendSampleOf appends name+suffix{labels,key="value"} v, without the
// line's end (an exemplar may follow); key "" adds no label.
func appendSampleOf(b []byte, name, suffix string, labels []Tag, key string, value []byte, v float64) []byte {
	b = append(b, name...)
	b = append(b, suffix...)
	if len(labels) > 0 || key != "" {
		b = append(b, '{')
		b = appendLabelPairs(b, labels)
		if key != "" {
			if len(labels) > 0 {
				b = append(b, ',')
			}
			b = append(b, key...)
			b = append(b, `="`...)
			b = append(b, value...) // a number: nothing to escape
			b = append(b, '"')
		}
		b = append(b, '}')
	}
	b = append(b, ' ')
	return appendFloat(b, v)
}
