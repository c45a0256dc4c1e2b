package budget

import (
	"log/slog"
	"strconv"
	"strings"
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

	// MaxRecordBytes bounds the keys and values of a record, all
	// together, strings by their length and other scalars 8 bytes each;
	// the attributes that come once it is spent are left out and counted
	// in "!ATTRS". Default: 1048576 (1 MiB).
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

// Cut returns s when it is at most max bytes long; otherwise the longest
// prefix of s of at most max bytes that does not split a UTF-8 sequence
// (an invalid byte counts as a sequence of one). It is the one place
// where the kit cuts text: [Truncate] marks the cut, other writers (the
// Datadog encoder, the dashboard's ring, OTLP) add their own marker or
// none.
func Cut(s string, max int) string {
	if len(s) <= max {
		return s
	}
	if max <= 0 {
		return ""
	}
	// Find the sequence that holds the byte at max-1: it starts at most
	// UTFMax-1 bytes before it.
	for i := max - 1; i >= 0 && i > max-utf8.UTFMax; i-- {
		if utf8.RuneStart(s[i]) {
			if _, size := utf8.DecodeRuneInString(s[i:]); i+size > max {
				return s[:i]
			}
			break
		}
	}
	return s[:max]
}

// Truncate returns s when it is at most max bytes long; otherwise
// [Cut](s, max) followed by [Truncated].
func Truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	return Cut(s, max) + Truncated
}

// Limiter applies a Budget, and optionally redaction, to records,
// attributes and values. It is immutable and safe for concurrent use; the
// zero Limiter is not usable, use [New] or [NewEncodable].
type Limiter struct {
	b      Budget
	keys   Keys // nil: no redaction
	minKey int  // keys shorter than this are not sensitive: keys is not asked
	// encodable: values of kind Any that fit are left as they are, for a
	// writer that renders them with encoding/json (see NewEncodable).
	encodable bool
}

// Keys tells which keys are sensitive, for a Limiter that redacts.
type Keys interface {
	// Sensitive reports whether key is sensitive. It must be safe for
	// concurrent use and should not allocate.
	Sensitive(key string) bool

	// MinLen is the length in bytes of the shortest key Sensitive may
	// accept: shorter keys are not asked about, which saves a call for
	// the short keys most records hold. The empty key is never sensitive.
	MinLen() int
}

// KeyFunc is the Keys of a function: every key but the empty one may be
// sensitive.
type KeyFunc func(key string) bool

// Sensitive reports f(key).
func (f KeyFunc) Sensitive(key string) bool { return f(key) }

// MinLen returns 1.
func (KeyFunc) MinLen() int { return 1 }

// New returns a Limiter for b (zero fields meaning defaults). When keys
// is not nil, every attribute, map entry and struct field whose key is
// sensitive has its value replaced by [Redacted].
//
// Values of kind slog.KindAny that are composite or run user code
// (see the package documentation) are always rewritten into plain values,
// a map or struct into a group: a writer sees only groups, scalars,
// strings and plain leaves.
func New(b Budget, keys Keys) *Limiter {
	l := &Limiter{b: b.WithDefaults(), keys: keys}
	if keys != nil {
		l.minKey = max(keys.MinLen(), 1)
	}
	return l
}

// NewEncodable returns a Limiter for b, without redaction, for a writer
// that renders values of kind slog.KindAny itself, with encoding/json, as
// slog's JSON handler does. Such a value is left as it is when it fits
// what is left of the budget: its depth, elements, strings and, in bytes,
// its leaves, checked by reflection without calling any of its methods.
// Values with methods the budget cannot see into (error, json.Marshaler,
// encoding.TextMarshaler) are left to the writer, which bounds what they
// write. A value that does not fit is rewritten as [New]'s Limiter
// rewrites it.
func NewEncodable(b Budget) *Limiter {
	return &Limiter{b: b.WithDefaults(), encodable: true}
}

// Budget returns the budget in effect, defaults filled in.
func (l *Limiter) Budget() Budget { return l.b }

// Apply holds *r to the budget. When r fits and holds nothing to rewrite,
// it leaves *r as it is and returns false; this costs one pass over its
// attributes and no allocation. Otherwise it sets *r to a new record (same
// time, level, PC) and returns true: message and strings truncated,
// LogValuers resolved, composite values sanitized, groups past the depth
// budget replaced by [Depth], attributes past the count or size budget
// left out and counted, and, when the Limiter redacts, sensitive values
// replaced. The record *r held is never changed, only replaced: it may
// share its attributes with the caller's. A record that Apply wrote
// passes it unchanged, so that handlers in a row rewrite a record once;
// short of the few bytes the walk may write past MaxRecordBytes in its
// last attribute, and of a map or struct the budget ran out in (its
// entries are counted in the map's order and written sorted by key).
//
// depth is the number of groups already open (WithGroup) above the
// record's attributes; all means that every value is sensitive (they are
// logged inside a group whose name is). Handlers call Apply on the record
// Handle was given, which is theirs: a slog.Record is large, and Apply
// copies it only when it rewrites it.
func (l *Limiter) Apply(r *slog.Record, depth int, all bool) bool {
	var k Check
	if l.Begin(&k, r, depth, all) {
		fits := true
		r.Attrs(func(a slog.Attr) bool {
			fits = l.Fits(&k, a)
			return fits
		})
		if fits {
			return false
		}
	}
	l.rewrite(r, depth, all)
	return true
}

// rewrite sets *r to the record the walk makes of it.
func (l *Limiter) rewrite(r *slog.Record, depth int, all bool) {
	w := walker{l: l}
	nr := slog.NewRecord(r.Time, r.Level, w.str(r.Message), r.PC)
	dropped, i, n := 0, 0, r.NumAttrs()
	r.Attrs(func(a slog.Attr) bool {
		i++
		switch {
		case isEmpty(a):
			return true
		case w.ownMarker(a, i == n, dropped):
			nr.AddAttrs(a)
			return true
		}
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
	*r = nr
}

// Attrs returns attrs when they fit a fresh budget and hold nothing to
// rewrite, or a new slice with the same rewriting as Apply otherwise.
// Handlers call it from WithAttrs, so that each WithAttrs call has a
// budget of its own. attrs itself is never changed.
func (l *Limiter) Attrs(attrs []slog.Attr, depth int, all bool) []slog.Attr {
	var c counter
	need := len(attrs) > l.b.MaxAttrs+1
	for i := 0; i < len(attrs) && !need; i++ {
		need = l.needs(attrs[i], depth, all, i == len(attrs)-1, &c)
	}
	if !need {
		return attrs
	}
	w := walker{l: l}
	return w.group(attrs, depth, all)
}

// Attr returns a rewritten as Apply would rewrite it as the only
// attribute of a record at the given depth.
func (l *Limiter) Attr(a slog.Attr, depth int) slog.Attr {
	var c counter
	if !l.needs(a, depth, false, true, &c) {
		return a
	}
	w := walker{l: l}
	out, _ := w.attr(a, depth, false)
	return out
}

// Sanitize returns x as a plain acyclic tree within a fresh budget (see the
// package documentation for the types it may hold), with sensitive map
// entries and struct fields redacted when the Limiter redacts. Unlike
// Apply, maps stay map[string]any.
func (l *Limiter) Sanitize(x any) any {
	w := walker{l: l}
	return w.value(x, 0, false)
}

// counter is the budget spent so far: the attributes counted against
// MaxAttrs and the bytes against MaxRecordBytes. The check (needs) and the
// rewriting walk (walker) count alike, so that a record the check passes
// is one the walk would leave unchanged, and what the walk writes passes
// the check: Apply rewrites once, however many handlers a record goes
// through.
type counter struct {
	attrs, bytes int
}

// scalarBytes is what a number, bool, time or duration counts against
// MaxRecordBytes: about the bytes it takes written.
const scalarBytes = 8

// spent reports whether the budget has no room left for one more
// attribute: the walk leaves out every attribute that comes when it is.
func (l *Limiter) spent(c *counter) bool {
	return c.attrs >= l.b.MaxAttrs || c.bytes >= l.b.MaxRecordBytes
}

// long reports whether s is too long to be written whole: longer than
// MaxValueBytes, unless it is what Truncate made of a longer one.
func (l *Limiter) long(s string) bool {
	return len(s) > l.b.MaxValueBytes &&
		!(len(s) <= l.b.MaxValueBytes+len(Truncated) && strings.HasSuffix(s, Truncated))
}

// Check is the state of the check of Apply taken one attribute at a time,
// for a writer that holds a record to the budget in the pass that writes
// it: it calls [Limiter.Begin], then [Limiter.Fits] before it writes each
// attribute of the record, in order. When Begin or Fits reports false,
// the record does not fit as it is: the writer drops what it wrote of it,
// calls Apply and writes the record Apply made, which fits. A Check lives
// on the writer's stack; it holds no pointer and allocates nothing.
type Check struct {
	c     counter
	depth int
	i, n  int
	all   bool
}

// Begin starts k, the check of r at depth open groups (all: every value
// is sensitive), and reports false when r's message or number of
// attributes already fail it.
func (l *Limiter) Begin(k *Check, r *slog.Record, depth int, all bool) bool {
	*k = Check{c: counter{bytes: len(r.Message)}, depth: depth, n: r.NumAttrs(), all: all}
	return k.n <= l.b.MaxAttrs+1 && // +1: the walk's own Attrs marker
		!(all && l.keys != nil && k.n > 0) && // every value is to be redacted
		!l.long(r.Message)
}

// Fits reports whether a, the next attribute of the record k checks, fits
// what is left of the budget and holds nothing to rewrite, and counts it.
// The common attribute, a string or a scalar under a short key that is
// not sensitive, costs a few comparisons.
func (l *Limiter) Fits(k *Check, a slog.Attr) bool {
	k.i++
	c := &k.c
	if kind := a.Value.Kind(); slog.KindBool <= kind && kind <= slog.KindUint64 && // scalars and strings
		c.attrs < l.b.MaxAttrs && c.bytes < l.b.MaxRecordBytes && len(a.Key) <= l.b.MaxValueBytes &&
		(l.keys == nil || len(a.Key) < l.minKey || !l.keys.Sensitive(a.Key)) {
		c.attrs++
		c.bytes += len(a.Key)
		if kind != slog.KindString {
			c.bytes += scalarBytes
			return true
		}
		n := len(a.Value.String())
		c.bytes += n
		return n <= l.b.MaxValueBytes || !l.long(a.Value.String())
	}
	return !l.needs(a, k.depth, k.all, k.i == k.n, c)
}

// needs reports whether a must be rewritten, counting it in c; last says
// that a ends its record or group, where the walk puts its [Attrs] marker.
// The common attribute, a string or a scalar under a short key, costs a
// few comparisons and a call to Keys.Sensitive.
func (l *Limiter) needs(a slog.Attr, depth int, all, last bool, c *counter) bool {
	v := a.Value
	kind := v.Kind()
	if kind == slog.KindAny && a.Key == "" && v.Any() == nil {
		return false // the empty Attr, which handlers ignore
	}
	if c.attrs >= l.b.MaxAttrs || c.bytes >= l.b.MaxRecordBytes {
		// No room left: the walk would leave a out, unless a is its own
		// count of what it left out.
		return !(last && a.Key == Attrs && kind == slog.KindInt64)
	}
	c.attrs++
	c.bytes += len(a.Key)
	if len(a.Key) > l.b.MaxValueBytes && l.long(a.Key) {
		return true
	}
	if l.keys != nil && (all || (len(a.Key) >= l.minKey && l.keys.Sensitive(a.Key) && !isRedacted(v))) {
		return true
	}
	switch kind {
	case slog.KindString:
		n := len(v.String())
		c.bytes += n
		return n > l.b.MaxValueBytes && l.long(v.String())
	case slog.KindLogValuer:
		return true
	case slog.KindAny:
		return l.needsValue(v.Any(), depth, c)
	case slog.KindGroup:
		g := v.Group()
		if depth >= l.b.MaxDepth && len(g) > 0 {
			return true
		}
		for i, ga := range g {
			if l.needs(ga, depth+1, all, i == len(g)-1, c) {
				return true
			}
		}
		return false
	}
	c.bytes += scalarBytes
	return false
}

// isRedacted reports whether v is the value redaction puts in place.
func isRedacted(v slog.Value) bool {
	return v.Kind() == slog.KindString && v.String() == Redacted
}

// isEmpty reports whether a is the empty Attr, which handlers ignore. It
// never compares values, which could panic for maps.
func isEmpty(a slog.Attr) bool {
	return a.Key == "" && a.Value.Kind() == slog.KindAny && a.Value.Any() == nil
}

// walker carries the remaining budget of one record (or one WithAttrs
// call, or one Sanitize call) through the whole walk.
type walker struct {
	l *Limiter
	counter
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

// ownMarker reports whether a is the walk's own count of attributes left
// out, ending (last) a record or group that has no room left and where
// nothing was left out yet: it is kept as it is, as the check keeps it, so
// that what the walk writes passes the check.
func (w *walker) ownMarker(a slog.Attr, last bool, dropped int) bool {
	return last && dropped == 0 && w.full() && a.Key == Attrs && a.Value.Kind() == slog.KindInt64
}

// redacted returns [Redacted] and counts it.
func (w *walker) redacted() string {
	w.bytes += len(Redacted)
	return Redacted
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
		a.Value = slog.StringValue(w.redacted())
		return a, true
	}
	all = all && w.l.keys != nil
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
		if all && x != nil {
			v = slog.StringValue(w.redacted())
			break
		}
		// needsValue counts what it checks; what it counted of a value
		// it then rejects is counted again by the rewriting.
		spent := w.counter
		if w.l.needsValue(x, depth, &w.counter) {
			w.counter = spent
			v = w.top(x, depth, all)
		}
	case slog.KindString:
		if all {
			v = slog.StringValue(w.redacted())
		} else {
			v = slog.StringValue(w.str(v.String()))
		}
	default:
		if all {
			v = slog.StringValue(w.redacted())
		} else {
			w.bytes += scalarBytes
		}
	}
	a.Value = v
	return a, true
}

// group rewrites the members of a group at depth, leaving out empty
// attributes and adding an [Attrs] count of those the budget left out.
func (w *walker) group(g []slog.Attr, depth int, all bool) []slog.Attr {
	n := min(len(g), w.l.b.MaxAttrs-w.attrs+1)
	out := make([]slog.Attr, 0, max(n, 0)+1)
	dropped := 0
	for i, a := range g {
		switch {
		case isEmpty(a):
			continue
		case w.ownMarker(a, i == len(g)-1, dropped):
			out = append(out, a)
			continue
		}
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
