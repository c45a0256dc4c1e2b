package prometheus

import (
	"bytes"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
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
		b = appendFamily(b, &sc.fams[i], true, sc.fams)
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

// openMetricsName returns the name and the type OpenMetrics gives f: a
// counter is named without the _total its samples end in, unless it lacks
// one or another family of all (sorted by name) has that name
// (go_memstats_alloc_bytes is a gauge beside the counter
// go_memstats_alloc_bytes_total): then it keeps its name and is unknown,
// so that no two families share a name.
func openMetricsName(f *Family, all []Family) (name, typ string) {
	if f.Type != "counter" {
		return f.Name, f.Type
	}
	base, ok := strings.CutSuffix(f.Name, "_total")
	_, taken := slices.BinarySearchFunc(all, base, func(f Family, n string) int { return strings.Compare(f.Name, n) })
	if ok && !taken {
		return base, "counter"
	}
	return f.Name, "unknown"
}

// appendExemplar appends " # {trace_id="…",span_id="…"} value timestamp"
// to a bucket's line, without allocating.
func appendExemplar(b []byte, ex *Exemplar) []byte {
	b = append(b, " # {"...)
	b = ex.appendLabels(b)
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
