package deliver

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Redacted replaces a secret in a scrubbed text.
const Redacted = "[REDACTED]"

// minSecret is the shortest value a Scrubber scrubs: shorter ones are no
// secrets worth the name, and replacing them would shred every text.
const minSecret = 4

// minPrefix is the shortest prefix of a secret's form that is scrubbed
// when the whole does not appear (a receiver's error body cut short).
const minPrefix = 8

// Scrubber keeps secrets (API keys, header values) out of texts: every
// error, diagnostic line and Stats.LastError of the kit's delivery passes
// through one. It is the kit's one place for that. For each secret it
// replaces, in any case (ASCII letters folded, and the whole upper- and
// lower-cased): the secret itself; its URL (query and path), JSON (with
// and without "/" escaped) and Go quoted forms; its base64 forms (standard and URL alphabets, at each of
// the three alignments it can have inside a longer encoded text, such as
// a Basic authorization); and a prefix of at least 8 bytes of any of
// these. The credentials of a value with a scheme ("Bearer TOKEN", "Basic
// BASE64", and what the latter decodes to) count as secrets of their own.
// Values shorter than 4 bytes are left alone. A Scrubber is
// immutable and safe for concurrent use; a nil *Scrubber scrubs nothing.
type Scrubber struct {
	forms []string // ASCII-folded, longest first
}

// NewScrubber returns a Scrubber of secrets; surrounding white space is
// trimmed from each.
func NewScrubber(secrets ...string) *Scrubber {
	seen := map[string]bool{}
	s := &Scrubber{}
	add := func(f string) {
		if len(f) < minSecret {
			return
		}
		f = foldASCII(f)
		if !seen[f] {
			seen[f] = true
			s.forms = append(s.forms, f)
		}
	}
	for _, v := range withParts(secrets) {
		v = strings.TrimSpace(v)
		if len(v) < minSecret {
			continue
		}
		for _, w := range []string{v, strings.ToLower(v), strings.ToUpper(v)} {
			add(w)
			add(url.QueryEscape(w))
			add(url.PathEscape(w))
			add(strings.Trim(strconv.Quote(w), `"`))
			if js, err := json.Marshal(w); err == nil {
				js := strings.Trim(string(js), `"`)
				add(js)
				add(strings.ReplaceAll(js, "/", `\/`)) // as other encoders write it
			}
		}
		for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
			for pad := range 3 {
				add(base64Core(enc, v, pad))
			}
		}
	}
	// Longest first, so that a form that holds another goes whole.
	for i := 1; i < len(s.forms); i++ {
		for j := i; j > 0 && len(s.forms[j]) > len(s.forms[j-1]); j-- {
			s.forms[j], s.forms[j-1] = s.forms[j-1], s.forms[j]
		}
	}
	return s
}

// withParts returns secrets followed by the parts of each that are
// secrets too: the credentials after a scheme ("Bearer TOKEN", "Basic
// BASE64"), and what a base64 part decodes to, with the password after a
// "user:". Parts shorter than minPrefix are left out, so that a scheme's
// name ("Bearer") is not scrubbed from every text.
func withParts(secrets []string) []string {
	out := slices.Clone(secrets)
	for _, v := range secrets {
		fields := strings.Fields(v)
		if len(fields) < 2 {
			fields = fields[:0]
		}
		for _, f := range append(fields, strings.TrimSpace(v)) {
			if len(f) < minPrefix {
				continue
			}
			if len(fields) > 0 {
				out = append(out, f)
			}
			for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
				if d, err := enc.DecodeString(f); err == nil && len(d) >= minPrefix && utf8.Valid(d) {
					out = append(out, string(d))
					if _, pass, ok := strings.Cut(string(d), ":"); ok && len(pass) >= minPrefix {
						out = append(out, pass)
					}
				}
			}
		}
	}
	return out
}

// base64Core returns the characters of the base64 encoding of v, preceded
// by pad unknown bytes and followed by unknown bytes, that depend on v's
// bytes alone.
func base64Core(enc *base64.Encoding, v string, pad int) string {
	b := make([]byte, pad+len(v))
	copy(b[pad:], v)
	e := enc.EncodeToString(b)
	from := (8*pad + 5) / 6
	to := 8 * (pad + len(v)) / 6
	if to <= from {
		return ""
	}
	return e[from:to]
}

// foldASCII lower-cases ASCII letters and leaves every other byte, so
// that offsets in the folded text are offsets in the original.
func foldASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; 'A' <= c && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// Scrub returns text with every form of every secret replaced by
// Redacted.
func (s *Scrubber) Scrub(text string) string {
	if s == nil {
		return text
	}
	for _, f := range s.forms {
		text = scrubForm(text, f)
	}
	return text
}

// scrubForm replaces in text each run that matches f, or a prefix of f
// of at least minPrefix bytes (all of f when shorter), ASCII case folded.
func scrubForm(text, f string) string {
	need := min(minPrefix, len(f))
	folded := foldASCII(text)
	head := f[:need]
	if !strings.Contains(folded, head) {
		return text
	}
	var b strings.Builder
	last := 0
	for i := 0; i+need <= len(folded); {
		k := strings.Index(folded[i:], head)
		if k < 0 {
			break
		}
		start := i + k
		end := start + need
		for end < len(folded) && end-start < len(f) && folded[end] == f[end-start] {
			end++
		}
		b.WriteString(text[last:start])
		b.WriteString(Redacted)
		last, i = end, end
	}
	b.WriteString(text[last:])
	return b.String()
}
