package handler

import (
	"bytes"
	"testing"
	"unicode"
	"unicode/utf8"
)

// stripANSIRunes is the rule stripANSI implements, rune by rune: drop an
// ESC and everything up to and including the next letter.
func stripANSIRunes(dst, p []byte) []byte {
	for i := 0; i < len(p); {
		if p[i] != ansiEsc {
			dst = append(dst, p[i])
			i++
			continue
		}
		for i++; i < len(p); {
			r, size := utf8.DecodeRune(p[i:])
			i += size
			if unicode.IsLetter(r) {
				break
			}
		}
	}
	return dst
}

// FuzzStripANSIRule checks that stripANSI, which tests the ASCII bytes of
// escape sequences directly, removes exactly what the rune rule removes,
// and appends to what dst already holds.
func FuzzStripANSIRule(f *testing.F) {
	for _, s := range []string{"", "plain", "\x1b[2mk\x1b[0m", "a\x1b", "\x1b\xff[1m", "é\x1b[1mü",
		"\x1b[1;ém", "\x1b[1\xc3", "\x1b@[`{z", "\x1bZ", "\x1b\x1b[m", "\x1bπx"} {
		f.Add([]byte("pre"), []byte(s))
	}
	f.Fuzz(func(t *testing.T, pre, p []byte) {
		want := stripANSIRunes(bytes.Clone(pre), p)
		got := stripANSI(bytes.Clone(pre), p)
		if !bytes.Equal(got, want) {
			t.Fatalf("stripANSI(%q, %q) = %q, want %q", pre, p, got, want)
		}
	})
}
