package handler

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mattn/go-isatty"

	"github.com/realtimeserver/observability/internal/budget"
)

// ConsoleOptions configures [Console]. A nil or zero ConsoleOptions consists
// entirely of default values. Console copies what it needs and never writes
// to the caller's struct.
type ConsoleOptions struct {
	// Level is the minimum level logged; it is read on every call, so a
	// *slog.LevelVar changes it at run time. Default: slog.LevelInfo.
	Level slog.Leveler

	// TimeFormat is the layout, as for time.Format, of the time at the
	// start of each line. Default: time.StampMilli ("Jan _2 15:04:05.000").
	TimeFormat string

	// AddSource writes the caller's file:line after the level.
	// Default: false.
	AddSource bool

	// ReplaceAttr rewrites each non-group attribute before it is written,
	// as described by slog.HandlerOptions; what it returns is held to the
	// Budget as an attribute of its own. Default: nil (no rewriting).
	ReplaceAttr func(groups []string, a slog.Attr) slog.Attr

	// NoColor turns colour off whatever the writer. Default: false, which
	// means colour exactly when the writer is an *os.File open on a
	// terminal and the environment variable NO_COLOR is unset or empty
	// (https://no-color.org).
	NoColor bool

	// Budget bounds every record; see [Budget]. Default: the zero Budget,
	// which means the defaults it documents.
	Budget Budget
}

// Console returns a handler that writes one human-readable line per record
// to w, in the format of github.com/lmittmann/tint:
//
//	Nov 25 10:41:07.123 INF comment created user_id=7 video_id=42
//
// The time (TimeFormat), the level (DBG, INF, WRN, ERR, with an offset
// such as INF+2 for levels between), the source when AddSource is set,
// the message, then the attributes as key=value pairs: values quoted (as
// strconv.Quote does) when they are empty or hold spaces, '=', '"' or
// characters that do not print, keys of grouped attributes joined with
// dots (http.method=GET). A message that holds control characters is
// quoted too, so that one record is always one line. A nil opts means the
// defaults described by [ConsoleOptions].
//
// Colour is decided once, here: the time, source and keys faint, the level
// in green, yellow or red. ANSI escape sequences in the message, keys and
// values are removed (an ESC and everything up to and including the next
// letter), with colour or without, so that no record can move a terminal's
// cursor or reach a file or a pipe with control codes.
//
// Every record is held to opts.Budget once, before it is written (see
// [Budget]): composite values become groups of plain ones, so that a map
// that contains itself prints as !CYCLE instead of recursing, and long
// strings, deep groups and many attributes end in markers. Past MaxDepth
// open groups, WithGroup keeps no more names, and what is logged inside
// prints as the first group left out with the value !DEPTH.
//
// Each record is formatted into a pooled buffer and written with a single
// w.Write, under a mutex shared by every handler derived from the result
// with WithAttrs or WithGroup; w itself need not be safe for concurrent
// use, but nothing else should write to it. A failed Write is returned
// from Handle. Attributes added with WithAttrs are rendered once, at With
// time; WithGroup is lazy. A record of scalar and short string attributes
// costs no allocation.
func Console(w io.Writer, opts *ConsoleOptions) slog.Handler {
	var o ConsoleOptions
	if opts != nil {
		o = *opts
	}
	if o.Level == nil {
		o.Level = slog.LevelInfo
	}
	if o.TimeFormat == "" {
		o.TimeFormat = time.StampMilli
	}
	lim := budget.New(o.Budget, nil)
	return &consoleHandler{
		out: &output{w: w}, level: o.Level, lim: lim, b: lim.Budget(),
		color: colorful(w, o.NoColor, os.Getenv), timeFormat: o.TimeFormat, addSource: o.AddSource, rep: o.ReplaceAttr,
	}
}

// colorful reports whether output to w should be coloured.
func colorful(w io.Writer, noColor bool, getenv func(string) string) bool {
	if noColor || getenv("NO_COLOR") != "" {
		return false
	}
	f, ok := w.(*os.File)
	if !ok || f == nil {
		return false
	}
	fd := f.Fd()
	return isatty.IsTerminal(fd) || isatty.IsCygwinTerminal(fd)
}

// consoleHandler is the handler of [Console]. It is never changed after it
// is made; clones share out, and copy (clipped) pre and groups.
type consoleHandler struct {
	out   *output // the writer and its lock, shared by clones
	level slog.Leveler
	lim   *budget.Limiter // shared, immutable
	b     budget.Budget   // lim.Budget()

	color      bool
	timeFormat string
	addSource  bool
	rep        func(groups []string, a slog.Attr) slog.Attr

	pre    []byte   // the attributes of WithAttrs, rendered, each followed by a space; clipped
	groups []string // open groups, outermost first; clipped, never appended in place; at most MaxDepth
	prefix string   // the open groups joined, each followed by a dot
	over   overflow // WithGroup past MaxDepth
}

var _ slog.Handler = (*consoleHandler)(nil)

func (h *consoleHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level.Level()
}

// ANSI escape sequences of the colours used.
const (
	ansiEsc    = 0x1b
	ansiReset  = "\x1b[0m"
	ansiFaint  = "\x1b[2m"
	ansiGreen  = "\x1b[92m"
	ansiYellow = "\x1b[93m"
	ansiRed    = "\x1b[91m"
)

func (h *consoleHandler) Handle(_ context.Context, r slog.Record) error {
	cb := getLine()
	s := consoleState{h: h, buf: cb.b[:0]}
	var k budget.Check
	if h.over.name != "" {
		r = h.over.record(r, h.b.MaxValueBytes)
		s.record(&r, cb, nil)
	} else if !h.lim.Begin(&k, &r, len(h.groups), false) || !s.record(&r, cb, &k) {
		// The record does not fit the budget as it is: write the one the
		// budget makes of it instead.
		h.lim.Apply(&r, len(h.groups), false)
		s = consoleState{h: h, buf: s.buf[:0]}
		s.record(&r, cb, nil)
	}
	return h.out.write(cb, s.buf, s.groups)
}

// record writes r's line, checking each attribute with k before it writes
// it, and reports false, having written part of it, when one does not fit
// (k nil: r fits).
func (s *consoleState) record(r *slog.Record, cb *line, k *budget.Check) bool {
	h := s.h
	if h.rep == nil {
		if !r.Time.IsZero() {
			s.faint(func() { s.buf = r.Time.AppendFormat(s.buf, h.timeFormat) })
			s.buf = append(s.buf, ' ')
		}
		s.level(r.Level)
		if h.addSource {
			s.source(r.Source())
		}
		s.message(r.Message)
	} else {
		// The built-in attributes, through ReplaceAttr, outside any group.
		if !r.Time.IsZero() {
			s.builtin(builtinTime, slog.Time(slog.TimeKey, r.Time.Round(0)))
		}
		s.builtin(builtinLevel, slog.Any(slog.LevelKey, r.Level))
		if h.addSource {
			if src := r.Source(); src != nil && src.File != "" {
				s.builtin(builtinSource, slog.Any(slog.SourceKey, src))
			}
		}
		s.builtin(builtinMessage, slog.String(slog.MessageKey, r.Message))
		s.groups = append(cb.groups[:0], h.groups...)
	}
	s.buf = append(s.buf, h.pre...)
	fits := true
	r.Attrs(func(a slog.Attr) bool {
		if k != nil && !s.h.lim.Fits(k, a) {
			fits = false
			return false
		}
		s.attr(a, h.prefix, len(h.groups))
		return true
	})
	if !fits {
		return false
	}
	if n := len(s.buf); n > 0 && s.buf[n-1] == ' ' {
		s.buf[n-1] = '\n'
	} else {
		s.buf = append(s.buf, '\n')
	}
	return true
}

func (h *consoleHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	c := *h
	if c.over.withAttrs() {
		return &c
	}
	// Each WithAttrs call has a budget of its own.
	attrs = h.lim.Attrs(attrs, len(h.groups), false)
	s := consoleState{h: h, buf: slices.Clip(h.pre)}
	if h.rep != nil {
		s.groups = slices.Clone(h.groups)
	}
	for _, a := range attrs {
		s.attr(a, h.prefix, len(h.groups))
	}
	c.pre = slices.Clip(s.buf)
	return &c
}

func (h *consoleHandler) WithGroup(name string) slog.Handler {
	if name == "" || h.over.name != "" {
		return h
	}
	c := *h
	name = budget.Truncate(name, h.b.MaxValueBytes)
	if len(h.groups) >= h.b.MaxDepth {
		c.over.name = name
		return &c
	}
	c.groups = slices.Clip(append(slices.Clip(h.groups), name))
	c.prefix = h.prefix + name + "."
	return &c
}

// consoleState is the line of one record, or of one WithAttrs call, being
// written.
type consoleState struct {
	h   *consoleHandler
	buf []byte
	// groups are the open groups, passed to ReplaceAttr when it is set;
	// never shared. As in slog, the built-in attributes are passed none.
	groups []string
}

// faint writes what f writes, faint when in colour.
func (s *consoleState) faint(f func()) {
	if !s.h.color {
		f()
		return
	}
	s.buf = append(s.buf, ansiFaint...)
	f()
	s.buf = append(s.buf, ansiReset...)
}

// level writes l as DBG, INF, WRN or ERR, with the offset from that name
// (INF+2), and a space.
func (s *consoleState) level(l slog.Level) {
	name, base, color := "DBG", slog.LevelDebug, ""
	switch {
	case l >= slog.LevelError:
		name, base, color = "ERR", slog.LevelError, ansiRed
	case l >= slog.LevelWarn:
		name, base, color = "WRN", slog.LevelWarn, ansiYellow
	case l >= slog.LevelInfo:
		name, base, color = "INF", slog.LevelInfo, ansiGreen
	}
	if s.h.color && color != "" {
		s.buf = append(s.buf, color...)
	}
	s.buf = append(s.buf, name...)
	if d := l - base; d > 0 {
		s.buf = append(s.buf, '+')
		s.buf = strconv.AppendInt(s.buf, int64(d), 10)
	} else if d < 0 {
		s.buf = strconv.AppendInt(s.buf, int64(d), 10)
	}
	if s.h.color && color != "" {
		s.buf = append(s.buf, ansiReset...)
	}
	s.buf = append(s.buf, ' ')
}

// source writes src as its directory and file, a colon and its line, and
// a space; nothing when src is nil.
func (s *consoleState) source(src *slog.Source) {
	if src == nil || src.File == "" {
		return
	}
	s.faint(func() { s.appendSource(src) })
	s.buf = append(s.buf, ' ')
}

func (s *consoleState) appendSource(src *slog.Source) {
	dir, file := filepath.Split(src.File)
	s.text(filepath.Join(filepath.Base(dir), file), false)
	s.buf = append(s.buf, ':')
	s.buf = strconv.AppendInt(s.buf, int64(src.Line), 10)
}

// message writes msg and a space; quoted when it holds control
// characters, so that a record stays on one line.
func (s *consoleState) message(msg string) {
	quote := false
	for i := 0; i < len(msg); i++ {
		if c := msg[i]; (c < ' ' && c != ansiEsc) || c == 0x7f {
			quote = true
			break
		}
	}
	s.text(msg, quote)
	s.buf = append(s.buf, ' ')
}

// The built-in attributes, in the order they are written.
const (
	builtinTime = iota
	builtinLevel
	builtinSource
	builtinMessage
)

// builtin writes a built-in attribute through ReplaceAttr, which sees it
// outside any group, and a space; nothing when ReplaceAttr returns an
// attribute with an empty key. As in tint, the position decides how a
// value is written, not the key: a time in the time's place is formatted
// by TimeFormat, a slog.Level in the level's place is the level, a string
// in the message's place is the message; other values are written as
// attribute values are.
func (s *consoleState) builtin(which int, a slog.Attr) {
	a = s.replace(nil, a)
	if a.Key == "" {
		return
	}
	v := budget.Resolve(a.Value)
	switch {
	case which == builtinTime && v.Kind() == slog.KindTime:
		s.faint(func() { s.buf = v.Time().AppendFormat(s.buf, s.h.timeFormat) })
		s.buf = append(s.buf, ' ')
		return
	case which == builtinLevel && v.Kind() == slog.KindAny:
		if l, ok := v.Any().(slog.Level); ok {
			s.level(l)
			return
		}
	case which == builtinMessage && v.Kind() == slog.KindString:
		s.message(budget.Truncate(v.String(), s.h.b.MaxValueBytes))
		return
	}
	a = s.h.lim.Attr(slog.Attr{Key: a.Key, Value: v}, 0)
	if which == builtinSource || which == builtinTime {
		s.faint(func() { s.value(a.Value, false) })
	} else {
		s.value(a.Value, false)
	}
	s.buf = append(s.buf, ' ')
}

// attr writes a, under the key prefix of its groups (depth of them), and a
// space. a is within the budget already, but what ReplaceAttr returns,
// which is held to it here, as an attribute of its own.
func (s *consoleState) attr(a slog.Attr, prefix string, depth int) {
	if a.Value.Kind() != slog.KindGroup && s.h.rep != nil {
		a = s.h.lim.Attr(s.replace(s.groups, a), depth)
	}
	v := a.Value
	switch v.Kind() {
	case slog.KindGroup:
		g := v.Group()
		if len(g) == 0 {
			return
		}
		if a.Key != "" {
			prefix = prefix + a.Key + "." // allocates: grouped attributes are rare
			if s.h.rep != nil {
				s.groups = append(s.groups, a.Key)
				defer func() { s.groups = s.groups[:len(s.groups)-1] }()
			}
		}
		for _, ga := range g {
			s.attr(ga, prefix, depth+1)
		}
		return
	case slog.KindLogValuer: // only from ReplaceAttr, resolved by the budget
		s.attr(slog.Attr{Key: a.Key, Value: budget.Resolve(v)}, prefix, depth)
		return
	case slog.KindAny:
		if a.Key == "" && v.Any() == nil {
			return // the empty Attr
		}
	}
	s.faint(func() {
		if prefix == "" {
			s.text(a.Key, needsQuoting(a.Key))
		} else {
			s.key(prefix, a.Key)
		}
		s.buf = append(s.buf, '=')
	})
	s.value(v, true)
	s.buf = append(s.buf, ' ')
}

// key writes prefix and k as one key, quoted when it needs to be.
func (s *consoleState) key(prefix, k string) {
	if !needsQuoting(prefix) && !needsQuoting(k) {
		s.text(prefix, false)
		s.text(k, false)
		return
	}
	s.text(prefix+k, true)
}

// value writes v, quoted when quote is set and it needs to be.
func (s *consoleState) value(v slog.Value, quote bool) {
	switch v.Kind() {
	case slog.KindString:
		str := v.String()
		s.text(str, quote && needsQuoting(str))
	case slog.KindInt64:
		s.buf = strconv.AppendInt(s.buf, v.Int64(), 10)
	case slog.KindUint64:
		s.buf = strconv.AppendUint(s.buf, v.Uint64(), 10)
	case slog.KindFloat64:
		s.buf = strconv.AppendFloat(s.buf, v.Float64(), 'g', -1, 64)
	case slog.KindBool:
		s.buf = strconv.AppendBool(s.buf, v.Bool())
	case slog.KindDuration:
		s.buf = append(s.buf, v.Duration().String()...)
	case slog.KindTime:
		s.buf = appendRFC3339Millis(s.buf, v.Time())
	case slog.KindGroup:
		s.text(fmt.Sprint(v.Group()), quote)
	default:
		s.any(v.Any(), quote)
	}
}

// any writes x, a value of kind slog.KindAny that the budget has made
// plain (nil, an error, bytes, a time, a slice of plain values): an
// error's text, bytes as text, anything else as fmt's %+v writes it.
func (s *consoleState) any(x any, quote bool) {
	var str string
	switch v := x.(type) {
	case nil:
		s.buf = append(s.buf, "<nil>"...)
		return
	case *slog.Source:
		s.appendSource(v)
		return
	case []byte:
		str = string(v)
	case error:
		str = errorText(v)
	default:
		str = fmt.Sprintf("%+v", x)
	}
	s.text(str, quote && needsQuoting(str))
}

// replace returns ReplaceAttr's rewriting of a; a ReplaceAttr that panics
// gives a's key and what slog writes for a method that panicked.
func (s *consoleState) replace(groups []string, a slog.Attr) (out slog.Attr) {
	defer func() {
		if p := recover(); p != nil {
			out = slog.String(a.Key, fmt.Sprintf("!PANIC: %v", p))
		}
	}()
	return s.h.rep(groups, a)
}

// text writes str without its ANSI escape sequences, quoted as
// strconv.Quote quotes when quote is set.
func (s *consoleState) text(str string, quote bool) {
	for i := 0; i < len(str); i++ {
		if str[i] == ansiEsc {
			str = string(stripANSI(nil, []byte(str)))
			quote = quote && needsQuoting(str)
			break
		}
	}
	if quote {
		s.buf = strconv.AppendQuote(s.buf, str)
	} else {
		s.buf = append(s.buf, str...)
	}
}

// needsQuoting reports whether s must be quoted to be read back from a
// key=value line, as slog's text handler decides it: when it is empty, or
// holds a space, '=', '"', a control character, or a rune that is not
// printable or is invalid UTF-8. A backslash alone does not.
func needsQuoting(s string) bool {
	if len(s) == 0 {
		return true
	}
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b == ' ' || b == '=' || b == '"' || b < ' ' {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return true
		}
		i += size
	}
	return false
}

// appendRFC3339Millis appends t in RFC 3339 with milliseconds, as slog's
// text handler writes times.
func appendRFC3339Millis(b []byte, t time.Time) []byte {
	// time.RFC3339Nano is the fast layout, but it trims trailing zeros:
	// adding a tenth of a millisecond keeps four digits, of which the
	// fourth is dropped.
	const prefixLen = len("2006-01-02T15:04:05.000")
	n := len(b)
	t = t.Truncate(time.Millisecond).Add(time.Millisecond / 10)
	b = t.AppendFormat(b, time.RFC3339Nano)
	if len(b) < n+prefixLen+1 { // a year past 9999
		return b
	}
	return append(b[:n+prefixLen], b[n+prefixLen+1:]...)
}

// stripANSI appends p to dst without its escape sequences: an ESC and
// everything up to and including the next letter. The result is never
// longer than p, so room for p is made once and bytes are copied one by
// one: the runs between escape sequences are short.
func stripANSI(dst, p []byte) []byte {
	n := len(dst)
	dst = slices.Grow(dst, len(p))[:n+len(p)]
	out := dst[n:]
	k := 0
	for i := 0; i < len(p); {
		if b := p[i]; b != ansiEsc {
			out[k] = b
			k++
			i++
			continue
		}
		// Skip the ESC and everything up to and including a letter.
		// Escape sequences are ASCII, so ASCII bytes are tested directly
		// (an ASCII letter is A-Z or a-z, as for unicode.IsLetter).
		for i++; i < len(p); {
			if b := p[i]; b < utf8.RuneSelf {
				i++
				if l := b | 0x20; 'a' <= l && l <= 'z' {
					break
				}
				continue
			}
			r, size := utf8.DecodeRune(p[i:])
			i += size
			if unicode.IsLetter(r) {
				break
			}
		}
	}
	return dst[:n+k]
}
