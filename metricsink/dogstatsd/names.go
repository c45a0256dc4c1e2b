package dogstatsd

import (
	"encoding/binary"
	"strings"
	"unicode/utf8"

	"github.com/realtimeserver/observability/metricsink"
)

// maxNameLen is the longest metric name Datadog accepts, namespace included.
const maxNameLen = 200

// appendKey appends the cache key of a name and tags to b: each string
// preceded by its length, so that no two inputs share a key. Hashing this
// one short string is several times cheaper than hashing a struct holding
// all MaxTags tag slots.
func appendKey(b []byte, name string, tags *metricsink.Tags) []byte {
	b = appendString(b, name)
	for _, t := range tags.All() {
		b = appendString(appendString(b, t.Key), t.Value)
	}
	return b
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// series is a name and tags converted for the client. It is never changed once
// built, so its tags slice can be handed to the client, which may keep it.
type series struct {
	name   string
	tags   []string
	reason reason // reasonNone when the series can be sent
}

func newSeries(name string, tags *metricsink.Tags, namespaceLen int) *series {
	n, ok := sanitizeName(name)
	if !ok || (namespaceLen == 0 && !isLetter(n[0])) || namespaceLen+len(n) > maxNameLen {
		return &series{reason: reasonName}
	}
	sr := &series{name: n}
	if tags.Len() > 0 {
		sr.tags = make([]string, 0, tags.Len())
	}
	for _, t := range tags.All() {
		k := sanitizeTag(t.Key, true)
		if k == "" {
			return &series{reason: reasonTags}
		}
		sr.tags = append(sr.tags, k+":"+sanitizeTag(t.Value, false))
	}
	return sr
}

// sanitizeName returns name with every character Datadog does not accept
// in a metric name (anything but ASCII letters, digits, '_' and '.')
// replaced with '_', one '_' per character. ok is false when the result is
// empty. It does not check the leading letter or the length, which depend
// on the namespace. A valid name is returned as is, without allocating.
func sanitizeName(name string) (_ string, ok bool) {
	if name == "" {
		return "", false
	}
	i := 0
	for i < len(name) && nameByte(name[i]) {
		i++
	}
	if i == len(name) {
		return name, true
	}
	var b strings.Builder
	b.Grow(len(name))
	b.WriteString(name[:i])
	for _, r := range name[i:] {
		if r < utf8.RuneSelf && nameByte(byte(r)) {
			b.WriteByte(byte(r))
		} else {
			b.WriteByte('_')
		}
	}
	return b.String(), true
}

// sanitizeTag replaces the characters that would break a DogStatsD line in
// a tag key or value with '_': '|' (field separator), ',' (tag separator),
// '#', CR and LF, and in keys also ':' (key-value separator).
func sanitizeTag(s string, key bool) string {
	bad := func(c byte) bool {
		return c == '|' || c == ',' || c == '#' || c == '\n' || c == '\r' || (key && c == ':')
	}
	i := 0
	for i < len(s) && !bad(s[i]) {
		i++
	}
	if i == len(s) {
		return s
	}
	b := []byte(s)
	for ; i < len(b); i++ {
		if bad(b[i]) {
			b[i] = '_'
		}
	}
	return string(b)
}

func nameByte(c byte) bool {
	return isLetter(c) || ('0' <= c && c <= '9') || c == '_' || c == '.'
}

func isLetter(c byte) bool { return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') }

func validNamespace(ns string) bool {
	if len(ns) > maxNameLen-2 || !isLetter(ns[0]) {
		return false
	}
	for i := 0; i < len(ns); i++ {
		if !nameByte(ns[i]) {
			return false
		}
	}
	return true
}

func validGlobalTag(t string) bool {
	return !strings.ContainsAny(t, "|,#\r\n")
}
