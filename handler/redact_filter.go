package handler

import "unicode/utf8"

// keyFilter is a keySet with a cheap test in front of it. Most keys a
// service logs (user_id, status_code, route) lack some letter of every
// sensitive word, and that is told by one pass over their bytes, with no
// word splitting: a key can be sensitive only if, for some word, every
// letter and digit of the word occurs in the key, in either case. Keys
// that pass the test, and keys with a byte past ASCII (whose case folding
// can reach ASCII letters: the Kelvin sign folds to k), are matched by
// the keySet, so the filter changes the cost of a match, never its
// answer.
type keyFilter struct {
	ks *keySet
	// masks holds, for each ASCII word, the set of its letters and
	// digits (see charBit). Words with a rune past ASCII are left out:
	// an ASCII key, which lower-cases to ASCII, cannot match them.
	masks []uint64
}

// charBit maps each byte to its bit in a letter set: a-z and A-Z to bits
// 0-25, 0-9 to bits 26-35, any other ASCII byte to 0, and bytes past
// ASCII to nonASCII.
var charBit = func() (t [256]uint64) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = 1 << (c - 'a')
		t[c-'a'+'A'] = 1 << (c - 'a')
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = 1 << (26 + c - '0')
	}
	for c := utf8.RuneSelf; c < 256; c++ {
		t[c] = nonASCII
	}
	return t
}()

const nonASCII = 1 << 63

func newKeyFilter(ks *keySet) *keyFilter {
	f := &keyFilter{ks: ks}
	for _, b := range ks.ascii {
		for _, w := range b {
			var m uint64
			for i := 0; i < len(w); i++ {
				m |= charBit[w[i]]
			}
			if m&nonASCII == 0 {
				f.masks = append(f.masks, m)
			}
		}
	}
	return f
}

// MinLen returns the length of the shortest sensitive word: a key of
// fewer bytes cannot match it (see keySet.add).
func (f *keyFilter) MinLen() int { return f.ks.minLen }

// Sensitive reports whether k is sensitive, as keySet.match does.
func (f *keyFilter) Sensitive(k string) bool {
	if len(k) < f.ks.minLen || f.ks.minLen == 0 {
		return false
	}
	var m uint64
	for i := 0; i < len(k); i++ {
		m |= charBit[k[i]]
	}
	if m&nonASCII == 0 && !f.maybe(m) {
		return false
	}
	return f.ks.match(k)
}

// maybe reports whether the letter set m of an ASCII key holds every
// letter of some ASCII word.
func (f *keyFilter) maybe(m uint64) bool {
	for _, w := range f.masks {
		if w&^m == 0 {
			return true
		}
	}
	return false
}
