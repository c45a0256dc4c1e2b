package handler

import (
	"bytes"
	"context"

	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/realtimeserver/observability/internal/budget"
	"github.com/realtimeserver/observability/internal/jsonesc"
)

// JSONOptions configures [JSON]. A nil or zero JSONOptions consists
// entirely of default values. JSON copies what it needs and never writes
// to the caller's struct.
type JSONOptions struct {
	// Level is the minimum level logged; it is read on every call, so a
	// *slog.LevelVar changes it at run time. Default: slog.LevelInfo.
	Level slog.Leveler

	// AddSource writes the caller's function, file and line under the key
	// "source", as slog.HandlerOptions.AddSource does. It costs a lookup
	// and an allocation per record. Default: false.
	AddSource bool

	// ReplaceAttr rewrites each non-group attribute, the built-in ones
	// included, before it is written, as described by
	// slog.HandlerOptions.ReplaceAttr. A ReplaceAttr that panics gives the
	// attribute's key and the string "!PANIC: " followed by the panic
	// value, instead of ending the process. Default: nil (no rewriting,
	// and no cost).
	ReplaceAttr func(groups []string, a slog.Attr) slog.Attr

	// Budget bounds every record; see [Budget]. Default: the zero Budget,
	// which means the defaults it documents.
	Budget Budget
}

// JSON returns a handler that writes one JSON object per line to w. For
// every record within opts.Budget it writes the same bytes as
// slog.NewJSONHandler with the same Level, AddSource and ReplaceAttr:
// the keys time (left out when zero), level and msg, then the attributes;
// the time in RFC 3339 with nanoseconds; strings escaped as slog escapes
// them (invalid UTF-8 as \ufffd, U+2028 and U+2029 escaped, '<', '>' and
// '&' kept); errors as their Error text; other values of kind
// slog.KindAny through encoding/json without HTML escaping; groups
// nested, empty groups left out, groups with an empty key inlined. It is
// faster than slog's handler, and a record of scalar and string
// attributes costs no allocation.
//
// It differs from slog's handler on purpose in these cases only:
//
//   - where slog writes a line that is not JSON, JSON writes valid JSON: a
//     group whose members all turn out empty is left out without breaking
//     the separators around it, and a time whose year lies outside 0-9999
//     is written as its text, without the error slog puts before it;
//   - WithGroup("") returns the receiver, as the slog.Handler contract
//     asks (slog's handler opens a group named "");
//   - a LogValuer that keeps returning LogValuers for more than 8 calls is
//     written as !CYCLE, and one whose LogValue panics as !PANIC (slog
//     writes the panic and a stack trace);
//   - a ReplaceAttr that panics gives the attribute's key and "!PANIC: "
//     followed by the panic value (slog lets the panic through);
//   - past the budget, as described below.
//
// Every record is held to opts.Budget (see [Budget]) while it is written,
// in the same pass, each WithAttrs call to a budget of its own: past a
// budget a marker is written and the record goes on. A value of kind
// slog.KindAny whose size, depth or number of elements exceeds what is
// left of the budget (a cycle always does), or whose encoding is longer
// than what is left of MaxRecordBytes, is written as the budget rewrites
// it: a map or struct becomes a group of its entries sorted by key. A
// method that panics while a value is written gives "!PANIC: " and the
// panic value ("<nil>" for a nil pointer receiver), as slog writes it.
//
// Each record is formatted into a pooled buffer and written with a single
// w.Write, under a mutex shared by every handler derived from the result
// with WithAttrs or WithGroup; w itself need not be safe for concurrent
// use, but nothing else should write to it. A failed Write is returned
// from Handle. Attributes added with WithAttrs are rendered once, at With
// time; WithGroup is lazy.
func JSON(w io.Writer, opts *JSONOptions) slog.Handler {
	var o JSONOptions
	if opts != nil {
		o = *opts
	}
	if o.Level == nil {
		o.Level = slog.LevelInfo
	}
	lim := budget.NewEncodable(o.Budget)
	return &jsonHandler{out: &output{w: w}, level: o.Level, lim: lim, b: lim.Budget(),
		addSource: o.AddSource, rep: o.ReplaceAttr}
}

// jsonHandler is the handler of [JSON]. It is never changed after it is
// made; clones share out, and copy (clipped) pre and groups.
type jsonHandler struct {
	out   *output
	level slog.Leveler
	lim   *budget.Limiter // shared, immutable
	b     budget.Budget   // lim.Budget()

	addSource bool
	rep       func(groups []string, a slog.Attr) slog.Attr

	// pre holds the attributes of WithAttrs, rendered, without a leading
	// comma; it opens the first nOpen groups of groups. Clipped.
	pre    []byte
	groups []string // every WithGroup name, outermost first; clipped; at most MaxDepth
	nOpen  int

	over overflow // WithGroup past MaxDepth
}

var _ slog.Handler = (*jsonHandler)(nil)

func (h *jsonHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level.Level()
}

// timeCache is the cached text of the last second a JSON line held, so
// that records within the same second format only their fraction.
type timeCache struct {
	sec   int64
	loc   *time.Location
	date  [24]byte // "2006-01-02T15:04:05"
	zone  [8]byte  // "Z" or "-07:00"
	nDate int
	nZone int
}

func (h *jsonHandler) Handle(_ context.Context, r slog.Record) error {
	jb := getLine()
	s := jsonState{h: h, buf: jb.b[:0]}
	var k budget.Check
	if h.over.name != "" {
		r = h.over.record(r, h.b.MaxValueBytes)
		s.record(&r, jb, nil)
	} else if !h.lim.Begin(&k, &r, len(h.groups), false) || !s.record(&r, jb, &k) {
		// The record does not fit the budget as it is: write the one the
		// budget makes of it instead.
		h.lim.Apply(&r, len(h.groups), false)
		s = jsonState{h: h, buf: s.buf[:0]}
		s.record(&r, jb, nil)
	}
	return h.out.write(jb, s.buf, s.groups)
}

// record writes r's line, checking each attribute with k before it writes
// it, and reports false, having written part of it, when one does not fit
// (k nil: r fits).
func (s *jsonState) record(r *slog.Record, jb *line, k *budget.Check) bool {
	h := s.h
	s.buf = append(s.buf, '{')
	if h.rep == nil {
		if !r.Time.IsZero() {
			s.buf = append(s.buf, `"time":`...)
			s.buf = jb.appendTime(s.buf, r.Time)
			s.buf = append(s.buf, ',')
		}
		s.buf = append(s.buf, `"level":`...)
		s.buf = appendLevel(s.buf, r.Level)
		s.sep = true
		if h.addSource {
			s.source(r)
		}
		s.buf = append(s.buf, `,"msg":`...)
		s.str(r.Message)
	} else {
		// The built-in attributes, through ReplaceAttr, outside any group.
		if !r.Time.IsZero() {
			s.attr(slog.Time(slog.TimeKey, r.Time.Round(0)), 0)
		}
		s.attr(slog.Any(slog.LevelKey, r.Level), 0)
		if h.addSource {
			s.source(r)
		}
		s.attr(slog.String(slog.MessageKey, r.Message), 0)
		s.groups = append(jb.groups[:0], h.groups[:h.nOpen]...)
		s.track = true
	}

	if len(h.pre) > 0 {
		if s.sep {
			s.buf = append(s.buf, ',')
		}
		s.buf = append(s.buf, h.pre...)
		s.sep = h.pre[len(h.pre)-1] != '{'
	}
	nOpen := h.nOpen
	if r.NumAttrs() > 0 {
		pos, sep := len(s.buf), s.sep
		s.openGroups()
		depth := len(h.groups)
		wrote, fits := false, true
		r.Attrs(func(a slog.Attr) bool {
			if k != nil && !s.h.lim.Fits(k, a) {
				fits = false
				return false
			}
			wrote = s.attr(a, depth) || wrote
			return true
		})
		if !fits {
			return false
		}
		if wrote {
			nOpen = len(h.groups)
		} else {
			s.buf, s.sep = s.buf[:pos], sep
		}
	}
	for range nOpen {
		s.buf = append(s.buf, '}')
	}
	s.buf = append(s.buf, '}', '\n')
	return true
}

// source writes the record's source, as slog does with AddSource.
func (s *jsonState) source(r *slog.Record) {
	src := r.Source()
	if src == nil {
		src = &slog.Source{}
	}
	s.attr(slog.Any(slog.SourceKey, src), 0)
}

func (h *jsonHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	empty := 0
	for _, a := range attrs {
		if a.Value.Kind() == slog.KindGroup && len(a.Value.Group()) == 0 {
			empty++
		}
	}
	if empty == len(attrs) {
		return h
	}
	c := *h
	if c.over.withAttrs() {
		return &c
	}
	// Each WithAttrs call has a budget of its own.
	attrs = h.lim.Attrs(attrs, len(h.groups), false)
	s := jsonState{h: h, buf: slices.Clip(h.pre)}
	s.sep = len(s.buf) > 0 && s.buf[len(s.buf)-1] != '{'
	if h.rep != nil {
		s.groups = slices.Clone(h.groups[:h.nOpen])
		s.track = true
	}
	pos := len(s.buf)
	s.openGroups()
	wrote := false
	for _, a := range attrs {
		wrote = s.attr(a, len(h.groups)) || wrote
	}
	if wrote {
		c.pre = slices.Clip(s.buf)
		c.nOpen = len(h.groups)
	} else {
		c.pre = slices.Clip(s.buf[:pos])
	}
	return &c
}

func (h *jsonHandler) WithGroup(name string) slog.Handler {
	if name == "" || h.over.name != "" {
		return h
	}
	c := *h
	if len(h.groups) >= h.b.MaxDepth {
		c.over.name = budget.Truncate(name, h.b.MaxValueBytes)
		return &c
	}
	c.groups = slices.Clip(append(slices.Clip(h.groups), name))
	return &c
}

// jsonState is the state of one record, or of one WithAttrs call, being
// written.
type jsonState struct {
	h   *jsonHandler
	buf []byte
	sep bool // a comma goes before the next key

	// groups are the open groups, passed to ReplaceAttr, when track; never
	// shared. As in slog, the built-in attributes (source included) are
	// passed no groups.
	groups []string
	track  bool
}

// openGroups opens the groups of WithGroup not yet opened in pre.
func (s *jsonState) openGroups() {
	for _, g := range s.h.groups[s.h.nOpen:] {
		s.key(g)
		s.buf = append(s.buf, '{')
		s.sep = false
		if s.track {
			s.groups = append(s.groups, g)
		}
	}
}

// key writes a separator if needed, k quoted and a colon.
func (s *jsonState) key(k string) {
	if s.sep {
		s.buf = append(s.buf, ',')
	}
	s.str(k)
	s.buf = append(s.buf, ':')
	s.sep = true
}

// str writes v quoted as slog escapes strings.
func (s *jsonState) str(v string) {
	s.buf = jsonesc.AppendString(s.buf, v)
}

// attr writes a, at depth (groups and values above it), and reports
// whether it wrote anything. a is within the budget already, but what
// ReplaceAttr returns, which is held to it here, as an attribute of its
// own.
func (s *jsonState) attr(a slog.Attr, depth int) bool {
	v := a.Value
	if a.Key == "" && v.Kind() == slog.KindAny && v.Any() == nil {
		return false
	}
	if s.h.rep != nil && v.Kind() != slog.KindGroup {
		a = s.h.lim.Attr(s.replace(a), depth)
		v = a.Value
		if a.Key == "" && v.Kind() == slog.KindAny && v.Any() == nil {
			return false
		}
	}
	switch v.Kind() {
	case slog.KindString:
		s.key(a.Key)
		s.str(v.String())
	case slog.KindInt64:
		s.key(a.Key)
		s.buf = strconv.AppendInt(s.buf, v.Int64(), 10)
	case slog.KindUint64:
		s.key(a.Key)
		s.buf = strconv.AppendUint(s.buf, v.Uint64(), 10)
	case slog.KindFloat64:
		s.key(a.Key)
		s.float(v.Float64())
	case slog.KindBool:
		s.key(a.Key)
		s.buf = strconv.AppendBool(s.buf, v.Bool())
	case slog.KindDuration:
		s.key(a.Key)
		s.buf = strconv.AppendInt(s.buf, int64(v.Duration()), 10)
	case slog.KindTime:
		s.key(a.Key)
		s.buf = appendTimeSlow(s.buf, v.Time())
	case slog.KindGroup:
		return s.group(a.Key, v.Group(), depth)
	case slog.KindLogValuer: // only from ReplaceAttr, resolved by the budget
		return s.attr(slog.Attr{Key: a.Key, Value: budget.Resolve(v)}, depth)
	default: // slog.KindAny
		return s.any(a.Key, v.Any())
	}
	return true
}

// group writes a group at depth; one with an empty key is inlined.
func (s *jsonState) group(key string, g []slog.Attr, depth int) bool {
	if len(g) == 0 {
		return false
	}
	pos, sep := len(s.buf), s.sep
	named := key != ""
	if named {
		s.key(key)
		s.buf = append(s.buf, '{')
		s.sep = false
		if s.track {
			s.groups = append(s.groups, key)
		}
	}
	wrote := false
	for _, a := range g {
		wrote = s.attr(a, depth+1) || wrote
	}
	if named && s.track {
		s.groups = s.groups[:len(s.groups)-1]
	}
	if !wrote {
		s.buf, s.sep = s.buf[:pos], sep
		return false
	}
	if named {
		s.buf = append(s.buf, '}')
		s.sep = true
	}
	return true
}

// replace returns ReplaceAttr's rewriting of a; a ReplaceAttr that panics
// gives a's key and what slog writes for a method that panicked.
func (s *jsonState) replace(a slog.Attr) (out slog.Attr) {
	defer func() {
		if p := recover(); p != nil {
			out = slog.String(a.Key, fmt.Sprintf("!PANIC: %v", p))
		}
	}()
	return s.h.rep(s.groups, a)
}

// float writes f as encoding/json does; NaN and infinities are the error
// slog writes for them.
func (s *jsonState) float(f float64) {
	switch {
	case f != f:
		s.str("!ERROR:json: unsupported value: NaN")
	case f > maxFloat:
		s.str("!ERROR:json: unsupported value: +Inf")
	case f < -maxFloat:
		s.str("!ERROR:json: unsupported value: -Inf")
	default:
		s.buf = appendJSONFloat(s.buf, f)
	}
}

const maxFloat = 1.7976931348623157e308

// appendJSONFloat appends the finite f as encoding/json writes a float64.
func appendJSONFloat(b []byte, f float64) []byte {
	abs := f
	if abs < 0 {
		abs = -abs
	}
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 becomes e-9.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// any writes the value x of kind slog.KindAny.
func (s *jsonState) any(key string, x any) bool {
	switch v := x.(type) {
	case nil:
		s.key(key)
		s.buf = append(s.buf, "null"...)
		return true
	case slog.Level:
		s.key(key)
		s.buf = appendLevel(s.buf, v)
		return true
	case *slog.Source:
		if v == nil || *v == (slog.Source{}) {
			return false
		}
		var g []slog.Attr
		if v.Function != "" {
			g = append(g, slog.String("function", v.Function))
		}
		if v.File != "" {
			g = append(g, slog.String("file", v.File))
		}
		if v.Line != 0 {
			g = append(g, slog.Int("line", v.Line))
		}
		return s.group(key, g, 0)
	case error:
		if _, ok := x.(json.Marshaler); !ok {
			s.key(key)
			s.str(budget.Truncate(errorText(v), s.h.b.MaxValueBytes))
			return true
		}
	}
	s.marshal(key, x)
	return true
}

// errorText returns err.Error(), or what slog writes when it panics.
func errorText(err error) (text string) {
	defer func() {
		if p := recover(); p != nil {
			text = panicText(err, p)
		}
	}()
	return err.Error()
}

// panicText is what slog writes for a value x whose method panicked with p.
func panicText(x any, p any) string {
	if rv := reflect.ValueOf(x); rv.Kind() == reflect.Pointer && rv.IsNil() {
		return "<nil>"
	}
	return fmt.Sprintf("!PANIC: %v", p)
}

// jsonEncoder is a pooled encoding/json encoder writing to buf, HTML
// escaping off, as slog's.
type jsonEncoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

var jsonEncoderPool = sync.Pool{New: func() any {
	e := &jsonEncoder{}
	e.enc = json.NewEncoder(&e.buf)
	e.enc.SetEscapeHTML(false)
	return e
}}

// encode returns x as encoding/json encodes it, or the text slog writes
// for its error or panic (and false).
func encode(e *jsonEncoder, x any) (out []byte, text string, ok bool) {
	defer func() {
		if p := recover(); p != nil {
			out, text, ok = nil, panicText(x, p), false
		}
	}()
	if err := e.enc.Encode(x); err != nil {
		return nil, "!ERROR:" + err.Error(), false
	}
	b := e.buf.Bytes()
	return b[:len(b)-1], "", true // without the newline
}

// marshal writes x through encoding/json, as slog does. The budget has
// checked x, but not the output of its MarshalJSON and MarshalText
// methods: past what is left of MaxRecordBytes on the line, the marker
// [budget.Truncated] is written instead.
func (s *jsonState) marshal(key string, x any) {
	e := jsonEncoderPool.Get().(*jsonEncoder)
	defer func() {
		if e.buf.Cap() <= maxPooled {
			e.buf.Reset()
			jsonEncoderPool.Put(e)
		}
	}()
	out, text, ok := encode(e, x)
	s.key(key)
	switch {
	case !ok:
		s.str(budget.Truncate(text, s.h.b.MaxValueBytes))
	case len(out) > s.h.b.MaxRecordBytes-len(s.buf):
		s.str(budget.Truncated)
	default:
		s.buf = append(s.buf, out...)
	}
}

// appendLevel appends l's name quoted, as slog writes it.
func appendLevel(b []byte, l slog.Level) []byte {
	switch l {
	case slog.LevelDebug:
		return append(b, `"DEBUG"`...)
	case slog.LevelInfo:
		return append(b, `"INFO"`...)
	case slog.LevelWarn:
		return append(b, `"WARN"`...)
	case slog.LevelError:
		return append(b, `"ERROR"`...)
	}
	b = append(b, '"')
	b = jsonesc.Append(b, l.String())
	return append(b, '"')
}

// appendTime appends t quoted in RFC 3339 with nanoseconds, as slog writes
// a record's time. The date, clock and zone of the last second written are
// kept, so that only the fraction is formatted within that second.
func (jb *timeCache) appendTime(b []byte, t time.Time) []byte {
	sec, loc := t.Unix(), t.Location()
	if jb.nDate == 0 || sec != jb.sec || loc != jb.loc {
		if y := t.Year(); y < 0 || y > 9999 {
			return appendTimeSlow(b, t)
		}
		jb.nDate = len(t.AppendFormat(jb.date[:0], "2006-01-02T15:04:05"))
		jb.nZone = len(t.AppendFormat(jb.zone[:0], "Z07:00"))
		jb.sec, jb.loc = sec, loc
	}
	b = append(b, '"')
	b = append(b, jb.date[:jb.nDate]...)
	if ns := t.Nanosecond(); ns != 0 {
		var f [10]byte
		f[0] = '.'
		for i := 9; i > 0; i-- {
			f[i] = byte('0' + ns%10)
			ns /= 10
		}
		n := len(f)
		for f[n-1] == '0' {
			n--
		}
		b = append(b, f[:n]...)
	}
	b = append(b, jb.zone[:jb.nZone]...)
	return append(b, '"')
}

// appendTimeSlow appends t quoted in RFC 3339 with nanoseconds. A year
// outside 0-9999 is written as time.Format writes it (slog writes an
// error before it, which makes the line invalid JSON).
func appendTimeSlow(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}
