package budget

import (
	"log/slog"
	"strconv"
	"unicode/utf8"
)

// Budget bounds one log record. A zero field means its default, given in
// the field's comment; a negative field also means the default (there is
// no "unlimited").
type Budget struct {
	// MaxDepth is how deep groups and nested values may go below a
	// top-level attribute; open WithGroup groups count. Each group, map,
	// slice, array, struct and pointer is one level. Default: 32.
	MaxDepth int

	// MaxAttrs is how many attributes one record may hold, counting every
	// group member, map entry, struct field and slice element. Default:
	// 1024.
	MaxAttrs int

	// MaxValueBytes is the longest string value, key, message or encoded
	// leaf written whole; longer ones are cut and end in "!TRUNCATED".
	// Default: 65536 (64 KiB).
	MaxValueBytes int

	// MaxRecordBytes bounds the keys and string values of a record, all
	// together; the attributes past it are left out and counted in
	// "!ATTRS". Default: 1048576 (1 MiB).
	MaxRecordBytes int
}

// The defaults of a zero Budget.
const (
	DefaultMaxDepth       = 32
	DefaultMaxAttrs       = 1024
	DefaultMaxValueBytes  = 64 << 10
	DefaultMaxRecordBytes = 1 << 20
)

// WithDefaults returns b with every zero or negative field set to its
// default.
func (b Budget) WithDefaults() Budget {
	if b.MaxDepth <= 0 {
		b.MaxDepth = DefaultMaxDepth
	}
	if b.MaxAttrs <= 0 {
		b.MaxAttrs = DefaultMaxAttrs
	}
	if b.MaxValueBytes <= 0 {
		b.MaxValueBytes = DefaultMaxValueBytes
	}
	if b.MaxRecordBytes <= 0 {
		b.MaxRecordBytes = DefaultMaxRecordBytes
	}
	return b
}

// Markers written in place of what a budget left out; see the package
// documentation.
const (
	Depth     = "!DEPTH"
	Cycle     = "!CYCLE"
	Panic     = "!PANIC"
	Truncated = "!TRUNCATED"
	Attrs     = "!ATTRS"
	// Redacted replaces the value of a sensitive key.
	Redacted = "[REDACTED]"
)

// maxResolve is how many LogValue calls a value may take before it is
// taken for a cycle.
const maxResolve = 8

// Resolve returns v with its LogValuers resolved, like slog.Value.Resolve,
// except that a LogValue method that panics gives the string [Panic] and
// one that keeps returning LogValuers (itself, for instance) gives the
// string [Cycle]. Only the top value is resolved; groups are not walked.
func Resolve(v slog.Value) (out slog.Value) {
	if v.Kind() != slog.KindLogValuer {
		return v
	}
	defer func() {
		if recover() != nil {
			out = slog.StringValue(Panic)
		}
	}()
	for range maxResolve {
		v = v.LogValuer().LogValue()
		if v.Kind() != slog.KindLogValuer {
			return v
		}
	}
	return slog.StringValue(Cycle)
}

// Truncate returns s when it is at most max bytes long; otherwise its
// first max bytes at most, cut on a UTF-8 boundary, followed by
// [Truncated].
func Truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	return s[:cut(s, max)] + Truncated
}

// cut returns the largest n <= max at which s can be cut without splitting
// a UTF-8 sequence (invalid bytes count as sequences of one).
func cut(s string, max int) int {
	n := max
	for i := 0; i < utf8.UTFMax && n > 0 && !utf8.RuneStart(s[n]); i++ {
		n--
	}
	if n > 0 && !utf8.RuneStart(s[n]) {
		return max // not UTF-8 here anyway
	}
	return n
}

// Limiter applies a Budget, and optionally redaction, to records,
// attributes and values. It is immutable and safe for concurrent use; the
// zero Limiter is not usable, use [New].
type Limiter struct {
	b      Budget
	redact func(key string) bool
}

// New returns a Limiter for b (zero fields meaning defaults). When redact
// is not nil, every attribute, map entry and struct field whose key it
// accepts has its value replaced by [Redacted]; redact must be safe for
// concurrent use and should not allocate.
func New(b Budget, redact func(key string) bool) *Limiter {
	return &Limiter{b: b.WithDefaults(), redact: redact}
}

// Budget returns the budget in effect, defaults filled in.
func (l *Limiter) Budget() Budget { return l.b }

// Record returns r unchanged and false when it fits the budget and holds
// nothing to rewrite; this costs one pass over its attributes and no
// allocation. Otherwise it returns a new record (same time, level, PC) and
// true: message and strings truncated, LogValuers resolved, composite
// values sanitized, groups past the depth budget replaced by [Depth],
// attributes past the count or size budget left out and counted, and, with
// a redact predicate, sensitive values replaced. r itself is never
// changed.
//
// depth is the number of groups already open (WithGroup) above the
// record's attributes; all means that every value is sensitive (they are
// logged inside a group whose name is).
func (l *Limiter) Record(r slog.Record, depth int, all bool) (slog.Record, bool) {
	if !l.recordNeeds(&r, depth, all) {
		return r, false
	}
	w := walker{l: l}
	nr := slog.NewRecord(r.Time, r.Level, w.str(r.Message), r.PC)
	dropped := 0
	r.Attrs(func(a slog.Attr) bool {
		if out, ok := w.attr(a, depth, all); ok {
			nr.AddAttrs(out)
		} else {
			dropped++
		}
		return true
	})
	if dropped > 0 {
		nr.AddAttrs(slog.Int(Attrs, dropped))
	}
	return nr, true
}

// Attrs returns attrs when they fit a fresh budget and hold nothing to
// rewrite, or a new slice with the same rewriting as Record otherwise.
// Handlers call it from WithAttrs, so that each WithAttrs call has a
// budget of its own. attrs itself is never changed.
func (l *Limiter) Attrs(attrs []slog.Attr, depth int, all bool) []slog.Attr {
	var c counter
	need := len(attrs) > l.b.MaxAttrs
	for i := 0; i < len(attrs) && !need; i++ {
		need = l.needs(attrs[i], depth, all, &c)
	}
	if !need {
		return attrs
	}
	w := walker{l: l}
	return w.group(attrs, depth, all)
}

// Attr returns a rewritten as Record would rewrite it as the only
// attribute of a record at the given depth.
func (l *Limiter) Attr(a slog.Attr, depth int) slog.Attr {
	var c counter
	if !l.needs(a, depth, false, &c) {
		return a
	}
	w := walker{l: l}
	out, _ := w.attr(a, depth, false)
	return out
}

// Sanitize returns x as a plain acyclic tree within a fresh budget (see the
// package documentation for the types it may hold), with sensitive map
// entries and struct fields redacted when the Limiter redacts. Unlike
// Record, maps stay map[string]any.
func (l *Limiter) Sanitize(x any) any {
	w := walker{l: l}
	return w.value(x, 0, false)
}

// recordNeeds reports whether r must be rewritten: the check of Record,
// one pass over r's attributes without allocating or copying r. Without a
// redact predicate, attributes of scalar kinds (which hold no strings and
// nothing to resolve) are checked here, inline; every other attribute goes
// through needs.
func (l *Limiter) recordNeeds(r *slog.Record, depth int, all bool) bool {
	if len(r.Message) > l.b.MaxValueBytes || r.NumAttrs() > l.b.MaxAttrs {
		return true
	}
	c := counter{bytes: len(r.Message)}
	need := false
	r.Attrs(func(a slog.Attr) bool {
		if l.redact == nil {
			switch a.Value.Kind() {
			case slog.KindInt64, slog.KindUint64, slog.KindFloat64, slog.KindBool,
				slog.KindDuration, slog.KindTime:
				c.attrs++
				c.bytes += len(a.Key)
				need = c.attrs > l.b.MaxAttrs || len(a.Key) > l.b.MaxValueBytes ||
					c.bytes > l.b.MaxRecordBytes
				return !need
			}
		}
		need = l.needs(a, depth, all, &c)
		return !need
	})
	return need
}

// counter tracks the budget during the check that allocates nothing.
type counter struct {
	attrs, bytes int
}

// needs reports whether a must be rewritten.
func (l *Limiter) needs(a slog.Attr, depth int, all bool, c *counter) bool {
	c.attrs++
	c.bytes += len(a.Key)
	if c.attrs > l.b.MaxAttrs || len(a.Key) > l.b.MaxValueBytes {
		return true
	}
	if l.redact != nil && a.Key != "" && l.redact(a.Key) {
		return true
	}
	switch v := a.Value; v.Kind() {
	case slog.KindString:
		c.bytes += len(v.String())
		if len(v.String()) > l.b.MaxValueBytes {
			return true
		}
	case slog.KindLogValuer:
		return true
	case slog.KindAny:
		if l.needsSanitize(v.Any()) {
			return true
		}
	case slog.KindGroup:
		g := v.Group()
		if depth >= l.b.MaxDepth && len(g) > 0 {
			return true
		}
		for _, ga := range g {
			if l.needs(ga, depth+1, all, c) {
				return true
			}
		}
		return c.bytes > l.b.MaxRecordBytes
	}
	if all && l.redact != nil && !isEmpty(a) {
		return true
	}
	return c.bytes > l.b.MaxRecordBytes
}

// isEmpty reports whether a is the empty Attr, which handlers ignore. It
// never compares values, which could panic for maps.
func isEmpty(a slog.Attr) bool {
	return a.Key == "" && a.Value.Kind() == slog.KindAny && a.Value.Any() == nil
}

// walker carries the remaining budget of one record (or one WithAttrs
// call, or one Sanitize call) through the whole walk.
type walker struct {
	l            *Limiter
	attrs, bytes int
	// The maps, slices and pointers being walked: the first ones in
	// pathArr, the others (past 16 levels) in pathMore.
	pathN    int
	pathArr  [16]uintptr
	pathMore []uintptr
}

// full reports whether the count or size budget is spent.
func (w *walker) full() bool {
	return w.attrs >= w.l.b.MaxAttrs || w.bytes >= w.l.b.MaxRecordBytes
}

// str returns s within MaxValueBytes and counts it.
func (w *walker) str(s string) string {
	s = Truncate(s, w.l.b.MaxValueBytes)
	w.bytes += len(s)
	return s
}

// attr returns a rewritten, or false when the budget left no room for it.
func (w *walker) attr(a slog.Attr, depth int, all bool) (slog.Attr, bool) {
	if isEmpty(a) {
		return a, true
	}
	if w.full() {
		return a, false
	}
	w.attrs++
	sensitive := w.sensitive(a.Key) // the whole key, before it is cut
	a.Key = w.str(a.Key)
	if sensitive {
		a.Value = slog.StringValue(Redacted)
		return a, true
	}
	all = all && w.l.redact != nil
	v := Resolve(a.Value)
	switch v.Kind() {
	case slog.KindGroup:
		g := v.Group()
		if len(g) == 0 {
			break
		}
		if depth >= w.l.b.MaxDepth {
			v = slog.StringValue(Depth)
			break
		}
		v = slog.GroupValue(w.group(g, depth+1, all)...)
	case slog.KindAny:
		x := v.Any()
		switch {
		case all && x != nil:
			v = slog.StringValue(Redacted)
		case w.l.needsSanitize(x):
			v = w.top(x, depth, all)
		}
	case slog.KindString:
		if all {
			v = slog.StringValue(Redacted)
		} else {
			v = slog.StringValue(w.str(v.String()))
		}
	default:
		if all {
			v = slog.StringValue(Redacted)
		}
		w.bytes += 8
	}
	a.Value = v
	return a, true
}

// group rewrites the members of a group at depth, adding an [Attrs]
// count of those left out.
func (w *walker) group(g []slog.Attr, depth int, all bool) []slog.Attr {
	n := min(len(g), w.l.b.MaxAttrs-w.attrs+1)
	out := make([]slog.Attr, 0, max(n, 0)+1)
	dropped := 0
	for _, a := range g {
		if b, ok := w.attr(a, depth, all); ok {
			out = append(out, b)
		} else {
			dropped++
		}
	}
	if dropped > 0 {
		out = append(out, slog.Int(Attrs, dropped))
	}
	return out
}

// dropped is the marker element of a slice with n elements left out.
func dropped(n int) string { return Attrs + "=" + strconv.Itoa(n) }
