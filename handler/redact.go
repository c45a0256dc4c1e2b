package handler

import (
	"cmp"
	"context"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"
)

// Redacted is the value that [Redact] puts in place of a sensitive one.
const Redacted = "[REDACTED]"

// defaultRedactKeys are always redacted by Redact. Lower case.
var defaultRedactKeys = [...]string{
	"password", "passwd", "secret", "token", "api_key", "apikey",
	"authorization", "cookie", "set-cookie",
}

// Redact returns a handler that replaces with [Redacted] the value of
// every attribute whose key is sensitive, before next sees the record.
// The sensitive keys are password, passwd, secret, token, api_key, apikey,
// authorization, cookie and set-cookie, plus the given keys (empty ones are
// ignored). Keys are compared whole and without regard to case
// (Authorization, API_KEY), at any group depth; an attribute or a group
// named by a sensitive key is redacted whole, and so is everything logged
// through WithGroup with a sensitive name.
//
// A value that is a map with string keys (http.Header, url.Values,
// map[string]string, map[string]any) is searched too, to a depth of
// maxMapDepth: when it holds a sensitive key it is passed on as a group of
// its entries, sorted by key, with the sensitive ones replaced, so that
// slog.Any("headers", r.Header) cannot carry an Authorization or Cookie
// header to a backend. Other values (structs, slices) are not searched.
//
// Values are resolved first, so a secret cannot hide behind a
// [slog.LogValuer]: a record holding a LogValuer is passed on with the
// resolved value. Attributes added with WithAttrs are redacted once, when
// WithAttrs is called.
//
// The caller's record is never changed: when something must be replaced,
// next receives a new record with the same time, level, message and PC.
// A record that needs nothing replaced is passed on as it is, and costs
// one pass over its keys and no allocation; a replacement allocates only
// for records with more than five attributes or for rebuilt groups.
//
// Redact panics if next is nil.
func Redact(next slog.Handler, keys ...string) slog.Handler {
	if next == nil {
		panic("handler.Redact: nil next handler")
	}
	ks := &keySet{}
	for _, k := range defaultRedactKeys {
		ks.add(k)
	}
	for _, k := range keys {
		ks.add(k)
	}
	return &redactHandler{next: next, keys: ks}
}

// keySet holds the sensitive keys, lower-cased. ASCII keys are bucketed
// by length so that most keys are rejected by one slice index.
type keySet struct {
	byLen   [][]string // ASCII keys, indexed by length
	unicode []string   // non-ASCII keys, compared with strings.EqualFold
	all     []string   // every key
}

func (s *keySet) add(k string) {
	if k == "" {
		return
	}
	k = strings.ToLower(k)
	for _, w := range s.all {
		if w == k {
			return
		}
	}
	s.all = append(s.all, k)
	if !isASCII(k) {
		s.unicode = append(s.unicode, k)
		return
	}
	for len(s.byLen) <= len(k) {
		s.byLen = append(s.byLen, nil)
	}
	s.byLen[len(k)] = append(s.byLen[len(k)], k)
}

// match reports whether k is a sensitive key, ignoring case. It does not
// allocate.
func (s *keySet) match(k string) bool {
	if len(k) < len(s.byLen) {
		for _, w := range s.byLen[len(k)] {
			if equalFoldASCII(k, w) {
				return true
			}
		}
	}
	ws := s.unicode
	if !isASCII(k) {
		// Unicode case folding can map keys of another length onto ASCII
		// ones (the Kelvin sign folds to k).
		ws = s.all
	}
	for _, w := range ws {
		if strings.EqualFold(k, w) {
			return true
		}
	}
	return false
}

// equalFoldASCII reports whether k equals lower, an ASCII lower-case
// string of the same length, ignoring the case of ASCII letters in k.
func equalFoldASCII(k, lower string) bool {
	for i := 0; i < len(k); i++ {
		c := k[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// needs reports whether redact would change a.
func (s *keySet) needs(a slog.Attr, all bool) bool {
	if a.Key != "" && s.match(a.Key) {
		return true
	}
	switch a.Value.Kind() {
	case slog.KindLogValuer:
		return true
	case slog.KindAny:
		if s.mapNeeds(reflect.ValueOf(a.Value.Any()), 0) {
			return true
		}
	case slog.KindGroup:
		for _, ga := range a.Value.Group() {
			if s.needs(ga, all) {
				return true
			}
		}
		return false
	}
	return all && !a.Equal(slog.Attr{})
}

// redact returns a with sensitive values replaced and LogValuers resolved.
// all means that every value is sensitive. Groups are copied, never
// changed in place.
func (s *keySet) redact(a slog.Attr, all bool) slog.Attr {
	if !s.needs(a, all) {
		return a
	}
	if a.Key != "" && s.match(a.Key) {
		a.Value = slog.StringValue(Redacted)
		return a
	}
	a.Value = a.Value.Resolve()
	if a.Value.Kind() == slog.KindAny {
		if m := reflect.ValueOf(a.Value.Any()); s.mapNeeds(m, 0) {
			a.Value = slog.GroupValue(s.redactMap(m, all)...)
			return a
		}
	}
	if a.Value.Kind() == slog.KindGroup {
		g := a.Value.Group()
		out := make([]slog.Attr, len(g))
		for i, ga := range g {
			out[i] = s.redact(ga, all)
		}
		a.Value = slog.GroupValue(out...)
		return a
	}
	if all && !a.Equal(slog.Attr{}) {
		a.Value = slog.StringValue(Redacted)
	}
	return a
}

// maxMapDepth bounds how deep Redact searches maps inside maps, so that a
// map that contains itself cannot loop.
const maxMapDepth = 8

// stringMap returns v without interface wrappers when it is a map with
// string keys.
func stringMap(v reflect.Value) (reflect.Value, bool) {
	for v.Kind() == reflect.Interface && !v.IsNil() {
		v = v.Elem()
	}
	return v, v.Kind() == reflect.Map && v.Type().Key().Kind() == reflect.String
}

// mapNeeds reports whether v is a map with string keys holding a
// sensitive key, itself or in a map value, to maxMapDepth.
func (s *keySet) mapNeeds(v reflect.Value, depth int) bool {
	m, ok := stringMap(v)
	if !ok || depth >= maxMapDepth {
		return false
	}
	iter := m.MapRange()
	for iter.Next() {
		if s.match(iter.Key().String()) || s.mapNeeds(iter.Value(), depth+1) {
			return true
		}
	}
	return false
}

// redactMap returns the entries of the map m as attributes sorted by key,
// each redacted as an attribute of its own would be.
func (s *keySet) redactMap(m reflect.Value, all bool) []slog.Attr {
	m, _ = stringMap(m)
	out := make([]slog.Attr, 0, m.Len())
	iter := m.MapRange()
	for iter.Next() {
		var v any
		if iter.Value().CanInterface() {
			v = iter.Value().Interface()
		}
		out = append(out, s.redact(slog.Any(iter.Key().String(), v), all))
	}
	slices.SortFunc(out, func(a, b slog.Attr) int { return cmp.Compare(a.Key, b.Key) })
	return out
}

type redactHandler struct {
	next slog.Handler
	keys *keySet // shared by all clones, never changed after Redact
	all  bool    // inside a group with a sensitive name
}

var _ slog.Handler = (*redactHandler)(nil)

func (h *redactHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *redactHandler) Handle(ctx context.Context, r slog.Record) error {
	need := false
	r.Attrs(func(a slog.Attr) bool {
		need = h.keys.needs(a, h.all)
		return !need
	})
	if !need {
		return h.next.Handle(ctx, r)
	}
	nr := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		nr.AddAttrs(h.keys.redact(a, h.all))
		return true
	})
	return h.next.Handle(ctx, nr)
}

func (h *redactHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	out := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		out[i] = h.keys.redact(a, h.all)
	}
	return &redactHandler{next: h.next.WithAttrs(out), keys: h.keys, all: h.all}
}

func (h *redactHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &redactHandler{
		next: h.next.WithGroup(name),
		keys: h.keys,
		all:  h.all || h.keys.match(name),
	}
}
