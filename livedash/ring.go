package livedash

import (
	"context"
	"encoding/binary"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Default bounds of a Ring.
const (
	DefaultRingRecords = 5000
	DefaultRingBytes   = 4 << 20
)

// Per-record budgets of a Ring. Past one, the record is kept with a
// marker attribute (TruncatedKey) and the rest is left out.
const (
	maxRecordAttrs = 64       // leaf attributes per record, With attributes included
	maxDepth       = 8        // nested groups
	maxValueBytes  = 1024     // one rendered value
	maxMsgBytes    = 4096     // the message
	maxRecordBytes = 16 << 10 // the attributes of one record
	entryOverhead  = 96       // what an entry costs beyond its text
)

// TruncatedKey is the attribute a Ring adds to a record it shortened: a
// value over 1 KiB, more than 64 attributes, groups nested deeper than 8,
// or more than 16 KiB of attributes in all.
const TruncatedKey = "!truncated"

// RingOptions configure a Ring. A nil or zero RingOptions consists
// entirely of default values.
type RingOptions struct {
	// Level is the minimum level kept. It is read on every Enabled call,
	// so a *slog.LevelVar works. Default: slog.LevelInfo.
	Level slog.Leveler
	// MaxRecords is the most records kept; the oldest go first.
	// Default: DefaultRingRecords (5000).
	MaxRecords int
	// MaxBytes bounds the memory the kept records take, their text plus
	// a fixed overhead per record; the oldest go first.
	// Default: DefaultRingBytes (4 MiB).
	MaxBytes int
}

// Ring is a slog.Handler that keeps the most recent records in memory, for
// the dashboard's Logs page. Memory is bounded by RingOptions.MaxRecords
// and MaxBytes (with 5000 records of up to 16 KiB of attributes each, the
// byte bound is the one that holds). Values are rendered to text when the
// record is handled, so a kept record holds no reference to the caller's
// data, and every value is cut to a budget first (see TruncatedKey).
//
// Handle never blocks on anything but a short critical section that copies
// an entry in; no method calls out (LogValue, String, Error) while holding
// the lock. A Ring and its With/WithGroup clones share one buffer and are
// safe for concurrent use. Place it behind redaction, as Setup does, so it
// keeps what every other backend sees.
type Ring struct {
	st     *ringStore
	pre    []byte // rendered WithAttrs attributes, shared and never appended to in place
	preN   int    // attributes in pre
	preRID string // request_id among them
	prefix string // open groups, "a.b."
	depth  int    // open groups
	over   bool   // more than maxDepth groups open: attributes are left out
	preCut bool   // pre carries the TruncatedKey marker
}

var _ slog.Handler = (*Ring)(nil)

type ringStore struct {
	level    slog.Leveler
	maxRecs  int
	maxBytes int

	mu      sync.Mutex
	buf     []entry // circular, len == cap == maxRecs once full
	head, n int
	bytes   int
	seq     uint64
	evicted atomic.Uint64
}

// entry is one kept record. pre and own are immutable once stored.
type entry struct {
	seq   uint64
	time  time.Time
	level slog.Level
	msg   string
	rid   string
	pre   []byte // shared with the handler clone that produced it
	own   []byte
	size  int
}

// NewRing returns an empty Ring.
func NewRing(opts *RingOptions) *Ring {
	var o RingOptions
	if opts != nil {
		o = *opts
	}
	if o.Level == nil {
		o.Level = slog.LevelInfo
	}
	if o.MaxRecords <= 0 {
		o.MaxRecords = DefaultRingRecords
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultRingBytes
	}
	return &Ring{st: &ringStore{level: o.Level, maxRecs: o.MaxRecords, maxBytes: o.MaxBytes}}
}

// Enabled reports whether level is at least RingOptions.Level.
func (h *Ring) Enabled(_ context.Context, level slog.Level) bool {
	return level >= h.st.level.Level()
}

// WithAttrs returns a clone whose records carry attrs, rendered once.
func (h *Ring) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	c := *h
	w := attrWriter{dst: append([]byte(nil), h.pre...), n: h.preN, rid: h.preRID, cut: h.over}
	for _, a := range attrs {
		w.attr(h.prefix, h.depth, a)
	}
	if w.n == h.preN && !w.cut {
		return h
	}
	if w.cut && !h.preCut {
		w.dst = appendKV(w.dst, TruncatedKey, "true")
		c.preCut = true
	}
	c.pre, c.preN, c.preRID = w.dst[:len(w.dst):len(w.dst)], w.n, w.rid
	return &c
}

// WithGroup returns a clone whose later attributes are keyed under name.
// Keys are flattened with dots: group "req" and key "id" give "req.id".
func (h *Ring) WithGroup(name string) slog.Handler {
	if name == "" || h.over {
		return h
	}
	c := *h
	if h.depth >= maxDepth {
		// Past the budget, groups stop nesting (and costing): what is
		// logged inside them is left out and the record marked.
		c.over = true
		return &c
	}
	c.prefix = h.prefix + truncate(name, maxValueBytes/4) + "."
	c.depth++
	return &c
}

var ownPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// Handle renders r and keeps it, evicting the oldest records past the
// bounds. It never returns an error.
func (h *Ring) Handle(_ context.Context, r slog.Record) error {
	bp := ownPool.Get().(*[]byte)
	w := attrWriter{dst: (*bp)[:0], n: h.preN, rid: h.preRID, cut: h.over}
	r.Attrs(func(a slog.Attr) bool {
		w.attr(h.prefix, h.depth, a)
		return !w.cut
	})
	if w.cut && !h.preCut {
		w.dst = appendKV(w.dst, TruncatedKey, "true")
	}
	e := entry{time: r.Time, level: r.Level, msg: r.Message, rid: w.rid, pre: h.pre}
	if len(e.msg) > maxMsgBytes {
		e.msg = truncate(e.msg, maxMsgBytes)
	}
	if len(w.dst) > 0 {
		e.own = append([]byte(nil), w.dst...)
	}
	if cap(w.dst) <= 64<<10 {
		*bp = w.dst[:0]
		ownPool.Put(bp)
	}
	e.size = len(e.msg) + len(e.rid) + len(e.own) + entryOverhead
	h.st.put(e)
	return nil
}

func (s *ringStore) put(e entry) {
	s.mu.Lock()
	if s.buf == nil {
		s.buf = make([]entry, s.maxRecs)
	}
	s.seq++
	e.seq = s.seq
	for s.n > 0 && (s.n == s.maxRecs || s.bytes+e.size > s.maxBytes) {
		s.bytes -= s.buf[s.head].size
		s.buf[s.head] = entry{}
		s.head = (s.head + 1) % s.maxRecs
		s.n--
		s.evicted.Add(1)
	}
	s.buf[(s.head+s.n)%s.maxRecs] = e
	s.n++
	s.bytes += e.size
	s.mu.Unlock()
}

// entries returns copies of the kept entries with seq > after, oldest
// first, at most max of them (the newest max when there are more).
func (s *ringStore) entries(after uint64, max int) []entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == 0 || s.seq <= after {
		return nil
	}
	first := s.seq - uint64(s.n) + 1 // seq of the oldest kept
	skip := 0
	if after >= first {
		skip = int(after - first + 1)
	}
	k := s.n - skip
	if max > 0 && k > max {
		skip += k - max
		k = max
	}
	out := make([]entry, k)
	for i := range k {
		out[i] = s.buf[(s.head+skip+i)%s.maxRecs]
	}
	return out
}

// RingStats are a Ring's counts, for its own health.
type RingStats struct {
	// Records and Bytes are what the Ring holds now.
	Records, Bytes int
	// Handled counts every record kept since the Ring was made; Evicted
	// those pushed out since by newer ones.
	Handled, Evicted uint64
}

// Stats returns the Ring's counts.
func (h *Ring) Stats() RingStats {
	s := h.st
	s.mu.Lock()
	defer s.mu.Unlock()
	return RingStats{Records: s.n, Bytes: s.bytes, Handled: s.seq, Evicted: s.evicted.Load()}
}

// attrWriter flattens attributes into (key, value) pairs, each a uvarint
// length and bytes, within the per-record budgets.
type attrWriter struct {
	dst []byte
	n   int
	rid string
	cut bool
}

func (w *attrWriter) attr(prefix string, depth int, a slog.Attr) {
	if w.cut {
		return
	}
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		g := v.Group()
		if len(g) == 0 {
			return
		}
		if depth >= maxDepth {
			w.cut = true
			return
		}
		p := prefix
		if a.Key != "" {
			p = prefix + a.Key + "."
		}
		for _, ga := range g {
			w.attr(p, depth+1, ga)
		}
		return
	}
	if a.Key == "" && v.Any() == nil {
		return // the empty Attr is ignored
	}
	if w.n >= maxRecordAttrs || len(w.dst) >= maxRecordBytes {
		w.cut = true
		return
	}
	key := a.Key
	if len(key) > maxValueBytes/4 {
		key, w.cut = truncate(key, maxValueBytes/4), true
	}
	w.dst = binary.AppendUvarint(w.dst, uint64(len(prefix)+len(key)))
	w.dst = append(w.dst, prefix...)
	w.dst = append(w.dst, key...)
	lenAt := len(w.dst)
	w.dst = append(w.dst, 0, 0) // room for a two-byte uvarint length
	valAt := len(w.dst)
	var cut bool
	w.dst, cut = appendValue(w.dst, v, maxValueBytes)
	w.cut = w.cut || cut
	vl := len(w.dst) - valAt
	// Re-encode the length in place: values are at most maxValueBytes+3
	// bytes, which fits two uvarint bytes.
	var lb [binary.MaxVarintLen64]byte
	m := binary.PutUvarint(lb[:], uint64(vl))
	if m == 1 {
		copy(w.dst[lenAt+1:], w.dst[valAt:])
		w.dst = w.dst[:len(w.dst)-1]
	}
	copy(w.dst[lenAt:lenAt+m], lb[:m])
	w.n++
	if w.rid == "" && key == RequestIDKey && vl > 0 {
		if v.Kind() == slog.KindString && string(w.dst[len(w.dst)-vl:]) == v.String() {
			w.rid = v.String() // as rendered: shared, not copied
		} else {
			w.rid = string(w.dst[len(w.dst)-vl:])
		}
	}
}

// RequestIDKey is the attribute whose value the Logs page offers as a
// request filter: the key enrich adds.
const RequestIDKey = "request_id"

func appendKV(dst []byte, k, v string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(k)))
	dst = append(dst, k...)
	dst = binary.AppendUvarint(dst, uint64(len(v)))
	return append(dst, v...)
}

// eachKV calls f for each pair rendered by attrWriter.
func eachKV(b []byte, f func(k, v []byte)) {
	for len(b) > 0 {
		kl, n := binary.Uvarint(b)
		if n <= 0 || uint64(len(b)-n) < kl {
			return
		}
		k := b[n : n+int(kl)]
		b = b[n+int(kl):]
		vl, n := binary.Uvarint(b)
		if n <= 0 || uint64(len(b)-n) < vl {
			return
		}
		f(k, b[n:n+int(vl)])
		b = b[n+int(vl):]
	}
}

// truncate cuts s to at most max bytes on a rune boundary, ending in "…",
// and returns a copy that does not keep s alive.
func truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	i := max - len("…")
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return strings.Clone(s[:i]) + "…"
}

// filter returns copies of the newest max entries for which keep is true,
// oldest first. keep runs under the lock: it must be this package's own
// code, quick, and call nothing outside.
func (s *ringStore) filter(keep func(*entry) bool, max int) []entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []entry
	for i := s.n - 1; i >= 0 && (max <= 0 || len(out) < max); i-- {
		e := &s.buf[(s.head+i)%s.maxRecs]
		if keep(e) {
			out = append(out, *e)
		}
	}
	slices.Reverse(out)
	return out
}

// logJSON is a record as the Logs page receives it.
type logJSON struct {
	Seq   uint64      `json:"seq"`
	T     int64       `json:"t"` // Unix milliseconds
	Level string      `json:"level"`
	Msg   string      `json:"msg"`
	RID   string      `json:"rid,omitempty"`
	Attrs [][2]string `json:"attrs"`
}

func toJSON(e *entry) logJSON {
	j := logJSON{Seq: e.seq, T: e.time.UnixMilli(), Level: e.level.String(), Msg: e.msg, RID: e.rid, Attrs: [][2]string{}}
	f := func(k, v []byte) { j.Attrs = append(j.Attrs, [2]string{string(k), string(v)}) }
	eachKV(e.pre, f)
	eachKV(e.own, f)
	return j
}
