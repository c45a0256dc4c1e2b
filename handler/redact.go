package handler

import (
	"context"
	"log/slog"

	"github.com/realtimeserver/observability/internal/budget"
)

// Redacted is the value that [Redact] puts in place of a sensitive one.
const Redacted = budget.Redacted

// RedactOptions configures [Redact]. A nil or zero RedactOptions consists
// entirely of default values; Redact never writes to the caller's struct.
//
// A key is sensitive when some run of its words, joined and lower-cased,
// is a sensitive word, or a sensitive word followed by a final "s". Words
// are the runs of letters and digits in the key, split where a lower-case
// letter is followed by an upper-case one (dbPassword: db, password),
// before the last of several upper-case letters followed by a lower-case
// one (APIKey: api, key), and between letters and digits. So with the
// default words db_password, dbPassword, X-Api-Key, DD_API_KEY, api-key,
// access-token, AccessToken, client_secret, private_key, Proxy-Authorization,
// Set-Cookie, pwd and api_keys are all sensitive, and keyboard, monkey or
// author are not. A key that merely contains a sensitive word inside a
// word of its own (passwordless is one word) is not sensitive; one that
// has it as a word is, even when it is harmless (password_hint,
// max_tokens): redaction errs on the side of secrecy.
type RedactOptions struct {
	// Keys are sensitive words added to [DefaultRedactWords]. Each is
	// normalized as the words of a key are joined ("card-number" and
	// "CardNumber" both become cardnumber and match card_number,
	// cardNumber, Card-Number). Default: none.
	Keys []string

	// NoDefaultWords leaves [DefaultRedactWords] out, so that only Keys
	// are sensitive. Default: false.
	NoDefaultWords bool

	// Budget bounds every record; see [Budget]. Default: the zero Budget,
	// which means the defaults it documents.
	Budget Budget
}

// Redact returns a handler that replaces with [Redacted] the value of
// every attribute, map entry and struct field whose key is sensitive (see
// [RedactOptions] for the words and how keys match), at any depth, before
// next sees the record; an attribute or group named by a sensitive key is
// redacted whole, and so is everything logged through WithGroup with a
// sensitive name.
//
// The shape of a value cannot hide a secret: values of kind
// slog.KindAny are rewritten by the rules of [Budget] (maps, structs by
// their exported fields and json tags, pointers, slices, json.RawMessage
// and MarshalJSON output are walked), a [slog.LogValuer] is resolved
// first, and what lies past the depth or size budget is replaced by a
// marker, never passed on. So next receives only bounded, acyclic values:
// Redact in front of slog.NewJSONHandler is a JSON handler that keeps the
// kit's budget.
//
// The caller's record is never changed: when something must be replaced,
// next receives a new record with the same time, level, message and PC.
// A record that needs nothing replaced is passed on as it is, and costs
// one pass over its keys and no allocation; a replacement allocates only
// for records with more than five attributes, for rebuilt groups and for
// rewritten composite values. Attributes added with WithAttrs are
// redacted once, when WithAttrs is called.
//
// Redact panics if next is nil.
func Redact(next slog.Handler, opts *RedactOptions) slog.Handler {
	if next == nil {
		panic("handler.Redact: nil next handler")
	}
	var o RedactOptions
	if opts != nil {
		o = *opts
	}
	var ks *keySet
	if o.NoDefaultWords {
		ks = newKeySet(o.Keys)
	} else {
		ks = newKeySet(DefaultRedactWords, o.Keys)
	}
	kf := newKeyFilter(ks)
	lim := budget.New(o.Budget, kf.match)
	return &redactHandler{next: next, keys: kf, lim: lim, b: lim.Budget()}
}

type redactHandler struct {
	next  slog.Handler
	keys  *keyFilter      // shared by all clones, never changed after Redact
	lim   *budget.Limiter // shared, immutable
	b     budget.Budget   // lim.Budget(), read by plain on every record
	all   bool            // inside a group with a sensitive name
	depth int             // open groups

	// Past MaxDepth open groups, next is given no more groups: over is the
	// name of the first group left out, and whatever is logged inside it
	// becomes the attribute over=!DEPTH.
	over      string
	overAttrs bool // WithAttrs was called past MaxDepth
}

var _ slog.Handler = (*redactHandler)(nil)

func (h *redactHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *redactHandler) Handle(ctx context.Context, r slog.Record) error {
	if h.over != "" {
		r = overDepth(r, h.over, h.overAttrs, h.b.MaxValueBytes)
		return h.next.Handle(ctx, r)
	}
	if !h.plain(&r) {
		r, _ = h.lim.Record(r, h.depth, h.all)
	}
	return h.next.Handle(ctx, r)
}

// plain reports whether r can be passed on as it is, by a check cheaper
// than the Limiter's: outside a sensitive group, a message and attributes
// within the budget, every attribute a string or a scalar (no group,
// LogValuer or value of kind Any, which may hide a sensitive key or need
// rewriting) and no key sensitive. It is the common record of a service,
// checked in one pass that allocates nothing. When it reports false, the
// Limiter decides, so it may err only that way: every record it accepts,
// the Limiter's own check accepts too.
func (h *redactHandler) plain(r *slog.Record) bool {
	if h.all || len(r.Message) > h.b.MaxValueBytes {
		return false
	}
	// c counts what the Limiter counts: attributes against MaxAttrs, and
	// the message, keys and string values against MaxRecordBytes. Both
	// only grow, so one check at the end stands for the Limiter's check
	// at each attribute.
	c := plainCount{bytes: len(r.Message)}
	ok := true
	r.Attrs(func(a slog.Attr) bool {
		ok = h.plainAttr(a, &c)
		return ok
	})
	return ok && c.attrs <= h.b.MaxAttrs && c.bytes <= h.b.MaxRecordBytes
}

type plainCount struct{ attrs, bytes int }

// plainAttr is the check of plain for one top-level attribute.
func (h *redactHandler) plainAttr(a slog.Attr, c *plainCount) bool {
	c.attrs++
	c.bytes += len(a.Key)
	switch v := a.Value; v.Kind() {
	case slog.KindString:
		n := len(v.String())
		c.bytes += n
		if n > h.b.MaxValueBytes {
			return false
		}
	case slog.KindInt64, slog.KindUint64, slog.KindFloat64, slog.KindBool,
		slog.KindDuration, slog.KindTime:
	default:
		return false
	}
	switch {
	case len(a.Key) > h.b.MaxValueBytes:
		return false
	case len(a.Key) < h.keys.ks.minLen:
		return true // shorter than every sensitive word
	}
	return !h.keys.match(a.Key)
}

// overDepth returns r for a handler nested past MaxDepth groups: its
// attributes (and those of WithAttrs, when withAttrs) are replaced by the
// attribute over=[MarkDepth].
func overDepth(r slog.Record, over string, withAttrs bool, maxValue int) slog.Record {
	if r.NumAttrs() == 0 && !withAttrs && len(r.Message) <= maxValue {
		return r
	}
	nr := slog.NewRecord(r.Time, r.Level, budget.Truncate(r.Message, maxValue), r.PC)
	if r.NumAttrs() > 0 || withAttrs {
		nr.AddAttrs(slog.String(over, budget.Depth))
	}
	return nr
}

func (h *redactHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	c := *h
	if h.over != "" {
		c.overAttrs = true
		return &c
	}
	c.next = h.next.WithAttrs(h.lim.Attrs(attrs, h.depth, h.all))
	return &c
}

func (h *redactHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	name = budget.Truncate(name, h.b.MaxValueBytes)
	switch {
	case h.over != "":
	case h.depth >= h.b.MaxDepth:
		c.over = name
	default:
		c.next = h.next.WithGroup(name)
		c.all = h.all || h.keys.match(name)
		c.depth++
	}
	return &c
}
