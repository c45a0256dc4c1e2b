// Package jsonesc is the kit's one JSON string writer: every JSON the kit
// writes itself (handler.JSON, the Datadog encoder) escapes its strings
// here, by the rules of [Append].
package jsonesc

import "unicode/utf8"

// escClass classifies bytes for Append: 0 is written as it is, 1 is
// an ASCII byte to escape, 2 starts (or continues) a multi-byte sequence.
var escClass = func() (c [256]uint8) {
	for i := range c {
		switch {
		case i < 0x20 || i == '"' || i == '\\':
			c[i] = 1
		case i >= utf8.RuneSelf:
			c[i] = 2
		}
	}
	return c
}()

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// plain8 reports whether none of the 8 bytes of s (little-endian in x)
// needs escaping: no control character, quote, backslash or non-ASCII
// byte.
func plain8(x uint64) bool {
	return ((x-lsb*0x20)|((x^lsb*'"')-lsb)|((x^lsb*'\\')-lsb)|x)&msb == 0
}

// load8 returns the first 8 bytes of s, little-endian.
func load8(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// Append appends s escaped for a JSON string, without quotes:
// control characters, '"' and '\\' escaped, invalid UTF-8 as \ufffd,
// U+2028 and U+2029 escaped, HTML characters kept, backspace and form
// feed as \u0008 and \u000c as slog writes them (encoding/json, used for
// values of kind slog.KindAny, writes \b and \f). Runs of plain bytes are
// found 8 at a time and copied with one append.
func Append(dst []byte, s string) []byte {
	start, i := 0, 0
	for {
		for i+8 <= len(s) && plain8(load8(s[i:])) {
			i += 8
		}
		for i < len(s) && escClass[s[i]] == 0 {
			i++
		}
		if i >= len(s) {
			break
		}
		b := s[i]
		if b < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case c == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case c == '\u2028' || c == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	return append(dst, s[start:]...)
}

const hexDigits = "0123456789abcdef"

// AppendString appends s as a quoted JSON string, escaped as [Append]
// escapes it.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = Append(dst, s)
	return append(dst, '"')
}

// Prefix returns the longest prefix of s whose escaped form, as [Append]
// writes it, takes at most max bytes. It never splits a UTF-8 sequence.
func Prefix(s string, max int) string {
	n := 0
	for i := 0; i < len(s); {
		c := s[i]
		in, out := 1, 1
		switch {
		case escClass[c] == 0:
		case c < utf8.RuneSelf:
			out = 6 // \u00XX
			switch c {
			case '"', '\\', '\n', '\r', '\t':
				out = 2
			}
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			in, out = size, size
			if (r == utf8.RuneError && size == 1) || r == '\u2028' || r == '\u2029' {
				out = 6
			}
		}
		if n+out > max {
			return s[:i]
		}
		n += out
		i += in
	}
	return s
}
