package handler

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// DefaultRedactWords are the words that make a key sensitive for
// [Redact], in their joined lower-case form (see [RedactOptions] for how
// keys are split into words and matched).
var DefaultRedactWords = []string{
	"password", "passwd", "pwd", "passphrase", "secret", "token", "authorization",
	"cookie", "credential", "apikey", "accesskey", "privatekey", "jwt",
}

// span is one word of a key: k[start:end].
type span struct{ start, end int }

// keySet holds the sensitive words, normalized: lower case, letters and
// digits only. Words are bucketed by their first letter so that most
// words of a key are rejected by one index.
type keySet struct {
	ascii  [utf8.RuneSelf][]string // by first byte
	other  []string                // words starting with a non-ASCII letter
	minLen int                     // bytes of the shortest word, 0 when there is none
}

func newKeySet(words ...[]string) *keySet {
	s := &keySet{}
	for _, ws := range words {
		for _, w := range ws {
			s.add(w)
		}
	}
	return s
}

// normalize returns w lower-cased with everything but letters and digits
// removed: "X-Api-Key" becomes "xapikey".
func normalize(w string) string {
	var b strings.Builder
	for _, r := range w {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

func (s *keySet) add(w string) {
	w = normalize(w)
	if w == "" {
		return
	}
	r, _ := utf8.DecodeRuneInString(w)
	b := &s.other
	if r < utf8.RuneSelf {
		b = &s.ascii[r]
	}
	for _, x := range *b {
		if x == w {
			return
		}
	}
	*b = append(*b, w)
	// A key shorter than every word cannot match; keys folding to a
	// word of another byte length (the Kelvin sign is 3 bytes, k is 1)
	// are at least one byte per rune, so count runes.
	if n := utf8.RuneCountInString(w); s.minLen == 0 || n < s.minLen {
		s.minLen = n
	}
}

// class of a rune for word splitting.
const (
	sep = iota
	lower
	upper
	digit
)

func classOf(r rune) int {
	if r < utf8.RuneSelf {
		switch {
		case 'a' <= r && r <= 'z':
			return lower
		case 'A' <= r && r <= 'Z':
			return upper
		case '0' <= r && r <= '9':
			return digit
		}
		return sep
	}
	switch {
	case unicode.IsUpper(r) || unicode.IsTitle(r):
		return upper
	case unicode.IsLetter(r):
		return lower
	case unicode.IsDigit(r):
		return digit
	}
	return sep
}

func decode(s string, i int) (rune, int) {
	if c := s[i]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRuneInString(s[i:])
}

func toLower(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}
	return unicode.ToLower(r)
}

// nextWord returns the first word of k at or after byte i, which must be
// a word boundary, as k[start:end]; start is len(k) when there is none.
// Words are runs of letters and digits, split where a lower-case letter is
// followed by an upper-case one (dbPassword), before the last of several
// upper-case letters followed by a lower-case one (APIKey), and between
// letters and digits.
func nextWord(k string, i int) (start, end int) {
	for i < len(k) {
		r, n := decode(k, i)
		if classOf(r) != sep {
			break
		}
		i += n
	}
	if i >= len(k) {
		return len(k), len(k)
	}
	start = i
	r, n := decode(k, i)
	prev := classOf(r)
	for i += n; i < len(k); i += n {
		r, n = decode(k, i)
		c := classOf(r)
		switch {
		case c == sep, prev == lower && c == upper, (prev == digit) != (c == digit):
			return start, i
		case prev == upper && c == upper && i+n < len(k):
			if nr, _ := decode(k, i+n); classOf(nr) == lower {
				return start, i
			}
		}
		prev = c
	}
	return start, len(k)
}

// words appends the words of k, as nextWord finds them, to dst.
func words(k string, dst []span) []span {
	for i := 0; ; {
		s, e := nextWord(k, i)
		if s >= len(k) {
			return dst
		}
		dst = append(dst, span{s, e})
		i = e
	}
}

// match reports whether k is sensitive: whether some run of its words,
// joined and lower-cased, is a sensitive word, or a sensitive word and a
// final "s". It allocates nothing and keeps no per-word state, so a key of
// any length costs time linear in its length times the few candidate
// words, and no memory.
func (s *keySet) match(k string) bool {
	if len(k) < s.minLen || s.minLen == 0 {
		return false
	}
	for i := 0; ; {
		start, end := nextWord(k, i)
		if start >= len(k) {
			return false
		}
		r, _ := decode(k, start)
		r = toLower(r)
		cands := s.other
		if r < utf8.RuneSelf {
			cands = s.ascii[r]
		}
		for _, w := range cands {
			if matchRun(k, start, end, w) {
				return true
			}
		}
		i = end
	}
}

// matchRun reports whether w, followed by nothing or by a final "s", is
// the joined lower-cased text of the words of k from k[start:end] on.
func matchRun(k string, start, end int, w string) bool {
	wi := 0
	for start < len(k) {
		for i := start; i < end; {
			r, n := decode(k, i)
			i += n
			if wi == len(w) {
				return (r == 's' || r == 'S') && i == end
			}
			wr, wn := decode(w, wi)
			if toLower(r) != wr {
				return false
			}
			wi += wn
		}
		if wi == len(w) {
			return true
		}
		start, end = nextWord(k, end)
	}
	return false
}
