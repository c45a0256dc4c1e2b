package metricsink

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/VictoriaMetrics/metrics"
)

// ContentType is the Content-Type of the exposition ServeHTTP writes: the
// Prometheus text format, version 0.0.4.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

var gzipPool = sync.Pool{New: func() any { return gzip.NewWriter(io.Discard) }}

// WritePrometheus writes the whole exposition to w: the metrics registered
// directly on Set(), then every family recorded through the Sink methods
// (each with # HELP and # TYPE, sorted by name), metricsink's own metrics,
// and the go_* and process_* families unless disabled. The output does not
// depend on metrics.ExposeMetadata, except for the metrics registered
// directly on Set().
func (p *Prometheus) WritePrometheus(w io.Writer) {
	p.set.WritePrometheus(w)
	if p.runtime {
		p.writeRuntime(w)
	}
}

// ServeHTTP writes the exposition in the Prometheus text format, gzipped
// when the request's Accept-Encoding accepts gzip.
func (p *Prometheus) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer putBuf(buf)
	p.WritePrometheus(buf)
	h := w.Header()
	h.Set("Content-Type", ContentType)
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

// writeFamilies is registered with the set as its metrics writer. It
// writes the families, not the runtime ones (see WritePrometheus), and
// drops the # lines VictoriaMetrics adds to each family's set when
// metrics.ExposeMetadata(true) was called: ours are the only ones.
func (p *Prometheus) writeFamilies(w io.Writer) {
	p.mu.Lock()
	fams := make([]*family, 0, len(p.sorted))
	for _, f := range p.sorted {
		if f.nseries > 0 {
			fams = append(fams, f)
		}
	}
	p.mu.Unlock()
	body := bufPool.Get().(*bytes.Buffer)
	defer putBuf(body)
	var meta []byte
	for _, f := range fams {
		meta = append(meta[:0], "# HELP "...)
		meta = append(meta, f.name...)
		meta = append(meta, ' ')
		meta = appendHelp(meta, f.help)
		meta = append(meta, "\n# TYPE "...)
		meta = append(meta, f.name...)
		meta = append(meta, ' ')
		meta = append(meta, f.typ...)
		meta = append(meta, '\n')
		_, _ = w.Write(meta)
		body.Reset()
		f.set.WritePrometheus(body)
		writeSamples(w, body.Bytes())
	}
}

// writeSamples writes the lines of b to w, except those starting with #.
func writeSamples(w io.Writer, b []byte) {
	if len(b) > 0 && b[0] != '#' && !bytes.Contains(b, []byte("\n#")) {
		_, _ = w.Write(b)
		return
	}
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i+1], b[i+1:]
		} else {
			b = nil
		}
		if line[0] != '#' {
			_, _ = w.Write(line)
		}
	}
}

// writeRuntime writes VictoriaMetrics' go_* and process_* metrics with the
// # HELP and # TYPE lines it leaves out and the renames promtool needs:
// go_cgo_calls_count and go_gc_forced_count become counters ending in
// _total, go_cpu_count becomes the gauge go_cpus. Const labels are added.
func (p *Prometheus) writeRuntime(w io.Writer) {
	raw := bufPool.Get().(*bytes.Buffer)
	raw.Reset()
	defer putBuf(raw)
	metrics.WriteProcessMetrics(raw)
	out := bufPool.Get().(*bytes.Buffer)
	out.Reset()
	defer putBuf(out)
	rewriteRuntime(out, raw.Bytes(), p.runtimeTail, p.constLabels)
	_, _ = w.Write(out.Bytes())
}

var runtimeRenames = map[string]string{
	"go_cgo_calls_count": "go_cgo_calls_total",
	"go_gc_forced_count": "go_gc_forced_total",
	"go_cpu_count":       "go_cpus",
}

// rewriteRuntime rewrites src, VictoriaMetrics' runtime and process
// metrics, into out; constLabels is consts rendered. A const label whose
// key a runtime line already has (go_info's version) is left out of that
// line, so that no label appears twice.
func rewriteRuntime(out *bytes.Buffer, src []byte, constLabels []byte, consts []Tag) {
	prevFam := ""
	seen := make(map[string]bool)
	for len(src) > 0 {
		line := src
		if i := bytes.IndexByte(src, '\n'); i >= 0 {
			line, src = src[:i], src[i+1:]
		} else {
			src = nil
		}
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		end := bytes.IndexAny(line, "{ ")
		if end <= 0 {
			continue
		}
		name := string(line[:end])
		rest := line[end:]
		if r, ok := runtimeRenames[name]; ok {
			name = r
		}
		fam, typ := name, "gauge"
		switch {
		case strings.HasSuffix(name, "_bucket"):
			fam, typ = strings.TrimSuffix(name, "_bucket"), "histogram"
		case bytes.Contains(rest, []byte(`quantile="`)):
			typ = "summary"
		case (strings.HasSuffix(name, "_sum") || strings.HasSuffix(name, "_count")) && prevFam != "" &&
			(prevFam == strings.TrimSuffix(name, "_sum") || prevFam == strings.TrimSuffix(name, "_count")):
			fam = prevFam
		case strings.HasSuffix(name, "_total"):
			typ = "counter"
		}
		if fam != prevFam {
			if seen[fam] {
				continue // a family split in two would be invalid exposition
			}
			seen[fam] = true
			prevFam = fam
			out.WriteString("# HELP ")
			out.WriteString(fam)
			out.WriteString(" Go runtime or process metric ")
			out.WriteString(fam)
			out.WriteString(" (VictoriaMetrics/metrics).\n# TYPE ")
			out.WriteString(fam)
			out.WriteByte(' ')
			out.WriteString(typ)
			out.WriteByte('\n')
		}
		out.WriteString(name)
		tail := constLabels
		if len(tail) > 0 && rest[0] == '{' {
			tail = dedupeTail(tail, rest, consts)
		}
		switch {
		case len(tail) == 0:
			out.Write(rest)
		case rest[0] == '{':
			out.WriteByte('{')
			out.Write(tail)
			if len(rest) > 1 && rest[1] != '}' {
				out.WriteByte(',')
			}
			out.Write(rest[1:])
		default:
			out.WriteByte('{')
			out.Write(tail)
			out.WriteByte('}')
			out.Write(rest)
		}
		out.WriteByte('\n')
	}
}

// dedupeTail returns tail, the rendered consts, without the labels whose
// key the label set rest ({k="v", ...} value) already has.
func dedupeTail(tail, rest []byte, consts []Tag) []byte {
	has := func(key string) bool {
		for _, sep := range [...]string{"{", ",", ", "} {
			if bytes.Contains(rest, []byte(sep+key+`="`)) {
				return true
			}
		}
		return false
	}
	clash := false
	for _, t := range consts {
		clash = clash || has(t.Key)
	}
	if !clash {
		return tail
	}
	var b []byte
	for _, t := range consts {
		if has(t.Key) {
			continue
		}
		if len(b) > 0 {
			b = append(b, ',')
		}
		b = append(b, t.Key...)
		b = append(b, '=', '"')
		b = appendLabelValue(b, t.Value)
		b = append(b, '"')
	}
	return b
}
