package metricsink

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/realtimeserver/observability/drop"
	"github.com/realtimeserver/observability/internal/budget"
)

// This file and the other core*.go files are the metrics core: what
// every backend of the kit (Prometheus, DogStatsD, OTLP) shares, so that
// each concept exists once. Instrumentation never needs them; a backend
// holds one of each:
//
//   - Kinds, the kind table: a name has one kind, the first use or
//     declaration wins, other kinds are refused; and the bounds on names
//     and series (core_kinds.go);
//   - Guard, the name, tag-key and tag-value rules: validation, reserved
//     keys, the value-length cut (this file);
//   - Drops, the drop counts by drop.Reason and the warnings, logged once
//     per reason and metric and never under a lock (core_drops.go);
//   - Funcs, the GaugeFunc and CounterFunc callbacks, read with a timeout
//     (core_funcs.go);
//   - Lookup, the one structure between a Sink method and a backend's
//     series (core_lookup.go).

// Op is the Sink method a sample came through. It decides the kind of the
// metric and, for Duration, its unit ("seconds").
type Op uint8

// The ops, one per Sink method.
const (
	OpIncrement Op = iota + 1
	OpGauge
	OpHistogram
	OpDuration
)

// Kind returns the kind of metric op records: Counter, Gauge, or
// Histogram for OpHistogram and OpDuration.
func (o Op) Kind() Kind {
	switch o {
	case OpIncrement:
		return Counter
	case OpGauge:
		return Gauge
	}
	return Histogram
}

// Bounds on names and tag keys every backend applies, on top of the rules
// of its own format.
const (
	// MaxNameLen is the longest metric name accepted once mapped by
	// SnakeCase; a backend's namespace and suffixes come on top.
	MaxNameLen = 200
	// MaxKeyLen is the longest tag key accepted once mapped by SnakeCase.
	MaxKeyLen = 100
)

// TruncationMarker ends a tag value cut to a backend's value-length bound.
const TruncationMarker = "…"

// CheckName returns the reason and the detail why a sample of name must
// be dropped, or 0 and "": name must have a letter or digit and must be
// at most MaxNameLen bytes long once mapped by SnakeCase. base is
// SnakeCase(name) when name is accepted. Whether a name may start with a
// digit is the backend's format's to say (a namespace may come first).
func CheckName(name string) (base string, r drop.Reason, detail string) {
	if len(name) > 4*MaxNameLen {
		return "", drop.InvalidName, "the name is longer than " + strconv.Itoa(MaxNameLen) + " characters"
	}
	base = SnakeCase(name)
	switch {
	case base == "":
		return "", drop.InvalidName, "the name has no letter or digit"
	case len(base) > MaxNameLen:
		return "", drop.InvalidName, "the name is longer than " + strconv.Itoa(MaxNameLen) + " characters once mapped"
	}
	return base, 0, ""
}

// Guard applies the tag rules every backend shares: Tags whose Err is not
// nil are refused; a key must be valid UTF-8, must have a letter or digit,
// must not start with
// a digit, must be at most MaxKeyLen bytes once mapped by SnakeCase, must
// not start with "__" nor be one of the backend's reserved keys, and no
// two keys of one sample may map to the same key; a value has invalid
// UTF-8 replaced by U+FFFD and is cut to MaxValueBytes at a character
// boundary, ending with TruncationMarker. A Guard is immutable and safe
// for concurrent use.
type Guard struct {
	maxValue int
	reserved []string // mapped keys
}

// NewGuard returns the Guard that cuts values to maxValueBytes (at least
// 16) and refuses the keys in reserved (compared once mapped by SnakeCase)
// besides those starting with "__".
func NewGuard(maxValueBytes int, reserved ...string) Guard {
	g := Guard{maxValue: max(maxValueBytes, 16)}
	for _, k := range reserved {
		g.reserved = append(g.reserved, SnakeCase(k))
	}
	return g
}

// MaxValueBytes returns the bound on a value's length.
func (g Guard) MaxValueBytes() int { return g.maxValue }

// Tags appends to dst the tags of *tags with each key mapped by SnakeCase
// when mapKeys is set (else as given) and each value cleaned by Value, in
// the order given, or returns the reason and detail why the sample must be
// dropped.
func (g Guard) Tags(dst []Tag, tags *Tags, mapKeys bool) ([]Tag, drop.Reason, string) {
	list, err := View(tags)
	if err != nil {
		return dst, drop.InvalidTags, err.Error()
	}
	start := len(dst)
	for i, t := range list {
		key, r, detail := g.key(t.Key)
		if r != 0 {
			return dst[:start], r, detail
		}
		for _, u := range list[:i] {
			if SnakeCase(u.Key) == key {
				return dst[:start], drop.InvalidTags, "two tags map to the key " + strconv.Quote(key)
			}
		}
		if !mapKeys {
			key = t.Key
		}
		dst = append(dst, Tag{Key: key, Value: g.Value(t.Value)})
	}
	return dst, 0, ""
}

// key checks a tag key and returns it mapped by SnakeCase.
func (g Guard) key(raw string) (string, drop.Reason, string) {
	if len(raw) > 4*MaxKeyLen {
		return "", drop.InvalidTags, "tag key " + QuoteShort(raw) + " is longer than " + strconv.Itoa(MaxKeyLen) + " characters"
	}
	key := SnakeCase(raw)
	switch {
	case !utf8.ValidString(raw):
		return "", drop.InvalidTags, "tag key " + QuoteShort(raw) + " is not valid UTF-8"
	case len(key) > MaxKeyLen:
		return "", drop.InvalidTags, "tag key " + QuoteShort(raw) + " is longer than " + strconv.Itoa(MaxKeyLen) + " characters once mapped"
	case key == "":
		return "", drop.InvalidTags, "tag key " + QuoteShort(raw) + " has no letter or digit"
	case strings.HasPrefix(raw, "__") || g.isReserved(key):
		return "", drop.ReservedLabel, "tag key " + QuoteShort(raw) + " is reserved (" + g.reservedList() + ")"
	case key[0] >= '0' && key[0] <= '9':
		return "", drop.InvalidTags, "tag key " + QuoteShort(raw) + " starts with a digit"
	}
	return key, 0, ""
}

func (g Guard) isReserved(key string) bool {
	for _, r := range g.reserved {
		if r == key {
			return true
		}
	}
	return false
}

func (g Guard) reservedList() string {
	return strings.Join(append(append([]string(nil), g.reserved...), "__*"), ", ")
}

// Value returns v with invalid UTF-8 replaced by U+FFFD and, when longer
// than the Guard's bound, cut at a character boundary and ended with
// TruncationMarker, the whole within the bound. A valid, short v is
// returned as it is, without a copy.
func (g Guard) Value(v string) string {
	if len(v) <= g.maxValue && utf8.ValidString(v) {
		return v
	}
	if len(v) > 4*g.maxValue {
		v = v[:4*g.maxValue] // enough for the cut below, whatever is replaced
	}
	v = strings.ToValidUTF8(v, "\uFFFD")
	if len(v) <= g.maxValue {
		return v
	}
	return budget.Cut(v, g.maxValue-len(TruncationMarker)) + TruncationMarker
}

// QuoteShort quotes s for a warning, cut to 64 bytes.
func QuoteShort(s string) string {
	if len(s) > 64 {
		return strconv.Quote(budget.Cut(strings.ToValidUTF8(s[:64], "\uFFFD"), 64)) + "…"
	}
	return strconv.Quote(s)
}

// Limit returns v, or def when v is zero. A negative v is an error that
// names the option (as "Options.MaxSeries") and what is accepted: the one
// meaning of a zero or negative limit across the kit's backends.
func Limit[T int | time.Duration](option string, v, def T) (T, error) {
	switch {
	case v < 0:
		return 0, fmt.Errorf("%s %v is negative; accepted: 0 (default %v) or more", option, v, def)
	case v == 0:
		return def, nil
	}
	return v, nil
}
