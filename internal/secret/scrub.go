// Package secret is the kit's one way to keep secrets out of texts: every
// error, diagnostic line and Stats.LastError of the delivery core
// (Datadog logs, OTLP), the connection errors of dbmetrics and the demo's
// last error pass through a [Scrubber].
//
// A Scrubber knows two kinds of secret, chosen per secret by [New]:
//
//   - A key (an API key, a token, a header value) is found whole or by a
//     prefix of 8 bytes or more, in any ASCII case, as written and in the
//     forms an encoder gives it (URL, JSON, Go-quoted, base64 at any
//     alignment), and is replaced by [Redacted]. The credentials after a
//     scheme ("Bearer TOKEN", "Basic BASE64") are keys of their own.
//   - A password is scrubbed as a key, and also by its fragments: every
//     run of [MinPart] characters or more that a text shares with the
//     password, as written, decoded, percent-encoded or quoted, is
//     masked, wherever it appears and whatever surrounds it. A driver
//     reads a password that holds '@', '/', '?', '#' or ':' unencoded as
//     pieces (postgres://u:Lima@127.0.0.1:5/Mike9@db/app is the password
//     "Lima" for pgx, then the database "Mike9@db/app"), and prints the
//     pieces where nothing masks them; only the fragment rule removes them.
//     [DSNPasswords] returns every text of a DSN that a driver may have
//     taken for a password.
//
// The fragment rule is not applied to keys. A key is read by the kit
// itself, never cut into pieces by a parser, and it is typically 32 or
// more random characters whose runs of 4 are as likely as any in an
// ordinary text. On the delivery errors of this package's tests, the
// fragment rule would change 0.46% of the texts for a random
// 32-character hexadecimal key (a port, a count, a trace id that shares 4
// characters with it), and one text or more for 3.5% of such keys, where
// the prefix rule changes none (go test -run
// TestFragmentRuleFalsePositives -v ./internal/secret).
package secret

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Redacted replaces a key, or a password's form found whole or by its
// prefix, in a scrubbed text.
const Redacted = "[REDACTED]"

// minSecret is the length in bytes of the shortest key a Scrubber scrubs:
// shorter ones are no secrets worth the name, and replacing them would
// shred every text.
const minSecret = 4

// minPrefix is the shortest prefix of a secret's form that is scrubbed
// when the whole does not appear (a receiver's error body cut short).
const minPrefix = 8

// MinPart is the length, in characters, of the shortest fragment of a
// password that a Scrubber removes. A password shorter than this is not
// looked for by its fragments: its every occurrence would be ordinary text
// too.
const MinPart = 4

// maskRunes are the characters a password's mask is made of, the first
// that no form of a password holds: a mask made of one, five times, cannot
// join the text around it into a fragment of a password. pgx masks with
// xxxxx.
const maskRunes = "x*#~-_.abcdefghijklmnopqrstuvwyz"

// Scrubber keeps secrets out of texts. For each key and password it
// replaces with [Redacted], in any case (ASCII letters folded, and the
// whole upper- and lower-cased): the secret itself; its URL (query, path
// and userinfo), JSON (with and without "/" escaped), Go-quoted and libpq
// key=value quoted forms, and its percent-decoded form; its base64 forms
// (standard and URL alphabets, at each of the three alignments it can have
// inside a longer encoded text, such as a Basic authorization); and a
// prefix of at least 8 bytes of any of these. The credentials of a value
// with a scheme ("Bearer TOKEN", "Basic BASE64", and what the latter
// decodes to) count as secrets of their own. Secrets shorter than 4 bytes
// are left alone.
//
// Then, for passwords only, it replaces every run of [MinPart] characters
// or more that the text shares with a password's forms as written (the
// password itself, percent-encoded, percent-decoded, quoted; case
// preserved) by a mask of five times a character that no such form holds
// (xxxxx, as pgx masks, when the passwords hold no 'x'). No run of MinPart
// characters of these forms is left in a scrubbed text.
//
// A Scrubber is immutable and safe for concurrent use; a nil *Scrubber
// scrubs nothing.
type Scrubber struct {
	forms []string // ASCII-folded, longest first
	// parts holds every substring of MinPart characters of every written
	// form of every password. A text's runs of matching windows are
	// exactly its runs of MinPart characters or more shared with one.
	parts map[string]struct{}
	mask  string // replaces each such run
}

// New returns the Scrubber of keys (API keys, tokens, header values) and
// of passwords (see [Scrubber]), or nil when none of them is long enough
// to be scrubbed. Surrounding white space is trimmed from each secret,
// except from a password's fragments, which keep it.
func New(keys, passwords []string) *Scrubber {
	s := &Scrubber{}
	seen := map[string]bool{}
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
	for _, v := range withParts(slices.Concat(keys, passwords)) {
		v = strings.TrimSpace(v)
		if len(v) < minSecret {
			continue
		}
		for _, w := range []string{v, strings.ToLower(v), strings.ToUpper(v)} {
			for _, f := range slices.Concat(encodings(w), jsonForms(w)) {
				add(f)
			}
		}
		for _, f := range decodings(v) {
			add(f)
		}
		for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
			for pad := range 3 {
				add(base64Core(enc, v, pad))
			}
		}
	}
	// Longest first, so that a form that holds another goes whole.
	slices.SortStableFunc(s.forms, func(a, b string) int { return len(b) - len(a) })

	var held strings.Builder
	for _, p := range passwords {
		for _, f := range append(encodings(p), decodings(p)...) {
			s.addParts(f)
			held.WriteString(f)
		}
	}
	if len(s.parts) > 0 {
		s.mask = maskFor(held.String())
	}
	if len(s.forms) == 0 && len(s.parts) == 0 {
		return nil
	}
	return s
}

// encodings returns v as written and in the forms a driver or a formatter
// may print it: percent-encoded (query, path and userinfo rules),
// Go-quoted, and backslash-escaped as libpq's key=value form quotes it.
func encodings(v string) []string {
	q := strconv.Quote(v)
	return []string{v, url.QueryEscape(v), url.PathEscape(v),
		strings.TrimPrefix(url.UserPassword("", v).String(), ":"),
		strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v),
		q[1 : len(q)-1]}
}

// jsonForms returns v as a JSON string's content, with and without "/"
// escaped (as other encoders write it).
func jsonForms(v string) []string {
	js, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	c := string(js[1 : len(js)-1])
	return []string{c, strings.ReplaceAll(c, "/", `\/`)}
}

// decodings returns v percent-decoded, by the path and the query rules,
// where it decodes.
func decodings(v string) []string {
	var out []string
	if d, err := url.PathUnescape(v); err == nil {
		out = append(out, d)
	}
	if d, err := url.QueryUnescape(v); err == nil {
		out = append(out, d)
	}
	return out
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

// maskFor returns five times the first of maskRunes that held lacks, or
// else the first letter or symbol from U+00C0 on that it lacks.
func maskFor(held string) string {
	for _, r := range maskRunes {
		if !strings.ContainsRune(held, r) {
			return strings.Repeat(string(r), 5)
		}
	}
	r := rune(0xC0)
	for strings.ContainsRune(held, r) || !unicode.IsGraphic(r) {
		r++
	}
	return strings.Repeat(string(r), 5)
}

// addParts adds every window of MinPart characters of form.
func (s *Scrubber) addParts(form string) {
	starts := runeStarts(form)
	for i := 0; i+MinPart < len(starts); i++ {
		if s.parts == nil {
			s.parts = map[string]struct{}{}
		}
		s.parts[form[starts[i]:starts[i+MinPart]]] = struct{}{}
	}
}

// runeStarts returns the byte offset of each character of s, and len(s)
// last. An invalid byte counts as a character of its own, on both sides of
// a comparison.
func runeStarts(s string) []int {
	starts := make([]int, 0, len(s)+1)
	for i := 0; i < len(s); {
		starts = append(starts, i)
		_, n := utf8.DecodeRuneInString(s[i:])
		i += n
	}
	return append(starts, len(s))
}

// Scrub returns text with every form of every secret replaced by
// [Redacted], then every fragment of a password by the mask.
func (s *Scrubber) Scrub(text string) string {
	if s == nil {
		return text
	}
	for _, f := range s.forms {
		text = scrubForm(text, f)
	}
	return s.scrubParts(text)
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

// scrubParts returns text with every run of MinPart characters or more
// that it shares with a password replaced by the mask.
func (s *Scrubber) scrubParts(text string) string {
	if len(s.parts) == 0 || len(text) < MinPart {
		return text
	}
	starts := runeStarts(text)
	var b strings.Builder
	done := 0 // bytes of text written or masked
	maskEnd := -1
	for i := 0; i+MinPart < len(starts); i++ {
		from, to := starts[i], starts[i+MinPart]
		if _, ok := s.parts[text[from:to]]; !ok {
			continue
		}
		if from > maskEnd { // a new masked run
			b.WriteString(text[done:from])
			b.WriteString(s.mask)
		}
		maskEnd, done = to, to
	}
	if maskEnd < 0 {
		return text
	}
	b.WriteString(text[done:])
	return b.String()
}

// Err returns err with its text scrubbed. An error whose text Scrub leaves
// as it is is returned as it is; otherwise the result is a new error whose
// errors.Is still sees the original chain (driver.ErrBadConn,
// context.DeadlineExceeded), while errors.As and Unwrap do not reach the
// original error values, whose text or fields may hold the secret.
func (s *Scrubber) Err(err error) error {
	if s == nil || err == nil {
		return err
	}
	text := err.Error()
	msg := s.Scrub(text)
	if msg == text {
		return err
	}
	return &scrubbedError{msg: msg, err: err}
}

// scrubbedError is an error whose text had secrets removed.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }

// Is reports whether the original error matches target.
func (e *scrubbedError) Is(target error) bool { return errors.Is(e.err, target) }
