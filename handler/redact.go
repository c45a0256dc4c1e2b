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
// the budget's one pass over its attributes (a key shorter than every
// sensitive word, or lacking one of each word's letters, is told apart
// without splitting it into words) and no allocation; a replacement
// allocates only for records with more than five attributes, for rebuilt
// groups and for rewritten composite values. Attributes added with
// WithAttrs are redacted once, when WithAttrs is called. A record Redact
// rewrote is within the budget of every handler of this package (and of
// the Datadog handler) with the same Budget, and is not rewritten again.
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
		ks = newKeySet(defaultRedactWords[:], o.Keys)
	}
	kf := newKeyFilter(ks)
	lim := budget.New(o.Budget, kf)
	return &redactHandler{next: next, lim: lim, keys: kf, b: lim.Budget()}
}

type redactHandler struct {
	next  slog.Handler
	lim   *budget.Limiter // shared, immutable; redacts with keys
	keys  *keyFilter      // shared by all clones, never changed after Redact
	b     budget.Budget   // lim.Budget()
	all   bool            // inside a group with a sensitive name
	depth int             // open groups
	over  overflow        // WithGroup past MaxDepth: next is given no more groups
}

var _ slog.Handler = (*redactHandler)(nil)

func (h *redactHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *redactHandler) Handle(ctx context.Context, r slog.Record) error {
	if h.over.name != "" {
		r = h.over.record(r, h.b.MaxValueBytes)
	} else {
		h.lim.Apply(&r, h.depth, h.all)
	}
	return h.next.Handle(ctx, r)
}

func (h *redactHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	c := *h
	if c.over.withAttrs() {
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
	case h.over.name != "":
	case h.depth >= h.b.MaxDepth:
		c.over.name = name
	default:
		c.next = h.next.WithGroup(name)
		c.all = h.all || h.keys.Sensitive(name)
		c.depth++
	}
	return &c
}
