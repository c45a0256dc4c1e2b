package livedash

import (
	"cmp"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"go.opentelemetry.io/otel/trace"

	"github.com/realtimeserver/observability/internal/jsonesc"
)

// Default bounds of Spans.
const (
	DefaultMaxSpans       = 5000
	DefaultSpansBytes     = 4 << 20
	DefaultSpansIdleAfter = 15 * time.Minute
)

// Per-span budgets of Spans: past one, what is left out is left out, a
// string is cut on a UTF-8 boundary and ended by "…", and the span gets
// the attribute TruncatedKey.
const (
	maxSpanAttrs  = 64       // attributes of a span
	maxSpanEvents = 32       // events of a span, the first ones
	maxEventAttrs = 16       // attributes of an event
	maxSpanName   = 256      // a name, key or service
	maxSpanValue  = 1024     // a value or the status message
	maxSpanText   = 32 << 10 // all the text of one span
	// spanSlot is what one entry of the table costs, whatever its span.
	spanSlot = int(unsafe.Sizeof(keptSpan{}))
)

// StatusCode is a span's status: the values of
// go.opentelemetry.io/otel/codes.Code, so that a span processor converts
// one with StatusCode(s.Status().Code).
type StatusCode uint32

// The span statuses.
const (
	StatusUnset StatusCode = 0
	StatusError StatusCode = 1
	StatusOK    StatusCode = 2
)

// String returns "", "error" or "ok".
func (c StatusCode) String() string {
	switch c {
	case StatusError:
		return "error"
	case StatusOK:
		return "ok"
	}
	return ""
}

// Span is one finished span as the Traces page shows it. ParentID is
// zero for a root span. Attribute values are text, as
// attribute.Value.String writes them; so are an event's. Service is the
// service.name of the span's resource.
type Span struct {
	TraceID       trace.TraceID
	SpanID        trace.SpanID
	ParentID      trace.SpanID
	Name          string
	Kind          trace.SpanKind
	Start, End    time.Time
	Status        StatusCode
	StatusMessage string
	Attrs         []SpanAttr
	Events        []SpanEvent
	Service       string
}

// SpanAttr is one attribute of a span or an event, as text.
type SpanAttr struct{ Key, Value string }

// SpanEvent is one event of a span: an exception, a message, a log.
type SpanEvent struct {
	Time  time.Time
	Name  string
	Attrs []SpanAttr
}

// SpansOptions configure Spans. A nil or zero SpansOptions consists
// entirely of default values; NewSpans never writes to it.
type SpansOptions struct {
	// MaxSpans is the most spans kept; the oldest go first. It is also the
	// size of the table allocated on the first span kept (200 bytes an
	// entry on 64-bit systems). Default: DefaultMaxSpans (5000). Negative is an
	// error.
	MaxSpans int
	// MaxBytes bounds the kept spans' text, attributes and events,
	// beyond the table; the oldest go first. Default: DefaultSpansBytes
	// (4 MiB). Negative is an error.
	MaxBytes int
	// IdleAfter is how long Spans goes on keeping every span after the
	// last dashboard page closed. Default: DefaultSpansIdleAfter (15
	// minutes). Negative is an error.
	IdleAfter time.Duration
	// KeepAllWhenIdle keeps every span at all times. Default: false, and
	// while no dashboard page is open and IdleAfter has passed since the
	// last one closed (or none ever opened), only spans whose status is
	// StatusError are kept: a dashboard nobody looks at costs the service
	// nothing per span but a check (Wants).
	KeepAllWhenIdle bool
	// NothingWhenIdle keeps no span at all at those times, errors
	// included, and Wants says so before a span is made: for a feeder
	// that records spans for the dashboard alone, which then makes none
	// while nobody watches (the otlp package's provider when no OTLP
	// endpoint takes the spans). KeepAllWhenIdle overrides it. Default:
	// false.
	NothingWhenIdle bool
}

// Spans keeps the most recent finished spans in memory, for the
// dashboard's Traces page: the latest traces, the slowest of each root
// span name, each trace as a waterfall of its spans. A span processor
// feeds it (Add): the otlp package's DashboardProcessor, which
// observability.Setup adds to its TracerProvider, does so for an
// OpenTelemetry SDK, in its OnEnd, much as here:
//
//	func (p *processor) OnEnd(s sdktrace.ReadOnlySpan) {
//		st := livedash.StatusCode(s.Status().Code)
//		if !p.spans.Wants(st) {
//			return // nobody watches: nothing converted
//		}
//		sc := s.SpanContext()
//		span := livedash.Span{TraceID: sc.TraceID(), SpanID: sc.SpanID(), ParentID: s.Parent().SpanID(),
//			Name: s.Name(), Kind: s.SpanKind(), Start: s.StartTime(), End: s.EndTime(),
//			Status: st, StatusMessage: s.Status().Description, Service: service}
//		for _, kv := range s.Attributes() {
//			span.Attrs = append(span.Attrs, livedash.SpanAttr{Key: string(kv.Key), Value: kv.Value.String()})
//		}
//		// and s.Events() into span.Events, the same way
//		p.spans.Add(span)
//	}
//
// Memory is bounded by SpansOptions.MaxSpans and MaxBytes: on its first
// span it allocates a table of MaxSpans entries (200 bytes each on 64-bit
// systems: 1 MB by default), and keeps each span's text, attributes and events
// within MaxBytes, evicting the oldest spans to make room; each span is
// first cut to its own budget (64 attributes, 32 events of 16 attributes,
// 1 KiB a value, 32 KiB of text in all; see TruncatedKey). A kept span
// shares nothing with the caller's. Its methods are safe for concurrent
// use; no lock is held while calling out.
type Spans struct {
	watchers
	keepAll  bool
	keepNone bool // NothingWhenIdle
	max      int
	maxBytes int

	mu      sync.Mutex
	slots   []keptSpan // circular, len max once allocated
	head, n int
	bytes   int
	added   atomic.Uint64
	evicted uint64

	sumMu sync.Mutex // the summary cache; taken before mu
	sumAt uint64     // added when sum was made
	sum   *traceSummary
}

type keptSpan struct {
	Span
	size int
}

// NewSpans returns an empty Spans, or an error for a negative bound.
func NewSpans(opts *SpansOptions) (*Spans, error) {
	var o SpansOptions
	if opts != nil {
		o = *opts
	}
	if o.MaxSpans < 0 || o.MaxBytes < 0 || o.IdleAfter < 0 {
		return nil, fmt.Errorf("livedash: SpansOptions has MaxSpans %d, MaxBytes %d, IdleAfter %v: want 0 (the default) or more",
			o.MaxSpans, o.MaxBytes, o.IdleAfter)
	}
	return &Spans{watchers: newWatchers(cmp.Or(o.IdleAfter, DefaultSpansIdleAfter)), keepAll: o.KeepAllWhenIdle, keepNone: o.NothingWhenIdle,
		max: cmp.Or(o.MaxSpans, DefaultMaxSpans), maxBytes: cmp.Or(o.MaxBytes, DefaultSpansBytes)}, nil
}

// Wants reports whether a span of status st would be kept now: always
// while a dashboard page is open, and for IdleAfter after the last one
// closed; at other times only errors, unless KeepAllWhenIdle (every span)
// or NothingWhenIdle (none). A span processor asks it before converting a
// span; Wants(StatusError) says whether any span would be kept, before
// one is made.
func (p *Spans) Wants(st StatusCode) bool {
	return p.keepAll || p.watched() || st == StatusError && !p.keepNone
}

// Add keeps a copy of s, cut to the per-span budget, unless Wants says
// it is not wanted now, evicting the oldest spans past the bounds. The
// caller may reuse s's slices once it returns.
func (p *Spans) Add(s Span) {
	if !p.Wants(s.Status) {
		return
	}
	k := pack(&s)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.slots == nil {
		p.slots = make([]keptSpan, p.max)
	}
	for p.n > 0 && (p.n == p.max || p.bytes+k.size > p.maxBytes) {
		p.bytes -= p.slots[p.head].size
		p.slots[p.head] = keptSpan{}
		p.head = (p.head + 1) % p.max
		p.n--
		p.evicted++
	}
	p.slots[(p.head+p.n)%p.max] = k
	p.n++
	p.bytes += k.size
	p.added.Add(1)
}

// SpansStats are the counts of Spans.
type SpansStats struct {
	// Spans and Bytes are what is kept now: Bytes counts the spans' text,
	// attributes and events, within SpansOptions.MaxBytes.
	Spans, Bytes int
	// Added counts the spans kept since NewSpans; Evicted those pushed
	// out since by newer ones.
	Added, Evicted uint64
}

// Stats returns the counts.
func (p *Spans) Stats() SpansStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return SpansStats{Spans: p.n, Bytes: p.bytes, Added: p.added.Load(), Evicted: p.evicted}
}

// keeps says in a sentence what Spans keeps, for the Traces page.
func (p *Spans) keeps() string {
	if p.keepAll {
		return "Every span is kept."
	}
	if p.keepNone {
		return fmt.Sprintf("Spans are made and kept while a dashboard page is open and for %s after the last one closes; at other times none are made, so that a dashboard nobody watches costs nothing per request.", spoken(p.after))
	}
	return fmt.Sprintf("Spans are kept while a dashboard page is open and for %s after the last one closes; at other times only spans with an error status.", spoken(p.after))
}

// spanPacker copies a span's strings, cut to their budgets, into one
// buffer; refs locate them in it.
type spanPacker struct {
	buf  []byte
	refs [][2]int32
	cut  bool
}

var packerPool = sync.Pool{New: func() any { return new(spanPacker) }}

// add copies s, cut to max bytes and to what is left of the span's
// text budget, and returns its ref.
func (pk *spanPacker) add(s string, max int) int {
	max = min(max, maxSpanText-len(pk.buf))
	at := len(pk.buf)
	var cut bool
	if max < len("…") {
		cut = len(s) > 0
	} else {
		pk.buf, cut = appendPlain(pk.buf, s, max)
	}
	pk.cut = pk.cut || cut
	pk.refs = append(pk.refs, [2]int32{int32(at), int32(len(pk.buf))})
	return len(pk.refs) - 1
}

// pack returns a copy of s that shares nothing with it, within the
// per-span budget, and its size: one string holds all its text, one
// slice its attributes and its events' attributes.
func pack(s *Span) keptSpan {
	pk := packerPool.Get().(*spanPacker)
	pk.buf, pk.refs, pk.cut = pk.buf[:0], pk.refs[:0], false
	pk.add(s.Name, maxSpanName)
	pk.add(s.Service, maxSpanName)
	pk.add(s.StatusMessage, maxSpanValue)
	nAttrs := min(len(s.Attrs), maxSpanAttrs)
	nEvents := min(len(s.Events), maxSpanEvents)
	pk.cut = pk.cut || len(s.Attrs) > nAttrs || len(s.Events) > nEvents
	attrsIn := nAttrs
	for _, a := range s.Attrs[:nAttrs] {
		pk.add(a.Key, maxSpanName)
		pk.add(a.Value, maxSpanValue)
	}
	for _, e := range s.Events[:nEvents] {
		pk.add(e.Name, maxSpanName)
		n := min(len(e.Attrs), maxEventAttrs)
		pk.cut = pk.cut || len(e.Attrs) > n
		attrsIn += n
		for _, a := range e.Attrs[:n] {
			pk.add(a.Key, maxSpanName)
			pk.add(a.Value, maxSpanValue)
		}
	}
	text := string(pk.buf)
	next := 0
	str := func() string {
		r := pk.refs[next]
		next++
		return text[r[0]:r[1]]
	}
	out := keptSpan{Span: Span{TraceID: s.TraceID, SpanID: s.SpanID, ParentID: s.ParentID, Kind: s.Kind,
		Start: s.Start, End: s.End, Status: s.Status}}
	out.Name, out.Service, out.StatusMessage = str(), str(), str()
	if pk.cut {
		attrsIn++
	}
	attrs := make([]SpanAttr, 0, attrsIn)
	for range nAttrs {
		attrs = append(attrs, SpanAttr{Key: str(), Value: str()})
	}
	if pk.cut {
		attrs = append(attrs, SpanAttr{Key: TruncatedKey, Value: "true"})
	}
	out.Attrs = attrs[:len(attrs):len(attrs)]
	if nEvents > 0 {
		out.Events = make([]SpanEvent, nEvents)
		for i, e := range s.Events[:nEvents] {
			n := min(len(e.Attrs), maxEventAttrs)
			out.Events[i] = SpanEvent{Time: e.Time, Name: str()}
			start := len(attrs)
			for range n {
				attrs = append(attrs, SpanAttr{Key: str(), Value: str()})
			}
			out.Events[i].Attrs = attrs[start:len(attrs):len(attrs)]
		}
	}
	out.size = len(text) + cap(attrs)*int(unsafe.Sizeof(SpanAttr{})) + nEvents*int(unsafe.Sizeof(SpanEvent{}))
	if cap(pk.buf) <= 2*maxSpanText && cap(pk.refs) <= 4096 {
		packerPool.Put(pk)
	}
	return out
}

// spanHead is what the Traces page's lists need of a span.
type spanHead struct {
	trace      trace.TraceID
	span, par  trace.SpanID
	name, svc  string
	start, end time.Time
	err        bool
}

// maxTracesListed bounds the latest traces and the routes the Traces
// page lists.
const maxTracesListed = 50

// traceSummary is what the Traces page lists: the latest traces, and for
// each root span name (a route) its count and slowest trace.
type traceSummary struct {
	Keeps   string     `json:"keeps"`
	Spans   int        `json:"spans"`
	Latest  []traceRow `json:"latest"`
	Slowest []routeRow `json:"slowest"`
}

type traceRow struct {
	Trace   string  `json:"trace"`
	Root    string  `json:"root"`
	Service string  `json:"service"`
	Start   int64   `json:"start"` // Unix ms
	Dur     float64 `json:"dur"`   // seconds, of the root span
	Spans   int     `json:"spans"` // kept of the trace
	Errors  int     `json:"errors"`
}

type routeRow struct {
	Route  string  `json:"route"`
	Count  int     `json:"count"`
	Errors int     `json:"errors"`
	P50    float64 `json:"p50"`
	Max    float64 `json:"max"`
	Trace  string  `json:"trace"` // the slowest
}

// summary returns what the Traces page lists. It is made again only when
// spans were added since: the pages open share it. Making it copies what
// it needs of the kept spans under the lock (120 bytes a span), and
// reads that copy after.
func (p *Spans) summary() *traceSummary {
	p.sumMu.Lock()
	defer p.sumMu.Unlock()
	if p.sum != nil && p.sumAt == p.added.Load() {
		return p.sum
	}
	p.mu.Lock()
	p.sumAt = p.added.Load()
	hs := make([]spanHead, 0, p.n)
	for i := range p.n {
		k := &p.slots[(p.head+i)%p.max]
		hs = append(hs, spanHead{trace: k.TraceID, span: k.SpanID, par: k.ParentID, name: k.Name, svc: k.Service,
			start: k.Start, end: k.End, err: k.Status == StatusError})
	}
	p.mu.Unlock()

	kept := make(map[trace.SpanID]struct{}, len(hs))
	for i := range hs {
		kept[hs[i].span] = struct{}{}
	}
	// A root is a span without a parent here: the trace's first span, or
	// the first of this process under a remote parent.
	isRoot := func(h *spanHead) bool {
		if !h.par.IsValid() {
			return true
		}
		_, ok := kept[h.par]
		return !ok
	}
	sum := &traceSummary{Keeps: p.keeps(), Spans: len(hs), Latest: []traceRow{}, Slowest: []routeRow{}}
	listed := map[trace.TraceID]int{}
	type route struct {
		count, errors int
		durs          []float64
		slowest       trace.TraceID
		max           float64
	}
	routes := map[string]*route{}
	for i := len(hs) - 1; i >= 0; i-- {
		h := &hs[i]
		if !isRoot(h) {
			continue
		}
		dur := h.end.Sub(h.start).Seconds()
		if _, seen := listed[h.trace]; !seen && len(sum.Latest) < maxTracesListed {
			listed[h.trace] = len(sum.Latest)
			sum.Latest = append(sum.Latest, traceRow{Trace: h.trace.String(), Root: h.name, Service: h.svc,
				Start: h.start.UnixMilli(), Dur: dur})
		}
		r := routes[h.name]
		if r == nil {
			r = &route{}
			routes[h.name] = r
		}
		r.count++
		if h.err {
			r.errors++
		}
		r.durs = append(r.durs, dur)
		if len(r.durs) == 1 || dur > r.max {
			r.max, r.slowest = dur, h.trace
		}
	}
	for i := range hs {
		if j, ok := listed[hs[i].trace]; ok {
			sum.Latest[j].Spans++
			if hs[i].err {
				sum.Latest[j].Errors++
			}
		}
	}
	for name, r := range routes {
		slices.Sort(r.durs)
		sum.Slowest = append(sum.Slowest, routeRow{Route: name, Count: r.count, Errors: r.errors,
			P50: r.durs[(len(r.durs)-1)/2], Max: r.max, Trace: r.slowest.String()})
	}
	slices.SortFunc(sum.Slowest, func(a, b routeRow) int {
		return cmp.Or(cmp.Compare(b.Max, a.Max), cmp.Compare(a.Route, b.Route))
	})
	if len(sum.Slowest) > maxTracesListed {
		sum.Slowest = sum.Slowest[:maxTracesListed]
	}
	p.sum = sum
	return sum
}

// trace returns copies of the kept spans of trace id, oldest first, at
// most max of them (the first ones), and whether there were more. The
// copies share their immutable text with the kept spans.
func (p *Spans) trace(id trace.TraceID, max int) (out []Span, more bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range p.n {
		k := &p.slots[(p.head+i)%p.max]
		if k.TraceID != id {
			continue
		}
		if len(out) == max {
			return out, true
		}
		out = append(out, k.Span)
	}
	return out, false
}

// maxTraceSpans bounds the spans one trace query returns.
const maxTraceSpans = 2000

// serveTrace answers the Traces page's query for one trace,
// /api/trace?id=<32 hex digits>: its kept spans, oldest first, at most
// 2000 of them and 4 MiB of JSON (then "truncated": true):
//
//	{"spans":[{"trace":"…","span":"…","parent":"…","name":"…","kind":"server",
//	  "start":<Unix µs>,"end":<Unix µs>,"status":"error","message":"…","service":"…",
//	  "attrs":[["key","value"],…],"events":[{"t":<Unix µs>,"name":"…","attrs":[…]}]},…]}
//
// At most Options.MaxQueries log and trace queries are answered at once,
// the others refused with 503.
func (d *Dashboard) serveTrace(w http.ResponseWriter, r *http.Request) {
	id, err := trace.TraceIDFromHex(r.URL.Query().Get("id"))
	if err != nil {
		http.Error(w, "id: accepted a trace id, 32 hexadecimal digits, not all zero", http.StatusBadRequest)
		return
	}
	if !d.startQuery(w) {
		return
	}
	defer d.queries.leave()
	spans, more := d.spans.trace(id, maxTraceSpans)
	b := append(make([]byte, 0, flushAt+1024), `{"spans":[`...)
	size := 0
	for i := range spans {
		at := len(b)
		if i > 0 {
			b = append(b, ',')
		}
		b = appendSpan(b, &spans[i])
		if size += len(b) - at; size > maxQueryBytes {
			b, more = b[:at], true
			break
		}
		if len(b) >= flushAt {
			if _, err := w.Write(b); err != nil {
				return
			}
			b = b[:0]
		}
	}
	b = append(b, ']')
	if more {
		b = append(b, `,"truncated":true`...)
	}
	_, _ = w.Write(append(b, "}\n"...))
}

// appendSpan appends s as serveTrace writes it.
func appendSpan(b []byte, s *Span) []byte {
	b = append(b, `{"trace":"`...)
	b = hex.AppendEncode(b, s.TraceID[:])
	b = append(b, `","span":"`...)
	b = hex.AppendEncode(b, s.SpanID[:])
	b = append(b, '"')
	if s.ParentID.IsValid() {
		b = append(b, `,"parent":"`...)
		b = hex.AppendEncode(b, s.ParentID[:])
		b = append(b, '"')
	}
	b = append(b, `,"name":`...)
	b = jsonesc.AppendString(b, s.Name)
	b = append(b, `,"kind":`...)
	b = jsonesc.AppendString(b, s.Kind.String())
	b = append(b, `,"start":`...)
	b = strconv.AppendInt(b, s.Start.UnixMicro(), 10)
	b = append(b, `,"end":`...)
	b = strconv.AppendInt(b, s.End.UnixMicro(), 10)
	b = append(b, `,"status":`...)
	b = jsonesc.AppendString(b, s.Status.String())
	b = append(b, `,"message":`...)
	b = jsonesc.AppendString(b, s.StatusMessage)
	b = append(b, `,"service":`...)
	b = jsonesc.AppendString(b, s.Service)
	b = append(b, `,"attrs":`...)
	b = appendSpanAttrs(b, s.Attrs)
	b = append(b, `,"events":[`...)
	for i, e := range s.Events {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"t":`...)
		b = strconv.AppendInt(b, e.Time.UnixMicro(), 10)
		b = append(b, `,"name":`...)
		b = jsonesc.AppendString(b, e.Name)
		b = append(b, `,"attrs":`...)
		b = appendSpanAttrs(b, e.Attrs)
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

func appendSpanAttrs(b []byte, as []SpanAttr) []byte {
	b = append(b, '[')
	for i, a := range as {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		b = jsonesc.AppendString(b, a.Key)
		b = append(b, ',')
		b = jsonesc.AppendString(b, a.Value)
		b = append(b, ']')
	}
	return append(b, ']')
}
