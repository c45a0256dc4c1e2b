package prometheus

import (
	"bytes"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/realtimeserver/observability/metricsink"
)

// WriteOpenMetrics writes the whole exposition, the families
// WritePrometheus writes, in the OpenMetrics text format 1.0.0
// (ContentTypeOpenMetrics): a counter family is named without its _total
// suffix, which its sample keeps; each classic bucket that holds an
// exemplar writes it (trace_id and span_id, the observed value and its
// time); the exposition ends with # EOF. Native buckets have no OpenMetrics
// 1.0 form: a scrape that wants them asks for the protobuf format.
//
// It reads the registry as Snapshot does (callbacks included) and writes
// without holding any lock.
func (p *Registry) WriteOpenMetrics(w io.Writer) error {
	sc := scratchPool.Get().(*scrapeScratch)
	defer scratchPool.Put(sc)
	p.snapshotInto(sc)
	buf := bufPool.Get().(*bytes.Buffer)
	defer putBuf(buf)
	b := buf.Bytes()[:0]
	var err error
	for i := range sc.fams {
		b = appendOpenMetricsFamily(b, &sc.fams[i], sc.fams)
		if len(b) > 64<<10 {
			if _, err = w.Write(b); err != nil {
				break
			}
			b = b[:0]
		}
	}
	if err == nil {
		b = append(b, "# EOF\n"...)
		_, err = w.Write(b)
	}
	*buf = *bytes.NewBuffer(b[:0])
	return err
}

// appendOpenMetricsFamily appends f's metadata and samples; all are the
// families of the exposition, sorted by name.
func appendOpenMetricsFamily(b []byte, f *Family, all []Family) []byte {
	if len(f.Series) == 0 {
		return b
	}
	name, typ := f.Name, f.Type
	if typ == "counter" {
		base, ok := strings.CutSuffix(name, "_total")
		_, taken := slices.BinarySearchFunc(all, base, func(f Family, n string) int { return strings.Compare(f.Name, n) })
		if ok && !taken {
			name = base
		} else {
			// OpenMetrics names a counter without the _total its sample
			// ends in; one that lacks it, or whose name without it is
			// another family's (go_memstats_alloc_bytes is a gauge beside
			// the counter go_memstats_alloc_bytes_total), is exposed
			// under its own name as unknown, so that no two families
			// share a name.
			typ = "unknown"
		}
	}
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
	for i := range f.Series {
		s := &f.Series[i]
		switch {
		case typ == "counter":
			b = appendOpenMetricsSample(b, f.Name, s.Labels, "", "", s.Value)
			b = append(b, '\n')
		case f.Type == "histogram":
			for _, bk := range s.Buckets {
				b = appendOpenMetricsSample(b, name+"_bucket", s.Labels, "le", leText(bk.UpperBound), float64(bk.Count))
				if ex := bk.Exemplar; ex != nil {
					b = appendOpenMetricsExemplar(b, ex)
				}
				b = append(b, '\n')
			}
			if !math.IsNaN(s.Sum) {
				b = appendOpenMetricsSample(b, name+"_sum", s.Labels, "", "", s.Sum)
				b = append(b, '\n')
			}
			b = appendOpenMetricsSample(b, name+"_count", s.Labels, "", "", float64(s.Count))
			b = append(b, '\n')
		case f.Type == "summary":
			for _, o := range s.Objectives {
				b = appendOpenMetricsSample(b, name, s.Labels, "quantile", strconv.FormatFloat(o.Quantile, 'g', -1, 64), o.Value)
				b = append(b, '\n')
			}
			if !math.IsNaN(s.Sum) {
				b = appendOpenMetricsSample(b, name+"_sum", s.Labels, "", "", s.Sum)
				b = append(b, '\n')
			}
			b = appendOpenMetricsSample(b, name+"_count", s.Labels, "", "", float64(s.Count))
			b = append(b, '\n')
		default:
			b = appendOpenMetricsSample(b, name, s.Labels, "", "", s.Value)
			b = append(b, '\n')
		}
	}
	return b
}

// leText is a bucket bound as the le label writes it.
func leText(v float64) string {
	if math.IsInf(v, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// appendOpenMetricsSample appends name{labels,extra="value"} v, without
// the line's end (an exemplar may follow).
func appendOpenMetricsSample(b []byte, name string, labels []metricsink.Tag, extra, extraValue string, v float64) []byte {
	b = append(b, name...)
	if len(labels) > 0 || extra != "" {
		b = append(b, '{')
		for i, l := range labels {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendOpenMetricsLabel(b, l.Key, l.Value)
		}
		if extra != "" {
			if len(labels) > 0 {
				b = append(b, ',')
			}
			b = appendOpenMetricsLabel(b, extra, extraValue)
		}
		b = append(b, '}')
	}
	b = append(b, ' ')
	return appendFloat(b, v)
}

// appendOpenMetricsExemplar appends " # {trace_id="…",span_id="…"} value
// timestamp" to a bucket's line.
func appendOpenMetricsExemplar(b []byte, ex *Exemplar) []byte {
	b = append(b, " # {"...)
	for i, l := range ex.Labels() {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendOpenMetricsLabel(b, l.Key, l.Value)
	}
	b = append(b, "} "...)
	b = appendFloat(b, ex.Value)
	if !ex.Time.IsZero() {
		b = append(b, ' ')
		b = appendTimestamp(b, ex.Time)
	}
	return b
}

// appendTimestamp appends t in seconds since the epoch, with millisecond
// precision.
func appendTimestamp(b []byte, t time.Time) []byte {
	ms := t.UnixMilli()
	b = strconv.AppendInt(b, ms/1000, 10)
	if frac := ms % 1000; frac != 0 {
		b = append(b, '.')
		b = append(b, byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
	}
	return b
}

// appendOpenMetricsLabel appends key="value", the value escaped as both
// text formats escape it.
func appendOpenMetricsLabel(b []byte, key, value string) []byte {
	b = append(b, key...)
	b = append(b, `="`...)
	b = appendLabelValue(b, value)
	return append(b, '"')
}
