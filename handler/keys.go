package handler

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// defaultRedactWords are the words of DefaultRedactWords.
var defaultRedactWords = [...]string{
	"password", "passwd", "pwd", "passphrase", "secret", "token", "authorization",
	"cookie", "credential", "apikey", "accesskey", "privatekey", "jwt",
}

// DefaultRedactWords returns, as a new slice, the words that make a key
// sensitive for [Redact], in their joined lower-case form (see
// [RedactOptions] for how keys are split into words and matched).
func DefaultRedactWords() []string { return slices.Clone(defaultRedactWords[:]) }

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

// normalize returns w folded (see fold) with everything but letters and
// digits removed: "X-Api-Key" becomes "xapikey", "ｓｓｎ" becomes "ssn".
func normalize(w string) string {
	var b strings.Builder
	var buf [maxFold]rune
	for _, r := range w {
		if classOf(r) == sep {
			continue
		}
		for _, f := range buf[:fold(r, &buf)] {
			b.WriteRune(f)
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
	// A key shorter than every word cannot match: a rune of a key folds
	// to at most as many runes as it has bytes (the Kelvin sign, 3 bytes,
	// folds to k; the ligature ﬃ, 3 bytes, to ffi), so count runes.
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
	if c, ok := compat(r); ok {
		return classOf(rune(c[0])) // circled and superscript letters are symbols
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

// maxFold is the most runes one rune folds to.
const maxFold = 3

// fold puts in dst the runes r stands for when keys are matched, and
// returns how many: r's compatibility form (see compat), each rune of it
// case folded to one representative of the runes that fold together (see
// caseFold). ASCII letters fold to lower case.
func fold(r rune, dst *[maxFold]rune) int {
	if r < utf8.RuneSelf {
		dst[0] = lowerASCII(r)
		return 1
	}
	if c, ok := compat(r); ok {
		for i := 0; i < len(c); i++ {
			dst[i] = lowerASCII(rune(c[i]))
		}
		return len(c)
	}
	dst[0] = caseFold(r)
	return 1
}

func lowerASCII(r rune) rune {
	if 'A' <= r && r <= 'Z' {
		return r + 'a' - 'A'
	}
	return r
}

// caseFold returns the representative of the runes that fold together
// with r under Unicode's simple case folding (unicode.SimpleFold's orbit:
// s, S and ſ; k, K and the Kelvin sign): the lower-case ASCII letter when
// there is one among them, else the smallest.
func caseFold(r rune) rune {
	min := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < utf8.RuneSelf {
			return lowerASCII(f)
		}
		min = minRune(min, f)
	}
	return min
}

func minRune(a, b rune) rune {
	if a < b {
		return a
	}
	return b
}

// compat returns the ASCII letters and digits that r stands for under
// Unicode's compatibility normalization (NFKC), case kept, or false when
// it stands for none: every rune whose NFKC form is one ASCII letter or
// digit (fullwidth, mathematical, circled, superscript and subscript
// letters and digits, letterlike symbols, the long s, 998 runes in all),
// the Latin ligatures (ﬁ: fi) and digraphs (ǳ: dz), and, from full case
// folding, ß and ẞ (ss). It leaves out NFKC's other mappings to ASCII
// (squared units such as ㎏, roman numerals, numbers in circles), which
// spell no word, and composition: a combining mark splits a key's words,
// and words are joined again when matched, so "pa\u0301ssword" matches as
// "password" does. Look-alike letters of other scripts (Cyrillic а) are
// not compatibility forms and are not mapped.
func compat(r rune) (string, bool) {
	i, ok := slices.BinarySearchFunc(compatRanges[:], r, func(e compatRange, r rune) int {
		switch {
		case e.hi < r:
			return -1
		case e.lo > r:
			return 1
		}
		return 0
	})
	if ok {
		e := compatRanges[i]
		return asciiAlnum[e.to-'0'+byte(r-e.lo):][:1], true
	}
	j, ok := slices.BinarySearchFunc(compatWords[:], r, func(e compatWord, r rune) int { return int(e.r - r) })
	if ok {
		return compatWords[j].s, true
	}
	return "", false
}

// compatWord maps a rune to several ASCII letters.
type compatWord struct {
	r rune
	s string
}

// compatWords are the Latin digraphs and ligatures, and the sharp s, sorted.
var compatWords = [...]compatWord{
	{0xDF, "ss"}, {0x132, "IJ"}, {0x133, "ij"}, {0x1C7, "LJ"}, {0x1C8, "Lj"}, {0x1C9, "lj"},
	{0x1CA, "NJ"}, {0x1CB, "Nj"}, {0x1CC, "nj"}, {0x1F1, "DZ"}, {0x1F2, "Dz"}, {0x1F3, "dz"},
	{0x1E9E, "ss"}, {0xFB00, "ff"}, {0xFB01, "fi"}, {0xFB02, "fl"}, {0xFB03, "ffi"}, {0xFB04, "ffl"},
	{0xFB05, "st"}, {0xFB06, "st"},
}

// asciiAlnum holds the ASCII digits and letters in order, from '0', so
// that a one-letter string of compat is a slice of it.
const asciiAlnum = "0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz"

// compatRange maps the runes lo to hi to the ASCII letters or digits from
// to on.
type compatRange struct {
	lo, hi rune
	to     byte
}

// compatRanges are the runes whose NFKC form is one ASCII letter or digit,
// sorted, as Unicode 15 defines them (golang.org/x/text/unicode/norm
// computes the same).
var compatRanges = [...]compatRange{
	{0xaa, 0xaa, 'a'}, {0xb2, 0xb3, '2'}, {0xb9, 0xb9, '1'}, {0xba, 0xba, 'o'},
	{0x17f, 0x17f, 's'}, {0x2b0, 0x2b0, 'h'}, {0x2b2, 0x2b2, 'j'}, {0x2b3, 0x2b3, 'r'},
	{0x2b7, 0x2b7, 'w'}, {0x2b8, 0x2b8, 'y'}, {0x2e1, 0x2e1, 'l'}, {0x2e2, 0x2e2, 's'},
	{0x2e3, 0x2e3, 'x'}, {0x1d2c, 0x1d2c, 'A'}, {0x1d2e, 0x1d2e, 'B'}, {0x1d30, 0x1d31, 'D'},
	{0x1d33, 0x1d3a, 'G'}, {0x1d3c, 0x1d3c, 'O'}, {0x1d3e, 0x1d3e, 'P'}, {0x1d3f, 0x1d3f, 'R'},
	{0x1d40, 0x1d41, 'T'}, {0x1d42, 0x1d42, 'W'}, {0x1d43, 0x1d43, 'a'}, {0x1d47, 0x1d47, 'b'},
	{0x1d48, 0x1d49, 'd'}, {0x1d4d, 0x1d4d, 'g'}, {0x1d4f, 0x1d4f, 'k'}, {0x1d50, 0x1d50, 'm'},
	{0x1d52, 0x1d52, 'o'}, {0x1d56, 0x1d56, 'p'}, {0x1d57, 0x1d58, 't'}, {0x1d5b, 0x1d5b, 'v'},
	{0x1d62, 0x1d62, 'i'}, {0x1d63, 0x1d63, 'r'}, {0x1d64, 0x1d65, 'u'}, {0x1d9c, 0x1d9c, 'c'},
	{0x1da0, 0x1da0, 'f'}, {0x1dbb, 0x1dbb, 'z'}, {0x2070, 0x2070, '0'}, {0x2071, 0x2071, 'i'},
	{0x2074, 0x2079, '4'}, {0x207f, 0x207f, 'n'}, {0x2080, 0x2089, '0'}, {0x2090, 0x2090, 'a'},
	{0x2091, 0x2091, 'e'}, {0x2092, 0x2092, 'o'}, {0x2093, 0x2093, 'x'}, {0x2095, 0x2095, 'h'},
	{0x2096, 0x2099, 'k'}, {0x209a, 0x209a, 'p'}, {0x209b, 0x209c, 's'}, {0x2102, 0x2102, 'C'},
	{0x210a, 0x210a, 'g'}, {0x210b, 0x210b, 'H'}, {0x210c, 0x210c, 'H'}, {0x210d, 0x210d, 'H'},
	{0x210e, 0x210e, 'h'}, {0x2110, 0x2110, 'I'}, {0x2111, 0x2111, 'I'}, {0x2112, 0x2112, 'L'},
	{0x2113, 0x2113, 'l'}, {0x2115, 0x2115, 'N'}, {0x2119, 0x211b, 'P'}, {0x211c, 0x211c, 'R'},
	{0x211d, 0x211d, 'R'}, {0x2124, 0x2124, 'Z'}, {0x2128, 0x2128, 'Z'}, {0x212a, 0x212a, 'K'},
	{0x212c, 0x212d, 'B'}, {0x212f, 0x212f, 'e'}, {0x2130, 0x2131, 'E'}, {0x2133, 0x2133, 'M'},
	{0x2134, 0x2134, 'o'}, {0x2139, 0x2139, 'i'}, {0x2145, 0x2145, 'D'}, {0x2146, 0x2147, 'd'},
	{0x2148, 0x2149, 'i'}, {0x2160, 0x2160, 'I'}, {0x2164, 0x2164, 'V'}, {0x2169, 0x2169, 'X'},
	{0x216c, 0x216c, 'L'}, {0x216d, 0x216e, 'C'}, {0x216f, 0x216f, 'M'}, {0x2170, 0x2170, 'i'},
	{0x2174, 0x2174, 'v'}, {0x2179, 0x2179, 'x'}, {0x217c, 0x217c, 'l'}, {0x217d, 0x217e, 'c'},
	{0x217f, 0x217f, 'm'}, {0x2460, 0x2468, '1'}, {0x24b6, 0x24cf, 'A'}, {0x24d0, 0x24e9, 'a'},
	{0x24ea, 0x24ea, '0'}, {0x2c7c, 0x2c7c, 'j'}, {0x2c7d, 0x2c7d, 'V'}, {0xa7f2, 0xa7f2, 'C'},
	{0xa7f3, 0xa7f3, 'F'}, {0xa7f4, 0xa7f4, 'Q'}, {0xff10, 0xff19, '0'}, {0xff21, 0xff3a, 'A'},
	{0xff41, 0xff5a, 'a'}, {0x107a5, 0x107a5, 'q'}, {0x1d400, 0x1d419, 'A'}, {0x1d41a, 0x1d433, 'a'},
	{0x1d434, 0x1d44d, 'A'}, {0x1d44e, 0x1d454, 'a'}, {0x1d456, 0x1d467, 'i'}, {0x1d468, 0x1d481, 'A'},
	{0x1d482, 0x1d49b, 'a'}, {0x1d49c, 0x1d49c, 'A'}, {0x1d49e, 0x1d49f, 'C'}, {0x1d4a2, 0x1d4a2, 'G'},
	{0x1d4a5, 0x1d4a6, 'J'}, {0x1d4a9, 0x1d4ac, 'N'}, {0x1d4ae, 0x1d4b5, 'S'}, {0x1d4b6, 0x1d4b9, 'a'},
	{0x1d4bb, 0x1d4bb, 'f'}, {0x1d4bd, 0x1d4c3, 'h'}, {0x1d4c5, 0x1d4cf, 'p'}, {0x1d4d0, 0x1d4e9, 'A'},
	{0x1d4ea, 0x1d503, 'a'}, {0x1d504, 0x1d505, 'A'}, {0x1d507, 0x1d50a, 'D'}, {0x1d50d, 0x1d514, 'J'},
	{0x1d516, 0x1d51c, 'S'}, {0x1d51e, 0x1d537, 'a'}, {0x1d538, 0x1d539, 'A'}, {0x1d53b, 0x1d53e, 'D'},
	{0x1d540, 0x1d544, 'I'}, {0x1d546, 0x1d546, 'O'}, {0x1d54a, 0x1d550, 'S'}, {0x1d552, 0x1d56b, 'a'},
	{0x1d56c, 0x1d585, 'A'}, {0x1d586, 0x1d59f, 'a'}, {0x1d5a0, 0x1d5b9, 'A'}, {0x1d5ba, 0x1d5d3, 'a'},
	{0x1d5d4, 0x1d5ed, 'A'}, {0x1d5ee, 0x1d607, 'a'}, {0x1d608, 0x1d621, 'A'}, {0x1d622, 0x1d63b, 'a'},
	{0x1d63c, 0x1d655, 'A'}, {0x1d656, 0x1d66f, 'a'}, {0x1d670, 0x1d689, 'A'}, {0x1d68a, 0x1d6a3, 'a'},
	{0x1d7ce, 0x1d7d7, '0'}, {0x1d7d8, 0x1d7e1, '0'}, {0x1d7e2, 0x1d7eb, '0'}, {0x1d7ec, 0x1d7f5, '0'},
	{0x1d7f6, 0x1d7ff, '0'}, {0x1f12b, 0x1f12b, 'C'}, {0x1f12c, 0x1f12c, 'R'}, {0x1f130, 0x1f149, 'A'},
	{0x1fbf0, 0x1fbf9, '0'},
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
// joined and folded (see fold), is a sensitive word, or a sensitive word
// and a final "s". It allocates nothing and keeps no per-word state, so a
// key of any length costs time linear in its length times the few
// candidate words, and no memory.
func (s *keySet) match(k string) bool {
	if len(k) < s.minLen || s.minLen == 0 {
		return false
	}
	for i := 0; ; {
		start, end := nextWord(k, i)
		if start >= len(k) {
			return false
		}
		it := foldIter{k: k, i: start, end: end}
		r, _ := it.next()
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

// foldIter yields the folded runes of k[i:end].
type foldIter struct {
	k      string
	i, end int
	buf    [maxFold]rune
	n, at  int // runes in buf, and the next one to yield
}

func (it *foldIter) next() (rune, bool) {
	if it.at < it.n {
		it.at++
		return it.buf[it.at-1], true
	}
	if it.i >= it.end {
		return 0, false
	}
	r, n := decode(it.k, it.i)
	it.i += n
	it.n, it.at = fold(r, &it.buf), 1
	return it.buf[0], true
}

// done reports whether next has yielded every rune.
func (it *foldIter) done() bool { return it.at >= it.n && it.i >= it.end }

// matchRun reports whether w, followed by nothing or by a final "s", is
// the joined folded text of the words of k from k[start:end] on.
func matchRun(k string, start, end int, w string) bool {
	wi := 0
	for start < len(k) {
		it := foldIter{k: k, i: start, end: end}
		for {
			r, ok := it.next()
			if !ok {
				break
			}
			if wi == len(w) {
				return r == 's' && it.done()
			}
			wr, wn := decode(w, wi)
			if r != wr {
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
