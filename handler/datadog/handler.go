package datadog

import (
	"context"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/realtimeserver/observability/internal/budget"
	"github.com/realtimeserver/observability/internal/jsonesc"
)

var _ slog.Handler = (*Handler)(nil)

// Handler is a slog.Handler that ships records to Datadog's HTTP logs
// intake. Handle encodes a record once and puts it on a bounded queue; one
// sender goroutine batches, compresses and posts the queue. Handle never
// waits for the network and never fails: a record that cannot be queued is
// dropped and counted in Stats.
//
// A Handler and the Handlers derived from it by WithAttrs and WithGroup
// share one queue and one sender; all methods are safe for concurrent use.
// Close (on any of them) stops the sender.
type Handler struct {
	c *core

	// pre holds the attributes from WithAttrs, rendered as members of the
	// entry (each preceded by a comma), inside the first nOpen of groups,
	// which pre has opened and not closed. groups holds at most MaxDepth-1
	// names (see WithGroup).
	pre    []byte
	groups []string
	nOpen  int

	// std holds the standard attributes (see standard.go) given to
	// WithAttrs at the root, written at the end of each entry.
	std std
}

// New returns a Handler shipping to the intake that opts names, and starts
// its sender. opts is required (APIKey has no default) and never written
// to. The error names the first invalid option; it never contains the API
// key. Call Close to deliver what is queued and stop the sender.
func New(opts *Options) (*Handler, error) { return newHandler(opts, nil) }

// newHandler is New with a hook that may adjust the core before the sender
// starts (tests shorten the retry backoff).
func newHandler(opts *Options, hook func(*core)) (*Handler, error) {
	if opts == nil {
		opts = &Options{}
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	var hooks []func(*core)
	if hook != nil {
		hooks = append(hooks, hook)
	}
	c := newCore(cfg, hooks...)
	c.start()
	return &Handler{c: c}, nil
}

// Enabled reports whether level is at least Options.Level, read now.
func (h *Handler) Enabled(_ context.Context, level slog.Level) bool {
	return level >= h.c.cfg.level.Level()
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// maxPooled is the largest buffer kept for reuse.
const maxPooled = 64 << 10

// Handle encodes r and queues it. It returns nil: a record that cannot be
// queued (queue full, handler closed, too large even when truncated) is
// dropped and counted in Stats.
func (h *Handler) Handle(_ context.Context, r slog.Record) error {
	c := h.c
	bp := bufPool.Get().(*[]byte)
	b := h.entry((*bp)[:0], r)
	c.push(b)
	if cap(b) <= maxPooled {
		*bp = b
		bufPool.Put(bp)
	}
	return nil
}

// entry appends r as the entry Handle queues: within the record budget
// (see package internal/budget: depth, attributes, value and record size,
// cycles, panicking methods, each past its bound replaced by a marker),
// and within MaxRecordBytes, shortened if need be, or empty when even the
// shortest form does not fit.
func (h *Handler) entry(b []byte, r slog.Record) []byte {
	h.c.lim.Apply(&r, len(h.groups), false)
	b = h.encode(b, &r)
	if len(b) > h.c.cfg.maxRecordBytes {
		b = h.encodeShortened(b[:0], &r)
	}
	return b
}

// appendHead appends the start of an entry: status, timestamp and message.
func appendHead(b []byte, r *slog.Record, msg string) []byte {
	b = append(b, `{"status":"`...)
	b = append(b, statusOf(r.Level)...)
	b = append(b, '"')
	if !r.Time.IsZero() {
		b = append(b, `,"timestamp":`...)
		b = strconv.AppendInt(b, r.Time.UnixMilli(), 10)
	}
	b = append(b, `,"message":`...)
	return appendString(b, msg)
}

// encode appends r as one JSON entry.
func (h *Handler) encode(b []byte, r *slog.Record) []byte {
	b = appendHead(b, r, r.Message)
	b = append(b, h.c.static...)
	b = append(b, h.pre...)

	st := h.std
	if r.NumAttrs() > 0 {
		root := len(h.groups) == 0
		lvl := len(h.groups) + 1
		mark := len(b)
		b = appendGroups(b, h.groups, h.nOpen)
		sep := len(h.groups) == h.nOpen // else a group was just opened
		open := len(b)
		r.Attrs(func(a slog.Attr) bool {
			var w bool
			if root {
				b, w = h.c.appendRootAttr(b, a, sep, &st)
			} else {
				b, w = appendAttr(b, a, sep, false, lvl)
			}
			sep = sep || w
			return true
		})
		if len(b) == open {
			b = b[:mark]
		} else {
			for range len(h.groups) - h.nOpen {
				b = append(b, '}')
			}
		}
	}
	for range h.nOpen {
		b = append(b, '}')
	}
	b = appendStd(b, &st)
	return append(b, '}')
}

// appendRootAttr appends a, an attribute at the root of an entry, unless
// the table of standard attributes takes it into st (see core.takeStd); the
// members of an inline group are taken one by one.
func (c *core) appendRootAttr(b []byte, a slog.Attr, sep bool, st *std) ([]byte, bool) {
	a.Value = a.Value.Resolve()
	if a.Key == "" && a.Value.Kind() == slog.KindGroup {
		wrote := false
		for _, ga := range a.Value.Group() {
			var w bool
			if b, w = c.appendRootAttr(b, ga, sep, st); w {
				sep, wrote = true, true
			}
		}
		return b, wrote
	}
	if c.takeStd(st, a) {
		return b, false
	}
	return appendAttr(b, a, sep, true, 1)
}

// appendGroups opens groups[nOpen:], each a member of the one before; the
// first is preceded by a comma, since the entry's header or the attributes
// of pre precede it. A group opened at the root has its name written as an
// attribute's key at the root would be.
func appendGroups(b []byte, groups []string, nOpen int) []byte {
	for i, g := range groups[nOpen:] {
		if i == 0 {
			b = append(b, ',')
		}
		b = appendKey(b, g, nOpen+i == 0)
		b = append(b, ':', '{')
	}
	return b
}

// encodeShortened appends r, too large as it is, in a form that fits in
// MaxRecordBytes, marked "truncated":true: first with each long string (the
// message, attribute values) cut to an eighth of MaxRecordBytes, so that
// the short attributes survive; failing that, as encodeTruncated does.
func (h *Handler) encodeShortened(b []byte, r *slog.Record) []byte {
	limit := max(h.c.cfg.maxRecordBytes/8, 64)
	r2 := slog.NewRecord(r.Time, r.Level, budget.Cut(r.Message, limit), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		r2.AddAttrs(shortenAttr(a, limit))
		return true
	})
	b = h.encode(b, &r2)
	if len(b)+len(truncatedMarker) <= h.c.cfg.maxRecordBytes {
		b = append(b[:len(b)-1], truncatedMarker...) // before the closing brace
		return append(b, '}')
	}
	return h.encodeTruncated(b[:0], r)
}

const truncatedMarker = `,"truncated":true`

// shortenAttr returns a with string values longer than limit cut, and
// other values whose JSON is longer than limit replaced by that JSON cut.
func shortenAttr(a slog.Attr, limit int) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		a.Value = slog.StringValue(budget.Cut(v.String(), limit))
	case slog.KindGroup:
		attrs := v.Group()
		short := make([]slog.Attr, len(attrs))
		for i, ga := range attrs {
			short[i] = shortenAttr(ga, limit)
		}
		a.Value = slog.GroupValue(short...)
	case slog.KindAny:
		if js := appendValue(nil, v, 1); len(js) > limit {
			a.Value = slog.StringValue(budget.Cut(string(js), limit))
		} else {
			a.Value = v
		}
	default:
		a.Value = v
	}
	return a
}

// encodeTruncated appends r without its attributes, its message cut so
// that the entry fits in MaxRecordBytes, and "truncated":true; of the
// standard attributes it keeps the trace and span ids. It returns b
// unchanged in length (so empty) when even that does not fit.
func (h *Handler) encodeTruncated(b []byte, r *slog.Record) []byte {
	var st std
	full := h.std
	if len(h.groups) == 0 {
		r.Attrs(func(a slog.Attr) bool {
			switch a.Key {
			case "trace_id", "dd.trace_id", "span_id", "dd.span_id":
				h.c.takeStd(&full, slog.Attr{Key: a.Key, Value: a.Value.Resolve()})
			}
			return true
		})
	}
	st.set, st.otel = full.set&idSlots, full.otel
	st.v[slotTraceID], st.v[slotSpanID] = full.v[slotTraceID], full.v[slotSpanID]
	if len(st.v[slotTraceID].String())+len(st.v[slotSpanID].String()) > 128 {
		st = std{} // ids are short; these are not ids
	}
	// Measure everything but the message, then fit the message.
	b = appendHead(b, r, "")
	b = append(b, h.c.static...)
	b = append(b, truncatedMarker...)
	b = appendStd(b, &st)
	b = append(b, '}')
	room := h.c.cfg.maxRecordBytes - len(b)
	if room < 0 {
		return b[:0]
	}
	msg := jsonesc.Prefix(r.Message, room)
	b = appendHead(b[:0], r, msg)
	b = append(b, h.c.static...)
	b = append(b, truncatedMarker...)
	b = appendStd(b, &st)
	return append(b, '}')
}

// WithAttrs returns a Handler whose entries also hold attrs, rendered now.
// It returns h itself when attrs is empty.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	h2 := *h
	attrs = h.c.lim.Attrs(attrs, len(h.groups), false)
	root := len(h.groups) == 0
	lvl := len(h.groups) + 1
	pre := make([]byte, len(h.pre), len(h.pre)+64*len(attrs))
	copy(pre, h.pre)
	mark := len(pre)
	pre = appendGroups(pre, h.groups, h.nOpen)
	sep := len(h.groups) == h.nOpen // else a group was just opened
	open := len(pre)
	for _, a := range attrs {
		var w bool
		if root {
			pre, w = h.c.appendRootAttr(pre, a, sep, &h2.std)
		} else {
			pre, w = appendAttr(pre, a, sep, false, lvl)
		}
		sep = sep || w
	}
	if len(pre) == open {
		pre = pre[:mark]
	} else {
		h2.nOpen = len(h.groups)
	}
	h2.pre = slices.Clip(pre)
	return &h2
}

// maxGroupName bounds the name of the innermost group when WithGroup names
// beyond MaxDepth-1 groups are joined into it.
const maxGroupName = 256

// WithGroup returns a Handler that puts the attributes that follow in a
// JSON object named name. It returns h itself when name is empty. Past
// MaxDepth-1 groups, name is joined to the innermost group's name with a
// dot (past maxGroupName bytes, "!DEPTH" is joined instead, once), or, when
// WithAttrs has put attributes in the innermost group already, ignored:
// what follows joins that group.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	if n := len(h.groups); n >= MaxDepth-1 {
		if n == h.nOpen { // the innermost group holds attributes already
			return h
		}
		last := h.groups[n-1]
		switch {
		case strings.HasSuffix(last, "."+budget.Depth):
			return h
		case len(last)+1+len(name) > maxGroupName:
			name = last + "." + budget.Depth
		default:
			name = last + "." + name
		}
		h2.groups = append(slices.Clip(h.groups[:n-1]), name)
		return &h2
	}
	h2.groups = append(slices.Clip(h.groups), name)
	return &h2
}

// Flush returns once every record queued before the call has been sent or
// dropped (see Stats), or returns an error saying how many are still
// undelivered when ctx ends first. It does not stop the sender. While it
// waits, a failing batch is retried at once, then at least every 500 ms; a
// Retry-After is honoured only as far as ctx's deadline allows; and each
// request, the one in flight included, is bounded by a third of the time
// left, so that a request that hangs leaves room for a retry.
func (h *Handler) Flush(ctx context.Context) error { return h.c.q.Flush(ctx) }

// Close stops accepting records (later ones are dropped as closed),
// flushes the queue until ctx ends (retrying as Flush does), then stops
// the sender. It returns an error saying how many of the records queued
// when it began were not delivered, and why: when ctx ends first, the
// request in flight is abandoned, what is left is dropped as closed and
// the error wraps ctx's. No goroutine of the Handler outlives Close. Later
// calls return the first call's result.
func (h *Handler) Close(ctx context.Context) error { return h.c.close(ctx) }

// Stats returns a consistent snapshot of the counters: at every moment
// Sent + Dropped.Total() + QueueLength == Enqueued.
func (h *Handler) Stats() Stats { return h.c.stats() }
