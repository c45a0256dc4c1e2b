package handler

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/lmittmann/tint"
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
	// as described by slog.HandlerOptions. Default: nil (no rewriting).
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
// to w, through github.com/lmittmann/tint:
//
//	Nov 25 10:41:07.123 INF comment created user_id=7 video_id=42
//
// Attributes are key=value pairs, values quoted when they need it, keys of
// grouped attributes joined with dots (http.method=GET). A nil opts means
// the defaults described by [ConsoleOptions]. Colour is decided once, here.
// Without colour, ANSI escape sequences are removed from the whole line,
// message and values included, so that no terminal control codes reach a
// file or a pipe.
//
// Each record is formatted into a pooled buffer and written with a single
// w.Write, under a mutex shared by every handler derived from the result
// with WithAttrs or WithGroup; w itself need not be safe for concurrent
// use, but nothing else should write to it. A failed Write is returned
// from Handle.
//
// WithGroup is kept by this package rather than by tint (whose clones share
// the slice of group names and race on it); a record logged through an
// open group is re-nested at Handle time, which allocates. Attributes
// added with WithAttrs are rendered once, at With time.
//
// Every record is held to opts.Budget before tint sees it (see [Budget]):
// composite values are rewritten into plain ones, so that a map that
// contains itself prints as !CYCLE instead of recursing, and long strings,
// deep groups and many attributes end in markers. Past MaxDepth open
// groups, WithGroup keeps no more names, and what is logged inside prints
// as the first group left out with the value !DEPTH: memory stays linear
// however long a chain of WithGroup calls.
func Console(w io.Writer, opts *ConsoleOptions) slog.Handler {
	var o ConsoleOptions
	if opts != nil {
		o = *opts
	}
	if !colorful(w, o.NoColor, os.Getenv) {
		// tint's own colourless mode allocates twice per attribute (it
		// strips escape sequences rune by rune into a new string), so
		// tint always colours and the escape sequences are removed from
		// the finished line instead, by the same rule.
		w = &stripWriter{w: w}
	}
	to := &tint.Options{
		AddSource:   o.AddSource,
		Level:       o.Level,
		ReplaceAttr: o.ReplaceAttr,
		TimeFormat:  o.TimeFormat,
	}
	if to.Level == nil {
		to.Level = slog.LevelInfo
	}
	if to.TimeFormat == "" {
		to.TimeFormat = time.StampMilli
	}
	lim := budget.New(o.Budget, nil)
	return &consoleHandler{h: tint.NewTextHandler(w, to), lim: lim, b: lim.Budget()}
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

// stripWriter removes ANSI escape sequences from each line before writing
// it to w. Like tint's colourless mode, it drops an ESC and everything up to
// and including the next letter. It is called under tint's lock, one Write
// per record.
type stripWriter struct {
	w io.Writer
}

// stripPool holds the buffers of stripWriter; only small ones go back.
var stripPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func (s *stripWriter) Write(p []byte) (int, error) {
	if bytes.IndexByte(p, ansiEsc) < 0 {
		return s.w.Write(p)
	}
	bp := stripPool.Get().(*[]byte)
	b := stripANSI((*bp)[:0], p)
	_, err := s.w.Write(b)
	if cap(b) <= 64<<10 {
		*bp = b
		stripPool.Put(bp)
	}
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

const ansiEsc = 0x1b

// stripANSI appends p to dst without its escape sequences. The result is
// never longer than p, so room for p is made once and bytes are copied one
// by one: the runs between escape sequences are short.
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

// consoleHandler keeps the open groups itself and hands tint only handlers
// without groups, so that no slice of group names is ever shared.
type consoleHandler struct {
	h      slog.Handler    // a tint handler, possibly with attributes, never with groups
	lim    *budget.Limiter // shared, immutable
	b      budget.Budget   // lim.Budget(), for fits
	groups []string        // open groups, outermost first; clipped, never appended in place; at most MaxDepth

	// over is the name of the first group past MaxDepth, or "";
	// overAttrs that WithAttrs was called past it.
	over      string
	overAttrs bool
}

var _ slog.Handler = (*consoleHandler)(nil)

func (c *consoleHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return c.h.Enabled(ctx, l)
}

func (c *consoleHandler) Handle(ctx context.Context, r slog.Record) error {
	if c.over != "" {
		r = overDepth(r, c.over, c.overAttrs, c.lim.Budget().MaxValueBytes)
	} else if !fits(&r, &c.b) {
		r, _ = c.lim.Record(r, len(c.groups), false)
	}
	if len(c.groups) == 0 || r.NumAttrs() == 0 {
		return c.h.Handle(ctx, r)
	}
	attrs := make([]slog.Attr, 0, r.NumAttrs())
	r.Attrs(func(a slog.Attr) bool {
		attrs = append(attrs, a)
		return true
	})
	nr := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	nr.AddAttrs(nest(c.groups, attrs))
	return c.h.Handle(ctx, nr)
}

// nest returns attrs inside the groups, outermost first.
func nest(groups []string, attrs []slog.Attr) slog.Attr {
	a := slog.Attr{Key: groups[len(groups)-1], Value: slog.GroupValue(attrs...)}
	for i := len(groups) - 2; i >= 0; i-- {
		a = slog.Attr{Key: groups[i], Value: slog.GroupValue(a)}
	}
	return a
}

func (c *consoleHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return c
	}
	if c.over != "" {
		n := *c
		n.overAttrs = true
		return &n
	}
	attrs = c.lim.Attrs(attrs, len(c.groups), false)
	if len(c.groups) > 0 {
		attrs = []slog.Attr{nest(c.groups, slices.Clone(attrs))}
	}
	return &consoleHandler{h: c.h.WithAttrs(attrs), lim: c.lim, b: c.b, groups: c.groups}
}

func (c *consoleHandler) WithGroup(name string) slog.Handler {
	if name == "" || c.over != "" {
		return c
	}
	n := *c
	name = budget.Truncate(name, c.lim.Budget().MaxValueBytes)
	if len(c.groups) >= c.lim.Budget().MaxDepth {
		n.over = name
		return &n
	}
	n.groups = slices.Clip(append(slices.Clip(c.groups), name))
	return &n
}
