package jsonesc

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestPlain8(t *testing.T) {
	for b := range 256 {
		for pos := range 8 {
			w := []byte("abcdefgh")
			w[pos] = byte(b)
			if got, want := plain8(load8(string(w))), escClass[b] == 0; got != want {
				t.Fatalf("byte %#x at %d: plain8 %v, want %v", b, pos, got, want)
			}
		}
	}
	x := uint64(0x9E3779B97F4A7C15)
	for range 1 << 20 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		var w [8]byte
		want := true
		for i := range w {
			w[i] = byte(x >> (8 * i))
			want = want && escClass[w[i]] == 0
		}
		if got := plain8(load8(string(w[:]))); got != want {
			t.Fatalf("%q: plain8 %v, want %v", w, got, want)
		}
	}
}

// reference is Append written a byte at a time, the straightforward way:
// the behaviour Append must keep.
func reference(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if escClass[c] == 0 {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(b, s[start:]...)
}

func TestAppendMatchesReference(t *testing.T) {
	for _, s := range []string{
		"", "plain text of some length, past eight bytes", "a\x00\b\f\n\r\t\"\\<>&\u2028\u2029\x7f",
		"héllo wörld 日本語 🎉 \xc3\x28 \xe2\x82", "\xed\xa0\x80", "0123456\"", "01234567\n89",
	} {
		if got, want := string(Append(nil, s)), string(reference(nil, s)); got != want {
			t.Errorf("Append(%q) = %q, want %q", s, got, want)
		}
	}
}

func FuzzAppend(f *testing.F) {
	f.Add("plain text of some length")
	f.Add("a\x00\b\f\n\"\\<>&\u2028\u2029\x7f\xff")
	f.Add("héllo 日本語 🎉 \xc3\x28 \xe2\x82")
	f.Fuzz(func(t *testing.T, s string) {
		got, want := Append(nil, s), reference(nil, s)
		if string(got) != string(want) {
			t.Fatalf("Append(%q) = %q, want %q", s, got, want)
		}
		if !utf8.Valid(got) {
			t.Fatalf("Append(%q) = %q: not valid UTF-8", s, got)
		}
	})
}

// FuzzPrefix checks that Prefix returns the longest prefix, cut between
// sequences, whose escaped form fits, and that AppendString quotes what
// Append escapes.
func FuzzPrefix(f *testing.F) {
	for _, s := range []string{"", "plain", "\"\\\n\r\t\x00\x7f", "é世\U0001F600", "\xff\xfe", "\xe2\x80\xa8", "a\xc3"} {
		f.Add(s, 7)
	}
	f.Fuzz(func(t *testing.T, s string, max int) {
		max %= 64
		p := Prefix(s, max)
		if !strings.HasPrefix(s, p) || len(Append(nil, p)) > max && p != "" {
			t.Fatalf("Prefix(%q, %d) = %q does not fit", s, max, p)
		}
		if rest := s[len(p):]; rest != "" {
			_, size := utf8.DecodeRuneInString(rest)
			if len(Append(nil, s[:len(p)+size])) <= max {
				t.Fatalf("Prefix(%q, %d) = %q, but %q fits too", s, max, p, s[:len(p)+size])
			}
		}
		if q := AppendString(nil, s); string(q) != `"`+string(Append(nil, s))+`"` {
			t.Fatalf("AppendString(%q) = %s", s, q)
		}
	})
}

// FuzzAppendString checks that the writer always writes valid JSON that
// decodes to the input, with each invalid UTF-8 byte read as U+FFFD.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "\"\\\n\r\t\x00\x7f", "é世\U0001F600", "\xff\xfe", "\xe2\x80\xa8", "\xed\xa0\x80", "a\xc3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := AppendString(nil, s)
		var got string
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("AppendString(%q) = %s: not valid JSON: %v", s, out, err)
		}
		if want := string([]rune(s)); got != want { // each invalid byte becomes U+FFFD
			t.Fatalf("AppendString(%q) decodes to %q, want %q", s, got, want)
		}
	})
}
