package dogstatsd

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/realtimeserver/observability/drop"
	"github.com/realtimeserver/observability/metricsink"
)

// maxNameLen is the longest metric name Datadog accepts, namespace included.
const maxNameLen = 200

// maxKeyLen bounds the names and tags, together, that the Sink remembers
// converted; longer ones are converted on every call, so that long tag
// values cannot fill memory with long keys.
const maxKeyLen = 1024

// series is a name and tags converted for the client. It is never changed once
// built, so its tags slice can be handed to the client, which may keep it.
type series struct {
	name   string
	tags   []string
	dist   bool        // histograms and durations are sent as distributions
	reason drop.Reason // 0 when the series can be sent
	detail string      // why not
}

// newSeries converts a name and tags (checked by metricsink.Guard) under
// Datadog's rules.
func newSeries(name string, tags []metricsink.Tag, namespaceLen int) *series {
	n, ok := sanitizeName(name)
	if !ok || (namespaceLen == 0 && !isLetter(n[0])) || namespaceLen+len(n) > maxNameLen {
		return &series{reason: drop.InvalidName, detail: "Datadog wants a name of ASCII letters, digits, '_' and '.', starting with a letter, of at most 200 characters"}
	}
	sr := &series{name: strings.Clone(n)}
	if len(tags) > 0 {
		sr.tags = make([]string, 0, len(tags))
	}
	for _, t := range tags {
		tag, ok := datadogTag(t.Key, t.Value)
		if !ok {
			return &series{reason: drop.InvalidTags, detail: "tag key " + metricsink.QuoteShort(t.Key) + " does not start with a letter once normalized"}
		}
		sr.tags = append(sr.tags, tag)
	}
	return sr
}

// maxTagLen is the most characters Datadog keeps of a tag, "key:value".
const maxTagLen = 200

// NormalizeTag returns the tag key:value as Datadog stores and shows it,
// which is what the Sink sends, and false when Datadog would not accept
// it (see datadogTag). Dashboards and monitors should filter on these
// values: "route:/api/videos/{video_id}/comments" is stored as
// "route:/api/videos/_video_id_/comments".
func NormalizeTag(key, value string) (string, bool) { return datadogTag(key, value) }

// datadogTag returns key:value as Datadog stores it, so that what is sent
// is what Datadog shows and queries match: lower-cased; every character but
// Unicode letters and digits, '_', '-', '.', '/' and, in the value, ':'
// replaced with '_' (invalid UTF-8 too); runs of '_' reduced to one; at
// most maxTagLen characters; trailing '_' (and ':', with which Datadog
// refuses a tag to end) removed. ok is false when the
// key is empty or does not start with a letter. An empty value (after these
// rules) is sent as "none", since Datadog refuses a tag ending with ':'.
func datadogTag(key, value string) (string, bool) {
	b := make([]byte, 0, len(key)+1+len(value))
	n := 0 // characters written
	b, n = appendTagPart(b, n, key, false)
	for len(b) > 0 && b[len(b)-1] == '_' {
		b = b[:len(b)-1]
		n--
	}
	if len(b) == 0 {
		return "", false
	}
	if r, _ := utf8.DecodeRune(b); !unicode.IsLetter(r) {
		return "", false
	}
	b = append(b, ':')
	n++
	keyLen := len(b)
	b, _ = appendTagPart(b, n, value, true)
	for len(b) > keyLen && (b[len(b)-1] == '_' || b[len(b)-1] == ':') {
		b = b[:len(b)-1]
	}
	if len(b) == keyLen {
		if keyLen+4 > maxTagLen {
			return "", false
		}
		b = append(b, "none"...)
	}
	return string(b), true
}

// appendTagPart appends s to b under Datadog's tag rules, while b holds
// fewer than maxTagLen characters (n so far), and returns b and n.
func appendTagPart(b []byte, n int, s string, value bool) ([]byte, int) {
	for _, r := range s {
		if n >= maxTagLen {
			break
		}
		r = unicode.ToLower(r)
		switch {
		case r == utf8.RuneError:
			r = '_'
		case unicode.IsLetter(r), unicode.IsDigit(r), r == '-', r == '.', r == '/', r == '_':
		case r == ':' && value:
		default:
			r = '_'
		}
		if r == '_' && len(b) > 0 && b[len(b)-1] == '_' {
			continue
		}
		b = utf8.AppendRune(b, r)
		n++
	}
	return b, n
}

// normalizeGlobalTag applies datadogTag to a global tag, "key:value" or a
// bare "value" (which must start with a letter).
func normalizeGlobalTag(t string) (string, bool) {
	if k, v, ok := strings.Cut(t, ":"); ok {
		return datadogTag(k, v)
	}
	b, _ := appendTagPart(nil, 0, t, false)
	for len(b) > 0 && b[len(b)-1] == '_' {
		b = b[:len(b)-1]
	}
	if len(b) == 0 {
		return "", false
	}
	if r, _ := utf8.DecodeRune(b); !unicode.IsLetter(r) {
		return "", false
	}
	return string(b), true
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
