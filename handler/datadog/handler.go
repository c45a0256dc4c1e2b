package datadog

import (
	"context"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"
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
	// which pre has opened and not closed.
	pre    []byte
	groups []string
	nOpen  int

	// preKeys records the root keys pre holds that a record's attributes
	// could repeat (see rootKeys).
	preKeys rootKeys

	// traceID and spanID are correlation ids given to WithAttrs at the root.
	traceID, spanID slog.Value
	hasTrace        uint8 // bit 1: traceID set, bit 2: spanID set
}

// New returns a Handler shipping to the intake that opts names, and starts
// its sender. The error names the first invalid option; it never contains
// the API key. Call Close to deliver what is queued and stop the sender.
func New(opts Options) (*Handler, error) { return newHandler(&opts, nil) }

// newHandler is New with a hook that may adjust the core before the sender
// starts (tests shorten the retry backoff).
func newHandler(opts *Options, hook func(*core)) (*Handler, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	c := newCore(cfg)
	if hook != nil {
		hook(c)
	}
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
	b := h.encode((*bp)[:0], &r)
	if len(b) > c.cfg.maxRecordBytes {
		b = h.encodeShortened(b[:0], &r)
	}
	c.push(b)
	if cap(b) <= maxPooled {
		*bp = b
		bufPool.Put(bp)
	}
	return nil
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

// appendTail appends the "dd" member holding correlation ids, if any, and
// the closing brace of the entry.
func appendTail(b []byte, ids uint8, trace, span slog.Value) []byte {
	if ids != 0 {
		b = append(b, `,"dd":{`...)
		if ids&1 != 0 {
			b = append(b, `"trace_id":`...)
			b = appendIDValue(b, trace)
		}
		if ids&2 != 0 {
			if ids&1 != 0 {
				b = append(b, ',')
			}
			b = append(b, `"span_id":`...)
			b = appendIDValue(b, span)
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

// encode appends r as one JSON entry.
func (h *Handler) encode(b []byte, r *slog.Record) []byte {
	b = appendHead(b, r, r.Message)
	b = append(b, h.c.static...)
	b = append(b, h.pre...)

	ids, trace, span := h.hasTrace, h.traceID, h.spanID
	if r.NumAttrs() > 0 {
		root := len(h.groups) == 0
		rk := h.preKeys
		var rkp *rootKeys // nil below the root
		if root {
			rkp = &rk
		}
		mark := len(b)
		b = appendGroups(b, h.groups, h.nOpen, &rk)
		sep := len(h.groups) == h.nOpen // else a group was just opened
		open := len(b)
		r.Attrs(func(a slog.Attr) bool {
			if root {
				switch traceKey(a.Key) {
				case 1:
					ids, trace = ids|1, a.Value
					return true
				case 2:
					ids, span = ids|2, a.Value
					return true
				}
			}
			var w bool
			if b, w = appendAttr(b, a, sep, rkp); w {
				sep = true
			}
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
	return appendTail(b, ids, trace, span)
}

// appendGroups opens groups[nOpen:], each a member of the one before; the
// first is preceded by a comma, since the entry's header or the attributes
// of pre precede it. A group opened at the root (nOpen is 0) has its name
// written as an attribute's key at the root would be, through rk.
func appendGroups(b []byte, groups []string, nOpen int, rk *rootKeys) []byte {
	for i, g := range groups[nOpen:] {
		if i == 0 {
			b = append(b, ',')
		}
		var root *rootKeys
		if nOpen+i == 0 {
			root = rk
		}
		b = appendKey(b, g, root)
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
	r2 := slog.NewRecord(r.Time, r.Level, cutString(r.Message, limit), r.PC)
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

// cutString returns s cut to at most limit bytes, on a character boundary.
func cutString(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	i := limit
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}

// shortenAttr returns a with string values longer than limit cut, and
// other values whose JSON is longer than limit replaced by that JSON cut.
func shortenAttr(a slog.Attr, limit int) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		a.Value = slog.StringValue(cutString(v.String(), limit))
	case slog.KindGroup:
		attrs := v.Group()
		short := make([]slog.Attr, len(attrs))
		for i, ga := range attrs {
			short[i] = shortenAttr(ga, limit)
		}
		a.Value = slog.GroupValue(short...)
	case slog.KindAny:
		if js := appendValue(nil, v); len(js) > limit {
			a.Value = slog.StringValue(cutString(string(js), limit))
		} else {
			a.Value = v
		}
	default:
		a.Value = v
	}
	return a
}

// encodeTruncated appends r without its attributes, its message cut so
// that the entry fits in MaxRecordBytes, and "truncated":true. It returns
// b unchanged in length (so empty) when even that does not fit.
func (h *Handler) encodeTruncated(b []byte, r *slog.Record) []byte {
	ids, trace, span := h.hasTrace, h.traceID, h.spanID
	if len(h.groups) == 0 {
		r.Attrs(func(a slog.Attr) bool {
			switch traceKey(a.Key) {
			case 1:
				ids, trace = ids|1, a.Value
			case 2:
				ids, span = ids|2, a.Value
			}
			return true
		})
	}
	// Measure everything but the message, then fit the message.
	b = appendHead(b, r, "")
	b = append(b, h.c.static...)
	b = append(b, truncatedMarker...)
	b = appendTail(b, ids, trace, span)
	room := h.c.cfg.maxRecordBytes - len(b)
	if room < 0 {
		return b[:0]
	}
	msg := escapedPrefix(r.Message, room)
	b = appendHead(b[:0], r, msg)
	b = append(b, h.c.static...)
	b = append(b, truncatedMarker...)
	return appendTail(b, ids, trace, span)
}

// WithAttrs returns a Handler whose entries also hold attrs, rendered now.
// It returns h itself when attrs is empty.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	h2 := *h
	root := len(h.groups) == 0
	pre := make([]byte, len(h.pre), len(h.pre)+64*len(attrs))
	copy(pre, h.pre)
	rk := h.preKeys
	var rkp *rootKeys // nil below the root
	if root {
		rkp = &rk
	}
	mark := len(pre)
	pre = appendGroups(pre, h.groups, h.nOpen, &rk)
	sep := len(h.groups) == h.nOpen // else a group was just opened
	open := len(pre)
	for _, a := range attrs {
		if root {
			switch traceKey(a.Key) {
			case 1:
				h2.hasTrace |= 1
				h2.traceID = a.Value.Resolve()
				continue
			case 2:
				h2.hasTrace |= 2
				h2.spanID = a.Value.Resolve()
				continue
			}
		}
		var w bool
		if pre, w = appendAttr(pre, a, sep, rkp); w {
			sep = true
		}
	}
	if len(pre) == open {
		pre = pre[:mark]
	} else {
		h2.nOpen = len(h.groups)
		h2.preKeys = rk
	}
	h2.pre = slices.Clip(pre)
	return &h2
}

// WithGroup returns a Handler that puts the attributes that follow in a
// JSON object named name. It returns h itself when name is empty.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.groups = append(slices.Clip(h.groups), name)
	return &h2
}

// Flush returns once every record queued before the call has been sent or
// dropped (see Stats), or returns an error saying how many are still
// undelivered when ctx ends first. It does not stop the sender.
func (h *Handler) Flush(ctx context.Context) error { return h.c.flush(ctx, "flush") }

// Close stops accepting records (later ones are dropped as closed), flushes
// the queue until ctx ends, then stops the sender. When ctx ends first, the
// in-flight request is abandoned, what is left is dropped as closed and the
// error says how many records were undelivered. No goroutine of the Handler
// outlives Close. Calls after the first return nil once the first is done.
func (h *Handler) Close(ctx context.Context) error { return h.c.close(ctx) }

// Stats returns a consistent snapshot of the counters: at every moment
// Sent + Dropped.Total() + QueueLength == Enqueued.
func (h *Handler) Stats() Stats { return h.c.stats() }
